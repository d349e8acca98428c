/**
 * The content of `report.json` (and of `--json` on stdout): everything a
 * person or a script needs to judge a scan or search without the model —
 * verdict and score, the settings that produced them, every fuzz loop's
 * losses and filter verdict, and each PV with the human-readable evidence
 * (nearest vocabulary tokens of its soft prompt).
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { MiningData, MiningDataOptions } from '../sanitizer/data.js';
import type { MiningOptions } from '../sanitizer/mining.js';
import type { DriverOptions, DriverResult, FoundPv } from '../sanitizer/scan.js';
import type { TargetMode } from '../sanitizer/target.js';
import type { RecoveryResult, TriggerCandidate } from '../sanitizer/recover.js';
import { topTwoPca } from './pca.js';

export const REPORT_VERSION = 1;

/**
 * Restates the definition in src/sanitizer/score.ts (loopScore) for readers
 * of the report, who do not have the source at hand.
 */
export const SCORE_DEFINITION =
  'Per fuzz loop s = D·C·G, with D = −(lowest epoch-mean distance loss)/distanceTh (D ≥ 1: the distance threshold was crossed), ' +
  'C = 1 if the final epoch\'s batch collapsed (diversity loss < divTh) else ½, G = 1 if the soft prompt lies inside the ' +
  'legitimate embedding range and the candidate does not sit on the clean outputs (clean-output rule) else 0. The model\'s ' +
  'score is the maximum over its loops; a kept PV implies s ≥ 1 with a collapsed batch (C = 1), a clean model\'s score is ' +
  'its best near-miss, and can exceed 1 only with C = ½: a loop far past the distance threshold whose batch did not collapse.';

/** Everything about the run's settings that the report and the PV set record: the driver's own options. */
export type ReportSettings = Pick<DriverOptions, 'loops' | 'patience' | 'firstSeed' | 'parallel' | 'mining' | 'divTh'> &
  Partial<Pick<DriverOptions, 'sentencesHash' | 'maxCleanShare'>>;

export interface TargetInfo {
  modelDir: string;
  modelHash: string;
  /** H: width of the target outputs and PVs. */
  hidden: number;
  /** E: width of the word embeddings and prompt rows. */
  embedDim: number;
}

export interface ScanReportInput {
  command: 'scan' | 'search';
  driverResult: DriverResult;
  data: MiningData;
  target: TargetInfo;
  /** A DriverOptions object fits here as is. */
  settings: ReportSettings;
  /** Defaults to now; fixed in tests. */
  created?: Date;
  /** Trigger recovery, when it ran (its candidates are on the PVs). */
  recovery?: RecoveryResult | null;
}

export interface ReportEpoch {
  distance: number | null;
  diversity: number | null;
  path: number | null;
  lr: number | null;
}

export interface ReportLoop {
  seed: number;
  kept: boolean;
  /** Share of the clean outputs within distanceTh of the candidate (the clean-output rule), null when not checked. */
  cleanShare: number | null;
  /** Filter rules the loop failed (empty when kept). */
  reasons: string[];
  score: number | null;
  crossed: boolean;
  abandoned: boolean;
  /** Ended before its last epoch because its candidate passed every filter rule. */
  settled: boolean;
  /** Distance loss before the first update: an initial prompt that already moves the output is suspicious. */
  initialDistance: number | null;
  initialMaxGrad: number | null;
  rangeViolations: number;
  /** MSE to the nearest PV already kept at filtering time (null: none, or a resumed loop). */
  nearestKeptMse: number | null;
  seconds: number | null;
  epochs: ReportEpoch[];
  /** Last epoch's mean losses (null: the loop finished no epoch). */
  finalDistance: number | null;
  finalDiversity: number | null;
  bestDistance: number | null;
  /** Per-step distance loss, rounded to 6 significant digits. */
  distanceCurve: (number | null)[];
}

export interface NearestToken {
  token: string;
  id: number;
  cosine: number | null;
}

export interface ReportPv {
  index: number;
  seed: number;
  norm: number;
  mean: number;
  min: number;
  max: number;
  /** The first 8 entries. */
  firstDims: number[];
  signs: {
    /** Fraction of entries ≥ 0 (the guard's convention). */
    positiveFraction: number;
    /** sign of the first 64 entries as '+'/'-'. */
    prefix: string;
    /**
     * Majority sign of each quarter of the vector and the fraction that
     * agrees: the attacks' PVs are four constant ±1 blocks.
     */
    quarters: { sign: '+' | '-'; agreement: number }[];
    /** The whole sign pattern, run-length coded: sign of entry 0, then the lengths of the alternating runs. */
    runs: { start: '+' | '-'; lengths: number[] };
  };
  /** MSE between the PV and the mean clean output (how far from normal outputs it lies). */
  mseToCleanMean: number | null;
  /** For each prompt row, the nearest vocabulary tokens by cosine. */
  nearest: NearestToken[][];
  /**
   * Trigger recovery: the input words that send clean sentences onto this
   * PV, best first — match_rate the mean sign match of the outputs with the
   * PV, fire_rate the share past η (null: recovery not run).
   */
  trigger_candidates: TriggerCandidate[] | null;
  /** Trigger recovery: swept words that sent at least half of the sweep's sentences onto this PV (null: not run). */
  trigger_words_firing: number | null;
}

export interface ReportPca {
  /** Fraction of the clean outputs' variance along each axis. */
  explainedVariance: [number, number];
  sampled: number;
  total: number;
  centroid: [number, number];
  /**
   * Euclidean distance of the sampled clean outputs to their centroid (full
   * H-space): the scale against which a PV's distance is judged.
   */
  cleanDistance: { mean: number; p95: number };
  /**
   * `distance`: ‖PV − centroid‖ in H-space; `inPlane`: the fraction of that
   * offset the two axes show. A PV can sit far from every clean output in
   * directions the clean outputs do not vary in, and then looks close here.
   */
  pvs: { index: number; x: number; y: number; distance: number; inPlane: number }[];
}

export interface ScanReport {
  reportVersion: typeof REPORT_VERSION;
  tool: { name: 'lmsanitator'; version: string };
  command: 'scan' | 'search';
  created: string;
  model: { dir: string; hash: string; mode: TargetMode; hidden: number; embedDim: number };
  verdict: 'backdoored' | 'clean';
  score: number;
  scoreDefinition: string;
  /** True when the run was stopped early (Ctrl-C): a clean verdict is then inconclusive. */
  interrupted: boolean;
  stoppedBy: DriverResult['stoppedBy'];
  /** maxCleanShare: the clean-output rule's limit (null when disabled). */
  thresholds: { distanceTh: number; divTh: number; maxCleanShare: number | null };
  settings: {
    loops: number;
    patience: number;
    firstSeed: number;
    parallel: number;
    divTh: number;
    mining: MiningOptions;
    data: MiningDataOptions;
    sentences: number;
    batches: number;
    sentencesHash: string | null;
  };
  timings: { totalSeconds: number; loops: { seed: number; seconds: number | null }[] };
  /** Trigger recovery's cost (null: not run). */
  triggerRecovery: { wordsSwept: number; rows: number; seconds: number; secondsPerPv: number } | null;
  loops: ReportLoop[];
  pvs: ReportPv[];
  pca: ReportPca | null;
}

let cachedVersion: string | undefined;

/** The version in lmsanitator's package.json, found by walking up from this file (src/ and dist/src/ alike). */
export function toolVersion(): string {
  if (cachedVersion !== undefined) return cachedVersion;
  let dir = dirname(fileURLToPath(import.meta.url));
  cachedVersion = 'unknown';
  for (;;) {
    const f = join(dir, 'package.json');
    if (existsSync(f)) {
      try {
        const pkg = JSON.parse(readFileSync(f, 'utf8')) as { name?: unknown; version?: unknown };
        if (pkg.name === 'lmsanitator' && typeof pkg.version === 'string') {
          cachedVersion = pkg.version;
          break;
        }
      } catch {
        // an unreadable package.json on the way up is not ours; keep walking
      }
    }
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return cachedVersion;
}

/** JSON has no NaN or Infinity; the report says null instead. */
function fin(x: number | null | undefined): number | null {
  return typeof x === 'number' && Number.isFinite(x) ? x : null;
}

function round6(x: number): number | null {
  return Number.isFinite(x) ? Number(x.toPrecision(6)) : null;
}

/** The settings the PV set's metadata records as hyper-parameters (also report.settings). */
export function hyperParameters(settings: ReportSettings, data: MiningData): Record<string, unknown> {
  return {
    ...settings.mining,
    divTh: settings.divTh,
    loops: settings.loops,
    patience: settings.patience,
    firstSeed: settings.firstSeed,
    parallel: settings.parallel,
    data: data.options,
  };
}

export function buildScanReport(input: ScanReportInput, pca: ReportPca | null = null): ScanReport {
  const { driverResult: r, data, target, settings } = input;
  const loops = r.loops.map((l): ReportLoop => {
    const epochs = l.epochs.map((e) => ({ distance: fin(e.distance), diversity: fin(e.diversity), path: fin(e.path), lr: fin(e.lr) }));
    const last = l.epochs[l.epochs.length - 1];
    const finiteDistances = l.epochs.map((e) => e.distance).filter(Number.isFinite);
    return {
      seed: l.seed,
      kept: l.kept,
      reasons: [...l.reasons],
      score: fin(l.score),
      crossed: l.crossed,
      abandoned: l.abandoned,
      settled: l.settled ?? false,
      initialDistance: fin(l.initialDistance),
      initialMaxGrad: fin(l.initialMaxGrad),
      rangeViolations: l.rangeViolations,
      nearestKeptMse: fin(l.filter?.nearestKeptMse),
      cleanShare: fin(l.filter?.cleanShare ?? l.cleanShare),
      seconds: fin(l.seconds),
      epochs,
      finalDistance: fin(last?.distance),
      finalDiversity: fin(last?.diversity),
      bestDistance: finiteDistances.length ? Math.min(...finiteDistances) : null,
      distanceCurve: l.distanceCurve.map(round6),
    };
  });
  const cleanMean = meanCleanOutput(data, target.hidden);
  return {
    reportVersion: REPORT_VERSION,
    tool: { name: 'lmsanitator', version: toolVersion() },
    command: input.command,
    created: (input.created ?? new Date()).toISOString(),
    model: { dir: target.modelDir, hash: target.modelHash, mode: data.options.mode, hidden: target.hidden, embedDim: target.embedDim },
    verdict: r.pvs.length > 0 ? 'backdoored' : 'clean',
    score: fin(r.score) ?? 0,
    scoreDefinition: SCORE_DEFINITION,
    interrupted: r.interrupted,
    stoppedBy: r.stoppedBy,
    thresholds: { distanceTh: settings.mining.distanceTh, divTh: settings.divTh, maxCleanShare: settings.maxCleanShare ?? null },
    settings: {
      loops: settings.loops,
      patience: settings.patience,
      firstSeed: settings.firstSeed,
      parallel: settings.parallel,
      divTh: settings.divTh,
      mining: { ...settings.mining },
      data: { ...data.options },
      sentences: data.sentenceCount,
      batches: data.batches.length,
      sentencesHash: settings.sentencesHash ?? null,
    },
    timings: { totalSeconds: r.seconds, loops: loops.map((l) => ({ seed: l.seed, seconds: l.seconds })) },
    triggerRecovery: input.recovery ? {
      wordsSwept: input.recovery.wordsSwept, rows: input.recovery.rows, seconds: input.recovery.seconds,
      secondsPerPv: input.recovery.seconds / Math.max(1, r.pvs.length),
    } : null,
    loops,
    pvs: r.pvs.map((p) => summarisePv(p, cleanMean)),
    pca,
  };
}

function meanCleanOutput(data: MiningData, H: number): Float64Array | null {
  const m = new Float64Array(H);
  let n = 0;
  for (const b of data.batches) {
    if (b.aux.length !== b.B * H) return null;
    for (let i = 0; i < b.B; i++) for (let j = 0; j < H; j++) m[j] += b.aux[i * H + j];
    n += b.B;
  }
  if (n === 0) return null;
  for (let j = 0; j < H; j++) m[j] /= n;
  return m;
}

export function summarisePv(p: FoundPv, cleanMean: Float64Array | null): ReportPv {
  const v = p.vector;
  const H = v.length;
  let sq = 0;
  let sum = 0;
  let min = Infinity;
  let max = -Infinity;
  let pos = 0;
  for (let i = 0; i < H; i++) {
    sq += v[i] * v[i];
    sum += v[i];
    if (v[i] < min) min = v[i];
    if (v[i] > max) max = v[i];
    if (v[i] >= 0) pos++;
  }
  const quarters: ReportPv['signs']['quarters'] = [];
  if (H >= 4) {
    for (let q = 0; q < 4; q++) {
      const lo = Math.floor((q * H) / 4);
      const hi = Math.floor(((q + 1) * H) / 4);
      let p2 = 0;
      for (let i = lo; i < hi; i++) if (v[i] >= 0) p2++;
      const n = hi - lo;
      quarters.push(p2 * 2 >= n ? { sign: '+', agreement: p2 / n } : { sign: '-', agreement: (n - p2) / n });
    }
  }
  const lengths: number[] = [];
  for (let i = 0; i < H; i++) {
    if (i > 0 && (v[i] >= 0) === (v[i - 1] >= 0)) lengths[lengths.length - 1]++;
    else lengths.push(1);
  }
  let mse: number | null = null;
  if (cleanMean && cleanMean.length === H) {
    let s = 0;
    for (let i = 0; i < H; i++) s += (v[i] - cleanMean[i]) ** 2;
    mse = s / H;
  }
  return {
    index: p.index,
    seed: p.seed,
    norm: Math.sqrt(sq),
    mean: H ? sum / H : 0,
    min: H ? min : 0,
    max: H ? max : 0,
    firstDims: Array.from(v.subarray(0, 8)),
    signs: {
      positiveFraction: H ? pos / H : 0,
      prefix: Array.from(v.subarray(0, 64), (x) => (x >= 0 ? '+' : '-')).join(''),
      quarters,
      runs: { start: H === 0 || v[0] >= 0 ? '+' : '-', lengths },
    },
    mseToCleanMean: fin(mse),
    nearest: p.nearest.map((row) => row.map((t) => ({ token: t.token, id: t.id, cosine: fin(t.cosine) }))),
    trigger_candidates: p.triggerCandidates ?? null,
    trigger_words_firing: p.triggerWordsFiring ?? null,
  };
}

/** The scatter plot's data: the projected clean sample (for the HTML only) and the summary the report keeps. */
export interface PcaView {
  summary: ReportPca;
  points: [number, number][];
}

/**
 * PCA of the clean outputs h_aux (an evenly spaced sample of at most
 * `maxPoints` across all batches), their centroid (mean of every clean
 * output, not just the sample) and the PVs, on the same two axes.
 */
export function buildPcaView(data: MiningData, hidden: number, pvs: readonly FoundPv[], maxPoints = 1000): PcaView | null {
  const H = hidden;
  const total = data.batches.reduce((s, b) => s + b.B, 0);
  if (total === 0 || data.batches.some((b) => b.aux.length !== b.B * H)) return null;
  const m = Math.min(total, Math.max(1, maxPoints));
  const sample = new Float32Array(m * H);
  // Row k of the sample is clean output ⌊k·total/m⌋, walked batch by batch.
  let bi = 0;
  let base = 0;
  for (let k = 0; k < m; k++) {
    const g = Math.floor((k * total) / m);
    while (g >= base + data.batches[bi].B) {
      base += data.batches[bi].B;
      bi++;
    }
    const row = g - base;
    sample.set(data.batches[bi].aux.subarray(row * H, (row + 1) * H), k * H);
  }
  const pca = topTwoPca(sample, m, H);
  const points = Array.from({ length: m }, (_, k) => pca.project(sample.subarray(k * H, (k + 1) * H)));
  const mean = meanCleanOutput(data, H)!;
  const centroid = pca.project(mean);
  const tv = pca.totalVariance;
  const dist = (v: ArrayLike<number>): number => {
    let s = 0;
    for (let j = 0; j < H; j++) s += (v[j] - mean[j]) ** 2;
    return Math.sqrt(s);
  };
  const cleanD = Array.from({ length: m }, (_, k) => dist(sample.subarray(k * H, (k + 1) * H))).sort((a, b) => a - b);
  return {
    points,
    summary: {
      explainedVariance: [tv > 0 ? pca.variances[0] / tv : 0, tv > 0 ? pca.variances[1] / tv : 0],
      sampled: m,
      total,
      centroid,
      cleanDistance: { mean: cleanD.reduce((a, b) => a + b, 0) / m, p95: cleanD[Math.min(m - 1, Math.floor(0.95 * m))] },
      pvs: pvs.filter((p) => p.vector.length === H).map((p) => {
        const [x, y] = pca.project(p.vector);
        const distance = dist(p.vector);
        const shown = Math.hypot(x - centroid[0], y - centroid[1]);
        return { index: p.index, x, y, distance, inPlane: distance > 0 ? Math.min(1, shown / distance) : 1 };
      }),
    },
  };
}
