/**
 * Tensor: a shape and a flat row-major buffer (float32, or float64 for
 * gradient checks), an optional gradient buffer, and whether gradients
 * should flow to it. Frozen tensors never get a gradient buffer.
 */
import { isCheckingFinite } from './backend.js';
import type { Buf } from './kernels/types.js';
import { allocBuf, type DType, releaseBuf, track } from './memory.js';
import { isGradEnabled, replayTape } from './tape.js';

export function sizeOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new Error(`invalid shape [${shape.join(', ')}]`);
    n *= d;
  }
  return n;
}

export function shapeStr(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

export class Tensor {
  readonly shape: readonly number[];
  readonly size: number;
  data: Buf;
  grad: Buf | null = null;
  requiresGrad: boolean;
  /** Optional label used in error messages (parameters carry their HF name). */
  name?: string;
  /** Buffers came from the pool and go back there on release. */
  private readonly pooled: boolean;
  /** False for views: the data belongs to another tensor. */
  private readonly ownsData: boolean;

  constructor(data: Buf, shape: readonly number[], opts: { requiresGrad?: boolean; pooled?: boolean; ownsData?: boolean; name?: string } = {}) {
    const n = sizeOf(shape);
    if (data.length !== n) {
      throw new Error(`tensor data has ${data.length} elements but shape ${shapeStr(shape)} needs ${n}`);
    }
    this.shape = [...shape];
    this.size = n;
    this.data = data;
    this.requiresGrad = opts.requiresGrad ?? false;
    this.pooled = opts.pooled ?? false;
    this.ownsData = opts.ownsData ?? true;
    this.name = opts.name;
  }

  get dtype(): DType {
    return this.data instanceof Float64Array ? 'f64' : 'f32';
  }

  /** A persistent (never pooled) tensor from values. */
  static from(values: ArrayLike<number>, shape: readonly number[], opts: { dtype?: DType; requiresGrad?: boolean; name?: string } = {}): Tensor {
    const data = (opts.dtype ?? 'f32') === 'f64' ? Float64Array.from(values) : Float32Array.from(values);
    return new Tensor(data, shape, { requiresGrad: opts.requiresGrad, name: opts.name });
  }

  /** A persistent zero tensor (parameters, optimizer state). */
  static zeros(shape: readonly number[], opts: { dtype?: DType; requiresGrad?: boolean; name?: string } = {}): Tensor {
    const n = sizeOf(shape);
    const data = (opts.dtype ?? 'f32') === 'f64' ? new Float64Array(n) : new Float32Array(n);
    return new Tensor(data, shape, { requiresGrad: opts.requiresGrad, name: opts.name });
  }

  /**
   * A pooled, scope-tracked tensor for an op's output. Its contents are
   * undefined unless `zero`; it requires grad when recording and any input
   * does.
   */
  static output(shape: readonly number[], dtype: DType, inputs: readonly Tensor[], zero = false): Tensor {
    const requiresGrad = isGradEnabled() && inputs.some((t) => t.requiresGrad);
    const t = new Tensor(allocBuf(sizeOf(shape), dtype, zero), shape, { requiresGrad, pooled: true });
    track(t);
    return t;
  }

  /** The gradient buffer, allocated zeroed on first use. */
  ensureGrad(): Buf {
    if (!this.grad) this.grad = allocBuf(this.size, this.dtype, true);
    return this.grad;
  }

  /**
   * The gradient buffer for a backward that writes every element: on first
   * use it is allocated without zeroing and `accumulate` is false (the
   * writer overwrites it); afterwards it is the existing buffer and
   * `accumulate` is true. Saves the zero fill and the read-back of
   * accumulating into zeros.
   */
  gradSink(): { grad: Buf; accumulate: boolean } {
    if (this.grad) return { grad: this.grad, accumulate: true };
    this.grad = allocBuf(this.size, this.dtype, false);
    return { grad: this.grad, accumulate: false };
  }

  zeroGrad(): void {
    this.grad?.fill(0);
  }

  /** The single value of a one-element tensor. */
  item(): number {
    if (this.size !== 1) throw new Error(`item() needs a one-element tensor, got shape ${shapeStr(this.shape)}`);
    return this.data[0];
  }

  toArray(): number[] {
    return Array.from(this.data);
  }

  /** A persistent copy, detached from the tape. */
  clone(): Tensor {
    return new Tensor(this.data.slice() as Buf, this.shape, { name: this.name });
  }

  release(): void {
    if (this.pooled && this.ownsData) releaseBuf(this.data);
    if (this.grad && (this.pooled || !this.ownsData)) releaseBuf(this.grad);
    this.grad = null;
    this.data = this.data instanceof Float64Array ? new Float64Array(0) : new Float32Array(0);
  }
}

/**
 * Back-propagates from a scalar (or, with `seed`, any tensor) through the
 * recorded tape. Gradients accumulate into `.grad` of every tensor that
 * requires grad.
 */
export function backward(loss: Tensor, seed?: Buf): void {
  if (!seed && loss.size !== 1) throw new Error(`backward: loss must be a scalar without a seed, got shape ${shapeStr(loss.shape)}`);
  backwardMany([[loss, seed ?? null]]);
}

/** Seeds several outputs at once (d loss / d output_i = seed_i), then replays the tape. */
export function backwardMany(outputs: [Tensor, Buf | null][]): void {
  for (const [t, seed] of outputs) {
    if (!t.requiresGrad) throw new Error('backward: the output does not depend on any tensor that requires grad');
    const g = t.ensureGrad();
    if (seed) {
      if (seed.length !== t.size) throw new Error(`backward: seed has ${seed.length} elements, output has ${t.size}`);
      for (let i = 0; i < seed.length; i++) g[i] += seed[i];
    } else {
      for (let i = 0; i < g.length; i++) g[i] += 1;
    }
  }
  replayTape();
}

/** Throws when the opt-in finite check is on and `t` holds NaN or Inf. */
export function checkFiniteOutput(op: string, t: Tensor): void {
  if (!isCheckingFinite()) return;
  const d = t.data;
  for (let i = 0; i < d.length; i++) {
    if (!Number.isFinite(d[i])) {
      throw new Error(`${op}: non-finite value ${d[i]} at flat index ${i} of output ${shapeStr(t.shape)}`);
    }
  }
}

export function assertSameDtype(op: string, ...ts: Tensor[]): DType {
  const d = ts[0].dtype;
  for (const t of ts) if (t.dtype !== d) throw new Error(`${op}: mixed dtypes ${ts.map((x) => x.dtype).join(', ')}`);
  return d;
}
