/**
 * sha256 of a weight file's bytes on a worker thread, so a model is hashed
 * while this thread parses, checks and builds it. Why: hashing a
 * BERT-base-sized file costs about half of reading it (bench:load), and
 * loading is otherwise serial; on a second core the hash comes for free.
 *
 * The worker hashes the very buffer the parser reads (a SharedArrayBuffer),
 * so the digest still describes exactly the bytes that were loaded. The
 * result comes back through shared memory (Atomics), because the loader is
 * synchronous and the event loop does not turn while it waits. Whenever the
 * worker cannot help — a small file, no worker could start, it did not
 * answer in time — the bytes are hashed here instead: same digest, only
 * slower.
 */
import { createHash } from 'node:crypto';
import { Worker } from 'node:worker_threads';

/** Below this a worker's start-up (tens of ms, once) costs more than it saves. */
export const BACKGROUND_HASH_MIN_BYTES = 32 << 20;
/** The slowest hash rate waited for before hashing here (bytes/s); sha256 runs at ~1 GB/s. */
const SLOWEST_RATE = 50e6;

const STATE_PENDING = 0;
const STATE_DONE = 1;
const STATE_FAILED = 2;

// Plain CommonJS for an eval'd worker: it only hashes what it is sent.
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
parentPort.on('message', ({ bytes, result }) => {
  const state = new Int32Array(result, 0, 1);
  try {
    new Uint8Array(result, 4, 32).set(createHash('sha256').update(bytes).digest());
    Atomics.store(state, 0, ${STATE_DONE});
  } catch {
    Atomics.store(state, 0, ${STATE_FAILED});
  }
  Atomics.notify(state, 0);
});
`;

let worker: Worker | null | undefined;

/** Digests by where they were computed (tests and benchmarks read it). */
export const backgroundHashCounts = { worker: 0, here: 0 };

function hashWorker(): Worker | null {
  if (worker !== undefined) return worker;
  try {
    worker = new Worker(WORKER_SOURCE, { eval: true });
    worker.unref(); // never keeps the process alive
    worker.on('error', () => {
      worker = null;
    });
  } catch {
    worker = null;
  }
  return worker;
}

/** A digest being computed; `wait()` returns the hex sha256 (blocking until it is there). */
export interface PendingSha256 {
  wait(): string;
}

/** Buffer for a file of `size` bytes that a background hash can read: shared memory when the file is big enough to hash elsewhere. */
export function hashableBuffer(size: number): Buffer {
  return size >= BACKGROUND_HASH_MIN_BYTES ? Buffer.from(new SharedArrayBuffer(size)) : Buffer.allocUnsafeSlow(size);
}

/** Starts hashing `bytes`; on a worker when they live in shared memory (see hashableBuffer). */
export function startSha256(bytes: Uint8Array): PendingSha256 {
  const here = (): string => {
    backgroundHashCounts.here++;
    return createHash('sha256').update(bytes).digest('hex');
  };
  const w = bytes.buffer instanceof SharedArrayBuffer && bytes.byteLength >= BACKGROUND_HASH_MIN_BYTES ? hashWorker() : null;
  if (!w) {
    const digest = here();
    return { wait: () => digest };
  }
  const result = new SharedArrayBuffer(4 + 32);
  const state = new Int32Array(result, 0, 1);
  try {
    w.postMessage({ bytes, result });
  } catch {
    const digest = here();
    return { wait: () => digest };
  }
  let digest: string | null = null;
  return {
    wait(): string {
      if (digest !== null) return digest;
      const deadline = Date.now() + Math.max(10_000, (bytes.byteLength / SLOWEST_RATE) * 1000);
      while (Atomics.load(state, 0) === STATE_PENDING && Date.now() < deadline) Atomics.wait(state, 0, STATE_PENDING, 100);
      if (Atomics.load(state, 0) === STATE_DONE) {
        backgroundHashCounts.worker++;
        digest = Buffer.from(new Uint8Array(result, 4, 32)).toString('hex');
      } else {
        digest = here();
      }
      return digest;
    },
  };
}
