/**
 * One attempt at one job, with its bookkeeping in the results database:
 * check the job, mark it active, scan, record the verdict — or, when the
 * attempt is the last one or no retry can help, record the error. The
 * BullMQ worker (worker.ts) and `fleet submit --local` (local.ts) call
 * this same function; they differ only in where jobs come from and how a
 * retry is scheduled.
 */
import { checkJobData, oneLineError, type ScanJobData } from './job.js';
import { InputError, InterruptedError, type JobOutcome, type JobProgress, runScanJob } from './scan-job.js';
import type { Store } from './store.js';

export interface Attempt {
  jobId: string;
  /** The job's data as it came off the queue (checked here). */
  data: unknown;
  /** 1 for the first start; counts every start, a killed one included. */
  attempt: number;
  /** No retry follows a failure of this attempt. */
  last: boolean;
  /** When the queue handed the job out (ms); default now. */
  startedAt?: number;
}

export interface ProcessContext {
  store: Store;
  workDir: string;
  /** Who runs it: host:pid, or the worker's --name. */
  worker: string;
  maxModelBytes: number;
  cacheDir?: string | null;
  onProgress?: (p: JobProgress) => void;
  /** Receives the function that stops this attempt's scan (shutdown, lost lock). */
  onStoppable?: (stop: () => void) => void;
}

export interface Processed {
  data: ScanJobData;
  outcome: JobOutcome;
}

export async function processJob(a: Attempt, ctx: ProcessContext): Promise<Processed> {
  let data: ScanJobData;
  try {
    data = checkJobData(a.data);
  } catch (e) {
    await ctx.store.failed(a.jobId, { error: oneLineError(e), worker: ctx.worker, attempts: a.attempt, finishedAt: Date.now() });
    throw new InputError(oneLineError(e));
  }
  await ctx.store.started(a.jobId, data, ctx.worker, a.attempt, a.startedAt ?? Date.now());
  try {
    const running = runScanJob({
      model: data.model, modes: data.modes, loops: data.loops, scan: data.scan, workDir: ctx.workDir,
      maxModelBytes: ctx.maxModelBytes, cacheDir: ctx.cacheDir, onProgress: ctx.onProgress,
    });
    ctx.onStoppable?.(running.stop);
    const outcome = await running.done;
    await ctx.store.finished(a.jobId, {
      verdict: outcome.verdict, sha256: outcome.sha256, score: outcome.score, pvCount: outcome.pvCount, loopsRun: outcome.loopsRun,
      worker: ctx.worker, attempts: a.attempt, finishedAt: Date.now(), scanSeconds: outcome.scanSeconds,
      detail: {
        weight_bytes: outcome.weightBytes,
        submitted_sha256: data.sha256,
        modes: outcome.modes.map((m) => ({
          mode: m.mode, verdict: m.verdict, score: m.score, loops: m.loops, loops_run: m.loopsRun, resumed_from: m.resumedFrom,
          stopped_by: m.stoppedBy, seconds: m.seconds, loop_seconds: m.loopSeconds, pvs: m.pvs,
          report_json: m.reportJson, report_html: m.reportHtml, pvset: m.pvset,
        })),
      },
    });
    return { data, outcome };
  } catch (e) {
    const error = oneLineError(e);
    if (e instanceof InterruptedError) throw e;
    if (e instanceof InputError || a.last) {
      await ctx.store.failed(a.jobId, { error, worker: ctx.worker, attempts: a.attempt, finishedAt: Date.now() }, data);
    }
    throw e instanceof Error ? e : new Error(error);
  }
}
