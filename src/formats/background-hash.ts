/**
 * sha256 of a weight file's bytes on a worker thread, computed *while the
 * file is read* and while this thread then parses, checks and builds the
 * model. Why: sha256 runs at about the speed of reading from the page cache
 * (bench:load), so hashing after the read would cost a second read's time;
 * following the reader chunk by chunk on a second core, it costs almost
 * nothing.
 *
 * The worker hashes the very buffer the parser reads (a SharedArrayBuffer),
 * so the digest still describes exactly the bytes that were loaded. The
 * reader publishes how many bytes are in place through shared memory
 * (Atomics), and the digest comes back the same way, because the loader is
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
/** How long the worker waits for the reader's next chunk before giving the file up (the reader then hashes it itself). */
const READER_STALL_MS = 60_000;

const STATE_PENDING = 0;
const STATE_DONE = 1;
const STATE_FAILED = 2;
/** Written to the progress word when the read failed: the worker stops waiting. */
const READ_ABORTED = -1n;

// Plain CommonJS for an eval'd worker: it only hashes what it is sent, up to
// the byte count the reader has published so far.
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
parentPort.on('message', ({ bytes, progress, result }) => {
  const state = new Int32Array(result, 0, 1);
  const ready = new BigInt64Array(progress, 0, 1);
  try {
    const hash = createHash('sha256');
    let done = 0;
    while (done < bytes.byteLength) {
      let avail = Atomics.load(ready, 0);
      if (avail === BigInt(done) && Atomics.wait(ready, 0, avail, ${READER_STALL_MS}) === 'timed-out') throw new Error('reader stalled');
      avail = Atomics.load(ready, 0);
      if (avail < 0n) throw new Error('read aborted');
      const upTo = Number(avail);
      hash.update(bytes.subarray(done, upTo));
      done = upTo;
    }
    new Uint8Array(result, 4, 32).set(hash.digest());
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

/**
 * The hash of one file being read, handed to the reader (file-io's
 * ReadOptions): `alloc` gives the whole-file buffer (shared memory when the
 * file is big enough to hash elsewhere, and then the worker starts at once),
 * `onRead` publishes each chunk, `finish` is called with the filled buffer,
 * `abort` when the read failed.
 */
export interface Sha256WhileReading {
  alloc(size: number): Buffer;
  onRead(bytesInPlace: number): void;
  finish(bytes: Uint8Array): PendingSha256;
  abort(): void;
}

export function sha256WhileReading(): Sha256WhileReading {
  let shared: Buffer | null = null;
  let ready: BigInt64Array | null = null;
  let result: SharedArrayBuffer | null = null;
  const publish = (value: bigint): void => {
    if (!ready) return;
    Atomics.store(ready, 0, value);
    Atomics.notify(ready, 0);
  };
  return {
    alloc(size) {
      const w = size >= BACKGROUND_HASH_MIN_BYTES ? hashWorker() : null;
      if (!w) return Buffer.allocUnsafeSlow(size);
      const bytes = Buffer.from(new SharedArrayBuffer(size));
      const progress = new SharedArrayBuffer(8);
      const out = new SharedArrayBuffer(4 + 32);
      try {
        w.postMessage({ bytes, progress, result: out });
        shared = bytes;
        ready = new BigInt64Array(progress, 0, 1);
        result = out;
      } catch {
        // The buffer stays shared; finish() then hashes here.
      }
      return bytes;
    },
    onRead: (n) => publish(BigInt(n)),
    abort: () => publish(READ_ABORTED),
    finish(bytes) {
      const here = (): string => {
        backgroundHashCounts.here++;
        return createHash('sha256').update(bytes).digest('hex');
      };
      const sameBytes = shared !== null && bytes.buffer === shared.buffer && bytes.byteOffset === 0 && bytes.byteLength === shared.byteLength;
      if (!result || !sameBytes || Atomics.load(ready!, 0) !== BigInt(bytes.byteLength)) {
        // No worker, or it was not shown exactly these bytes: tell it to stop.
        publish(READ_ABORTED);
        const digest = here();
        return { wait: () => digest };
      }
      const state = new Int32Array(result, 0, 1);
      const digestBytes = new Uint8Array(result, 4, 32);
      let digest: string | null = null;
      return {
        wait(): string {
          if (digest !== null) return digest;
          const deadline = Date.now() + Math.max(10_000, (bytes.byteLength / SLOWEST_RATE) * 1000);
          while (Atomics.load(state, 0) === STATE_PENDING && Date.now() < deadline) Atomics.wait(state, 0, STATE_PENDING, 100);
          if (Atomics.load(state, 0) === STATE_DONE) {
            backgroundHashCounts.worker++;
            digest = Buffer.from(digestBytes).toString('hex');
          } else {
            digest = here();
          }
          return digest;
        },
      };
    },
  };
}
