/**
 * One scan or search of a model directory: load the model, read the clean
 * sentences, prepare the mining data (with h_aux cached on disk by model
 * hash + sentences + settings) and run the driver. Writing the outputs
 * (pvset.safetensors, report.json, report.html) is the layer above's job
 * (eval/scan-outputs.ts), so the core never imports the report builders.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { loadSafetensors, saveSafetensors } from '../formats/safetensors.js';
import { loadModel } from '../models/model.js';
import { nlpCorpusSentences, sampleSentences } from '../text/corpus.js';
import { readSentenceFile } from '../text/sentence-file.js';
import { fmt, type Progress, progress } from '../util/progress.js';
import { allAux, DEFAULT_DATA_OPTIONS, type MiningData, type MiningDataOptions, prepareMiningData } from './data.js';
import { defaultsFor } from './defaults.js';
import { defaultDivTh } from './filter.js';
import { DEFAULT_MINING_OPTIONS, type MiningOptions } from './mining.js';
import { RECOVERY_DEFAULTS, type RecoveryResult, recoverTriggers } from './recover.js';
import { scanTargetOf } from './model-target.js';
import { type DriverOptions, type DriverResult, hashSentences, runDriver } from './scan.js';
import type { ScanTarget, TargetMode } from './target.js';
import { usablePositions } from '../formats/hf-config.js';

export interface RunOptions {
  command: 'scan' | 'search';
  modelDir: string;
  outDir: string;
  mode: TargetMode;
  /** A file with one sentence per line; default: the built-in corpus. */
  sentencesFile?: string;
  sentenceCount: number;
  loops: number;
  patience: number;
  seed: number;
  /** Fuzz loops per batch; 0 = automatic (see autoParallel). */
  parallel: number;
  resume: boolean;
  /** Overrides of the family defaults. */
  lr?: number;
  distanceTh?: number;
  converGrad?: number;
  /** Ablations: the adaptive rate's start factor (1 = off) and the path loss's weight (0 = off). */
  lrBoost?: number;
  pathCoeff?: number;
  divTh?: number;
  /** Clean-output rule threshold (default 0.01); a negative value disables it. */
  maxCleanShare?: number;
  batchSize?: number;
  batchOrder?: MiningDataOptions['batchOrder'];
  epochs?: number;
  acceptAt?: MiningOptions['acceptAt'];
  tokenPosition?: number;
  quiet?: boolean;
  shouldStop?: () => boolean;
  /** Trigger recovery for every kept PV (recover.ts; default true). */
  recoverTriggers?: boolean;
  /** Recovery: at most this many vocabulary words swept (0 or absent: all). */
  recoverWords?: number;
  /** Disk cache for h_aux (default ~/.cache/lmsanitator/aux); null disables. */
  cacheDir?: string | null;
}

/** See FilterOptions.maxCleanShare: more than 1% of clean outputs near a candidate rejects it. */
export const DEFAULT_MAX_CLEAN_SHARE = 0.01;

export interface RunResult {
  verdict: 'backdoored' | 'clean';
  driver: DriverResult;
  /** What the outputs are built from. */
  data: MiningData;
  target: ScanTarget;
  settings: DriverOptions & { family: ReturnType<typeof defaultsFor> };
  /** Trigger recovery over the kept PVs (null: disabled, no PV, or interrupted). */
  recovery: RecoveryResult | null;
  seconds: number;
}

/** Clean sentences: a file (one per line, empty lines skipped) or a seeded sample of the built-in corpus. */
export function loadSentences(file: string | undefined, count: number, seed: number): string[] {
  if (file) return readSentenceFile(file).slice(0, count);
  return sampleSentences(nlpCorpusSentences(), count, `scan:${seed}`);
}

/** The h_aux cache directory: `cacheDir`, or ~/.cache/lmsanitator/aux ($LMS_CACHE/aux); null disables. */
export function auxCacheDir(cacheDir?: string | null): string | null {
  if (cacheDir === null) return null;
  return cacheDir ?? join(process.env.LMS_CACHE ?? join(homedir(), '.cache', 'lmsanitator'), 'aux');
}

/** The mining data options of a scan or search of this model (anything else that places prompts, e.g. the inversion baseline, reuses them). */
export function scanDataOptions(
  config: Parameters<typeof usablePositions>[0], mode: TargetMode,
  o: Pick<RunOptions, 'batchSize' | 'batchOrder' | 'tokenPosition'> = {},
): MiningDataOptions {
  return {
    ...DEFAULT_DATA_OPTIONS, mode,
    batchSize: o.batchSize ?? DEFAULT_DATA_OPTIONS.batchSize,
    batchOrder: o.batchOrder ?? DEFAULT_DATA_OPTIONS.batchOrder,
    tokenPosition: o.tokenPosition ?? DEFAULT_DATA_OPTIONS.tokenPosition,
    maxLen: Math.min(DEFAULT_DATA_OPTIONS.maxLen, usablePositions(config)),
  };
}

/** prepareMiningData with h_aux cached on disk (tokenisation is cheap and redone). */
export function preparedWithCache(target: ScanTarget, sentences: string[], dataOpts: MiningDataOptions, dir: string | null, quiet?: boolean): MiningData {
  const key = createHash('sha256').update(JSON.stringify([target.modelHash, hashSentences(sentences), dataOpts])).digest('hex').slice(0, 32);
  const file = dir ? join(dir, `${key}.safetensors`) : null;
  if (file && existsSync(file) && target.modelHash) {
    try {
      const cached = loadSafetensors(file).tensors.get('aux');
      if (cached?.data instanceof Float32Array) return prepareMiningData(target, sentences, dataOpts, undefined, cached.data);
    } catch {
      // A damaged or mismatched cache entry is recomputed below.
    }
  }
  const bar = progress('clean outputs', Math.floor(sentences.length / dataOpts.batchSize), { quiet });
  const data = prepareMiningData(target, sentences, dataOpts, (done) => bar.update(done));
  bar.stop();
  if (file && target.modelHash) {
    mkdirSync(dir!, { recursive: true });
    const all = allAux(data);
    saveSafetensors(file, new Map([['aux', { shape: [all.length / target.hidden, target.hidden], data: all }]]), { model: target.modelHash });
  }
  return data;
}

/**
 * Loops per batch when not given. Measured by `npm run bench:mining` on 2
 * cores: two loops in one batch gave 1.7× the throughput of two serial loops
 * on bert-micro (hidden 64), where small GEMMs leave the cores idle, and
 * none on bert-mini (hidden 256), whose GEMMs already fill them.
 */
export function autoParallel(hidden: number): number {
  return hidden <= 128 ? 2 : 1;
}

export function runScan(o: RunOptions): RunResult {
  const started = Date.now();
  const model = loadModel(o.modelDir);
  const target = scanTargetOf(model);
  if (o.mode === 'mask' && target.specialIds.mask === null) throw new Error(`${o.modelDir}: mask mode needs a [MASK] token, and this tokenizer has none`);
  if (o.mode === 'pooler' && !model.encoder.hasPooler) throw new Error(`${o.modelDir}: pooler mode needs pooler weights, and this checkpoint has none`);
  const fam = defaultsFor(model.config, o.command);
  const sentences = loadSentences(o.sentencesFile, o.sentenceCount, 0);
  const dataOpts = scanDataOptions(model.config, o.mode, o);
  if (sentences.length < dataOpts.batchSize) {
    throw new Error(`${o.sentencesFile ?? 'the sentence set'} has ${sentences.length} non-empty sentences; at least one batch of ${dataOpts.batchSize} is needed`);
  }
  const data = preparedWithCache(target, sentences, dataOpts, auxCacheDir(o.cacheDir), o.quiet);
  const mining: MiningOptions = {
    ...DEFAULT_MINING_OPTIONS,
    lr: o.lr ?? fam.lr,
    distanceTh: o.distanceTh ?? fam.distanceTh,
    converGrad: o.converGrad ?? fam.converGrad,
    lrBoost: o.lrBoost ?? DEFAULT_MINING_OPTIONS.lrBoost,
    pathCoeff: o.pathCoeff ?? DEFAULT_MINING_OPTIONS.pathCoeff,
    epochs: o.epochs ?? DEFAULT_MINING_OPTIONS.epochs,
    acceptAt: o.acceptAt ?? DEFAULT_MINING_OPTIONS.acceptAt,
  };
  const driverOpts: DriverOptions = {
    command: o.command, loops: o.loops, patience: o.patience, firstSeed: o.seed, parallel: o.parallel || autoParallel(model.config.hiddenSize),
    mining, divTh: o.divTh ?? defaultDivTh(dataOpts.batchSize, fam.divMargin),
    maxCleanShare: o.maxCleanShare === undefined ? DEFAULT_MAX_CLEAN_SHARE : o.maxCleanShare < 0 ? undefined : o.maxCleanShare,
    outDir: o.outDir, resume: o.resume,
    modelDir: o.modelDir, sentencesHash: hashSentences(sentences),
  };
  // Created once the driver has read its journal, so a resumed run counts from its journaled loops.
  let bar: Progress | null = null;
  let loopsDone = 0;
  let pvCount = 0;
  const driver = runDriver(target, data, driverOpts, {
    shouldStop: o.shouldStop,
    onStart: (journaledLoops, pvs) => {
      loopsDone = journaledLoops;
      pvCount = pvs;
      bar = progress(o.command, o.loops, { quiet: o.quiet, fields: ['loop', 'epoch', 'distance', 'pvs'], start: loopsDone, unit: 'loops' });
    },
    onStep: (s) => {
      // The running group counts in proportion to its epochs, so the estimate moves within a loop.
      const within = (s.seeds.length * (s.epoch + (s.batch + 1) / s.batches)) / mining.epochs;
      bar?.update(loopsDone + within, { loop: s.seeds.join(','), epoch: `${s.epoch + 1}/${mining.epochs}`, distance: fmt(Math.min(...s.distance), 3), pvs: pvCount });
    },
    onLoop: (_rec, pvs) => {
      loopsDone++;
      pvCount = pvs.length;
      bar?.update(loopsDone, { pvs: pvCount });
    },
  });
  (bar as Progress | null)?.stop();
  const recovery = o.recoverTriggers === false || driver.pvs.length === 0 || driver.interrupted ? null : recover(target, driver, sentences, dataOpts, o);
  return {
    verdict: driver.pvs.length > 0 ? 'backdoored' : 'clean', driver, data, target,
    settings: { ...driverOpts, family: fam }, recovery, seconds: (Date.now() - started) / 1000,
  };
}

/** Trigger recovery for the kept PVs, seeded by each PV prompt's nearest tokens; the candidates go onto the PVs. */
function recover(target: ScanTarget, driver: DriverResult, sentences: readonly string[], d: MiningDataOptions, o: RunOptions): RecoveryResult {
  const bar = progress('trigger recovery', 100, { quiet: o.quiet, fields: ['stage'], unit: '%' });
  const result = recoverTriggers(
    target, driver.pvs.map((p) => p.vector), sentences, driver.pvs.map((p) => p.nearest.flat().map((t) => t.id)),
    { ...RECOVERY_DEFAULTS, mode: d.mode, tokenPosition: d.tokenPosition, maxLen: d.maxLen, maxWords: o.recoverWords ?? RECOVERY_DEFAULTS.maxWords },
    (p) => bar.update(Math.floor((100 * p.done) / Math.max(1, p.total)), { stage: p.stage }),
  );
  bar.stop();
  driver.pvs.forEach((p, k) => {
    p.triggerCandidates = result.candidates[k];
    p.triggerWordsFiring = result.wordsFiring[k];
  });
  return result;
}
