/**
 * Hand-built scan results (backdoored: 2 fuzz loops, 1 PV; clean: 8
 * rejected loops) and clean mining data, so the output writers can be
 * tested without a model.
 */
import type { MiningData } from '../../src/sanitizer/data.js';
import type { Rejection } from '../../src/sanitizer/filter.js';
import { DEFAULT_MINING_OPTIONS } from '../../src/sanitizer/mining.js';
import type { DriverResult, FoundPv, LoopRecord } from '../../src/sanitizer/scan.js';
import type { ReportSettings, ScanReportInput } from '../../src/eval/report.js';
import { Rng } from '../../src/text/random.js';

export const H = 16;
export const E = 8;
export const L = 3;
export const B = 8;
export const BATCHES = 3;
export const MODEL_HASH = 'ab'.repeat(32);
export const EVIL_TOKEN = '</script><img src=x onerror=alert(1)>';

/** Clean outputs spread mostly along dims 0 and 1, so their PCA is known. */
export function fakeData(): MiningData {
  const rng = new Rng(11);
  const gauss = () => {
    let s = 0;
    for (let i = 0; i < 6; i++) s += rng.next();
    return s - 3;
  };
  const batches = Array.from({ length: BATCHES }, () => {
    const aux = new Float32Array(B * H);
    for (let b = 0; b < B; b++) {
      for (let j = 0; j < H; j++) aux[b * H + j] = 0.05 * gauss();
      aux[b * H] += 2 * gauss();
      aux[b * H + 1] += gauss();
    }
    return {
      B, T: 10, ids: new Int32Array(B * 10), mask: new Float32Array(B * 10).fill(1),
      promptRows: new Int32Array(B * L), targetPositions: new Int32Array(B), aux,
    };
  });
  return {
    options: { mode: 'cls', tokenPosition: 1, promptLen: L, maxLen: 128, batchSize: B, maxInsertWord: 32, dataSeed: 0, batchOrder: 'length' },
    batches,
    sentenceCount: BATCHES * B,
  };
}

/** PV3 of the attacks: four blocks −, +, +, −. */
export function pv3(): Float32Array {
  return Float32Array.from({ length: H }, (_, i) => (i < H / 4 || i >= (3 * H) / 4 ? -1 : 1));
}

function curve(from: number, to: number, steps: number): number[] {
  return Array.from({ length: steps }, (_, i) => from + ((to - from) * i) / (steps - 1));
}

export function fakePv(): FoundPv {
  const prompt = Float32Array.from({ length: L * E }, (_, i) => Math.sin(i) * 0.1);
  const nearest = Array.from({ length: L }, (_, r) => [
    { token: r === 0 ? EVIL_TOKEN : `cf${r}`, id: 100 + r, cosine: 0.93 },
    { token: 'mn', id: 7, cosine: 0.5 },
    { token: '##ing', id: 8, cosine: 0.41 },
    { token: 'a&b "q"', id: 9, cosine: 0.3 },
    { token: 'tab\there', id: 10, cosine: Number.NaN },
  ]);
  return { index: 0, seed: 1, vector: pv3(), prompt, nearest };
}

export function fakeLoops(): LoopRecord[] {
  const steps = 4 * BATCHES;
  return [
    {
      type: 'loop', seed: 0,
      epochs: [
        { distance: -0.05, diversity: -3.40, path: null, lr: 2e-3 },
        { distance: -0.08, diversity: -3.42, path: null, lr: 2e-5 },
      ],
      initialDistance: -0.01, initialMaxGrad: 0.012, crossed: false, abandoned: true, kept: false,
      reasons: ['no-candidate'], rangeViolations: 0, seconds: 1.5, score: 0.2,
      distanceCurve: curve(-0.01, -0.09, 2 * BATCHES),
      filter: { kept: false, reasons: ['no-candidate'], finalDiversity: -3.42, rangeViolations: 0, nearestKeptMse: Infinity, cleanShare: null },
    },
    {
      type: 'loop', seed: 1,
      epochs: [
        { distance: -0.6, diversity: -3.44, path: null, lr: 2e-5 },
        { distance: -1.2, diversity: -3.46, path: null, lr: 2e-5 },
        { distance: -1.5, diversity: -3.463, path: null, lr: 2e-5 },
        { distance: -1.6, diversity: -3.465, path: null, lr: 2e-5 },
      ],
      initialDistance: -0.2, initialMaxGrad: 1.8, crossed: true, abandoned: false, kept: true,
      reasons: [], rangeViolations: 0, seconds: 2.25, score: 8,
      distanceCurve: curve(-0.2, -1.62, steps),
      filter: { kept: true, reasons: [], finalDiversity: -3.465, rangeViolations: 0, nearestKeptMse: Infinity, cleanShare: null },
    },
  ];
}

/** One rejected loop of the clean run; epoch means and the score follow from the epochs as score.ts computes them. */
function rejected(seed: number, distances: number[], diversities: number[], reasons: Rejection[], o: { score: number; rangeViolations?: number; cleanShare?: number; curve?: number[] }): LoopRecord {
  const epochs = distances.map((distance, i) => ({ distance, diversity: diversities[i], path: null, lr: 2e-5 }));
  const crossed = distances.some((x) => x < -0.2);
  const rangeViolations = o.rangeViolations ?? 0;
  return {
    type: 'loop', seed, epochs,
    initialDistance: distances[0] / 4, initialMaxGrad: 0.02, crossed, abandoned: !crossed && epochs.length === 2, kept: false,
    reasons, rangeViolations, seconds: 0.5 * epochs.length, score: o.score,
    distanceCurve: o.curve ?? curve(distances[0] / 4, distances[distances.length - 1] * 1.02, epochs.length * BATCHES),
    filter: { kept: false, reasons, finalDiversity: diversities[diversities.length - 1], rangeViolations, nearestKeptMse: Infinity, cleanShare: o.cleanShare ?? null },
  };
}

/**
 * A clean run of 8 loops, each rejected for another reason, several after
 * crossing a dashed line of the charts: a near miss that did not collapse
 * (the model's score, 4), per-step dips below −distanceTh with no epoch
 * mean below it, a class cluster (clean-output), an out-of-range prompt,
 * a collapsed batch without a candidate.
 */
export function fakeCleanLoops(): LoopRecord[] {
  return [
    fakeLoops()[0],
    rejected(1, [-0.6, -1.2, -1.5, -1.6], [-3.40, -3.42, -3.43, -3.44], ['not-collapsed'], { score: 4, curve: curve(-0.2, -1.62, 4 * BATCHES) }),
    rejected(2, [-0.1, -0.18], [-3.41, -3.43], ['no-candidate'], { score: 0.45, curve: [-0.05, -0.1, -0.15, -0.12, -0.22, -0.2] }),
    rejected(3, [-0.3, -0.5, -0.6, -0.62], [-3.44, -3.455, -3.46, -3.462], ['clean-output'], { score: 0, cleanShare: 0.04 }),
    rejected(4, [-0.25, -0.4, -0.45, -0.5], [-3.45, -3.458, -3.46, -3.461], ['out-of-range'], { score: 0, rangeViolations: 5 }),
    rejected(5, [-0.06, -0.1], [-3.45, -3.455], ['no-candidate'], { score: 0.5 }),
    rejected(6, [-0.02, -0.04], [-3.38, -3.39], ['no-candidate'], { score: 0.1 }),
    rejected(7, [-0.03, -0.05], [-3.39, -3.41], ['no-candidate'], { score: 0.125 }),
  ];
}

export function fakeDriverResult(withPv = true): DriverResult {
  const loops = withPv ? fakeLoops() : fakeCleanLoops();
  return {
    pvs: withPv ? [fakePv()] : [],
    loops,
    score: withPv ? 8 : 4,
    interrupted: false,
    stoppedBy: withPv ? 'first-pv' : 'max-loops',
    seconds: withPv ? 3.9 : 11.2,
  };
}

export function fakeSettings(): ReportSettings {
  return { loops: 30, patience: 200, firstSeed: 0, parallel: 1, mining: { ...DEFAULT_MINING_OPTIONS, lr: 2e-5 }, divTh: -3.446, maxCleanShare: 0.01, sentencesHash: 'cd'.repeat(32) };
}

export function fakeInput(withPv = true): ScanReportInput {
  return {
    command: 'scan',
    driverResult: fakeDriverResult(withPv),
    data: fakeData(),
    target: { modelDir: 'zoo/bert-micro-por<b>', modelHash: MODEL_HASH, hidden: H, embedDim: E },
    settings: withPv ? fakeSettings() : { ...fakeSettings(), loops: 8 },
    created: new Date('2025-01-02T03:04:05.000Z'),
  };
}
