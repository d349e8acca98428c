/**
 * `fleet submit --local`: the same submission (submit.ts) and the same job
 * processing (process.ts) as the queue, with the jobs run here, one after
 * another, instead of on Redis — for one machine without a Redis, and to
 * check a fleet job by hand. Retries follow the queue's rules (exponential
 * backoff; an input error fails at once); there is no second worker to
 * take over, so a killed run resumes when the same command is run again
 * (each scan continues from its journal).
 */
import type { JobProgress } from './scan-job.js';
import { InputError, InterruptedError } from './scan-job.js';
import { processJob } from './process.js';
import { type JobSink, type SubmitOptions, type SubmitOutcome, submitModels } from './submit.js';
import type { ScanJobData } from './job.js';
import type { Store } from './store.js';

export interface LocalOptions extends SubmitOptions {
  store: Store;
  workDir: string;
  attempts: number;
  backoffMs: number;
  maxModelBytes: number;
  worker: string;
  cacheDir?: string | null;
  log: (line: string) => void;
  onProgress?: (jobId: string, p: JobProgress) => void;
  /** Polled between jobs; when it turns true the running scan is stopped too. */
  shouldStop?: () => boolean;
}

export interface LocalRun {
  submitted: SubmitOutcome[];
  interrupted: boolean;
}

class Collected implements JobSink {
  readonly jobs: { jobId: string; data: ScanJobData; priority?: number; order: number }[] = [];
  async add(jobId: string, data: ScanJobData, o: { priority?: number }): Promise<void> {
    this.jobs.push({ jobId, data, priority: o.priority, order: this.jobs.length });
  }

  /** BullMQ's order: jobs without a priority first, in FIFO order, then by priority (1 first). */
  ordered() {
    return [...this.jobs].sort((a, b) => (a.priority ?? 0) - (b.priority ?? 0) || a.order - b.order);
  }
}

export async function runLocal(paths: readonly string[], o: LocalOptions): Promise<LocalRun> {
  const sink = new Collected();
  const submitted = await submitModels(paths, o, o.store, sink);
  for (const job of sink.ordered()) {
    for (let attempt = 1; attempt <= o.attempts; attempt++) {
      if (o.shouldStop?.()) return { submitted, interrupted: true };
      let stopScan: (() => void) | null = null;
      const poll = setInterval(() => {
        if (o.shouldStop?.()) stopScan?.();
      }, 200);
      try {
        o.log(`started ${job.data.model}${attempt > 1 ? ` (attempt ${attempt})` : ''}`);
        const { outcome } = await processJob({ jobId: job.jobId, data: job.data, attempt, last: attempt === o.attempts }, {
          store: o.store, workDir: o.workDir, worker: o.worker, maxModelBytes: o.maxModelBytes, cacheDir: o.cacheDir,
          onProgress: (p) => o.onProgress?.(job.jobId, p),
          onStoppable: (stop) => (stopScan = stop),
        });
        o.log(`${outcome.verdict} ${job.data.model}: score ${outcome.score.toFixed(3)}, ${outcome.scanSeconds.toFixed(1)} s`);
        break;
      } catch (e) {
        if (e instanceof InterruptedError) {
          await o.store.requeued(job.jobId);
          return { submitted, interrupted: true };
        }
        const final = e instanceof InputError || attempt === o.attempts;
        o.log(`${final ? 'failed' : 'attempt failed'} ${job.data.model}: ${(e as Error).message}`);
        if (final) break;
        await new Promise((r) => setTimeout(r, o.backoffMs * 2 ** (attempt - 1)));
      } finally {
        clearInterval(poll);
      }
    }
  }
  return { submitted, interrupted: false };
}
