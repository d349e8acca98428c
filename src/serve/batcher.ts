/**
 * Dynamic batching: requests queue up; whenever the engine is idle, the
 * queue is sent as one batch once it holds `maxBatch` rows or its oldest
 * request has waited `maxWaitMs` (so a lone request waits at most that
 * long, and requests arriving while a batch runs go out together the
 * moment it ends). A batch takes at most `maxBatch` rows, first come first
 * served; a request with more inputs than that is split over batches and
 * answered when its last part is done. One batch is in flight at a time
 * (one worker owns the engine). The queue holds at most `maxQueue` rows:
 * beyond that a request is refused at once (503, retry later) rather than
 * left to time out.
 */
import type { GuardResult } from '../guard/guard.js';
import type { GuardInput } from '../sanitizer/purge.js';
import type { BatchGroup, GroupOutcome } from './types.js';
import { ServeError } from './types.js';

export interface BatcherOptions {
  maxBatch: number;
  maxWaitMs: number;
  maxQueue: number;
}

export interface BatchRun {
  outcomes: GroupOutcome[];
}

interface Pending {
  requestId: string;
  prompt: string;
  inputs: GuardInput[];
  arrived: number;
  /** The next input to send. */
  next: number;
  /** Parts sent and not yet back. */
  outstanding: number;
  results: GuardResult[];
  failed: boolean;
  resolve: (r: GuardResult[]) => void;
  reject: (e: Error) => void;
}

export class Batcher {
  private queue: Pending[] = [];
  private rowsQueued = 0;
  private busy = false;
  private timer: NodeJS.Timeout | null = null;
  private idleWaiters: (() => void)[] = [];
  private inFlightRequests = 0;

  constructor(
    private readonly runBatch: (groups: BatchGroup[]) => Promise<BatchRun>,
    private readonly o: BatcherOptions,
    /** Sees each batch's size (rows) as it is sent. */
    private readonly onDispatch: (rows: number) => void = () => {},
  ) {
    if (!Number.isInteger(o.maxBatch) || o.maxBatch < 1) throw new RangeError(`max batch must be a positive integer, got ${o.maxBatch}`);
    if (!(o.maxWaitMs >= 0)) throw new RangeError(`max wait must be ≥ 0 ms, got ${o.maxWaitMs}`);
  }

  /** Rows waiting to be sent. */
  get queuedRows(): number {
    return this.rowsQueued;
  }

  /** Requests submitted and not yet answered. */
  get pendingRequests(): number {
    return this.inFlightRequests;
  }

  /** Queues a request's inputs; resolves with one result per input, in order. */
  submit(requestId: string, prompt: string, inputs: GuardInput[]): Promise<GuardResult[]> {
    if (this.rowsQueued + inputs.length > this.o.maxQueue) {
      return Promise.reject(new ServeError(503, 'overloaded', `the server is busy (${this.rowsQueued} inputs queued, at most ${this.o.maxQueue}); retry shortly`, { retryAfter: 1 }));
    }
    this.inFlightRequests++;
    return new Promise<GuardResult[]>((resolve, reject) => {
      this.queue.push({
        requestId, prompt, inputs, arrived: performance.now(), next: 0, outstanding: 0, results: new Array(inputs.length), failed: false,
        resolve: (r) => {
          this.inFlightRequests--;
          resolve(r);
          this.checkIdle();
        },
        reject: (e) => {
          this.inFlightRequests--;
          reject(e);
          this.checkIdle();
        },
      });
      this.rowsQueued += inputs.length;
      this.schedule();
    });
  }

  /** Resolves once nothing is queued or in flight. */
  drained(): Promise<void> {
    if (this.inFlightRequests === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private checkIdle(): void {
    if (this.inFlightRequests !== 0) return;
    const ws = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of ws) w();
  }

  private schedule(): void {
    if (this.busy || this.queue.length === 0) return;
    const waited = performance.now() - this.queue[0]!.arrived;
    if (this.rowsQueued >= this.o.maxBatch || waited >= this.o.maxWaitMs) {
      if (this.timer) clearTimeout(this.timer);
      this.timer = null;
      void this.dispatch();
      return;
    }
    this.timer ??= setTimeout(() => {
      this.timer = null;
      this.schedule();
    }, Math.max(0, this.o.maxWaitMs - waited));
  }

  private async dispatch(): Promise<void> {
    this.busy = true;
    const groups: BatchGroup[] = [];
    const parts: { p: Pending; offset: number; n: number }[] = [];
    let rows = 0;
    while (this.queue.length && rows < this.o.maxBatch) {
      const p = this.queue[0]!;
      const n = Math.min(this.o.maxBatch - rows, p.inputs.length - p.next);
      groups.push({ requestId: p.requestId, prompt: p.prompt, offset: p.next, inputs: p.inputs.slice(p.next, p.next + n) });
      parts.push({ p, offset: p.next, n });
      p.next += n;
      p.outstanding++;
      rows += n;
      this.rowsQueued -= n;
      if (p.next === p.inputs.length) this.queue.shift();
    }
    this.onDispatch(rows);
    try {
      const { outcomes } = await this.runBatch(groups);
      parts.forEach(({ p, offset, n }, k) => {
        p.outstanding--;
        if (p.failed) return;
        const o = outcomes[k]!;
        if ('error' in o) return this.fail(p, ServeError.from(o.error));
        for (let i = 0; i < n; i++) p.results[offset + i] = o.results[i]!;
        if (p.next === p.inputs.length && p.outstanding === 0) p.resolve(p.results);
      });
    } catch (e) {
      const err = e instanceof ServeError ? e : new ServeError(500, 'inference_failed', `inference failed: ${(e as Error).message}`);
      for (const { p } of parts) {
        p.outstanding--;
        if (!p.failed) this.fail(p, err);
      }
    } finally {
      this.busy = false;
      this.schedule();
    }
  }

  /** Ends a request with an error, dropping its parts not yet sent. */
  private fail(p: Pending, e: Error): void {
    p.failed = true;
    const i = this.queue.indexOf(p);
    if (i >= 0) {
      this.queue.splice(i, 1);
      this.rowsQueued -= p.inputs.length - p.next;
    }
    p.reject(e);
  }
}
