/**
 * One job's scans, in a worker_threads thread. A scan is minutes of
 * synchronous CPU work; run on the worker's main thread it would starve
 * the event loop, BullMQ could not renew the job's lock, and the queue
 * would hand the job to a second worker while the first still ran it.
 * Here the main thread stays free (lock renewal, progress, signals) and
 * the stop flag is a shared integer the scan polls between steps.
 *
 * The thread checks the model (a directory with config.json and weights
 * under the size bound), hashes its weights, then scans each mode into
 * `<work-dir>/<sha256>/<mode>/`, resuming from the journal a killed worker
 * left there, and stops at the first backdoored mode (as scan stops at
 * its first PV).
 */
import { existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import { scan } from '../eval/scan-model.js';
import { modelHash, resolveCheckpointFiles } from '../formats/checkpoint.js';
import { openModelDir } from '../formats/model-dir.js';
import { SCAN_JOURNAL_FILE } from '../sanitizer/scan.js';
import { LOCK_FILE } from '../util/dir-lock.js';
import type { JobScanSettings } from './job.js';
import { journalState } from './journal-state.js';
import type { TargetMode } from '../sanitizer/target.js';

/** What one scan job runs: the model, its modes and budget, where its work lives. */
export interface ScanJobSpec {
  model: string;
  modes: TargetMode[];
  loops: number;
  scan: JobScanSettings;
  workDir: string;
  maxModelBytes: number;
  cacheDir?: string | null;
}

export interface ThreadInput extends ScanJobSpec {
  /** Int32 flag: non-zero asks the scan to stop at its next step. */
  stop: SharedArrayBuffer;
}

export interface ModeSummary {
  mode: TargetMode;
  verdict: 'clean' | 'backdoored';
  score: number;
  /** Loops in the journal when done, and how many of them this run computed. */
  loops: number;
  loopsRun: number;
  resumedFrom: number;
  pvs: { index: number; seed: number; nearest: string[] }[];
  stoppedBy: string;
  interrupted: boolean;
  /** This run's wall time, and the fuzz loops' own time summed over every run. */
  seconds: number;
  loopSeconds: number;
  outDir: string;
  reportJson: string;
  reportHtml: string;
  pvset: string;
}

export type FromThread =
  | { type: 'hashed'; sha256: string; weightBytes: number }
  | { type: 'mode-start'; mode: TargetMode; journal: string; resumedFrom: number }
  | { type: 'mode-done'; summary: ModeSummary }
  | { type: 'done' }
  | { type: 'error'; message: string; code?: string };

const post = (m: FromThread) => parentPort!.postMessage(m);

/** The model's directory, weight files and their total size, then their sha256 (what keys its scans). */
function inspect(dir: string, maxBytes: number): { sha256: string; weightBytes: number } {
  const md = openModelDir(dir, { requireConfig: true });
  const files = resolveCheckpointFiles(md);
  const weightBytes = files.weights.reduce((s, f) => s + statSync(f).size, 0);
  if (weightBytes > maxBytes) {
    const mb = (n: number) => `${(n / 2 ** 20).toFixed(0)} MiB`;
    throw new Error(`${dir}: the weights are ${mb(weightBytes)}, over this worker's limit of ${mb(maxBytes)} (--max-model-mb)`);
  }
  return { sha256: modelHash(md), weightBytes };
}

/**
 * The scan directory belongs to whoever holds the job's queue lock, and we
 * do. withDirLock takes over a lock whose process is gone on this host; a
 * lock left by a worker on another machine cannot be checked that way, but
 * the queue gave us the job only because that worker stopped renewing it.
 */
function clearForeignLock(outDir: string): void {
  const file = join(outDir, LOCK_FILE);
  if (!existsSync(file)) return;
  const host = readFileSync(file, 'utf8').trim().split(' ')[1];
  if (host && host !== hostname()) rmSync(file, { force: true });
}

function run(input: ThreadInput): void {
  const flag = new Int32Array(input.stop);
  const shouldStop = () => Atomics.load(flag, 0) !== 0;
  const { sha256, weightBytes } = inspect(input.model, input.maxModelBytes);
  post({ type: 'hashed', sha256, weightBytes });
  for (const mode of input.modes) {
    if (shouldStop()) break;
    const outDir = join(input.workDir, sha256, mode);
    const journal = join(outDir, SCAN_JOURNAL_FILE);
    const state = journalState(journal);
    clearForeignLock(outDir);
    post({ type: 'mode-start', mode, journal, resumedFrom: state.loops });
    const r = scan(input.model, {
      outDir, mode, loops: input.loops, resume: state.resumable, force: !state.resumable, quiet: true, shouldStop,
      sentencesFile: input.scan.sentencesFile, sentenceCount: input.scan.sentenceCount, batchSize: input.scan.batchSize,
      epochs: input.scan.epochs, seed: input.scan.seed, cacheDir: input.cacheDir,
    });
    const d = r.driver;
    const summary: ModeSummary = {
      // A journal that could not be resumed was started over: every loop in it is this run's.
      mode, verdict: r.verdict, score: d.score, loops: d.loops.length,
      loopsRun: d.loops.length - (state.resumable ? state.loops : 0), resumedFrom: state.resumable ? state.loops : 0,
      pvs: d.pvs.map((p) => ({ index: p.index, seed: p.seed, nearest: p.nearest.map((row) => row[0]?.token ?? '?') })),
      stoppedBy: d.stoppedBy, interrupted: d.interrupted, seconds: r.seconds,
      loopSeconds: d.loops.reduce((s, l) => s + l.seconds, 0),
      outDir, reportJson: r.outputs.reportJson, reportHtml: r.outputs.reportHtml, pvset: r.outputs.pvset,
    };
    post({ type: 'mode-done', summary });
    if (d.interrupted || r.verdict === 'backdoored') break;
  }
  post({ type: 'done' });
}

if (parentPort) {
  try {
    run(workerData as ThreadInput);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    post({ type: 'error', message: err instanceof Error ? err.message : String(e), code: typeof err?.code === 'string' ? err.code : undefined });
  }
}
