/**
 * The trigger-inversion baseline (sanitizer/inversion.ts) on a model
 * directory: the search's own mining data (same sentences, options and
 * h_aux cache), `runs` seeded runs, each journaled as it finishes in
 * DIR/inversion.jsonl so that an interrupted evaluation resumes at the next
 * seed, and every converged run's candidate compared with the planted PVs
 * by eval recall's rule.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { loadModel } from '../models/model.js';
import { defaultsFor } from '../sanitizer/defaults.js';
import { defaultDivTh } from '../sanitizer/filter.js';
import { DEFAULT_INVERSION_OPTIONS, type InversionOptions, runInversion } from '../sanitizer/inversion.js';
import { appendRecord, decodeF32, encodeF32, readRecords } from '../sanitizer/journal.js';
import { scanTargetOf } from '../sanitizer/model-target.js';
import { MATCH_THRESHOLD } from '../sanitizer/monitor.js';
import { auxCacheDir, loadSentences, preparedWithCache, scanDataOptions } from '../sanitizer/run.js';
import { hashSentences } from '../sanitizer/scan.js';
import type { TargetMode } from '../sanitizer/target.js';
import { withDirLock } from '../util/dir-lock.js';
import { pvRecall } from './recall.js';

export const INVERSION_JOURNAL = 'inversion.jsonl';

export interface InversionEvalOptions {
  modelDir: string;
  outDir: string;
  mode: TargetMode;
  runs: number;
  /** Seeds firstSeed … firstSeed + runs − 1 (default 0). */
  firstSeed?: number;
  /** Clean sentences, one per line; default: a sample of the built-in corpus, as the search's. */
  sentencesFile?: string;
  /** How many (default 2,000, the search's). */
  sentenceCount?: number;
  options?: Partial<InversionOptions>;
  /** Overrides of the search's thresholds (default: the model's `search` defaults). */
  distanceTh?: number;
  divTh?: number;
  /** The planted PVs, when known: a converged candidate matching one is a true PV. */
  injected?: readonly Float32Array[];
  /** eval recall's rule: MSE below this or sign agreement above η (applied when the results are read, so not part of the settings key). */
  recallDistanceTh: number;
  cacheDir?: string | null;
  quiet?: boolean;
  shouldStop?: () => boolean;
  log?: (line: string) => void;
}

/** One finished run as journaled (float vectors as base64 float32). */
export interface InversionRecord {
  type: 'inversion-run';
  settings_key: string;
  seed: number;
  crossed: boolean;
  collapsed: boolean;
  converged: boolean;
  final_diversity: number | null;
  epochs: { distance: number; diversity: number; tau: number }[];
  /** Top-k words per position: [token, probability]. */
  words: [string, number][][];
  argmax_ids: number[];
  /** The converged candidate, else null. */
  candidate: string | null;
  /** The argmax words inserted as tokens (InversionRun.hard). */
  hard: { distance: number; diversity: number; converged: boolean; candidate: string };
  seconds: number;
}

/**
 * A run with the planted PVs it matches (indices; empty: none, or not
 * converged). Derived from the journaled candidates on
 * every evaluation, so that they always follow the PVs given now.
 */
export interface InversionRunSummary extends Omit<InversionRecord, 'hard'> {
  matches: number[];
  hard: { distance: number; diversity: number; converged: boolean; matches: number[] };
}

export interface InversionEvalResult {
  interrupted: boolean;
  runs: InversionRunSummary[];
  /** Runs that converged (crossed the distance threshold and collapsed). */
  convergences: number;
  /** Runs whose batch collapsed, crossed or not. */
  collapses: number;
  /** Converged runs whose candidate matches a planted PV. */
  trueRuns: number;
  /** Distinct planted PVs matched by some run. */
  distinctTruePvs: number;
  /** Runs whose argmax words, inserted as tokens, converge by the same rule; and of those, how many land on a planted PV. */
  hardConverged: number;
  hardTrue: number;
  distanceTh: number;
  divTh: number;
  options: InversionOptions;
  settingsKey: string;
  seconds: number;
}

function isRecord(v: unknown): v is InversionRecord {
  const r = v as Partial<InversionRecord> | null;
  return typeof r === 'object' && r !== null && r.type === 'inversion-run' && typeof r.settings_key === 'string' && typeof r.seed === 'number';
}

function matchesOf(injected: readonly Float32Array[], v: Float32Array, th: number): number[] {
  return pvRecall(injected, [v], th, MATCH_THRESHOLD).found.flatMap((f) => (f.mse < th || f.signAgreement > MATCH_THRESHOLD ? [f.injected] : []));
}

export function evaluateInversion(o: InversionEvalOptions): InversionEvalResult {
  return withDirLock(o.outDir, 'inversion baseline', () => evaluateLocked(o));
}

function evaluateLocked(o: InversionEvalOptions): InversionEvalResult {
  const started = Date.now();
  const log = o.log ?? (() => {});
  const model = loadModel(o.modelDir);
  const target = scanTargetOf(model);
  const opts: InversionOptions = { ...DEFAULT_INVERSION_OPTIONS, ...o.options };
  const sentences = loadSentences(o.sentencesFile, o.sentenceCount ?? 2000, 0);
  const dataOpts = scanDataOptions(model.config, o.mode);
  // The search's thresholds (its `search` defaults), so that both columns of Table 5 are judged alike.
  const fam = defaultsFor(model.config, 'search');
  const rule = { distanceTh: o.distanceTh ?? fam.distanceTh, divTh: o.divTh ?? defaultDivTh(dataOpts.batchSize, fam.divMargin) };
  const settingsKey = createHash('sha256')
    .update(JSON.stringify([target.modelHash, hashSentences(sentences), dataOpts, opts, rule]))
    .digest('hex').slice(0, 16);
  const journal = join(o.outDir, INVERSION_JOURNAL);
  // Runs journaled with other settings (another model, options or sentences) are not reused.
  const done = new Map([...readRecords(journal, isRecord, (r) => `${r.settings_key}:${r.seed}`, 'an inversion run').values()]
    .filter((r) => r.settings_key === settingsKey).map((r) => [r.seed, r]));
  const data = preparedWithCache(target, sentences, dataOpts, auxCacheDir(o.cacheDir), o.quiet);
  const injected = o.injected ?? [];
  const first = o.firstSeed ?? 0;
  let interrupted = false;
  for (let seed = first; seed < first + o.runs; seed++) {
    if (done.has(seed)) continue;
    if (o.shouldStop?.()) {
      interrupted = true;
      break;
    }
    const r = runInversion(target, data, seed, opts, rule, { shouldStop: o.shouldStop });
    if (r.interrupted) {
      interrupted = true;
      break;
    }
    const rec: InversionRecord = {
      type: 'inversion-run', settings_key: settingsKey, seed, crossed: r.crossed, collapsed: r.collapsed, converged: r.converged,
      final_diversity: r.finalDiversity, epochs: r.epochs,
      words: r.words.map((ws) => ws.map((w): [string, number] => [w.token, Number(w.p.toPrecision(4))])), argmax_ids: r.argmax,
      candidate: r.candidate ? encodeF32(r.candidate) : null,
      hard: { distance: r.hard.distance, diversity: r.hard.diversity, converged: r.hard.converged, candidate: encodeF32(r.hard.candidate) },
      seconds: r.seconds,
    };
    appendRecord(journal, rec);
    done.set(seed, rec);
    const matches = r.candidate ? matchesOf(injected, r.candidate, o.recallDistanceTh) : [];
    log(`inversion run ${seed}: ${r.converged ? 'converged' : 'did not converge'} (final diversity ${r.finalDiversity?.toFixed(4)}, divTh ${rule.divTh.toFixed(4)}; distance ${r.crossed ? 'crossed' : 'did not cross'} −${rule.distanceTh}), words ${rec.words.map((w) => w[0]![0]).join(' ')}${matches.length ? `, planted PV ${matches.join(',')}` : ''} (${r.seconds.toFixed(0)} s)`);
  }
  const runs = [...done.values()].filter((r) => r.seed >= first && r.seed < first + o.runs).sort((a, b) => a.seed - b.seed)
    .map((r) => summarise(r, injected, o.recallDistanceTh));
  const distinct = new Set(runs.flatMap((r) => r.matches));
  return {
    interrupted, runs, convergences: runs.filter((r) => r.converged).length, collapses: runs.filter((r) => r.collapsed).length,
    trueRuns: runs.filter((r) => r.matches.length > 0).length, distinctTruePvs: distinct.size,
    hardConverged: runs.filter((r) => r.hard.converged).length, hardTrue: runs.filter((r) => r.hard.matches.length > 0).length,
    ...rule, options: opts, settingsKey, seconds: (Date.now() - started) / 1000,
  };
}

/** A journaled run's candidate (null when it did not converge). */
export function candidateOf(r: Pick<InversionRecord, 'candidate' | 'seed'>): Float32Array | null {
  return r.candidate === null ? null : decodeF32(r.candidate, `inversion run ${r.seed} candidate`);
}

function summarise(r: InversionRecord, injected: readonly Float32Array[], th: number): InversionRunSummary {
  const c = candidateOf(r);
  const { candidate: hardCandidate, ...hard } = r.hard;
  const hardMatches = hard.converged ? matchesOf(injected, decodeF32(hardCandidate, `inversion run ${r.seed} hard candidate`), th) : [];
  return { ...r, matches: c ? matchesOf(injected, c, th) : [], hard: { ...hard, matches: hardMatches } };
}
