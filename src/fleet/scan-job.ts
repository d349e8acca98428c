/**
 * Runs one job's scans in a thread (scan-thread.ts) and turns what it
 * reports into a verdict, progress and, when it fails, an error that says
 * whether a retry can help. The queue worker and `fleet submit --local`
 * both come through here.
 */
import { statSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { journalState } from './journal-state.js';
import type { FromThread, ModeSummary, ScanJobSpec, ThreadInput } from './scan-thread.js';
import type { TargetMode } from '../sanitizer/target.js';

/** No retry can fix it: the model, its files or the job itself is bad. */
export class InputError extends Error {}
/** The scan stopped because it was asked to (worker shutdown, lock lost); its journal holds the progress. */
export class InterruptedError extends Error {}

/** Errors of the machine rather than the model: worth another attempt. */
const TRANSIENT_CODES = new Set(['EAGAIN', 'EBUSY', 'EIO', 'EMFILE', 'ENFILE', 'ENOMEM', 'ENOSPC', 'ESTALE', 'ETIMEDOUT', 'EINTR']);
const TRANSIENT_MESSAGE = /another scan is running there|SQLITE_BUSY/;

export interface JobProgress {
  phase: 'hashing' | 'scanning';
  sha256?: string;
  mode?: TargetMode;
  /** Loops journaled in the current mode, of `loops`. */
  loopsDone?: number;
  loops: number;
}

export interface JobOutcome {
  sha256: string;
  verdict: 'clean' | 'backdoored';
  /** Maximum over the modes scanned. */
  score: number;
  pvCount: number;
  /** Loops this attempt computed (resumed ones excluded). */
  loopsRun: number;
  modes: ModeSummary[];
  weightBytes: number;
  scanSeconds: number;
}

export interface ScanJobOptions extends ScanJobSpec {
  onProgress?: (p: JobProgress) => void;
  /** How often the journal is read for progress. */
  progressMs?: number;
}

export interface RunningScan {
  done: Promise<JobOutcome>;
  /** Asks the scan to stop at its next step (the journal keeps every finished loop). */
  stop: () => void;
}

function classify(message: string, code?: string): Error {
  if ((code && TRANSIENT_CODES.has(code)) || TRANSIENT_MESSAGE.test(message)) return new Error(message);
  return new InputError(message);
}

export function runScanJob(o: ScanJobOptions): RunningScan {
  const stopBuffer = new SharedArrayBuffer(4);
  const flag = new Int32Array(stopBuffer);
  const input: ThreadInput = {
    model: o.model, modes: o.modes, loops: o.loops, scan: o.scan, workDir: o.workDir, maxModelBytes: o.maxModelBytes, stop: stopBuffer, cacheDir: o.cacheDir,
  };
  const thread = new Worker(new URL('./scan-thread.js', import.meta.url), { workerData: input, stdout: true, stderr: true });
  // The scan runs quiet; anything else it prints is dropped rather than interleaved with the worker's log.
  thread.stdout.resume();
  thread.stderr.resume();
  const done = new Promise<JobOutcome>((resolve, reject) => {
    const modes: ModeSummary[] = [];
    let sha256 = '';
    let weightBytes = 0;
    let failure: Error | null = null;
    let finished = false;
    let journal: string | null = null;
    let current: TargetMode | undefined;
    let lastSize = -1;
    const report = (p: Omit<JobProgress, 'loops'>) => o.onProgress?.({ ...p, loops: o.loops });
    report({ phase: 'hashing' });
    const timer = setInterval(() => {
      if (!journal) return;
      try {
        const size = statSync(journal).size;
        if (size === lastSize) return;
        lastSize = size;
        report({ phase: 'scanning', sha256, mode: current, loopsDone: journalState(journal).loops });
      } catch {
        // Not written yet.
      }
    }, o.progressMs ?? 1000);
    thread.on('message', (m: FromThread) => {
      if (m.type === 'hashed') {
        sha256 = m.sha256;
        weightBytes = m.weightBytes;
      } else if (m.type === 'mode-start') {
        journal = m.journal;
        current = m.mode;
        lastSize = -1;
        report({ phase: 'scanning', sha256, mode: m.mode, loopsDone: m.resumedFrom });
      } else if (m.type === 'mode-done') {
        modes.push(m.summary);
      } else if (m.type === 'done') {
        finished = true;
      } else if (m.type === 'error') {
        failure = classify(m.message, m.code);
      }
    });
    thread.on('error', (e) => {
      // An uncaught error or out-of-memory in the thread: the machine's trouble as much as the model's.
      failure ??= new Error(`scan thread died: ${e.message}`);
    });
    thread.on('exit', (code) => {
      clearInterval(timer);
      if (failure) return reject(failure);
      if (!finished) return reject(new Error(`scan thread exited with code ${code} before finishing`));
      if (modes.length === 0 || modes.some((m) => m.interrupted) || (Atomics.load(flag, 0) !== 0 && modes.length < o.modes.length && !modes.some((m) => m.verdict === 'backdoored'))) {
        return reject(new InterruptedError('scan stopped before its verdict; the journal keeps its finished loops'));
      }
      const backdoored = modes.some((m) => m.verdict === 'backdoored');
      resolve({
        sha256, verdict: backdoored ? 'backdoored' : 'clean', score: Math.max(...modes.map((m) => m.score)),
        pvCount: modes.reduce((s, m) => s + m.pvs.length, 0), loopsRun: modes.reduce((s, m) => s + m.loopsRun, 0),
        modes, weightBytes, scanSeconds: modes.reduce((s, m) => s + m.seconds, 0),
      });
    });
  });
  return {
    done,
    stop: () => {
      Atomics.store(flag, 0, 1);
    },
  };
}
