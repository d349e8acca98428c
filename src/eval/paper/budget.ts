/**
 * The budgets of `eval paper`: how many models, tasks, seeds, loops and
 * examples each table gets. `full` is the reference run (the paper's
 * loop counts where this machine allows, every task, three seeds);
 * `quick` cuts every axis so that one small zoo model goes through every
 * table in an afternoon; `tiny` exists for the kill-and-resume test and is
 * not listed in --help.
 */
import type { AttackOptions } from '../../attacks/settings.js';
import type { TriggerFrequency } from '../../attacks/triggers.js';
import type { PromptTask } from '../../prompt/index.js';

export const BUDGETS = ['quick', 'full'] as const;
export const ALL_BUDGETS = [...BUDGETS, 'tiny'] as const;
export type BudgetName = (typeof ALL_BUDGETS)[number];

/** Detection columns of Table 4: the target token and the attacks aimed at it. */
export const DETECTION_COLUMNS = {
  cls: { mode: 'cls', methods: ['por', 'neuba'], label: '[CLS]' },
  mask: { mode: 'mask', methods: ['btop'], label: '[MASK]' },
  token: { mode: 'token', methods: ['por-ner'], label: 'normal token' },
} as const;
export type DetectionColumn = keyof typeof DETECTION_COLUMNS;

/** One adaptive-attack setting (Tables 7, 8, 17, 18). */
export interface AdaptiveVariant {
  /** Unique within the budget: "one-pv-word", "scatter-por-7", "freq-frequent", … */
  key: string;
  table: 'tab7' | 'tab8' | 'tab17' | 'tab18';
  attack: 'por' | 'btop';
  /** Table 7: one or two PVs, each with one trigger. */
  pvCount?: 1 | 2;
  /** Table 7: single vocabulary words, or phrases of 2–3 of them. */
  triggerKind?: 'word' | 'phrase';
  scatterLoss?: number;
  wassersteinLoss?: number;
  triggerFrequency?: TriggerFrequency;
  /** Models built per setting (the paper builds 30). */
  instances: number;
  /** Also prompt-tune this task on each model and measure ASR with and without the guard (the paper's AG News, P-tuning v2). */
  guardTask?: PromptTask;
}

export interface PaperBudget {
  name: BudgetName;
  /** What the page says about this budget. */
  summary: string;
  /** Zoo models each table is run on, from the front of --zoo (null: all). */
  modelsPerTable: number | null;
  /** Tables 2, 3, 6: tasks. */
  tasks: PromptTask[];
  /** Tables 2, 3, 6: prompt-training seeds (the paper averages three). */
  seeds: number[];
  /** Seed of the attacks on the zoo models (Tables 2, 3, 5, 6, Fig. 6). */
  attackSeed: number;
  /** Overrides of the attacks' size defaults (empty: the defaults). */
  attack: Pick<AttackOptions, 'sentencesPerTrigger' | 'epochs' | 'heldout'>;
  victims: { epochs: number; maxTrain: number; maxDev: number; maxTest: number | undefined; maxLen: number; batchSize: number; prefixLen?: number };
  /** search on each backdoored backbone (guard, Table 5, Fig. 6). */
  search: { loops: number; patience: number };
  /** Table 5's trigger-inversion baseline (eval/inversion.ts): seeded runs on the POR copy. */
  inversion: { runs: number };
  /** ONION on this many test inputs for Table 6's instances; 1 elsewhere (eval guard always runs it; those figures are not used). */
  onionMaxTest: number;
  /** Table 4 (held-out: seed 1, vocabulary triggers, drawn attack settings). */
  detection: { clean: number; backdoored: Record<DetectionColumn, number>; loops: number };
  /** Tables 7, 8, 17, 18: scan loops per adaptive model. */
  adaptiveLoops: number;
  adaptive: AdaptiveVariant[];
}

/** Table 5's LMSanitator columns count the first 20 fuzz loops, as the paper ran 20; its Piccolo columns 20 inversion runs (4 labels × 5). */
export const TAB5_LOOPS = 20;

const fullAdaptive = (): AdaptiveVariant[] => [
  ...([1, 2] as const).flatMap((pvCount) => (['word', 'phrase'] as const).map((triggerKind): AdaptiveVariant => ({
    key: `${pvCount === 1 ? 'one-pv' : 'two-pvs'}-${triggerKind}`, table: 'tab7', attack: 'por', pvCount, triggerKind, instances: 3,
  }))),
  ...['1', '5', '6', '7', '10'].map((w): AdaptiveVariant => ({ key: `scatter-por-${w}`, table: 'tab8', attack: 'por', scatterLoss: Number(w), instances: 1, guardTask: 'ag-news' })),
  ...['10', '60', '70', '80', '100'].map((w): AdaptiveVariant => ({ key: `scatter-btop-${w}`, table: 'tab8', attack: 'btop', scatterLoss: Number(w), instances: 1, guardTask: 'ag-news' })),
  ...(['rare', 'moderate', 'frequent'] as const).map((f): AdaptiveVariant => ({ key: `freq-${f}`, table: 'tab17', attack: 'por', triggerFrequency: f, instances: 3 })),
  ...['0.1', '0.2', '0.3', '0.4', '0.5', '1'].map((w): AdaptiveVariant => ({ key: `wasserstein-por-${w}`, table: 'tab18', attack: 'por', wassersteinLoss: Number(w), instances: 1, guardTask: 'ag-news' })),
  ...['1', '10', '100', '1000'].map((w): AdaptiveVariant => ({ key: `wasserstein-btop-${w}`, table: 'tab18', attack: 'btop', wassersteinLoss: Number(w), instances: 1, guardTask: 'ag-news' })),
];

export const PAPER_BUDGETS: Record<BudgetName, PaperBudget> = {
  full: {
    name: 'full',
    summary: 'the reference run: every --zoo model in every table; RTE, BoolQ, AG News, Yelp-5, Enron spam, SMS spam and SST-2; three prompt seeds; prompts up to 6,000 training examples, 10 epochs, 128 tokens, whole test splits; search 1,000 loops stopping after 200 without a new PV (the paper\'s); 20 trigger-inversion baseline runs for Table 5 (the paper\'s 20 Piccolo inversions); ONION on 200 test inputs; held-out detection with 10 clean and 10/5/5 backdoored models per column at 30 loops; every adaptive setting of Tables 7, 8, 17 and 18 (1–3 models each, ASR through the guard on AG News for the loss sweeps)',
    modelsPerTable: null,
    tasks: ['rte', 'boolq', 'ag-news', 'yelp-5', 'enron-spam', 'sms-spam', 'sst2'],
    seeds: [1, 2, 3],
    attackSeed: 0,
    attack: {},
    victims: { epochs: 10, maxTrain: 6000, maxDev: 500, maxTest: undefined, maxLen: 128, batchSize: 32 },
    search: { loops: 1000, patience: 200 },
    inversion: { runs: TAB5_LOOPS },
    onionMaxTest: 200,
    detection: { clean: 10, backdoored: { cls: 10, mask: 5, token: 5 }, loops: 30 },
    adaptiveLoops: 30,
    adaptive: fullAdaptive(),
  },
  quick: {
    name: 'quick',
    summary: 'fewer models per cell and fewer loops: only the first --zoo model; SST-2, AG News, SMS spam and RTE; one prompt seed; prompts on 2,000 training examples, 3 epochs, 64 tokens (RTE pairs are cut), 200 test inputs; search 20 loops (the paper\'s Table 5 budget; it searched 1,000 for the guard); 20 trigger-inversion baseline runs for Table 5 (the paper\'s 20 Piccolo inversions); ONION on 3 test inputs; held-out detection with 2 clean and 2/1/1 backdoored models per column at 6 loops (the paper: 30); one model for each of four adaptive settings, scanned for 6 loops, detection only',
    modelsPerTable: 1,
    tasks: ['sst2', 'ag-news', 'sms-spam', 'rte'],
    seeds: [1],
    attackSeed: 0,
    attack: {},
    victims: { epochs: 3, maxTrain: 2000, maxDev: 200, maxTest: 200, maxLen: 64, batchSize: 32 },
    search: { loops: TAB5_LOOPS, patience: TAB5_LOOPS },
    // Table 5 compares counts out of 20, so quick runs all 20 (each about one full fuzz loop: ~10 min on bert-mini).
    inversion: { runs: TAB5_LOOPS },
    onionMaxTest: 3,
    detection: { clean: 2, backdoored: { cls: 2, mask: 1, token: 1 }, loops: 6 },
    adaptiveLoops: 6,
    adaptive: [
      { key: 'one-pv-word', table: 'tab7', attack: 'por', pvCount: 1, triggerKind: 'word', instances: 1 },
      { key: 'scatter-por-7', table: 'tab8', attack: 'por', scatterLoss: 7, instances: 1 },
      { key: 'freq-frequent', table: 'tab17', attack: 'por', triggerFrequency: 'frequent', instances: 1 },
      { key: 'wasserstein-por-0.4', table: 'tab18', attack: 'por', wassersteinLoss: 0.4, instances: 1 },
    ],
  },
  tiny: {
    name: 'tiny',
    summary: 'a test configuration: one model, minimal attacks (8 sentences per trigger, 1 epoch), prompts on 32 examples for 1 epoch, 16 test inputs, search 2 loops, 2 trigger-inversion runs (Table 5 has 20), 1-loop scans; its numbers mean nothing',
    modelsPerTable: 1,
    tasks: ['sst2'],
    seeds: [1],
    attackSeed: 0,
    attack: { sentencesPerTrigger: 8, epochs: 1, heldout: 10 },
    victims: { epochs: 1, maxTrain: 32, maxDev: 8, maxTest: 16, maxLen: 32, batchSize: 8, prefixLen: 4 },
    search: { loops: 2, patience: 2 },
    inversion: { runs: 2 },
    onionMaxTest: 2,
    detection: { clean: 1, backdoored: { cls: 1, mask: 1, token: 1 }, loops: 1 },
    adaptiveLoops: 1,
    adaptive: [{ key: 'one-pv-word', table: 'tab7', attack: 'por', pvCount: 1, triggerKind: 'word', instances: 1 }],
  },
};

export function paperBudget(name: string): PaperBudget {
  const b = PAPER_BUDGETS[name as BudgetName];
  if (!b) throw new Error(`unknown budget "${name}"; choose ${BUDGETS.join(' or ')}`);
  return b;
}
