/**
 * `lmsanitator fleet worker`: a BullMQ worker that takes scan jobs off the
 * queue and runs each through processJob (process.ts).
 *
 * What keeps a job from being lost or done twice:
 * - the scan runs in a thread, so this process keeps renewing the job's
 *   lock however long the scan takes;
 * - a worker that dies (SIGKILL, machine lost) stops renewing; after
 *   --lock-ms another worker's stalled-job check puts the job back, the
 *   next worker resumes the scan from the journal in the shared work
 *   directory, and only the loop in flight is computed again;
 * - a worker told to stop (SIGTERM) stops its scans at the next step and
 *   puts their jobs back at once, without using up an attempt;
 * - a worker that lost a job's lock to another (it was cut off from Redis
 *   past --lock-ms) stops that scan: the new holder carries on.
 */
import { hostname } from 'node:os';
import { DelayedError, type Job, QueueEvents, UnrecoverableError, Worker } from 'bullmq';
import { DEFAULT_QUEUE, type ScanJobData } from './job.js';
import { processJob } from './process.js';
import { safeRedisUrl, workerConnection } from './queue.js';
import { InputError, InterruptedError } from './scan-job.js';
import { Store } from './store.js';

export interface FleetWorkerOptions {
  redis: string;
  queue?: string;
  concurrency: number;
  workDir: string;
  db?: string;
  /** Default host:pid. */
  name?: string;
  /** BullMQ lock duration; a dead worker's job is taken over within about twice this. */
  lockMs: number;
  maxModelBytes: number;
  cacheDir?: string | null;
  log: (line: string) => void;
}

export const WORKER_DEFAULTS = { concurrency: 1, lockMs: 30_000, maxModelMb: 4096 } as const;

/** A stall beyond BullMQ's limit fails the job inside Redis, with this reason. */
const STALL_LIMIT = /stalled more than allowable limit/;

export interface FleetWorker {
  id: string;
  /** Stops the scans at their next step, returns their jobs to the queue and closes. */
  stop: () => Promise<void>;
}

export interface JobReturn {
  verdict: string;
  score: number;
  sha256: string;
}

export async function startWorker(o: FleetWorkerOptions): Promise<FleetWorker> {
  const id = o.name ?? `${hostname()}:${process.pid}`;
  const queueName = o.queue ?? DEFAULT_QUEUE;
  const store = await Store.open({ db: o.db, workDir: o.workDir });
  const stops = new Map<string, () => void>();
  let closing = false;

  const processor = async (job: Job<ScanJobData, JobReturn>, token?: string): Promise<JobReturn> => {
    const jobId = String(job.id);
    const model = typeof job.data?.model === 'string' ? job.data.model : '?';
    const attempt = Math.max(1, job.attemptsStarted);
    o.log(`started ${model} (job ${jobId.slice(0, 12)}, start ${attempt})`);
    try {
      const { outcome } = await processJob({
        jobId, data: job.data, attempt, last: job.attemptsMade + 1 >= (job.opts.attempts ?? 1), startedAt: job.processedOn,
      }, {
        store, workDir: o.workDir, worker: id, maxModelBytes: o.maxModelBytes, cacheDir: o.cacheDir,
        onProgress: (p) => {
          job.updateProgress({ ...p }).catch(() => {});
        },
        onStoppable: (stop) => {
          stops.set(jobId, stop);
          if (closing) stop();
        },
      });
      const resumed = outcome.modes.reduce((s, m) => s + m.resumedFrom, 0);
      o.log(`${outcome.verdict} ${model}: score ${outcome.score.toFixed(3)}, ${outcome.loopsRun} loops run${resumed ? ` (${resumed} resumed from the journal)` : ''}, ${outcome.scanSeconds.toFixed(1)} s`);
      return { verdict: outcome.verdict, score: outcome.score, sha256: outcome.sha256 };
    } catch (e) {
      if (e instanceof InterruptedError) {
        if (closing && token) {
          // Back on the queue now, and not counted as a failed attempt.
          await store.requeued(jobId);
          await job.moveToDelayed(Date.now(), token);
          o.log(`stopped ${model}; the job is back on the queue and resumes from its journal`);
          throw new DelayedError();
        }
        throw new Error('scan stopped: this worker lost the job to another');
      }
      if (e instanceof InputError) throw new UnrecoverableError(e.message);
      throw e;
    } finally {
      stops.delete(jobId);
    }
  };

  const connection = workerConnection(o.redis);
  let down = false;
  connection.on('error', (e: Error) => {
    if (!down) o.log(`Redis at ${safeRedisUrl(o.redis)} unreachable (${e.message}); retrying`);
    down = true;
  });
  connection.on('ready', () => {
    if (down) o.log('Redis reachable again');
    down = false;
  });

  const worker = new Worker<ScanJobData, JobReturn>(queueName, processor, {
    connection, concurrency: o.concurrency, name: id,
    lockDuration: o.lockMs, stalledInterval: o.lockMs,
    // A job may lose two workers before it fails as stalled.
    maxStalledCount: 2,
  });
  worker.on('error', () => {
    // Connection errors are reported once per outage above; BullMQ retries them itself.
  });
  worker.on('failed', (job, err) => {
    if (!job || err instanceof DelayedError || err.name === 'DelayedError') return;
    const retry = !(err instanceof UnrecoverableError) && err.name !== 'UnrecoverableError' && job.attemptsMade < (job.opts.attempts ?? 1);
    o.log(`${retry ? 'attempt failed' : 'failed'} ${job.data?.model ?? job.id}: ${err.message}${retry ? ' (will retry)' : ''}`);
  });
  worker.on('stalled', (jobId) => o.log(`job ${String(jobId).slice(0, 12)} stalled (its worker stopped renewing it); back on the queue`));
  worker.on('lockRenewalFailed', (jobIds: string[]) => {
    for (const j of jobIds) stops.get(j)?.();
  });

  // A job failed by the stall limit inside Redis never reaches a processor: record it here.
  const eventsConnection = workerConnection(o.redis);
  eventsConnection.on('error', () => {});
  const events = new QueueEvents(queueName, { connection: eventsConnection });
  events.on('error', () => {});
  events.on('failed', ({ jobId, failedReason }) => {
    if (!STALL_LIMIT.test(failedReason)) return;
    void (async () => {
      const row = await store.job(jobId);
      if (row && row.status !== 'done' && row.status !== 'failed') {
        await store.failed(jobId, { error: failedReason, worker: row.worker, attempts: row.attempts, finishedAt: Date.now() });
      }
    })().catch((e: Error) => o.log(`cannot record the failure of job ${jobId}: ${e.message}`));
  });

  o.log(`worker ${id} on queue ${queueName} at ${safeRedisUrl(o.redis)}, concurrency ${o.concurrency}, work dir ${o.workDir}, results ${store.where}`);
  return {
    id,
    stop: async () => {
      closing = true;
      for (const stop of stops.values()) stop();
      await worker.close();
      await events.close();
      await store.close();
      // BullMQ leaves connections it was given open.
      connection.disconnect();
      eventsConnection.disconnect();
    },
  };
}
