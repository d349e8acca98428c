/**
 * The main thread's handle on the inference worker (worker.ts): starts it
 * with the directories to load, says when it is ready, sends it one batch
 * at a time and returns each batch's outcomes. If the worker dies (it
 * should not: a batch's JS errors come back as that batch's failure), the
 * batch in flight fails, the state goes back to loading, and a fresh
 * worker is started once; a second load failure leaves the engine failed.
 */
import { Worker } from 'node:worker_threads';
import type { BatchGroup, EngineConfig, EngineInfo, FromWorker, GroupOutcome } from './types.js';

export type EngineState = 'loading' | 'ready' | 'failed' | 'closed';

export interface BatchDone {
  outcomes: GroupOutcome[];
  seconds: number;
  rows: number;
  auditLines: number;
}

export class Engine {
  state: EngineState = 'loading';
  info: EngineInfo | null = null;
  /** Why the engine failed (state 'failed'). */
  failure: string | null = null;
  /** Resolves when the first worker has loaded; rejects with its load error. */
  readonly ready: Promise<EngineInfo>;
  private worker!: Worker;
  private nextId = 1;
  private pending = new Map<number, { resolve: (d: BatchDone) => void; reject: (e: Error) => void }>();
  private restarts = 0;
  private settle!: { resolve: (i: EngineInfo) => void; reject: (e: Error) => void };
  private readonly onLog: (line: string) => void;

  constructor(private readonly config: EngineConfig, o: { onLog?: (line: string) => void } = {}) {
    this.onLog = o.onLog ?? ((line) => process.stderr.write(`lmsanitator serve: ${line}\n`));
    this.ready = new Promise((resolve, reject) => (this.settle = { resolve, reject }));
    this.ready.catch(() => {}); // the caller awaits it; nobody else must see an unhandled rejection
    this.spawn();
  }

  private spawn(): void {
    const w = new Worker(new URL('./worker.js', import.meta.url), { workerData: this.config });
    this.worker = w;
    w.on('message', (m: FromWorker) => this.onMessage(m));
    w.on('error', (e) => this.onDeath(`the inference worker failed: ${e.message.split('\n')[0]}`));
    w.on('exit', (code) => {
      if (this.state !== 'closed' && this.worker === w) this.onDeath(`the inference worker exited (code ${code})`);
    });
  }

  private onMessage(m: FromWorker): void {
    switch (m.type) {
      case 'ready':
        this.info = m.info;
        this.state = 'ready';
        this.settle.resolve(m.info);
        return;
      case 'fatal':
        this.state = 'failed';
        this.failure = m.message;
        this.settle.reject(new Error(m.message));
        void this.worker.terminate();
        return;
      case 'done': {
        const p = this.pending.get(m.id);
        this.pending.delete(m.id);
        p?.resolve({ outcomes: m.outcomes, seconds: m.seconds, rows: m.rows, auditLines: m.auditLines });
        return;
      }
      case 'failed': {
        const p = this.pending.get(m.id);
        this.pending.delete(m.id);
        p?.reject(new Error(m.message));
      }
    }
  }

  private onDeath(why: string): void {
    if (this.state === 'closed' || this.state === 'failed') return;
    const old = this.worker;
    this.worker = undefined as unknown as Worker;
    void old?.terminate();
    for (const p of this.pending.values()) p.reject(new Error(why));
    this.pending.clear();
    if (this.state === 'loading' && this.restarts === 0 && !this.info) {
      this.state = 'failed';
      this.failure = why;
      this.settle.reject(new Error(why));
      return;
    }
    if (this.restarts >= 1) {
      this.state = 'failed';
      this.failure = why;
      this.onLog(`${why}; not restarting it again`);
      return;
    }
    this.restarts++;
    this.state = 'loading';
    this.onLog(`${why}; starting a fresh one`);
    this.spawn();
    // The fresh worker reports 'ready' through onMessage (the ready promise is already settled).
  }

  /** Runs one batch (the batcher sends one at a time). */
  run(groups: BatchGroup[]): Promise<BatchDone> {
    if (this.state !== 'ready') return Promise.reject(new Error(`the model is not ready (${this.state})`));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ type: 'batch', id, groups });
    });
  }

  async close(): Promise<void> {
    if (this.state === 'loading' && !this.info) this.settle.reject(new Error('the server stopped before the model was loaded'));
    this.state = 'closed';
    for (const p of this.pending.values()) p.reject(new Error('the server is closing'));
    this.pending.clear();
    await this.worker?.terminate();
  }
}
