/**
 * The prompt-tuned victims: `prompt-tune` trains a prompt on a frozen
 * backbone, `predict` runs one, `eval prompt` measures accuracy / macro-F1
 * (F1 for NER) and the attack success rate of triggers on the test split.
 */
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { measureGuard } from '../eval/guarded.js';
import { classifierOf, measurePrompt } from '../eval/victims.js';
import { Guard, type MonitorPlacement, monitorFor, type OnUnpurified } from '../guard/guard.js';
import { selfCheckWarning } from '../guard/self-check.js';
import { loadModel } from '../models/model.js';
import {
  loadPromptTask, PROMPT_DEFAULTS, PROMPT_JSON, PROMPT_METHODS, PROMPT_TASKS, type PromptTuneOptions, predictBatch, promptTune, savePrompt,
} from '../prompt/index.js';
import { loadPvSet } from '../sanitizer/pvset.js';
import { guardOptions } from './guard.js';
import { openPrompt, readPromptInputs } from './prompt-io.js';
import { DEFAULT_TRIGGERS } from '../attacks/triggers.js';
import { choiceOpt, exitCodes, intOpt, JOB_EXITS, numOpt, STANDARD_EXITS } from './options.js';
import { interruptFlag } from '../util/signals.js';

const CHECKPOINT = 'checkpoint.safetensors';

/** The library's options where the CLI takes them as they are; the rest have CLI defaults or other names. */
interface TuneOpts extends Pick<PromptTuneOptions, 'method' | 'task' | 'dataDir' | 'maxLen' | 'maxTrain' | 'maxDev' | 'maxSteps' | 'seed' | 'reparam' | 'prefixLen'> {
  out: string;
  epochs?: number;
  lr?: number;
  batch: number;
  resume?: boolean;
  force?: boolean;
  quiet?: boolean;
  json?: boolean;
}

function metricLine(m: Record<string, number>): string {
  return Object.entries(m).filter(([k]) => k !== 'metric').map(([k, v]) => `${k} ${Number.isInteger(v) ? v : v.toFixed(4)}`).join(', ');
}

function tune(modelDir: string, o: TuneOpts): void {
  const checkpointFile = join(o.out, CHECKPOINT);
  if (o.resume && o.force) throw new Error('--resume and --force contradict each other');
  if (existsSync(join(o.out, PROMPT_JSON)) && !o.force) throw new Error(`${o.out} already holds a trained prompt; pass --force to overwrite it`);
  if (existsSync(checkpointFile) && !o.resume && !o.force) throw new Error(`${o.out} holds an interrupted run; pass --resume to continue it or --force to start over`);
  if (o.resume && !existsSync(checkpointFile)) throw new Error(`nothing to resume: ${checkpointFile} does not exist`);
  if (o.force) for (const f of [checkpointFile, join(o.out, PROMPT_JSON)]) rmSync(f, { force: true });
  const backbone = loadModel(modelDir);
  mkdirSync(o.out, { recursive: true });
  const d = PROMPT_DEFAULTS[o.method];
  const sig = interruptFlag();
  try {
    const r = promptTune(backbone, {
      method: o.method, task: o.task, dataDir: o.dataDir, prefixLen: o.prefixLen ?? d.prefixLen, epochs: o.epochs ?? d.epochs, lr: o.lr ?? d.lr,
      batchSize: o.batch, maxLen: o.maxLen, maxTrain: o.maxTrain, maxDev: o.maxDev, maxSteps: o.maxSteps, seed: o.seed, reparam: o.reparam,
      quiet: o.quiet || o.json, shouldStop: sig.stopped, checkpointFile,
    });
    if (r.interrupted) {
      process.stderr.write(`interrupted; checkpoint saved in ${o.out}; rerun with --resume to continue\n`);
      process.exitCode = 130;
      return;
    }
    savePrompt(o.out, r.model, r.record);
    if (o.json) return console.log(JSON.stringify(r.record, null, 2));
    console.log(`${o.method} on ${o.task}: ${r.record.steps} steps in ${r.record.seconds.toFixed(1)} s, ${r.record.trainable_parameters} trainable parameters → ${o.out}`);
    if (r.record.dev) console.log(`  dev (best epoch, step ${r.record.best_step}): ${metricLine(r.record.dev)}`);
    for (const w of r.model.info.warnings) console.log(`  note: ${w}`);
  } finally {
    sig.dispose();
  }
}

function predict(modelDir: string, o: { prompt: string; task?: string; text?: string; textPair?: string; input?: string; batch: number; json?: boolean }): void {
  const inputs = readPromptInputs(o);
  const model = openPrompt(o.prompt, loadModel(modelDir), o.task);
  const preds = predictBatch(model, inputs, { batchSize: o.batch });
  preds.forEach((p, i) => {
    const row = 'tags' in p ? { text: inputs[i].text, words: p.words, tags: p.tags } : { text: inputs[i].text, label: p.label, probs: p.probs };
    if (o.json || o.input) console.log(JSON.stringify(row));
    else if ('tags' in p) console.log(p.words.map((w, j) => `${w}/${p.tags[j]}`).join(' '));
    else console.log(`${p.label}\t${p.probs.map((x) => x.toFixed(4)).join(' ')}`);
  });
}

interface EvalOpts {
  prompt: string;
  task?: string;
  triggers: string;
  seed: number;
  maxTest?: number;
  dataDir?: string;
  batch: number;
  json?: boolean;
  guard?: string;
  threshold: number;
  maxWindow: number;
  onUnpurified: OnUnpurified;
  monitor: MonitorPlacement;
}

function evalPrompt(modelDir: string, o: EvalOpts): void {
  const triggers = o.triggers.split(',').map((t) => t.trim()).filter(Boolean);
  const model = openPrompt(o.prompt, loadModel(modelDir), o.task);
  const data = loadPromptTask(model.task, { dataDir: o.dataDir, maxTest: o.maxTest, seed: o.seed });
  const { test, asr } = measurePrompt(model, data, triggers, o.seed, o.batch);
  const metrics = { examples: data.test.length, ...test };
  let guarded: ReturnType<typeof measureGuard> | null = null;
  if (o.guard !== undefined) {
    if (data.kind !== 'classification') throw new Error('--guard: the guard\'s figures are measured on classification tasks');
    const monitor = monitorFor(model, loadPvSet(o.guard), o.guard, o.threshold);
    const guard = new Guard(model, monitor, { threshold: o.threshold, maxWindow: o.maxWindow, onUnpurified: o.onUnpurified, monitor: o.monitor, batchSize: o.batch });
    guarded = measureGuard(guard, data, triggers, o.seed, classifierOf(model, o.batch));
  }
  const out = {
    task: model.task, method: model.method, test_examples: data.test.length, data: data.data, ...metrics,
    ...(asr && { triggers, asr: asr.asr, weighted_asr: asr.weighted_asr, asr_per_trigger: asr.asr_per_trigger, asr_clean_correct: asr.clean_correct,
      targetability: asr.targetability ?? null, targetability_per_trigger: asr.targetability_per_trigger ?? null, trigger_labels: asr.trigger_labels ?? null }),
    ...(guarded && { guard: { pvs: o.guard, threshold: o.threshold, max_window: o.maxWindow, on_unpurified: o.onUnpurified, monitor: o.monitor }, ...withoutRates(guarded) }),
  };
  if (o.json) return console.log(JSON.stringify(out, null, 2));
  console.log(`${model.method} ${model.task} on ${data.test.length} test examples: ${metricLine(metrics)}`);
  if (asr) {
    console.log(`  ASR ${(100 * asr.asr).toFixed(1)}%, weighted ${(100 * asr.weighted_asr).toFixed(1)}% (over the ${asr.clean_correct} inputs classified correctly without a trigger)`);
    for (const [t, v] of Object.entries(asr.asr_per_trigger)) {
      const tgt = asr.targetability_per_trigger?.[t];
      const label = asr.trigger_labels?.[t];
      console.log(`    ${t.padEnd(12)} ${(100 * v).toFixed(1)}%${tgt === undefined || label === undefined ? '' : `; targetability ${(100 * tgt).toFixed(1)}% to "${model.labelNames[label] ?? label}", the label of the trigger alone`}`);
    }
    if (asr.targetability !== undefined && asr.targetability !== null) console.log(`  targetability ${(100 * asr.targetability).toFixed(1)}% (mean over triggers)`);
  } else if (data.kind === 'ner') {
    console.log('  (ASR is measured for classification tasks; NER reports F1 only)');
  }
  if (guarded) {
    const p = (x: number | null) => (x === null ? 'n/a' : `${(100 * x).toFixed(1)}%`);
    console.log(`  guarded: accuracy ${p(guarded.accuracy_guarded)}, ASR ${p(guarded.asr_guarded)} (weighted ${p(guarded.weighted_asr_guarded)}), FRR ${p(guarded.frr)}, FAR ${p(guarded.far)} (${p(guarded.far_effective)} of the attacks that worked)`);
    console.log(`  triggered inputs: ${p(guarded.purified)} purified, ${p(guarded.rejected)} rejected; ${guarded.candidates_per_flagged.toFixed(1)} candidate rows per flagged input`);
    const warning = guarded.self_check && selfCheckWarning(guarded.self_check, 'the guard');
    if (warning) console.log(`  ${warning}`);
  }
}

/** The guard's figures without the per-input match rates (eval guard keeps those for its histograms). */
function withoutRates(g: ReturnType<typeof measureGuard>): Omit<ReturnType<typeof measureGuard>, 'match_rates'> {
  const { match_rates: _rates, ...rest } = g;
  return rest;
}

export function register(program: Command): void {
  exitCodes(program.command('prompt-tune <model-dir>'), JOB_EXITS)
    .description('train a prompt (P-tuning or P-tuning v2) for a task on a frozen backbone; writes prompt.safetensors + prompt.json')
    .addOption(choiceOpt('--method <method>', 'ptuning: soft prompt rows in a template, MLM verbalizer; ptuning-v2: per-layer prefix, head on the first token', PROMPT_METHODS).makeOptionMandatory())
    .addOption(choiceOpt('--task <task>', 'the downstream task', PROMPT_TASKS).makeOptionMandatory())
    .requiredOption('--out <prompt-dir>', 'output directory (also holds the checkpoint while training)')
    .option('--data-dir <dir>', 'datasets directory (default $LMS_DATA_DIR, ../shared/data, else the bundled slices; see docs/data.md)')
    .addOption(intOpt('--prefix-len <n>', `ptuning-v2: prefix rows per layer (default ${PROMPT_DEFAULTS['ptuning-v2'].prefixLen}); ptuning: prompt rows per <p> (default ${PROMPT_DEFAULTS.ptuning.prefixLen})`, 1))
    .addOption(intOpt('--epochs <n>', `epochs (default ${PROMPT_DEFAULTS['ptuning-v2'].epochs}; early stopping on the dev metric)`, 1))
    .addOption(numOpt('--lr <x>', `peak learning rate (default ${PROMPT_DEFAULTS['ptuning-v2'].lr})`, 0, undefined, true))
    .addOption(intOpt('--batch <n>', 'examples per batch', 1, PROMPT_DEFAULTS.batchSize))
    .addOption(intOpt('--max-len <n>', 'tokens per example', 8, PROMPT_DEFAULTS.maxLen))
    .addOption(intOpt('--max-train <n>', 'use at most N training examples (seeded draw)', 1))
    .addOption(intOpt('--max-dev <n>', 'evaluate on at most N dev examples each epoch', 1))
    .addOption(intOpt('--max-steps <n>', 'stop after this many steps', 1))
    .addOption(intOpt('--seed <n>', 'seed (initialisation, data order, dropout, training subset)', 0, 1))
    .option('--reparam', 'train through a reparameterisation network (P-tuning: an MLP prompt encoder; v2: the prefix projection), folded into the saved rows')
    .option('--resume', 'continue the interrupted run in --out')
    .option('--force', 'overwrite a finished prompt in --out, or discard its interrupted run')
    .option('--quiet', 'no progress output')
    .option('--json', 'print the training record as JSON')
    .action(tune);

  exitCodes(program.command('predict <model-dir>'), STANDARD_EXITS)
    .description('classify inputs with a prompt on its backbone; JSONL out (text, label, probs; NER: words, tags)')
    .requiredOption('--prompt <prompt-dir>', 'a prompt directory (prompt.json, or a PEFT adapter_config.json)')
    .option('--task <task>', 'the task of a PEFT adapter trained elsewhere (ours record it)')
    .option('--text <text>', 'one input')
    .option('--text-pair <text>', 'its second segment (RTE hypothesis, BoolQ question)')
    .option('--input <file.jsonl>', 'inputs, one JSON object per line: {"text": …} or {"text": …, "text_pair": …}; bad lines are reported and skipped')
    .addOption(intOpt('--batch <n>', 'inputs per batch', 1, 64))
    .option('--json', 'JSON lines even for --text')
    .action(predict);
}

/** `eval prompt`, registered under the eval command group. */
export function registerEvalPrompt(ev: Command): void {
  const cmd = exitCodes(ev.command('prompt <model-dir>'), STANDARD_EXITS)
    .description('test-split accuracy and macro-F1 (NER: F1) of a prompt, and the ASR of triggers inserted into correctly classified inputs')
    .requiredOption('--prompt <prompt-dir>', 'a prompt directory')
    .option('--task <task>', 'the task of a PEFT adapter trained elsewhere')
    .option('--triggers <list>', 'comma-separated triggers (the paper\'s six by default; "" for none)', DEFAULT_TRIGGERS.join(','))
    .addOption(intOpt('--seed <n>', 'seed of the trigger positions', 0, 0))
    .addOption(intOpt('--max-test <n>', 'evaluate at most N test examples (fixed draw)', 1))
    .option('--data-dir <dir>', 'datasets directory')
    .addOption(intOpt('--batch <n>', 'inputs per batch', 1, 64))
    .option('--json', 'print JSON: accuracy, macro_f1 (f1 for NER), asr, weighted_asr, asr_per_trigger; with --guard also accuracy_guarded, asr_guarded, weighted_asr_guarded, frr, far, purified, rejected, candidates_per_flagged, self_check')
    .option('--guard <pvset.safetensors>', 'also measure the guard with this PV set: clean accuracy, ASR, FRR and FAR through it');
  guardOptions(cmd).action(evalPrompt);
}
