/**
 * The two ops DeBERTa's disentangled attention needs beyond attention():
 *
 *   headDot(x, p, heads): per-head products of a sequence with a table of
 *     rows shared by the batch (content queries/keys × relative-position
 *     projections).
 *       x: [B, T, H], p: [R, H] → y: [B, nh, T, R],  y[b,h,t,r] = Σ_d x[b,t,h·hd+d] · p[r,h·hd+d]
 *     Heads are addressed in place with strided batched GEMMs (as attention does).
 *     Backward: dx[b,t,h] = dy[b,h,t,:]·p[:,h]  (one batched GEMM);
 *               dp[:,h] += Σ_b dy[b,h]ᵀ·x[b,:,h]  (one batched GEMM per batch row:
 *               they all write dp, so they cannot run side by side).
 *
 *   relativeGather(src, index, rows, cols, opts): for every (query i, key j)
 *     the entry of the relative position δ(i, j) = index[i·cols + j].
 *       src: [..., S, R]  (S = rows, or = cols when transposed), index: rows·cols ints in [0, R)
 *       → y: [..., rows, P + cols]  (P = keyOffset leading zero columns: prefix keys, which have no position)
 *       y[n, i, P + j] = alpha · src[n, i, δ(i, j)]   (c2p: query i's score for its distance to key j)
 *       y[n, i, P + j] = alpha · src[n, j, δ(i, j)]   (transposed, p2c: key j's score for the same distance)
 *     Backward: a scatter-add, dsrc[n, i or j, δ(i, j)] += alpha · dy[n, i, P + j]
 *     (many (i, j) pairs share a δ, so entries accumulate).
 *     With `batchedIndex` each batch row has its own index matrix (XLNet's
 *     segment term: δ(b, i, j) = whether tokens i and j of row b are in
 *     different segments).
 */
import { countGemm } from '../backend.js';
import { assertSameDtype, sizeOf, Tensor } from '../tensor.js';
import { expectRank, fail, finish, kernelsOf } from './common.js';

export function headDot(x: Tensor, p: Tensor, heads: number): Tensor {
  const op = 'headDot';
  expectRank(op, x, 3, 'x');
  expectRank(op, p, 2, 'p');
  const [B, T, H] = x.shape;
  const R = p.shape[0];
  if (p.shape[1] !== H) fail(op, 'x and p must have the same width', x, p);
  if (!Number.isInteger(heads) || heads <= 0 || H % heads !== 0) fail(op, `width ${H} is not divisible by ${heads} heads`, x);
  const dtype = assertSameDtype(op, x, p);
  const nh = heads;
  const hd = H / nh;
  const k = kernelsOf(x);
  const y = Tensor.output([B, nh, T, R], dtype, [x, p]);
  countGemm('forward', 2 * B * nh * T * R * hd);
  k.sgemmBatched(false, true, T, R, hd, 1, x.data, 0, H, T * H, hd, p.data, 0, H, 0, hd, 0, y.data, 0, R, nh * T * R, T * R, B, nh);
  return finish(op, y, (dy) => {
    if (x.requiresGrad) {
      const dx = x.gradSink();
      countGemm('gradInput', 2 * B * nh * T * R * hd);
      k.sgemmBatched(false, false, T, hd, R, 1, dy, 0, R, nh * T * R, T * R, p.data, 0, H, 0, hd, dx.accumulate ? 1 : 0, dx.grad, 0, H, T * H, hd, B, nh);
    }
    if (p.requiresGrad) {
      const dp = p.gradSink();
      for (let b = 0; b < B; b++) {
        countGemm('gradInput', 2 * nh * T * R * hd);
        k.sgemmBatched(true, false, R, hd, T, 1, dy, b * nh * T * R, R, 0, T * R, x.data, b * T * H, H, 0, hd,
          b === 0 && !dp.accumulate ? 0 : 1, dp.grad, 0, H, 0, hd, 1, nh);
      }
      if (B === 0 && !dp.accumulate) dp.grad.fill(0);
    }
  });
}

export interface RelativeGatherOptions {
  /** Read src[n, j, δ] (p2c) instead of src[n, i, δ] (c2p). */
  transposed?: boolean;
  /** Zero columns in front of the keys (prefix slots without a position). */
  keyOffset?: number;
  /** Factor on every gathered entry (DeBERTa's 1/√(hd·(1 + terms))). */
  alpha?: number;
  /**
   * One index matrix per entry of src's first axis (the batch): index holds
   * lead[0]·rows·cols entries and block n of src reads matrix
   * ⌊n / (N / lead[0])⌋. XLNet's segment term gathers by whether the
   * tokens' segments differ, which depends on the batch row.
   */
  batchedIndex?: boolean;
}

export function relativeGather(src: Tensor, index: Int32Array, rows: number, cols: number, opts: RelativeGatherOptions = {}): Tensor {
  const op = 'relativeGather';
  if (src.shape.length < 2) fail(op, 'src must have rank 2 or more', src);
  const transposed = opts.transposed ?? false;
  const P = opts.keyOffset ?? 0;
  const alpha = opts.alpha ?? 1;
  if (!Number.isInteger(rows) || !Number.isInteger(cols) || rows < 0 || cols < 0) fail(op, `rows ${rows} and cols ${cols} must be non-negative integers`, src);
  if (!Number.isInteger(P) || P < 0) fail(op, `keyOffset must be a non-negative integer, got ${P}`, src);
  const batchedIndex = opts.batchedIndex ?? false;
  if (batchedIndex && src.shape.length < 3) fail(op, 'a batched index needs src of rank 3 or more (its first axis is the batch)', src);
  const matrices = batchedIndex ? src.shape[0] : 1;
  if (index.length !== matrices * rows * cols) {
    fail(op, `index has ${index.length} entries, expected ${batchedIndex ? `batch·rows·cols = ${matrices}·${rows}·${cols}` : 'rows·cols'} = ${matrices * rows * cols}`, src);
  }
  const r = src.shape.length;
  const S = src.shape[r - 2];
  const R = src.shape[r - 1];
  if (S !== (transposed ? cols : rows)) fail(op, `src's second-to-last axis must be ${transposed ? `cols = ${cols} (transposed)` : `rows = ${rows}`}`, src);
  for (let n = 0; n < index.length; n++) {
    const d = index[n];
    if (!(d >= 0 && d < R)) fail(op, `index entry ${n} is ${d}, outside [0, ${R})`, src);
  }
  const lead = src.shape.slice(0, -2);
  const N = sizeOf(lead);
  /** Leading blocks per index matrix (all of them without a batched index). */
  const perMatrix = matrices === 0 ? 1 : N / matrices;
  const W = P + cols;
  const x = src.data;
  const y = Tensor.output([...lead, rows, W], src.dtype, [src]);
  const out = y.data;
  // Row i of a block reads src row i (c2p) or src row j (p2c, transposed: a stride of R per key).
  const rowStep = transposed ? 0 : R;
  const colStep = transposed ? R : 0;
  for (let n = 0; n < N; n++) {
    const sb = n * S * R;
    for (let i = 0; i < rows; i++) {
      const o = (n * rows + i) * W;
      const base = sb + i * rowStep;
      const ib = (Math.floor(n / perMatrix) * rows + i) * cols;
      out.fill(0, o, o + P);
      for (let j = 0; j < cols; j++) out[o + P + j] = alpha * x[base + j * colStep + index[ib + j]];
    }
  }
  return finish(op, y, (dy) => {
    const g = src.ensureGrad();
    for (let n = 0; n < N; n++) {
      const sb = n * S * R;
      for (let i = 0; i < rows; i++) {
        const o = (n * rows + i) * W + P;
        const base = sb + i * rowStep;
        const ib = (Math.floor(n / perMatrix) * rows + i) * cols;
        for (let j = 0; j < cols; j++) g[base + j * colStep + index[ib + j]] += alpha * dy[o + j];
      }
    }
  });
}
