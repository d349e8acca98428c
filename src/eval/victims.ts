/**
 * Prompt-tuned victims (issue 13; the paper's Table 2 and the left half of
 * Table 3): the same prompt method is trained for each task on a clean
 * backbone and on a backdoored copy of it, and the pairs are compared.
 *   CACC / BACC    test accuracy (F1 for NER) of the clean- / backdoored-backbone prompt
 *   ASR, wASR      attack success of the triggers on the backdoored-backbone prompt
 *                  (eval/asr.ts), with the clean-backbone prompt's ASR as the baseline
 *   F1 drop        macro-F1 (F1 for NER) of the clean-backbone prompt minus the backdoored one's
 *
 * Every cell (backbone side × task) is journaled in DIR/victims.jsonl with
 * its metrics once its prompt is saved under DIR/prompts/<side>-<task>/, so
 * a rerun skips finished cells without loading or recomputing anything; a
 * prompt-tune cut short resumes from the checkpoint in its prompt
 * directory; a prompt saved but not yet journaled is loaded and evaluated,
 * not retrained. DIR/settings.json pins the models (by sha256), method,
 * triggers, seed, budget and data directory: a rerun with other values is
 * refused. Tasks are left out of that check, since cells are per task: a
 * later run may add tasks to the same directory.
 */
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { MANIFEST_FILE, readManifest } from '../attacks/manifest.js';
import { DEFAULT_TRIGGERS } from '../attacks/triggers.js';
import { writeJsonAtomic } from '../formats/file-io.js';
import { loadModel, type LoadedModel } from '../models/model.js';
import {
  createPromptModel, evaluatePrompt, loadPrompt, loadPromptTask, PROMPT_DEFAULTS, PROMPT_JSON, PROMPT_METHODS, PROMPT_TASKS, type PromptMethod,
  type PromptModel, type PromptTask, type PromptTaskData, predictBatch, promptTune, savePrompt, type TaskKind,
} from '../prompt/index.js';
import { appendRecord, readRecords } from '../sanitizer/journal.js';
import { locateDataDir } from '../text/data-dir.js';
import { type AsrResult, attackSuccess, type Classify } from './asr.js';
import { withDirLock } from '../util/dir-lock.js';

export const VICTIMS_JOURNAL = 'victims.jsonl';
export const VICTIMS_REPORT = 'victims.json';
export const VICTIMS_SETTINGS = 'settings.json';
export const VICTIMS_FORMAT = 'lmsanitator-victims';
const CHECKPOINT = 'checkpoint.safetensors';
/** Training seconds spent before an interruption, added to the resumed run's. */
const PARTIAL = 'partial-seconds.json';

export const SIDES = ['clean', 'backdoored'] as const;
export type Side = (typeof SIDES)[number];

export interface VictimsOptions {
  cleanDir: string;
  backdooredDir: string;
  method: PromptMethod;
  tasks: readonly string[];
  /** Default: the backdoored model's attack.json triggers, else DEFAULT_TRIGGERS. */
  triggers?: readonly string[];
  outDir: string;
  dataDir?: string;
  /** Defaults: PROMPT_DEFAULTS of the method. */
  epochs?: number;
  lr?: number;
  prefixLen?: number;
  maxTrain?: number;
  maxDev?: number;
  maxTest?: number;
  batchSize?: number;
  maxLen?: number;
  /** Training seed and seed of the trigger positions. */
  seed: number;
  quiet?: boolean;
  shouldStop?: () => boolean;
  log?: (line: string) => void;
  progress?: (e: VictimsProgress) => void;
}

/** One step of the run: a cell skipped (journaled earlier), trained, evaluated, done. */
export interface VictimsProgress {
  phase: 'skip' | 'train' | 'evaluate' | 'done';
  side: Side;
  task: PromptTask;
  /** Cells finished so far (this run and earlier ones) and in all. */
  done: number;
  total: number;
  /** train: whether it continues from a checkpoint; evaluate: whether the prompt came from its directory (saved, not journaled). */
  resumed?: boolean;
}

export interface VictimsBudget {
  epochs: number;
  lr: number;
  prefix_len: number;
  max_train: number | null;
  max_dev: number | null;
  max_test: number | null;
  batch: number;
  max_len: number;
}

export interface VictimsSettings {
  format: typeof VICTIMS_FORMAT;
  version: 1;
  clean: { dir: string; hash: string };
  backdoored: { dir: string; hash: string };
  method: PromptMethod;
  /** Every task evaluated in this directory so far. */
  tasks: PromptTask[];
  triggers: string[];
  triggers_source: 'option' | 'manifest' | 'default';
  seed: number;
  budget: VictimsBudget;
  data_dir: string | null;
}

/** One journal line: a finished cell. */
export interface VictimRecord {
  side: Side;
  task: PromptTask;
  kind: TaskKind;
  /** Relative to the output directory. */
  prompt_dir: string;
  test_examples: number;
  /** accuracy, macro_f1 (classification) or f1, precision, recall (NER); loss. */
  test: Record<string, number>;
  asr: AsrResult | null;
  train_seconds: number;
  train_examples: number | null;
  steps: number | null;
  /** The step its training continued from after an interruption (0: trained in one go; null: not known). */
  resumed_from_step: number | null;
  best_step: number | null;
  dev_metric: number | null;
  data: string;
  finished: string;
}

export interface VictimCell {
  task: PromptTask;
  kind: TaskKind;
  /** What CACC/BACC measure: accuracy, or entity F1 for NER. */
  metric: 'accuracy' | 'f1';
  test_examples: number;
  cacc: number;
  bacc: number;
  asr: number | null;
  weighted_asr: number | null;
  asr_clean_backbone: number | null;
  weighted_asr_clean_backbone: number | null;
  asr_per_trigger: Record<string, number> | null;
  asr_per_trigger_clean_backbone: Record<string, number> | null;
  /** The paper's Tgt (asr.ts): triggered inputs sent to the label of the trigger alone, mean over triggers (null: not measured). */
  targetability: number | null;
  targetability_clean_backbone: number | null;
  /** Backdoored-backbone inputs classified correctly without a trigger (ASR's denominator). */
  asr_inputs: number | null;
  macro_f1_clean?: number;
  macro_f1_backdoored?: number;
  macro_f1_drop?: number;
  f1_clean?: number;
  f1_backdoored?: number;
  f1_drop?: number;
  train_seconds: { clean: number; backdoored: number };
  prompts: { clean: string; backdoored: string };
}

export interface VictimsReport {
  format: typeof VICTIMS_FORMAT;
  version: 1;
  clean: { dir: string; hash: string };
  backdoored: { dir: string; hash: string };
  method: PromptMethod;
  triggers: string[];
  triggers_source: VictimsSettings['triggers_source'];
  tasks: PromptTask[];
  cells: VictimCell[];
  settings: VictimsSettings;
  created: string;
}

export interface VictimsResult extends VictimsReport {
  /** Stopped by shouldStop: `cells` holds the tasks finished on both sides, victims.json is not written. */
  interrupted: boolean;
  /** Cells finished (all runs) and in all. */
  done: number;
  total: number;
  /** victims.json, or null when interrupted. */
  reportFile: string | null;
}

const positiveInt = (v: number | undefined, what: string): void => {
  if (v !== undefined && (!Number.isInteger(v) || v < 1)) throw new Error(`${what} must be a positive integer, got ${v}`);
};

/** The budget with the method's defaults filled in; throws on a bad value. */
export function victimsBudget(o: Pick<VictimsOptions, 'method' | 'epochs' | 'lr' | 'prefixLen' | 'maxTrain' | 'maxDev' | 'maxTest' | 'batchSize' | 'maxLen'>): VictimsBudget {
  if (!PROMPT_METHODS.includes(o.method)) throw new Error(`unknown prompt method "${String(o.method)}"; choose ${PROMPT_METHODS.join(' or ')}`);
  const d = PROMPT_DEFAULTS[o.method];
  for (const [v, what] of [[o.epochs, 'epochs'], [o.prefixLen, 'prefix length'], [o.maxTrain, 'max train'], [o.maxDev, 'max dev'], [o.maxTest, 'max test'], [o.batchSize, 'batch size'], [o.maxLen, 'max length']] as const) {
    positiveInt(v, what);
  }
  if (o.lr !== undefined && !(o.lr > 0 && Number.isFinite(o.lr))) throw new Error(`learning rate must be a positive number, got ${o.lr}`);
  return {
    epochs: o.epochs ?? d.epochs, lr: o.lr ?? d.lr, prefix_len: o.prefixLen ?? d.prefixLen,
    max_train: o.maxTrain ?? null, max_dev: o.maxDev ?? null, max_test: o.maxTest ?? null,
    batch: o.batchSize ?? PROMPT_DEFAULTS.batchSize, max_len: o.maxLen ?? PROMPT_DEFAULTS.maxLen,
  };
}

/** The tasks, checked and de-duplicated (first occurrence kept). */
function checkTasks(tasks: readonly string[], method: PromptMethod): PromptTask[] {
  if (tasks.length === 0) throw new Error(`no tasks; choose from ${PROMPT_TASKS.join(', ')}`);
  const bad = tasks.filter((t) => !(PROMPT_TASKS as readonly string[]).includes(t));
  if (bad.length) throw new Error(`unknown task${bad.length > 1 ? 's' : ''} ${bad.join(', ')}; choose from ${PROMPT_TASKS.join(', ')}`);
  if (method === 'ptuning' && tasks.includes('conll04')) throw new Error('P-tuning has no NER variant; use --method ptuning-v2 for conll04 (or leave conll04 out)');
  return [...new Set(tasks)] as PromptTask[];
}

/** The triggers to measure ASR with, and where they came from. */
function chooseTriggers(o: VictimsOptions): { triggers: string[]; source: VictimsSettings['triggers_source'] } {
  if (o.triggers !== undefined) {
    const t = o.triggers.map((s) => s.trim());
    if (t.length === 0 || t.some((s) => s === '')) throw new Error('triggers: give at least one, none empty');
    if (new Set(t).size !== t.length) throw new Error(`triggers: ${JSON.stringify(t.join(','))} repeats a trigger`);
    return { triggers: t, source: 'option' };
  }
  if (existsSync(join(o.backdooredDir, MANIFEST_FILE))) {
    return { triggers: readManifest(o.backdooredDir).manifest.triggers.map((t) => t.text), source: 'manifest' };
  }
  return { triggers: [...DEFAULT_TRIGGERS], source: 'default' };
}

/** The settings a journal's records depend on (everything but the task list and the directories' spelling). */
function settingsKey(s: VictimsSettings) {
  return {
    clean_hash: s.clean.hash, backdoored_hash: s.backdoored.hash, method: s.method, triggers: s.triggers,
    seed: s.seed, budget: s.budget, data_dir: s.data_dir,
  };
}

/** Refuses a directory holding another evaluation's records; records the settings (the task list grown by this run's). */
function checkSettings(outDir: string, wanted: VictimsSettings, journal: string): VictimsSettings {
  const file = join(outDir, VICTIMS_SETTINGS);
  if (!existsSync(file)) {
    if (existsSync(journal)) throw new Error(`${journal} has no ${VICTIMS_SETTINGS} beside it, so its settings are unknown; use another --out`);
    writeJsonAtomic(file, wanted);
    return wanted;
  }
  let had: VictimsSettings;
  try {
    had = JSON.parse(readFileSync(file, 'utf8')) as VictimsSettings;
  } catch (e) {
    throw new Error(`${file}: not valid JSON (${(e as Error).message}); remove it or use another --out`);
  }
  if (typeof had !== 'object' || had === null || had.format !== VICTIMS_FORMAT || !had.clean || !had.backdoored || !Array.isArray(had.tasks)) {
    throw new Error(`${file}: not a victims evaluation's settings; use another --out`);
  }
  const a = settingsKey(had) as Record<string, unknown>;
  const b = settingsKey(wanted) as Record<string, unknown>;
  const differ = Object.keys(b).filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k]));
  if (differ.length) {
    const what = differ.map((k) => `${k} ${JSON.stringify(a[k])}, now ${JSON.stringify(b[k])}`).join('; ');
    throw new Error(`${outDir} holds a victims evaluation with other settings (${what}); use another --out, or the same settings to resume`);
  }
  const tasks = [...new Set([...had.tasks, ...wanted.tasks])];
  const merged = { ...wanted, tasks };
  if (JSON.stringify(merged) !== JSON.stringify(had)) writeJsonAtomic(file, merged);
  return merged;
}

function isRecord(v: unknown): v is VictimRecord {
  if (typeof v !== 'object' || v === null) return false;
  const r = v as Record<string, unknown>;
  return (SIDES as readonly string[]).includes(r.side as string) && (PROMPT_TASKS as readonly string[]).includes(r.task as string)
    && typeof r.test === 'object' && r.test !== null && typeof r.train_seconds === 'number' && typeof r.test_examples === 'number'
    && (r.asr === null || (typeof r.asr === 'object' && typeof (r.asr as Record<string, unknown>).asr === 'number'));
}

/** The journal's finished cells by "side:task"; a torn last line (killed mid-write) is cut off and redone. */
export function readVictimsJournal(file: string): Map<string, VictimRecord> {
  return readRecords(file, isRecord, (r) => `${r.side}:${r.task}`, 'a victims record');
}

/** A prompt model as the ASR measurement sees it: a label index per input (−1 for a tagging model's output). */
export const classifierOf = (model: PromptModel, batch: number): Classify => (xs) =>
  predictBatch(model, xs, { batchSize: batch }).map((p) => ('index' in p ? p.index : -1));

/** Test metrics and, for a classification task with triggers, the ASR of one prompt (`eval prompt` and each victims cell). */
export function measurePrompt(model: PromptModel, data: PromptTaskData, triggers: readonly string[], seed: number, batch: number): Pick<VictimRecord, 'test' | 'asr' | 'test_examples'> {
  const { metric: _metric, examples: _examples, ...test } = evaluatePrompt(model, data.test, { batchSize: batch });
  let asr: AsrResult | null = null;
  if (data.kind === 'classification' && triggers.length > 0) {
    const inputs = data.test.map((e) => ({ text: e.text, ...(e.textB !== undefined && { text_pair: e.textB }), label: e.label }));
    asr = attackSuccess(inputs, classifierOf(model, batch), triggers, seed, model.labelNames.length, { targetability: true });
  }
  return { test, asr, test_examples: data.test.length };
}

function readPartialSeconds(dir: string): number {
  try {
    const v = JSON.parse(readFileSync(join(dir, PARTIAL), 'utf8')) as { seconds?: unknown };
    return typeof v.seconds === 'number' && Number.isFinite(v.seconds) && v.seconds >= 0 ? v.seconds : 0;
  } catch {
    return 0;
  }
}

function cellOf(task: PromptTask, c: VictimRecord, b: VictimRecord, outDir: string): VictimCell {
  const ner = c.kind === 'ner';
  const metric = ner ? 'f1' : 'accuracy';
  const f1 = ner ? 'f1' : 'macro_f1';
  const fc = c.test[f1]!;
  const fb = b.test[f1]!;
  return {
    task, kind: c.kind, metric, test_examples: b.test_examples,
    cacc: c.test[metric]!, bacc: b.test[metric]!,
    asr: b.asr?.asr ?? null, weighted_asr: b.asr?.weighted_asr ?? null,
    asr_clean_backbone: c.asr?.asr ?? null, weighted_asr_clean_backbone: c.asr?.weighted_asr ?? null,
    asr_per_trigger: b.asr?.asr_per_trigger ?? null, asr_per_trigger_clean_backbone: c.asr?.asr_per_trigger ?? null,
    targetability: b.asr?.targetability ?? null, targetability_clean_backbone: c.asr?.targetability ?? null,
    asr_inputs: b.asr?.clean_correct ?? null,
    ...(ner ? { f1_clean: fc, f1_backdoored: fb, f1_drop: fc - fb } : { macro_f1_clean: fc, macro_f1_backdoored: fb, macro_f1_drop: fc - fb }),
    train_seconds: { clean: c.train_seconds, backdoored: b.train_seconds },
    prompts: { clean: resolve(outDir, c.prompt_dir), backdoored: resolve(outDir, b.prompt_dir) },
  };
}

const pct = (x: number | null) => (x === null ? 'n/a' : `${(100 * x).toFixed(1)}%`);

/** Holds the output directory's lock for the whole run (one writer per journal). */
export function evaluateVictims(o: Parameters<typeof evaluateVictimsLocked>[0]): ReturnType<typeof evaluateVictimsLocked> {
  return withDirLock(o.outDir, 'victims evaluation', () => evaluateVictimsLocked(o));
}

function evaluateVictimsLocked(o: VictimsOptions): VictimsResult {
  const log = o.log ?? (() => {});
  const stop = o.shouldStop ?? (() => false);
  // Everything is checked before anything is trained: options, triggers, both models, every task's data.
  const budget = victimsBudget(o);
  const tasks = checkTasks(o.tasks, o.method);
  if (!Number.isInteger(o.seed) || o.seed < 0) throw new Error(`seed must be a non-negative integer, got ${o.seed}`);
  const { triggers, source } = chooseTriggers(o);
  const backbones: Record<Side, LoadedModel> = { clean: loadModel(o.cleanDir), backdoored: loadModel(o.backdooredDir) };
  for (const side of SIDES) {
    if (!backbones[side].tokenizer) throw new Error(`${side === 'clean' ? o.cleanDir : o.backdooredDir}: prompt tuning needs the model's tokenizer, and none was found`);
  }
  // Warnings wait until everything is checked, so that a refusal stays the only output.
  const warnings: string[] = [];
  if (backbones.clean.hash === backbones.backdoored.hash) warnings.push(`warning: ${o.cleanDir} and ${o.backdooredDir} hold the same weights (sha256 ${backbones.clean.hash.slice(0, 12)}…)`);
  const datas = new Map<PromptTask, PromptTaskData>();
  for (const t of tasks) {
    datas.set(t, loadPromptTask(t, { dataDir: o.dataDir, maxTrain: o.maxTrain, maxDev: o.maxDev, maxTest: o.maxTest, seed: o.seed }));
  }
  // Building each untrained prompt checks what training would only find out later: the verbalizer
  // words (P-tuning), the prefix against the position embeddings, the task against the method.
  for (const side of SIDES) {
    for (const t of tasks) {
      try {
        createPromptModel(backbones[side], { method: o.method, task: t, prefixLen: budget.prefix_len, maxLen: budget.max_len, seed: o.seed }, datas.get(t));
      } catch (e) {
        throw new Error(`${side === 'clean' ? o.cleanDir : o.backdooredDir}: ${o.method} on ${t}: ${(e as Error).message}`);
      }
    }
  }
  const unk = backbones.backdoored.tokenizer!.specialIds.unk;
  for (const t of triggers) {
    const ids = t.split(' ').flatMap((w) => backbones.backdoored.tokenizer!.wordPieces(w, true));
    if (ids.length === 0 || ids.every((id) => id === unk)) warnings.push(`warning: trigger ${JSON.stringify(t)} is only unknown tokens to the backdoored model's tokenizer`);
  }

  mkdirSync(o.outDir, { recursive: true });
  const journal = join(o.outDir, VICTIMS_JOURNAL);
  const wanted: VictimsSettings = {
    format: VICTIMS_FORMAT, version: 1,
    clean: { dir: resolve(o.cleanDir), hash: backbones.clean.hash },
    backdoored: { dir: resolve(o.backdooredDir), hash: backbones.backdoored.hash },
    method: o.method, tasks, triggers, triggers_source: source, seed: o.seed, budget, data_dir: locateDataDir(o.dataDir)?.dir ?? null,
  };
  const settings = checkSettings(o.outDir, wanted, journal);
  const done = readVictimsJournal(journal);
  for (const w of warnings) log(w);

  const total = tasks.length * SIDES.length;
  const count = () => tasks.reduce((n, t) => n + SIDES.filter((s) => done.has(`${s}:${t}`)).length, 0);
  const evalBatch = Math.max(budget.batch, 32);
  let interrupted = false;
  outer: for (const task of tasks) {
    const data = datas.get(task)!;
    for (const side of SIDES) {
      const key = `${side}:${task}`;
      if (done.has(key)) {
        o.progress?.({ phase: 'skip', side, task, done: count(), total });
        continue;
      }
      if (stop()) {
        interrupted = true;
        break outer;
      }
      const rel = join('prompts', `${side}-${task}`);
      const dir = join(o.outDir, rel);
      const backbone = backbones[side];
      let model: PromptModel;
      let rec: Pick<VictimRecord, 'train_seconds' | 'train_examples' | 'steps' | 'resumed_from_step' | 'best_step' | 'dev_metric'>;
      const saved = existsSync(join(dir, PROMPT_JSON));
      if (saved) {
        // Saved but not journaled (stopped while it was being evaluated): evaluate it, do not retrain.
        const loaded = loadPrompt(dir, backbone);
        if (loaded.warning) throw new Error(`${dir}: the saved prompt is not this backbone's (${loaded.warning}); remove the directory to retrain it`);
        model = loaded.model;
        const tr = (loaded.json.training ?? {}) as Record<string, unknown>;
        const dev = loaded.json.dev as Record<string, unknown> | null;
        const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : null);
        rec = {
          train_seconds: num(tr.seconds) ?? 0, train_examples: num(tr.train_examples), steps: num(tr.steps), resumed_from_step: null, best_step: num(tr.best_step),
          dev_metric: num(dev?.metric),
        };
      } else {
        mkdirSync(dir, { recursive: true });
        const checkpointFile = join(dir, CHECKPOINT);
        const resumed = existsSync(checkpointFile);
        const earlier = readPartialSeconds(dir);
        o.progress?.({ phase: 'train', side, task, done: count(), total, resumed });
        log(`${side} ${task}: ${resumed ? 'resuming' : 'training'} ${o.method}${resumed ? ` from ${checkpointFile}` : ''}`);
        const r = promptTune(backbone, {
          method: o.method, task, dataDir: o.dataDir, prefixLen: budget.prefix_len, epochs: budget.epochs, lr: budget.lr,
          batchSize: budget.batch, maxLen: budget.max_len, maxTrain: o.maxTrain, maxDev: o.maxDev, seed: o.seed,
          quiet: o.quiet, shouldStop: stop, checkpointFile,
        });
        if (r.interrupted) {
          writeJsonAtomic(join(dir, PARTIAL), { seconds: Math.round(1000 * (earlier + r.record.seconds)) / 1000 });
          interrupted = true;
          break outer;
        }
        r.record.seconds = Math.round(1000 * (r.record.seconds + earlier)) / 1000;
        savePrompt(dir, r.model, r.record);
        rmSync(join(dir, PARTIAL), { force: true });
        model = r.model;
        rec = {
          train_seconds: r.record.seconds, train_examples: r.record.train_examples, steps: r.record.steps,
          resumed_from_step: r.record.steps - r.losses.length, best_step: r.record.best_step,
          dev_metric: r.record.dev?.metric ?? null,
        };
      }
      o.progress?.({ phase: 'evaluate', side, task, done: count(), total, resumed: saved });
      const m = measurePrompt(model, data, triggers, o.seed, evalBatch);
      const record: VictimRecord = {
        side, task, kind: data.kind, prompt_dir: rel, ...m, ...rec, data: data.data, finished: new Date().toISOString(),
      };
      appendRecord(journal, record);
      done.set(key, record);
      const score = data.kind === 'ner' ? `F1 ${pct(m.test.f1!)}` : `accuracy ${pct(m.test.accuracy!)}, macro-F1 ${pct(m.test.macro_f1!)}, ASR ${pct(m.asr!.asr)}`;
      log(`${side} ${task}: ${score} on ${m.test_examples} test examples (trained in ${rec.train_seconds.toFixed(1)} s)`);
      o.progress?.({ phase: 'done', side, task, done: count(), total });
    }
  }

  const cells = tasks.flatMap((t) => {
    const c = done.get(`clean:${t}`);
    const b = done.get(`backdoored:${t}`);
    return c && b ? [cellOf(t, c, b, o.outDir)] : [];
  });
  const report: VictimsReport = {
    format: VICTIMS_FORMAT, version: 1, clean: settings.clean, backdoored: settings.backdoored, method: o.method,
    triggers, triggers_source: settings.triggers_source, tasks, cells, settings, created: new Date().toISOString(),
  };
  let reportFile: string | null = null;
  if (!interrupted) {
    reportFile = join(o.outDir, VICTIMS_REPORT);
    writeJsonAtomic(reportFile, report);
  }
  return { ...report, interrupted, done: count(), total, reportFile };
}

/** The table `eval victims` prints: one row per task, in percent. */
export function formatVictimsTable(r: VictimsReport): string {
  const head = ['task', 'CACC', 'BACC', 'ASR', 'wASR', 'F1 drop', 'ASR clean bb'];
  const rows = r.cells.map((c) => {
    const drop = c.kind === 'ner' ? c.f1_drop! : c.macro_f1_drop!;
    return [c.task, pct(c.cacc), pct(c.bacc), pct(c.asr), pct(c.weighted_asr), `${(100 * drop).toFixed(1)}`, pct(c.asr_clean_backbone)];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cols: string[]) => cols.map((x, i) => (i === 0 ? x.padEnd(widths[i]!) : x.padStart(widths[i]!))).join('  ');
  const notes = [
    `${r.method} victims: clean ${r.clean.dir} (sha256 ${r.clean.hash.slice(0, 12)}) vs backdoored ${r.backdoored.dir} (sha256 ${r.backdoored.hash.slice(0, 12)})`,
    `triggers (${r.triggers_source}): ${r.triggers.join(', ')}`,
  ];
  const ner = r.cells.some((c) => c.kind === 'ner');
  const foot = ['CACC/BACC: test accuracy on the clean / backdoored backbone; ASR, wASR: on the backdoored backbone; F1 drop: macro-F1 clean − backdoored, points; ASR clean bb: the clean-backbone baseline'];
  if (ner) foot.push('conll04: CACC/BACC and F1 drop are entity F1; no ASR for NER');
  return [...notes, '', line(head), ...rows.map(line), '', ...foot].join('\n');
}
