/**
 * The Redis side: connections and the BullMQ queue of scan jobs. BullMQ
 * provides what a fleet needs and this project does not reimplement:
 * atomic hand-out of jobs, priorities, retries with exponential backoff,
 * locks that a worker renews while it works and whose expiry marks a job
 * stalled (its worker died) and hands it to another, and progress events.
 *
 * Two kinds of connection: a worker's retries forever (Redis restarted:
 * the worker waits and carries on), a command's (submit, status) fails
 * fast with one line, since a person is waiting for it.
 */
import { Queue } from 'bullmq';
import { Redis, type RedisOptions } from 'ioredis';
import { DEFAULT_QUEUE, SCAN_JOB, type ScanJobData } from './job.js';
import type { JobSink } from './submit.js';

/** Checks a --redis value; returns it unchanged. */
export function checkRedisUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new Error(`"${url}" is not a URL; give redis://host:port[/db]`);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw new Error(`"${url}" is not a redis:// or rediss:// URL`);
  return url;
}

/** A URL without its password, for messages and logs. */
export function safeRedisUrl(url: string): string {
  return url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
}

/** For workers: BullMQ requires maxRetriesPerRequest null on blocking connections; reconnects forever, backing off to 2 s. */
export function workerConnection(url: string): Redis {
  const opts: RedisOptions = { maxRetriesPerRequest: null, retryStrategy: (n) => Math.min(100 * n, 2000) };
  return new Redis(checkRedisUrl(url), opts);
}

/** For a command: connects now or fails with one line. */
export async function clientConnection(url: string, timeoutMs = 5000): Promise<Redis> {
  const r = new Redis(checkRedisUrl(url), { lazyConnect: true, connectTimeout: timeoutMs, maxRetriesPerRequest: 1, retryStrategy: () => null });
  // ioredis also emits the failure as an event; the rejected connect() below reports it.
  r.on('error', () => {});
  try {
    await r.connect();
  } catch (e) {
    r.disconnect();
    throw new Error(`cannot reach Redis at ${safeRedisUrl(url)}: ${(e as Error).message || 'connection failed'}`);
  }
  return r;
}

export interface QueueSettings {
  name?: string;
  /** Starts per job before it fails for good (a killed worker's start counts towards BullMQ's stall limit instead). */
  attempts: number;
  /** First retry delay; doubles each time. */
  backoffMs: number;
}

export const QUEUE_DEFAULTS = { attempts: 3, backoffMs: 5000 } as const;

export class ScanQueue implements JobSink {
  private constructor(readonly queue: Queue, private readonly connection: Redis, private readonly settings: QueueSettings) {}

  static async open(url: string, settings: QueueSettings): Promise<ScanQueue> {
    const connection = await clientConnection(url);
    const queue = new Queue(settings.name ?? DEFAULT_QUEUE, { connection });
    queue.on('error', () => {});
    return new ScanQueue(queue, connection, settings);
  }

  /**
   * A job id the queue already holds (waiting, active, completed or failed)
   * is not added twice: BullMQ's own deduplication by id. Finished jobs are
   * kept for that reason (a few hundred bytes each; see the README).
   */
  async add(jobId: string, data: ScanJobData, o: { priority?: number }): Promise<void> {
    await this.queue.add(SCAN_JOB, data, {
      jobId, priority: o.priority, attempts: this.settings.attempts,
      backoff: { type: 'exponential', delay: this.settings.backoffMs },
      removeOnComplete: false, removeOnFail: false,
    });
  }

  async counts(): Promise<Record<string, number>> {
    return this.queue.getJobCounts('waiting', 'prioritized', 'active', 'delayed', 'completed', 'failed', 'paused');
  }

  async active(): Promise<{ id: string; model: string; progress: unknown; attempts: number; startedAt: number | undefined }[]> {
    const jobs = await this.queue.getActive(0, 99);
    return jobs.map((j) => ({
      id: String(j.id), model: (j.data as ScanJobData)?.model ?? '?', progress: j.progress, attempts: j.attemptsStarted, startedAt: j.processedOn,
    }));
  }

  /** Names of the connected workers (one per worker process). */
  async workers(): Promise<string[]> {
    // BullMQ names a worker's connections `bull:<queue>:w:<name>` (CLIENT SETNAME); one name per process.
    const ws = await this.queue.getWorkers();
    return [...new Set(ws.map((w) => String(w.rawname ?? '').split(':w:')[1] ?? String(w.addr ?? '?')))];
  }

  async close(): Promise<void> {
    await this.queue.close();
    this.connection.disconnect();
  }
}
