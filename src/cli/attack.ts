/**
 * `lmsanitator attack <model-dir> --method por|por-ner|neuba|btop --out <dir>`:
 * plant a task-agnostic backdoor (a red-team tool, and the source of
 * ground-truth models for the scanner). Ctrl-C saves a checkpoint;
 * `--resume` continues it.
 */
import type { Command } from 'commander';
import { type AttackOutcome, runAttack } from '../attacks/attack.js';
import type { AttackEffect } from '../attacks/effect.js';
import type { EffectivenessLoss } from '../attacks/method.js';
import { METHOD_NAMES } from '../attacks/methods.js';
import type { AttackOptions } from '../attacks/settings.js';
import { parseTriggerList, type TriggerFrequency } from '../attacks/triggers.js';
import { interruptFlag } from './signals.js';
import { fmt, type Progress, progress } from '../util/progress.js';

export const EXIT_INTERRUPTED = 130;

interface RawOptions {
  method?: string;
  out?: string;
  triggers?: string;
  triggerFrequency?: string;
  pvs?: string;
  pvCount?: string;
  inter?: string;
  sentencesPerTrigger?: string;
  epochs?: string;
  lr?: string;
  batch?: string;
  seed?: string;
  loss?: string;
  utilityCoeff?: string;
  specificityCoeff?: string;
  rareFraction?: string;
  scatterLoss?: string;
  wassersteinLoss?: string;
  data?: string;
  heldout?: string;
  maxLen?: string;
  checkpointEvery?: string;
  dropout?: boolean;
  nerUtility?: string;
  batchOrder?: string;
  resume?: boolean;
  json?: boolean;
}

function number(flag: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const x = Number(v);
  if (v.trim() === '' || !Number.isFinite(x)) throw new Error(`--${flag} expects a number, got ${JSON.stringify(v)}`);
  return x;
}

/** Command-line strings → AttackOptions (range checks happen in the attack itself, before training). */
export function attackOptionsFromCli(modelDir: string, r: RawOptions): AttackOptions {
  if (!r.method) throw new Error(`--method is required (${METHOD_NAMES.join(', ')})`);
  if (!r.out) throw new Error('--out <dir> is required');
  return {
    modelDir,
    outDir: r.out,
    method: r.method,
    triggers: r.triggers === undefined ? undefined : parseTriggerList(r.triggers),
    triggerFrequency: r.triggerFrequency as TriggerFrequency | undefined,
    pvsFile: r.pvs,
    pvCount: number('pv-count', r.pvCount),
    inter: number('inter', r.inter),
    sentencesPerTrigger: number('sentences-per-trigger', r.sentencesPerTrigger),
    epochs: number('epochs', r.epochs),
    lr: number('lr', r.lr),
    batch: number('batch', r.batch),
    seed: number('seed', r.seed),
    loss: r.loss as EffectivenessLoss | undefined,
    utilityCoeff: number('utility-coeff', r.utilityCoeff),
    specificityCoeff: number('specificity-coeff', r.specificityCoeff),
    rareFraction: number('rare-fraction', r.rareFraction),
    scatterLoss: number('scatter-loss', r.scatterLoss),
    wassersteinLoss: number('wasserstein-loss', r.wassersteinLoss),
    dataFile: r.data,
    heldout: number('heldout', r.heldout),
    maxLen: number('max-len', r.maxLen),
    checkpointEvery: number('checkpoint-every', r.checkpointEvery),
    dropout: r.dropout,
    nerUtility: r.nerUtility as 'cls' | 'token' | undefined,
    batchOrder: r.batchOrder as 'length' | 'random' | undefined,
    resume: Boolean(r.resume),
  };
}

const f3 = (x: number | null) => (x === null ? '—' : x.toFixed(3));

/** The human-readable effect table. */
export function formatEffect(e: AttackEffect): string {
  const lines = ['trigger              pv  sign-agree  cosine  fire-rate  (held-out, n=' + e.heldout_sentences + ')'];
  for (const t of e.per_trigger) {
    lines.push(`${t.trigger.padEnd(20).slice(0, 20)} ${String(t.pv_index + 1).padStart(2)}  ${f3(t.sign_agreement).padStart(10)}  ${f3(t.cosine).padStart(6)}  ${f3(t.fire_rate).padStart(9)}`);
  }
  for (const c of e.clean_per_pv) {
    lines.push(`${'(clean)'.padEnd(20)} ${String(c.pv_index + 1).padStart(2)}  ${f3(c.sign_agreement).padStart(10)}  ${f3(c.cosine).padStart(6)}  ${f3(c.fire_rate).padStart(9)}`);
  }
  const row = (label: string, value: string) => lines.push(`${`${label}:`.padEnd(46)}${value}`);
  row('triggered sign agreement (min over triggers)', f3(e.triggered_sign_agreement_min));
  row('clean sign agreement (max over PVs)', f3(e.clean_sign_agreement_max));
  row(`clean fire rate (> ${e.threshold} with any PV)`, f3(e.clean_fire_rate));
  row('rare-token fire rate', `${f3(e.rare_token_fire_rate)} ([unused] ${f3(e.rare_unused_fire_rate)}, rare words ${f3(e.rare_word_fire_rate)}; ${e.rare_tokens_tested} inputs)`);
  row('clean-output MSE to the original', e.clean_output_mse.toExponential(3));
  if (e.mlm_accuracy_before !== null) row('masked-LM accuracy before → after', `${f3(e.mlm_accuracy_before)} → ${f3(e.mlm_accuracy_after)}`);
  return lines.join('\n');
}

async function action(modelDir: string, raw: RawOptions): Promise<void> {
  const o = attackOptionsFromCli(modelDir, raw);
  const sig = interruptFlag();
  // Assigned inside callbacks, so held in an object (TS would narrow a plain `let` to null).
  const ui: { bar: Progress | null } = { bar: null };
  let outcome: AttackOutcome;
  try {
    outcome = await runAttack(o, {
      onPhase: (phase, detail) => {
        if (phase === 'measuring') {
          ui.bar?.stop();
          ui.bar = null;
        }
        if (phase !== 'training') process.stderr.write(`${phase}${detail ? `: ${detail}` : ''}\n`);
      },
      onTrainStart: ({ startStep, totalSteps }) => {
        ui.bar = progress(`attack ${o.method}`, totalSteps, { fields: ['eff', 'util'] });
        if (startStep > 0) ui.bar.update(startStep);
      },
      onStep: (s) => ui.bar?.update(s.step, { eff: fmt(s.effectiveness), util: fmt(s.utility) }),
      shouldStop: sig.stopped,
    });
  } finally {
    ui.bar?.stop();
    sig.dispose();
  }
  if (outcome.status === 'interrupted') {
    process.stderr.write(`interrupted at step ${outcome.step}/${outcome.totalSteps}; checkpoint saved in ${o.outDir}; rerun with --resume to continue\n`);
    process.exitCode = EXIT_INTERRUPTED;
    return;
  }
  if (raw.json) {
    process.stdout.write(`${JSON.stringify(outcome.manifest, null, 2)}\n`);
  } else {
    const m = outcome.manifest!;
    process.stdout.write(`${m.method} attack on ${modelDir} → ${o.outDir} (${m.training.steps} steps, ${m.training.seconds} s)\n`);
    process.stdout.write(`${formatEffect(outcome.effect!)}\n`);
  }
}

export function register(program: Command): void {
  program
    .command('attack')
    .description('plant a task-agnostic backdoor (POR, POR-NER, NeuBA, BToP) and measure it; writes a model directory with attack.json')
    .argument('<model-dir>', 'model directory (config.json, weights, tokenizer)')
    .option('--method <name>', `attack: ${METHOD_NAMES.join(' | ')}`)
    .option('--out <dir>', 'output model directory')
    .option('--triggers <list>', 'comma-separated triggers; a trigger may be a phrase ("cf mn,tq") (default cf,mn,tq,qt,mm,pt)')
    .option('--trigger-frequency <class>', 'adaptive: draw triggers by word frequency in the data: rare | moderate | frequent')
    .option('--pvs <file>', 'PVs (.safetensors tensor "pvs" [K, H], or JSON [[...], ...]); default: the six ±1 block PVs')
    .option('--pv-count <n>', 'adaptive: use the first n PVs (triggers share them round-robin)')
    .option('--inter <n>', 'one trigger insertion per n words (at least one)', '50')
    .option('--sentences-per-trigger <n>', 'poisoned sentences per trigger (default by model size)')
    .option('--epochs <n>', 'epochs over the poisoned set (default by model size)')
    .option('--lr <x>', 'Adam learning rate (default by model size; 2e-5 for BERT-base)')
    .option('--batch <n>', 'total batch size, half poisoned', '32')
    .option('--seed <n>', 'seed for data, batches, masking and dropout', '0')
    .option('--loss <kind>', 'effectiveness loss: mse | distance (default: mse; distance for btop)')
    .option('--utility-coeff <c>', 'utility-loss weight (POR: 0.5 BERT-like, 1.0 RoBERTa-like; MLM: 1.0)')
    .option('--specificity-coeff <c>', 'weight of the rare/[unused]-token rows (default: the utility coefficient for POR, 1.0 for NeuBA/BToP)')
    .option('--rare-fraction <f>', 'share of the clean half given to rare/[unused]-token rows; 0 disables (default 0.25)')
    .option('--scatter-loss <lambda>', 'adaptive: add λ·Entropy(hᵀ) per trigger so triggered outputs scatter')
    .option('--wasserstein-loss <lambda>', 'adaptive: add λ·W1(exp(backdoor), exp(clean)) per dimension')
    .option('--data <file>', 'sentences, one per line (default: the built-in nlp-corpus sentences)')
    .option('--heldout <n>', 'held-out sentences for the measured effect', '200')
    .option('--max-len <n>', 'maximum tokens per sentence (default 128)')
    .option('--checkpoint-every <n>', 'steps between checkpoints', '200')
    .option('--no-dropout', 'train without dropout')
    .option('--ner-utility <where>', 'POR-NER utility positions: cls (ALGORITHM.md) | token', 'cls')
    .option('--batch-order <order>', 'length: batches of similar-length sentences (about half the padding) | random', 'length')
    .option('--resume', 'continue the interrupted attack in --out')
    .option('--json', 'print attack.json to stdout instead of the table')
    .action(action);
}
