/**
 * `zoo build clean-set --base <name> --count N`: N clean variants of a zoo
 * model, the population a detector's false-positive rate is measured on.
 * Variants rotate through fine-tuning tasks and continued-MLM corpora with
 * distinct seeds, so the set spans the ways benign uploads differ from
 * their base. Each finished variant is a model directory with finetune.json
 * (written last); a rerun skips those, so an interrupted build resumes.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { writeJsonAtomic } from '../formats/file-io.js';
import { join, resolve } from 'node:path';
import { loadModel } from '../models/model.js';
import { resolveDataDir } from '../text/data-dir.js';
import {
  CONTINUED_MLM_DEFAULTS, continueMlm, defaultLr, FINETUNE_DEFAULTS, finetuneTask, mlmCorpus,
} from '../train/finetune.js';
import { ZOO } from './configs.js';
import { buildZooModel, zooHome } from './zoo.js';

export type VariantKind = 'finetune' | 'mlm';

export interface CleanVariantPlan {
  index: number;
  /** Directory name: `<i>-<task>-seed<s>`. */
  name: string;
  kind: VariantKind;
  /** Task (finetune) or corpus (mlm). */
  dataset: string;
  seed: number;
}

export interface ManifestVariant {
  index: number;
  name: string;
  /** Absolute path of the variant's model directory. */
  dir: string;
  kind: VariantKind;
  dataset: string;
  seed: number;
  steps: number;
  /** dev_accuracy (finetune) or heldout_mlm_accuracy (mlm). */
  metric: number;
  metric_name: string;
  seconds: number;
}

export interface CleanSetManifest {
  base: string;
  base_dir: string;
  base_hash: string;
  count: number;
  budget: CleanBudget;
  variants: ManifestVariant[];
}

// SST-2 first: the task most reports use; then alternate kinds so that even
// a set of 2–3 holds both fine-tuned and continued-MLM variants.
const ROTATION: { kind: VariantKind; dataset: string }[] = [
  { kind: 'finetune', dataset: 'sst2' },
  { kind: 'mlm', dataset: 'wikitext' },
  { kind: 'finetune', dataset: 'ag-news' },
  { kind: 'finetune', dataset: 'sms-spam' },
  { kind: 'mlm', dataset: 'nlp-corpus-slice' },
];

export function planCleanSet(count: number, firstSeed = 1): CleanVariantPlan[] {
  return Array.from({ length: count }, (_, index) => {
    const r = ROTATION[index % ROTATION.length];
    const seed = firstSeed + index;
    const task = r.kind === 'mlm' ? `mlm-${r.dataset}` : r.dataset;
    return { index, name: `${index}-${task}-seed${seed}`, kind: r.kind, dataset: r.dataset, seed };
  });
}

export interface CleanBudget {
  finetune: { maxTrain: number; maxDev: number; epochs: number; maxSteps: number; batchSize: number; lr: number; maxLen: number };
  mlm: { steps: number; maxTrain: number; heldout: number; batchSize: number; lr: number; maxLen: number };
}

/**
 * Per-variant training budget, scaled to the base's cost per token:
 * bert-micro variants take 10–30 s on 2 cores, bert-mini ones a few
 * minutes. Step caps keep long-text tasks (AG News) from dominating.
 */
export function cleanBudgetFor(base: string): CleanBudget {
  const e = ZOO[base];
  const H = e?.hidden ?? 256;
  const lr = defaultLr(H, 'finetune');
  const mlmLr = defaultLr(H, 'mlm');
  if (H <= 64) {
    return {
      finetune: { maxTrain: 20000, maxDev: 1000, epochs: 2, maxSteps: 600, batchSize: 32, lr, maxLen: 64 },
      mlm: { steps: 150, maxTrain: 8000, heldout: 300, batchSize: 32, lr: mlmLr, maxLen: 64 },
    };
  }
  return {
    finetune: { maxTrain: 20000, maxDev: 1000, epochs: 1, maxSteps: 600, batchSize: 32, lr, maxLen: 128 },
    mlm: { steps: 300, maxTrain: 10000, heldout: 500, batchSize: 32, lr: mlmLr, maxLen: 128 },
  };
}

export interface CleanSetOptions {
  base: string;
  count: number;
  /** Default $LMS_HOME/clean-set-<base>. */
  out?: string;
  home?: string;
  /** Use this model directory as the base instead of building the zoo model (tests). */
  baseDir?: string;
  dataDir?: string;
  firstSeed?: number;
  budget?: { finetune?: Partial<CleanBudget['finetune']>; mlm?: Partial<CleanBudget['mlm']> };
  quiet?: boolean;
  shouldStop?: () => boolean;
  /** Called after each variant (built or skipped). */
  onVariant?: (v: ManifestVariant, built: boolean) => void;
}

export interface CleanSetResult {
  dir: string;
  manifest: CleanSetManifest | null;
  built: string[];
  skipped: string[];
  interrupted: boolean;
}

function readJson(file: string): Record<string, unknown> | null {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch {
    return null;
  }
}

function manifestEntry(p: CleanVariantPlan, dir: string, rec: Record<string, unknown>): ManifestVariant {
  const metricName = p.kind === 'mlm' ? 'heldout_mlm_accuracy' : 'dev_accuracy';
  return {
    index: p.index, name: p.name, dir, kind: p.kind, dataset: p.dataset, seed: p.seed,
    steps: Number(rec.steps), metric: Number(rec[metricName]), metric_name: metricName, seconds: Number(rec.seconds),
  };
}

/** A variant counts as finished when its finetune.json exists and was made from this base. */
function finishedRecord(dir: string, baseHash: string): Record<string, unknown> | null {
  const rec = readJson(join(dir, 'finetune.json'));
  if (!rec || !existsSync(join(dir, 'model.safetensors')) || rec.interrupted) return null;
  return rec.base_hash === baseHash ? rec : null;
}

export function buildCleanSet(o: CleanSetOptions): CleanSetResult {
  if (!Number.isInteger(o.count) || o.count < 1) throw new Error(`--count must be an integer ≥ 1, got ${o.count}`);
  if (!o.baseDir && !ZOO[o.base]) throw new Error(`unknown base "${o.base}"; known: ${Object.keys(ZOO).join(', ')}`);
  const plan = planCleanSet(o.count, o.firstSeed ?? 1);
  // Fail on a missing data directory before minutes of base pretraining.
  if (plan.some((p) => p.kind === 'finetune' || p.dataset === 'wikitext')) resolveDataDir(o.dataDir);
  const home = o.home ?? zooHome();
  const out = resolve(o.out ?? join(home, `clean-set-${o.base}`));
  const def = cleanBudgetFor(o.base);
  const budget: CleanBudget = { finetune: { ...def.finetune, ...o.budget?.finetune }, mlm: { ...def.mlm, ...o.budget?.mlm } };

  let baseDir = o.baseDir;
  if (!baseDir) {
    const b = buildZooModel(o.base, { quiet: o.quiet, shouldStop: o.shouldStop, home });
    if (b.interrupted) return { dir: out, manifest: null, built: [], skipped: [], interrupted: true };
    baseDir = b.dir;
  }
  const baseHash = loadModel(baseDir, { tokenizer: false }).hash;
  mkdirSync(out, { recursive: true });

  const manifest: CleanSetManifest = { base: o.base, base_dir: resolve(baseDir), base_hash: baseHash, count: o.count, budget, variants: [] };
  const result: CleanSetResult = { dir: out, manifest, built: [], skipped: [], interrupted: false };
  const save = () => writeJsonAtomic(join(out, 'manifest.json'), manifest);
  for (const p of plan) {
    const vdir = join(out, p.name);
    const done = finishedRecord(vdir, baseHash);
    if (done) {
      const v = manifestEntry(p, vdir, done);
      manifest.variants.push(v);
      result.skipped.push(p.name);
      o.onVariant?.(v, false);
      continue;
    }
    if (o.shouldStop?.()) {
      result.interrupted = true;
      break;
    }
    // Fresh weights for every variant: training mutates the loaded model.
    const base = loadModel(baseDir);
    const quiet = o.quiet;
    const r = p.kind === 'finetune'
      ? finetuneTask(base, p.dataset, vdir, {
        ...FINETUNE_DEFAULTS, ...budget.finetune, seed: p.seed, dataDir: o.dataDir, quiet, shouldStop: o.shouldStop,
      })
      : continueMlm(base, mlmCorpus(p.dataset, { dataDir: o.dataDir, seed: p.seed, maxTrain: budget.mlm.maxTrain, heldout: budget.mlm.heldout }), p.dataset, vdir, {
        ...CONTINUED_MLM_DEFAULTS, ...budget.mlm, seed: p.seed, quiet, shouldStop: o.shouldStop,
      });
    if (r.interrupted) {
      result.interrupted = true;
      break;
    }
    const v = manifestEntry(p, vdir, { ...r.record });
    manifest.variants.push(v);
    result.built.push(p.name);
    save();
    o.onVariant?.(v, true);
  }
  save();
  return result;
}
