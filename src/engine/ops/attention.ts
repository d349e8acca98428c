/**
 * Multi-head scaled dot-product attention as one coarse op.
 * q: [B, T, H]; k, v: [B, Tk, H] (Tk = T, or P + T when P prefix rows were
 * concatenated in front for P-tuning v2); mask: additive [B, Tk] or null;
 * heads nh, head size hd = H / nh. Heads are addressed in place with strided
 * batched GEMMs, so no permute copies are made.
 *   scores = q·kᵀ  [B, nh, T, Tk];  probs = softmax(scores/√hd + mask)
 *   ctx = probs·v  → [B, T, H]
 */
import type { Buf } from '../kernels/types.js';
import { countGemm } from '../backend.js';
import type { Kernels } from '../kernels/types.js';
import { assertSameDtype, Tensor } from '../tensor.js';
import { expectRank, fail, finish, kernelsOf } from './common.js';

export interface AttentionOptions {
  heads: number;
  /** Additive mask [B, Tk]: 0 attends, a large negative value blocks. */
  mask?: Buf | null;
  /** Dropout on the attention probabilities (training only). */
  dropout?: { p: number; seed: number } | null;
}

type BatchedArgs = [transA: boolean, transB: boolean, M: number, N: number, K: number, A: Buf, lda: number, sAo: number, sAi: number, B: Buf, ldb: number, sBo: number, sBi: number, beta: number, C: Buf, ldc: number, sCo: number, sCi: number];

export function attention(q: Tensor, k: Tensor, v: Tensor, opts: AttentionOptions): Tensor {
  const op = 'attention';
  expectRank(op, q, 3, 'q');
  expectRank(op, k, 3, 'k');
  expectRank(op, v, 3, 'v');
  const [B, T, H] = q.shape;
  const Tk = k.shape[1];
  if (k.shape[0] !== B || v.shape[0] !== B || k.shape[2] !== H || v.shape[2] !== H || v.shape[1] !== Tk) {
    fail(op, 'q, k, v must be [B, T, H], [B, Tk, H], [B, Tk, H]', q, k, v);
  }
  const nh = opts.heads;
  if (!Number.isInteger(nh) || nh <= 0 || H % nh !== 0) fail(op, `hidden size ${H} is not divisible by ${nh} heads`, q);
  const mask = opts.mask ?? null;
  if (mask && mask.length !== B * Tk) fail(op, `mask must have B*Tk = ${B * Tk} entries, got ${mask.length}`, q, k);
  const dtype = assertSameDtype(op, q, k, v);
  const hd = H / nh;
  const scale = 1 / Math.sqrt(hd);
  const kern = kernelsOf(q);
  const batched = (role: 'forward' | 'gradInput', ...a: BatchedArgs) => runBatched(kern, role, B, nh, a);

  const probs = Tensor.output([B, nh, T, Tk], dtype, []);
  batched('forward', false, true, T, Tk, hd, q.data, H, T * H, hd, k.data, H, Tk * H, hd, 0, probs.data, Tk, nh * T * Tk, T * Tk);
  kern.softmaxForward(probs.data, probs.data, mask, scale, B * nh * T, Tk, nh * T);

  let used = probs.data;
  let keep: Uint8Array | null = null;
  const drop = opts.dropout && opts.dropout.p > 0 ? opts.dropout : null;
  if (drop) {
    keep = new Uint8Array(probs.size);
    used = Tensor.output(probs.shape, dtype, []).data;
    kern.dropoutForward(used, keep, probs.data, probs.size, drop.p, drop.seed);
  }

  const ctx = Tensor.output([B, T, H], dtype, [q, k, v]);
  batched('forward', false, false, T, hd, Tk, used, Tk, nh * T * Tk, T * Tk, v.data, H, Tk * H, hd, 0, ctx.data, H, T * H, hd);

  return finish(op, ctx, (dctx) => {
    const dUsed = Tensor.output(probs.shape, dtype, []).data;
    batched('gradInput', false, true, T, Tk, hd, dctx, H, T * H, hd, v.data, H, Tk * H, hd, 0, dUsed, Tk, nh * T * Tk, T * Tk);
    if (v.requiresGrad) {
      batched('gradInput', true, false, Tk, hd, T, used, Tk, nh * T * Tk, T * Tk, dctx, H, T * H, hd, 1, v.ensureGrad(), H, Tk * H, hd);
    }
    let dProbs = dUsed;
    if (drop && keep) {
      dProbs = Tensor.output(probs.shape, dtype, [], true).data;
      kern.dropoutBackward(dProbs, dUsed, keep, probs.size, drop.p);
    }
    // The 1/√hd factor of the scores is folded into the softmax backward.
    const dScores = Tensor.output(probs.shape, dtype, [], true).data;
    kern.softmaxBackward(dScores, dProbs, probs.data, scale, B * nh * T, Tk);
    if (q.requiresGrad) {
      batched('gradInput', false, false, T, hd, Tk, dScores, Tk, nh * T * Tk, T * Tk, k.data, H, Tk * H, hd, 1, q.ensureGrad(), H, T * H, hd);
    }
    if (k.requiresGrad) {
      batched('gradInput', true, false, Tk, hd, T, dScores, Tk, nh * T * Tk, T * Tk, q.data, H, T * H, hd, 1, k.ensureGrad(), H, Tk * H, hd);
    }
  });
}

function runBatched(kern: Kernels, role: 'forward' | 'gradInput', outer: number, inner: number, a: BatchedArgs): void {
  const [transA, transB, M, N, K, A, lda, sAo, sAi, Bm, ldb, sBo, sBi, beta, C, ldc, sCo, sCi] = a;
  countGemm(role, 2 * M * N * K * outer * inner);
  kern.sgemmBatched(transA, transB, M, N, K, 1, A, 0, lda, sAo, sAi, Bm, 0, ldb, sBo, sBi, beta, C, 0, ldc, sCo, sCi, outer, inner);
}
