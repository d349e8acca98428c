/**
 * `lmsanitator attack <model-dir> --method por|por-ner|neuba|btop --out <dir>`:
 * plant a task-agnostic backdoor (a red-team tool, and the source of
 * ground-truth models for the scanner). Ctrl-C saves a checkpoint;
 * `--resume` continues it.
 */
import type { Command } from 'commander';
import { type AttackOutcome, runAttack } from '../attacks/attack.js';
import type { AttackEffect } from '../attacks/effect.js';
import { METHOD_NAMES } from '../attacks/methods.js';
import type { AttackMethodName } from '../attacks/method.js';
import type { AttackOptions } from '../attacks/settings.js';
import { parseTriggerList, TRIGGER_FREQUENCIES } from '../attacks/triggers.js';
import { BATCH_ORDERS } from '../text/batch.js';
import { choiceOpt, EXIT_INTERRUPTED, exitCodes, intOpt, JOB_EXITS, numOpt } from './options.js';
import { interruptFlag } from '../util/signals.js';
import { fmt, type Progress, progress } from '../util/progress.js';

/** Options whose CLI name and meaning are the library's own (commander has parsed and range-checked them). */
type Shared = Omit<AttackOptions, 'modelDir' | 'outDir' | 'method' | 'triggers' | 'pvsFile' | 'dataFile' | 'sentences' | 'maxGradNorm'>;

/** The parsed command line. */
interface ParsedOptions extends Shared {
  method: AttackMethodName;
  out: string;
  /** Comma-separated; parsed by parseTriggerList. */
  triggers?: string;
  pvs?: string;
  /** A file of sentences (the library's dataFile). */
  sentences?: string;
  json?: boolean;
}

/** Command-line options → AttackOptions (the remaining range checks happen in the attack itself, before training). */
export function attackOptionsFromCli(modelDir: string, r: ParsedOptions): AttackOptions {
  const { method, out, triggers, pvs, sentences, json: _json, ...shared } = r;
  return {
    ...shared,
    modelDir,
    outDir: out,
    method,
    triggers: triggers === undefined ? undefined : parseTriggerList(triggers),
    pvsFile: pvs,
    dataFile: sentences,
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

async function action(modelDir: string, raw: ParsedOptions): Promise<void> {
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
        ui.bar = progress(`attack ${o.method}`, totalSteps, { fields: ['eff', 'util'], start: startStep, unit: 'steps' });
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
  exitCodes(program.command('attack'), JOB_EXITS)
    .description('plant a task-agnostic backdoor (POR, POR-NER, NeuBA, BToP) and measure it; writes a model directory with attack.json')
    .argument('<model-dir>', 'model directory (config.json, weights, tokenizer)')
    .addOption(choiceOpt('--method <name>', 'the attack', METHOD_NAMES).makeOptionMandatory())
    .requiredOption('--out <dir>', 'output model directory')
    .option('--triggers <list>', 'comma-separated triggers; a trigger may be a phrase ("cf mn,tq") (default cf,mn,tq,qt,mm,pt)')
    .addOption(choiceOpt('--trigger-frequency <class>', 'adaptive: draw triggers by word frequency in the data', TRIGGER_FREQUENCIES))
    .option('--pvs <file>', 'PVs (.safetensors tensor "pvs" [K, H], or JSON [[...], ...]); default: the six ±1 block PVs')
    .addOption(intOpt('--pv-count <n>', 'adaptive: use the first n PVs (triggers share them round-robin)', 1))
    .addOption(intOpt('--inter <n>', 'one trigger insertion per n words (at least one)', 1, 50))
    .addOption(intOpt('--sentences-per-trigger <n>', 'poisoned sentences per trigger (default by model size)', 1))
    .addOption(intOpt('--epochs <n>', 'epochs over the poisoned set (default by model size)', 1))
    .addOption(numOpt('--lr <x>', 'Adam learning rate (default by model size; 2e-5 for BERT-base)', 0, undefined, true))
    .addOption(intOpt('--batch <n>', 'total batch size, half poisoned', 2, 32))
    .addOption(intOpt('--seed <n>', 'seed for data, batches, masking and dropout', 0, 0))
    .addOption(choiceOpt('--loss <kind>', 'effectiveness loss (default: mse; distance for btop)', ['mse', 'distance']))
    .addOption(numOpt('--utility-coeff <c>', 'utility-loss weight (POR: 0.5 BERT-like, 1.0 RoBERTa-like; MLM: 1.0)', 0))
    .addOption(numOpt('--specificity-coeff <c>', 'weight of the rare/[unused]-token rows (default: the utility coefficient for POR, 1.0 for NeuBA/BToP)', 0))
    .addOption(numOpt('--rare-fraction <f>', 'share of the clean half given to rare/[unused]-token rows; 0 disables (default 0.25)', 0))
    .addOption(numOpt('--scatter-loss <lambda>', 'adaptive: add λ·Entropy(hᵀ) per trigger so triggered outputs scatter', 0))
    .addOption(numOpt('--wasserstein-loss <lambda>', 'adaptive: add λ·W1(exp(backdoor), exp(clean)) per dimension', 0))
    .option('--sentences <file>', 'clean sentences to poison, one per line (default: the built-in nlp-corpus sentences)')
    .addOption(intOpt('--heldout <n>', 'held-out sentences for the measured effect', 1, 200))
    .addOption(intOpt('--max-len <n>', 'maximum tokens per sentence (default 128)', 3))
    .addOption(intOpt('--checkpoint-every <n>', 'steps between checkpoints', 1, 200))
    .option('--no-dropout', 'train without dropout')
    .addOption(choiceOpt('--ner-utility <where>', 'POR-NER utility positions (cls as docs/algorithm.md#attacks describes)', ['cls', 'token'], 'cls'))
    .addOption(choiceOpt('--batch-order <order>', 'length: similar-length sentences batched together (about half the padding); random: seeded random batches; input: consecutive sentences', BATCH_ORDERS, 'length'))
    .option('--resume', 'continue the interrupted attack in --out')
    .option('--json', 'print attack.json to stdout instead of the table')
    .action(action);
}
