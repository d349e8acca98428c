/**
 * Shape ops: reshape (a view), permute (a copy), the sequence-axis
 * concat/slice/expand used to splice prefixes and prompts, and the
 * sequence windows of a 1-D convolution (unfoldSeq).
 * Sequence tensors are [B, T, C].
 */
import { assertSameDtype, shapeStr, sizeOf, Tensor } from '../tensor.js';
import { track } from '../memory.js';
import { accumulateGrad, expectRank, fail, finish, kernelsOf } from './common.js';

export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  const inferred = shape.indexOf(-1);
  let full = [...shape];
  if (inferred >= 0) {
    const rest = sizeOf(shape.filter((_, i) => i !== inferred));
    if (rest === 0 || x.size % rest !== 0) throw new Error(`reshape: cannot infer ${shapeStr(shape)} from ${shapeStr(x.shape)}`);
    full[inferred] = x.size / rest;
  }
  if (sizeOf(full) !== x.size) throw new Error(`reshape: ${shapeStr(x.shape)} has ${x.size} elements, ${shapeStr(full)} needs ${sizeOf(full)}`);
  const y = new Tensor(x.data, full, { requiresGrad: x.requiresGrad, ownsData: false, pooled: true });
  track(y);
  const k = kernelsOf(x);
  return finish('reshape', y, (dy) => accumulateGrad(k, x, dy));
}

/** Generic axis permutation (a copy): out.shape[i] = x.shape[perm[i]]. */
export function permute(x: Tensor, perm: readonly number[]): Tensor {
  const r = x.shape.length;
  if (perm.length !== r || [...perm].sort().some((p, i) => p !== i)) {
    throw new Error(`permute: [${perm.join(', ')}] is not a permutation of ${r} axes`);
  }
  const outShape = perm.map((p) => x.shape[p]);
  const inStrides = new Array<number>(r);
  for (let i = r - 1, s = 1; i >= 0; i--) {
    inStrides[i] = s;
    s *= x.shape[i];
  }
  // Source offset for each destination element, walked as an odometer.
  const map = new Int32Array(x.size);
  const idx = new Array<number>(r).fill(0);
  for (let n = 0; n < x.size; n++) {
    let off = 0;
    for (let i = 0; i < r; i++) off += idx[i] * inStrides[perm[i]];
    map[n] = off;
    for (let i = r - 1; i >= 0; i--) {
      if (++idx[i] < outShape[i]) break;
      idx[i] = 0;
    }
  }
  const y = Tensor.output(outShape, x.dtype, [x]);
  for (let n = 0; n < x.size; n++) y.data[n] = x.data[map[n]];
  return finish('permute', y, (dy) => {
    const g = x.ensureGrad();
    for (let n = 0; n < x.size; n++) g[map[n]] += dy[n];
  });
}

export function transpose2d(x: Tensor): Tensor {
  expectRank('transpose2d', x, 2, 'input');
  return permute(x, [1, 0]);
}

/** [B, Ta, C] ++ [B, Tb, C] → [B, Ta + Tb, C]. */
export function concatSeq(a: Tensor, b: Tensor): Tensor {
  const op = 'concatSeq';
  expectRank(op, a, 3, 'a');
  expectRank(op, b, 3, 'b');
  const [B, Ta, C] = a.shape;
  const Tb = b.shape[1];
  if (b.shape[0] !== B || b.shape[2] !== C) fail(op, 'batch and width must match', a, b);
  const dtype = assertSameDtype(op, a, b);
  const k = kernelsOf(a);
  const T = Ta + Tb;
  const y = Tensor.output([B, T, C], dtype, [a, b]);
  for (let i = 0; i < B; i++) {
    y.data.set(a.data.subarray(i * Ta * C, (i + 1) * Ta * C), i * T * C);
    y.data.set(b.data.subarray(i * Tb * C, (i + 1) * Tb * C), (i * T + Ta) * C);
  }
  return finish(op, y, (dy) => {
    for (let i = 0; i < B; i++) {
      if (a.requiresGrad) k.axpy(Ta * C, 1, dy, i * T * C, a.ensureGrad(), i * Ta * C);
      if (b.requiresGrad) k.axpy(Tb * C, 1, dy, (i * T + Ta) * C, b.ensureGrad(), i * Tb * C);
    }
  });
}

/** x[:, start : start + len, :] of a [B, T, C] tensor. */
export function sliceSeq(x: Tensor, start: number, len: number): Tensor {
  const op = 'sliceSeq';
  expectRank(op, x, 3, 'input');
  const [B, T, C] = x.shape;
  if (!Number.isInteger(start) || !Number.isInteger(len) || start < 0 || len < 0 || start + len > T) {
    fail(op, `slice [${start}, ${start + len}) is outside the sequence length ${T}`, x);
  }
  const k = kernelsOf(x);
  const y = Tensor.output([B, len, C], x.dtype, [x]);
  for (let i = 0; i < B; i++) y.data.set(x.data.subarray((i * T + start) * C, (i * T + start + len) * C), i * len * C);
  return finish(op, y, (dy) => {
    const g = x.ensureGrad();
    for (let i = 0; i < B; i++) k.axpy(len * C, 1, dy, i * len * C, g, (i * T + start) * C);
  });
}

/** [T, C] repeated over a batch → [B, T, C]; the backward sums over the batch. */
export function expandBatch(x: Tensor, B: number): Tensor {
  const op = 'expandBatch';
  expectRank(op, x, 2, 'input');
  const k = kernelsOf(x);
  const y = Tensor.output([B, ...x.shape], x.dtype, [x]);
  for (let i = 0; i < B; i++) y.data.set(x.data, i * x.size);
  return finish(op, y, (dy) => {
    const g = x.ensureGrad();
    for (let i = 0; i < B; i++) k.axpy(x.size, 1, dy, i * x.size, g, 0);
  });
}

/**
 * The sliding windows of a 1-D convolution over the sequence, zero-padded
 * by ⌊(k − 1)/2⌋ on each side (torch's Conv1d with padding (k − 1) // 2,
 * odd k): x [B, T, C] → [B, T, k·C], where block j of row t is x[t + j − ⌊(k − 1)/2⌋]
 * or zeros. A conv with weight W [out, C, k] is then a linear layer with
 * W permuted to [out, k, C]. The backward adds each block back to its row.
 */
export function unfoldSeq(x: Tensor, k: number): Tensor {
  const op = 'unfoldSeq';
  expectRank(op, x, 3, 'input');
  if (!Number.isInteger(k) || k < 1 || k % 2 === 0) fail(op, `kernel size ${k} must be a positive odd integer`, x);
  const [B, T, C] = x.shape;
  const pad = (k - 1) / 2;
  const kern = kernelsOf(x);
  // Zeroed: the padded blocks are never written.
  const y = Tensor.output([B, T, k * C], x.dtype, [x], true);
  const rowsOf = (visit: (src: number, dst: number) => void) => {
    for (let b = 0; b < B; b++) {
      for (let t = 0; t < T; t++) {
        for (let j = 0; j < k; j++) {
          const s = t + j - pad;
          if (s >= 0 && s < T) visit((b * T + s) * C, ((b * T + t) * k + j) * C);
        }
      }
    }
  };
  rowsOf((src, dst) => y.data.set(x.data.subarray(src, src + C), dst));
  return finish(op, y, (dy) => {
    const g = x.ensureGrad();
    rowsOf((src, dst) => kern.axpy(C, 1, dy, dst, g, src));
  });
}
