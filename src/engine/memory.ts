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

const POOL_CAP_BYTES = Number(process.env.LMS_POOL_CAP_MB ?? 2048) * 1024 * 1024;
const pools = { f32: new Map<number, Float32Array[]>(), f64: new Map<number, Float64Array[]>() };
let pooledBytes = 0;

/** A buffer of n elements; contents are undefined unless `zero` is set. */
export function allocBuf(n: number, dtype: DType, zero: boolean): Buf {
  const list = (pools[dtype] as Map<number, Buf[]>).get(n);
  const reused = list?.pop();
  if (reused) {
    pooledBytes -= reused.byteLength;
    if (zero) reused.fill(0);
    return reused;
  }
  return dtype === 'f32' ? new Float32Array(n) : new Float64Array(n);
}

export function releaseBuf(buf: Buf): void {
  if (buf.length === 0 || pooledBytes + buf.byteLength > POOL_CAP_BYTES) return;
  // Only whole, unshared buffers can be recycled safely.
  if (buf.byteOffset !== 0 || buf.buffer.byteLength !== buf.byteLength) return;
  const pool = (buf instanceof Float64Array ? pools.f64 : pools.f32) as Map<number, Buf[]>;
  let list = pool.get(buf.length);
  if (!list) pool.set(buf.length, (list = []));
  list.push(buf);
  pooledBytes += buf.byteLength;
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
