/**
 * Explicit memory release. A training step allocates hundreds of
 * activation and gradient buffers; leaving them to the garbage collector
 * makes RSS climb in saw-teeth of gigabytes (typed arrays live outside the
 * JS heap and the GC does not feel their weight). Instead, tensors created
 * inside a `Scope` hand their buffers back to a size-keyed pool when the
 * scope ends, and the next step takes them from there.
 */
import type { Buf } from './kernels/types.js';
import { tapeMark, tapeTruncate } from './tape.js';

export type DType = 'f32' | 'f64';

const POOL_CAP_BYTES = Number(process.env.LMS_POOL_CAP_MB ?? 1024) * 1024 * 1024;
const pools = { f32: new Map<number, Float32Array[]>(), f64: new Map<number, Float64Array[]>() };
let pooledBytes = 0;

/**
 * Buffers are pooled by size class (powers of two split into eight steps,
 * ≤ 12.5% slack), so that shapes that vary a little from step to step —
 * the number of masked tokens, the longest sentence of a batch — still hit
 * the pool. A request gets a view of the class's length-n prefix.
 */
function sizeClass(n: number): number {
  if (n <= 64) return n;
  const p = 2 ** Math.floor(Math.log2(n));
  const step = p / 8;
  return Math.ceil(n / step) * step;
}

const fullOf = new WeakMap<Buf, Buf>();

/** A buffer of n elements; contents are undefined unless `zero` is set. */
export function allocBuf(n: number, dtype: DType, zero: boolean): Buf {
  const cls = sizeClass(n);
  const pool = pools[dtype] as Map<number, Buf[]>;
  let full = pool.get(cls)?.pop();
  // Batch shapes vary from step to step (sentence lengths), so a large
  // request also takes the smallest pooled buffer up to 1.5× its class
  // rather than allocating: fresh big typed arrays cost page faults and GC.
  if (!full && n >= 65536) {
    let best = Infinity;
    for (const [size, l] of pool) if (size > cls && size <= 1.5 * cls && size < best && l.length) best = size;
    if (best !== Infinity) full = pool.get(best)!.pop();
  }
  const reused = full !== undefined;
  if (full) pooledBytes -= full.byteLength;
  else full = dtype === 'f32' ? new Float32Array(cls) : new Float64Array(cls);
  const view = full.length === n ? full : full.subarray(0, n);
  if (view !== full) fullOf.set(view, full);
  if (zero && reused) view.fill(0);
  return view;
}

export function releaseBuf(buf: Buf): void {
  const full = fullOf.get(buf) ?? buf;
  // Only whole pool-sized buffers are recycled; foreign views are left to the GC.
  if (full.length === 0 || full.byteOffset !== 0 || full.buffer.byteLength !== full.byteLength) return;
  if (full.length !== sizeClass(full.length) || pooledBytes + full.byteLength > POOL_CAP_BYTES) return;
  const pool = (full instanceof Float64Array ? pools.f64 : pools.f32) as Map<number, Buf[]>;
  let list = pool.get(full.length);
  if (!list) pool.set(full.length, (list = []));
  if (list.includes(full)) return;
  list.push(full);
  pooledBytes += full.byteLength;
}

export function poolStats(): { pooledBytes: number; sizes: number } {
  return { pooledBytes, sizes: pools.f32.size + pools.f64.size };
}

export function clearPool(): void {
  pools.f32.clear();
  pools.f64.clear();
  pooledBytes = 0;
}

/** Anything that owns pooled buffers. */
export interface Releasable {
  release(): void;
}

const scopeStack: Releasable[][] = [];

/** Registers a freshly created tensor with the innermost open scope, if any. */
export function track(t: Releasable): void {
  const top = scopeStack[scopeStack.length - 1];
  if (top) top.push(t);
}

/**
 * Runs fn; every tensor created inside is released when it returns (or
 * throws). Copy out what you want to keep (numbers, `toArray()`, `clone()`
 * outside a scope): returned tensors are released too.
 */
export function withScope<T>(fn: () => T): T {
  scopeStack.push([]);
  const mark = tapeMark();
  try {
    return fn();
  } finally {
    // A forward pass that never reached backward must not leave closures
    // (and the buffers they hold) on the tape.
    tapeTruncate(mark);
    const owned = scopeStack.pop()!;
    for (const t of owned) t.release();
  }
}

/** Runs fn with no scope active, so the tensors it makes persist. */
export function persistent<T>(fn: () => T): T {
  const saved = scopeStack.splice(0, scopeStack.length);
  try {
    return fn();
  } finally {
    scopeStack.push(...saved);
  }
}
