/**
 * Train / dev / test splits for prompt tuning, made from what the dataset
 * readers provide. Several sources are partial (AG News and Yelp-5 train
 * are samples, BoolQ ships only its validation set and 64 few-shot rows,
 * SMS and Enron spam are single pools), so each task documents how its
 * splits were cut, and that description goes into prompt.json.
 *
 * Held-out parts are cut with a fixed seed per task (never the training
 * seed), stratified by label, so every run and every seed is selected on
 * the same dev set and reported on the same test set. Only the training
 * subsample (`maxTrain`) follows the run's seed.
 */
import { sampleSentences } from '../text/corpus.js';
import { LABEL_NAMES, type NerSentence, readNerDataset, readTextDataset, type TextExample } from '../text/datasets.js';
import { locateDataDir } from '../text/data-dir.js';
import { Rng } from '../text/random.js';

export const PROMPT_TASKS = ['sst2', 'ag-news', 'sms-spam', 'enron-spam', 'rte', 'boolq', 'yelp-5', 'conll04'] as const;
export type PromptTask = (typeof PROMPT_TASKS)[number];
export type TaskKind = 'classification' | 'ner';

export function isPromptTask(t: string): t is PromptTask {
  return (PROMPT_TASKS as readonly string[]).includes(t);
}

export function taskKind(task: PromptTask): TaskKind {
  return task === 'conll04' ? 'ner' : 'classification';
}

/** Whether the task's examples are sentence pairs (text + textB). */
export function isPairTask(task: string): boolean {
  return task === 'rte' || task === 'boolq';
}

export interface ClassificationData {
  task: PromptTask;
  kind: 'classification';
  labelNames: readonly string[];
  train: TextExample[];
  dev: TextExample[];
  test: TextExample[];
  /** How the splits were made, with their sizes (prompt.json "data"). */
  data: string;
}

export interface NerData {
  task: 'conll04';
  kind: 'ner';
  labelNames: readonly string[];
  train: NerSentence[];
  dev: NerSentence[];
  test: NerSentence[];
  data: string;
}

export type PromptTaskData = ClassificationData | NerData;

export interface PromptDataOptions {
  dataDir?: string;
  /** Training examples kept, drawn with the run's seed. */
  maxTrain?: number;
  /** Dev examples kept, drawn with a fixed seed (the same for every run). */
  maxDev?: number;
  /** Test examples kept, drawn with a fixed seed. */
  maxTest?: number;
  seed: number;
}

/** The label names a task's model predicts (CoNLL04: its BIO tags). */
export function taskLabelNames(task: PromptTask): readonly string[] {
  if (task === 'conll04') return ['O', 'B-Loc', 'I-Loc', 'B-Peop', 'I-Peop', 'B-Org', 'I-Org', 'B-Other', 'I-Other'];
  return LABEL_NAMES[task];
}

// AG News and Yelp keep their original CSV escapes: "\n" for a break, '\"' for a quote, a lone "\" for a line break.
const unescapeCsv = (e: TextExample): TextExample => ({ ...e, text: e.text.replace(/\\n/g, ' ').replace(/\\"/g, '"').replace(/\\/g, ' ') });

/**
 * Deals examples into parts by label: in label order (a seeded order
 * within each label), every example goes to the part furthest below its
 * share so far. Each part then gets its fraction of every label (±1), and
 * even a pool of a few examples gives the dev part one.
 */
export function stratifiedSplit<T>(items: readonly T[], labelOf: (x: T) => number, fractions: Record<string, number>, seed: string): Record<string, T[]> {
  const names = Object.keys(fractions);
  const total = names.reduce((s, n) => s + fractions[n]!, 0);
  if (names.some((n) => !(fractions[n]! >= 0)) || Math.abs(total - 1) > 1e-9) throw new RangeError(`split fractions must be ≥ 0 and sum to 1, got ${JSON.stringify(fractions)}`);
  const out: Record<string, T[]> = Object.fromEntries(names.map((n) => [n, []]));
  const shuffled = new Rng(seed).shuffled(items);
  // A stable sort keeps the seeded order within each label.
  const ordered = shuffled.map((x, i) => ({ x, i, l: labelOf(x) })).sort((a, b) => a.l - b.l || a.i - b.i);
  ordered.forEach(({ x }, i) => {
    let best = names[0]!;
    const deficit = (n: string) => fractions[n]! * (i + 1) - out[n]!.length;
    for (const n of names) if (deficit(n) > deficit(best)) best = n;
    out[best]!.push(x);
  });
  // Back into one seeded order, so a part is not sorted by label.
  const rng = new Rng(`${seed}:order`);
  for (const n of names) rng.shuffleInPlace(out[n]!);
  return out;
}

const n = (x: number) => x.toLocaleString('en-US');

/**
 * The splits of a task:
 *   sst2        train = train.tsv less a stratified 872-row dev; test = GLUE dev.tsv (GLUE's test labels are not public)
 *   ag-news     train = the 5,000-row train sample less a stratified 10% dev; test = test.csv
 *   sms-spam    the one SMSSpamCollection pool, stratified 80/10/10
 *   enron-spam  the enron1 pool (ham/ + spam/), stratified 80/10/10
 *   rte         train = train.tsv less a stratified 10% dev; test = GLUE dev.tsv
 *   boolq       val.jsonl (the full SuperGLUE validation set) stratified 60/10/30, the 60 joined by the
 *               32 FewGLUE train and 32 dev32 rows (both from BoolQ's train split, disjoint from val)
 *   yelp-5      the 1,000-row train sample (200 per class), stratified 80/10/10
 *   conll04     train.txt / dev.txt / test.bio as P-tuning v2 ships them
 * The sizes in `data` are what the reader found (the bundled slices are smaller).
 */
export function loadPromptTask(task: string, o: PromptDataOptions): PromptTaskData {
  if (!isPromptTask(task)) throw new Error(`unknown prompt task "${task}"; choose one of ${PROMPT_TASKS.join(', ')}`);
  const where = locateDataDir(o.dataDir);
  const from = where ? ` (data from ${where.source === '--data-dir' ? where.dir : `${where.source}: ${where.dir}`})` : '';
  const seed = `${task}:split`;
  const label = (e: TextExample) => e.label;
  if (task === 'conll04') {
    const r = (s: string) => readNerDataset('conll04', s, o.dataDir).sentences;
    const d = finish(task, { train: r('train'), dev: r('dev'), test: r('test') }, o, (s) => `${n(s.train)} / ${n(s.dev)} / ${n(s.test)} sentences`);
    return { task, kind: 'ner', labelNames: taskLabelNames(task), ...d.parts, data: `conll04 train.txt / dev.txt / test.bio: ${d.sizes}${d.note}${from}` };
  }
  const read = (split: string) => readTextDataset(task, split, o.dataDir).examples;
  let parts: { train: TextExample[]; dev: TextExample[]; test: TextExample[] };
  let how: string;
  if (task === 'sst2' || task === 'rte' || task === 'ag-news') {
    const pool = task === 'ag-news' ? read('train').map(unescapeCsv) : read('train');
    const test = task === 'ag-news' ? read('test').map(unescapeCsv) : read('dev');
    const devShare = task === 'sst2' ? Math.min(0.5, 872 / pool.length) : 0.1;
    const s = stratifiedSplit(pool, label, { train: 1 - devShare, dev: devShare }, seed);
    parts = { train: s.train!, dev: s.dev!, test };
    const source = { sst2: ['train.tsv', 'dev.tsv (GLUE test labels are not public)'], rte: ['train.tsv', 'dev.tsv (GLUE test labels are not public)'], 'ag-news': ['train-sample5000-hf.csv (a sample of the 120,000-row train split)', 'test.csv'] }[task];
    how = `train and dev = ${source[0]} split by label (seed "${seed}", ${task === 'sst2' ? `${n(s.dev!.length)} dev rows` : '10% dev'}); test = ${source[1]}`;
  } else if (task === 'boolq') {
    const s = stratifiedSplit(read('val'), label, { train: 0.6, dev: 0.1, test: 0.3 }, seed);
    const fewShot = [...read('train'), ...read('dev32')];
    parts = { train: [...s.train!, ...fewShot], dev: s.dev!, test: s.test! };
    how = `val.jsonl (SuperGLUE validation; the 9,427-row train split is not available) split 60/10/30 by label (seed "${seed}"); train also holds the ${fewShot.length} FewGLUE train + dev32 rows`;
  } else {
    const split = task === 'sms-spam' ? 'all' : task === 'enron-spam' ? 'enron1' : 'train';
    const pool = task === 'yelp-5' ? read(split).map(unescapeCsv) : read(split);
    const s = stratifiedSplit(pool, label, { train: 0.8, dev: 0.1, test: 0.1 }, seed);
    parts = { train: s.train!, dev: s.dev!, test: s.test! };
    const src = { 'sms-spam': 'SMSSpamCollection (one pool)', 'enron-spam': 'enron1 ham/ + spam/ (one pool)', 'yelp-5': 'train-sample1000-hf.csv (a 1,000-row sample of the train split)' }[task];
    how = `${src} split 80/10/10 by label (seed "${seed}")`;
  }
  const d = finish(task, parts, o, (s) => `${n(s.train)} / ${n(s.dev)} / ${n(s.test)}`);
  return { task, kind: 'classification', labelNames: LABEL_NAMES[task], ...d.parts, data: `${task}: ${how}; train / dev / test = ${d.sizes}${d.note}${from}` };
}

function finish<T>(
  task: string, parts: { train: T[]; dev: T[]; test: T[] }, o: PromptDataOptions, sizes: (s: { train: number; dev: number; test: number }) => string,
): { parts: { train: T[]; dev: T[]; test: T[] }; sizes: string; note: string } {
  const notes: string[] = [];
  const full = { train: parts.train.length, dev: parts.dev.length, test: parts.test.length };
  const cut = (xs: T[], max: number | undefined, what: string, seed: string): T[] => {
    if (max === undefined || max >= xs.length) return xs;
    if (!Number.isInteger(max) || max < 1) throw new RangeError(`max ${what} must be a positive integer, got ${max}`);
    notes.push(`${what} subsampled to ${n(max)} of ${n(xs.length)} (seed "${seed}")`);
    return sampleSentences(xs, max, seed);
  };
  const out = {
    train: cut(parts.train, o.maxTrain, 'train', `${task}:train:${o.seed}`),
    dev: cut(parts.dev, o.maxDev, 'dev', `${task}:dev`),
    test: cut(parts.test, o.maxTest, 'test', `${task}:test`),
  };
  if (out.train.length === 0) throw new Error(`${task}: no training examples`);
  if (out.dev.length === 0) throw new Error(`${task}: the dev split is empty (too few examples to hold any out)`);
  return { parts: out, sizes: sizes(full), note: notes.length ? `; ${notes.join('; ')}` : '' };
}
