/**
 * Multi-head scaled dot-product attention as one coarse op.
 * q: [B, T, H]; k, v: [B, Tk, H] (Tk = T, or P + T when P prefix rows were
 * concatenated in front for P-tuning v2); mask: additive [B, Tk] or null;
 * heads nh, head size hd = H / nh. Heads are addressed in place with strided
 * batched GEMMs, so no permute copies are made.
 *   scores = q·kᵀ  [B, nh, T, Tk];  probs = softmax(scores/√hd + mask)
 *   ctx = probs·v  → [B, T, H]
 *
 * Ragged queries (`queryOffsets`, length B + 1): q is [Nq, H] and batch row
 * b's queries are its rows [off[b], off[b+1]) — any number per row, none
 * included — against that row's keys k[b], v[b]; ctx is [Nq, H]. This is
 * the last layer of an MLM step that computes only the masked positions.
 * Probabilities are stored per row as [nh, c_b, Tk] blocks, one after another.
 *
 * DeBERTa's disentangled attention (dense queries only) adds three options:
 * `scale` replaces 1/√hd (DeBERTa divides by √(hd·(1 + relative terms))),
 * `bias` [B, nh, T, Tk] is a differentiable score term added after the
 * scaling (its relative-position scores), and `uniformRows` marks query rows
 * whose keys are all masked in HF's 2-D mask (padding queries): transformers
 * fills such a row with finfo.min and its softmax is uniform over every key,
 * with no gradient to the row's scores.
 *   scores = scale·q·kᵀ + bias;  probs = softmax(scores + mask)  (uniform on flagged rows)
 *
 * XLNet's relative attention uses `scale` and `bias` too (its position and
 * segment terms), and a per-query mask [B, T, Tk] (a padded query still
 * attends to itself, as HF's non_tgt_mask has it).
 */
import type { Buf } from '../kernels/types.js';
import { countGemm } from '../backend.js';
import type { Kernels } from '../kernels/types.js';
import { assertSameDtype, Tensor } from '../tensor.js';
import { accumulateGrad, expectRank, fail, finish, kernelsOf } from './common.js';

export interface AttentionOptions {
  heads: number;
  /**
   * Additive mask [B, Tk]: 0 attends, a large negative value blocks. Dense
   * queries also take a per-query mask [B, T, Tk] (B·T·Tk entries, shared
   * by the heads): XLNet's content stream lets a padded query attend to
   * its own position while every other query ignores it.
   */
  mask?: Buf | null;
  /** Dropout on the attention probabilities (training only). */
  dropout?: { p: number; seed: number } | null;
  /** Ragged queries: q is [Nq, H], batch row b's queries are rows [off[b], off[b+1]); length B + 1. */
  queryOffsets?: Int32Array;
  /** Score scale (default 1/√hd). */
  scale?: number;
  /** Additive, differentiable score term [B, nh, T, Tk], added after the scale (DeBERTa's c2p + p2c). */
  bias?: Tensor | null;
  /** B·T flags: a flagged query row attends uniformly to all Tk keys and passes no gradient to its scores. */
  uniformRows?: Uint8Array | null;
}

type BatchedArgs = [transA: boolean, transB: boolean, M: number, N: number, K: number, A: Buf, lda: number, sAo: number, sAi: number, B: Buf, ldb: number, sBo: number, sBi: number, beta: number, C: Buf, ldc: number, sCo: number, sCi: number, alpha?: number];

/** What both attention forms check and derive alike: heads, head size, the 1/√hd scale, the mask's length, the dtype, the kernels. */
function headsOf(op: string, q: Tensor, k: Tensor, v: Tensor, B: number, Tk: number, H: number, opts: AttentionOptions, T: number | null) {
  const nh = opts.heads;
  if (!Number.isInteger(nh) || nh <= 0 || H % nh !== 0) fail(op, `hidden size ${H} is not divisible by ${nh} heads`, q);
  const mask = opts.mask ?? null;
  // With T = 1 the two layouts are the same array.
  const perQuery = mask !== null && T !== null && T !== 1 && mask.length === B * T * Tk;
  if (mask && !perQuery && mask.length !== B * Tk) {
    fail(op, `mask must have B*Tk = ${B * Tk}${T === null ? '' : ` or B*T*Tk = ${B * T * Tk}`} entries, got ${mask.length}`, q, k);
  }
  const dtype = assertSameDtype(op, q, k, v);
  const hd = H / nh;
  const scale = opts.scale ?? 1 / Math.sqrt(hd);
  if (!(scale > 0 && Number.isFinite(scale))) fail(op, `scale must be a positive number, got ${scale}`, q);
  return { nh, mask, perQuery, dtype, hd, scale, kern: kernelsOf(q) };
}

/** The bias and uniform-row options, checked against [B, nh, T, Tk]. */
function denseExtras(op: string, q: Tensor, B: number, nh: number, T: number, Tk: number, opts: AttentionOptions) {
  const bias = opts.bias ?? null;
  if (bias) {
    const want = [B, nh, T, Tk];
    if (bias.shape.length !== 4 || bias.shape.some((d, i) => d !== want[i])) fail(op, `bias must be [${want.join(', ')}]`, q, bias);
    assertSameDtype(op, q, bias);
  }
  const uniform = opts.uniformRows ?? null;
  if (uniform && uniform.length !== B * T) fail(op, `uniformRows must have B*T = ${B * T} entries, got ${uniform.length}`, q);
  return { bias, uniform };
}

/** probs[b, h, t, :] = 1/Tk on every flagged query row (b, t). */
function fillUniformRows(probs: Buf, uniform: Uint8Array, B: number, nh: number, T: number, Tk: number, value: number | null): void {
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      if (!uniform[b * T + t]) continue;
      for (let h = 0; h < nh; h++) {
        const o = ((b * nh + h) * T + t) * Tk;
        probs.fill(value ?? 1 / Tk, o, o + Tk);
      }
    }
  }
}

export function attention(q: Tensor, k: Tensor, v: Tensor, opts: AttentionOptions): Tensor {
  if (opts.queryOffsets) return raggedAttention(q, k, v, opts, opts.queryOffsets);
  const op = 'attention';
  expectRank(op, q, 3, 'q');
  expectRank(op, k, 3, 'k');
  expectRank(op, v, 3, 'v');
  const [B, T, H] = q.shape;
  const Tk = k.shape[1];
  if (k.shape[0] !== B || v.shape[0] !== B || k.shape[2] !== H || v.shape[2] !== H || v.shape[1] !== Tk) {
    fail(op, 'q, k, v must be [B, T, H], [B, Tk, H], [B, Tk, H]', q, k, v);
  }
  const { nh, mask, perQuery, dtype, hd, scale, kern } = headsOf(op, q, k, v, B, Tk, H, opts, T);
  const { bias, uniform } = denseExtras(op, q, B, nh, T, Tk, opts);
  const batched = (role: 'forward' | 'gradInput', ...a: BatchedArgs) => runBatched(kern, role, B, nh, a);
  // With a bias the scale goes into the score GEMM (the bias is added unscaled);
  // without one it stays folded into the softmax, as it always was.
  const gemmAlpha = bias ? scale : 1;
  const softScale = bias ? 1 : scale;

  const probs = Tensor.output([B, nh, T, Tk], dtype, []);
  batched('forward', false, true, T, Tk, hd, q.data, H, T * H, hd, k.data, H, Tk * H, hd, 0, probs.data, Tk, nh * T * Tk, T * Tk, gemmAlpha);
  if (bias) kern.add(probs.data, probs.data, bias.data, probs.size);
  if (perQuery) {
    // One softmax per (batch row, head), each with its row's [T, Tk] mask.
    for (let b = 0; b < B; b++) {
      const m = mask!.subarray(b * T * Tk, (b + 1) * T * Tk);
      for (let h = 0; h < nh; h++) {
        const block = probs.data.subarray((b * nh + h) * T * Tk, (b * nh + h + 1) * T * Tk);
        kern.softmaxForward(block, block, m, softScale, T, Tk, 1);
      }
    }
  } else kern.softmaxForward(probs.data, probs.data, mask, softScale, B * nh * T, Tk, nh * T);
  if (uniform) fillUniformRows(probs.data, uniform, B, nh, T, Tk, null);

  let used = probs.data;
  let keep: Uint8Array | null = null;
  const drop = opts.dropout && opts.dropout.p > 0 ? opts.dropout : null;
  if (drop) {
    keep = new Uint8Array(probs.size);
    used = Tensor.output(probs.shape, dtype, []).data;
    kern.dropoutForward(used, keep, probs.data, probs.size, drop.p, drop.seed);
  }

  const ctx = Tensor.output([B, T, H], dtype, bias ? [q, k, v, bias] : [q, k, v]);
  batched('forward', false, false, T, hd, Tk, used, Tk, nh * T * Tk, T * Tk, v.data, H, Tk * H, hd, 0, ctx.data, H, T * H, hd);

  return finish(op, ctx, (dctx) => {
    const dUsed = Tensor.output(probs.shape, dtype, []).data;
    batched('gradInput', false, true, T, Tk, hd, dctx, H, T * H, hd, v.data, H, Tk * H, hd, 0, dUsed, Tk, nh * T * Tk, T * Tk);
    // Each of dq, dk, dv is written whole by one batched GEMM: a fresh gradient is overwritten (beta 0), not zeroed first.
    if (v.requiresGrad) {
      const dv = v.gradSink();
      batched('gradInput', true, false, Tk, hd, T, used, Tk, nh * T * Tk, T * Tk, dctx, H, T * H, hd, dv.accumulate ? 1 : 0, dv.grad, H, Tk * H, hd);
    }
    let dProbs = dUsed;
    if (drop && keep) {
      dProbs = Tensor.output(probs.shape, dtype, [], true).data;
      kern.dropoutBackward(dProbs, dUsed, keep, probs.size, drop.p);
    }
    // Without a bias the scale is folded into the softmax backward; with one, into the GEMMs' alpha.
    const dScores = Tensor.output(probs.shape, dtype, [], true).data;
    kern.softmaxBackward(dScores, dProbs, probs.data, softScale, B * nh * T, Tk);
    if (uniform) fillUniformRows(dScores, uniform, B, nh, T, Tk, 0);
    if (bias?.requiresGrad) accumulateGrad(kern, bias, dScores);
    if (q.requiresGrad) {
      const dq = q.gradSink();
      batched('gradInput', false, false, T, hd, Tk, dScores, Tk, nh * T * Tk, T * Tk, k.data, H, Tk * H, hd, dq.accumulate ? 1 : 0, dq.grad, H, T * H, hd, gemmAlpha);
    }
    if (k.requiresGrad) {
      const dk = k.gradSink();
      batched('gradInput', true, false, Tk, hd, T, dScores, Tk, nh * T * Tk, T * Tk, q.data, H, T * H, hd, dk.accumulate ? 1 : 0, dk.grad, H, Tk * H, hd, gemmAlpha);
    }
  });
}

function runBatched(kern: Kernels, role: 'forward' | 'gradInput', outer: number, inner: number, a: BatchedArgs): void {
  const [transA, transB, M, N, K, A, lda, sAo, sAi, Bm, ldb, sBo, sBi, beta, C, ldc, sCo, sCi, alpha = 1] = a;
  countGemm(role, 2 * M * N * K * outer * inner);
  kern.sgemmBatched(transA, transB, M, N, K, alpha, A, 0, lda, sAo, sAi, Bm, 0, ldb, sBo, sBi, beta, C, 0, ldc, sCo, sCi, outer, inner);
}

/** attention() with ragged queries: see the header. q: [Nq, H]; k, v: [B, Tk, H]; off: B + 1 offsets. */
function raggedAttention(q: Tensor, k: Tensor, v: Tensor, opts: AttentionOptions, off: Int32Array): Tensor {
  const op = 'attention';
  expectRank(op, q, 2, 'q (ragged)');
  expectRank(op, k, 3, 'k');
  expectRank(op, v, 3, 'v');
  const [Nq, H] = q.shape;
  const [B, Tk] = k.shape;
  if (k.shape[2] !== H || v.shape[0] !== B || v.shape[1] !== Tk || v.shape[2] !== H) {
    fail(op, 'ragged q, k, v must be [Nq, H], [B, Tk, H], [B, Tk, H]', q, k, v);
  }
  if (off.length !== B + 1 || off[0] !== 0 || off[B] !== Nq) {
    fail(op, `queryOffsets must have B + 1 = ${B + 1} entries from 0 to Nq = ${Nq}`, q, k);
  }
  for (let b = 0; b < B; b++) if (off[b + 1]! < off[b]!) fail(op, `queryOffsets must not decrease (entry ${b + 1})`, q, k);
  if (opts.bias || opts.uniformRows || opts.scale !== undefined) fail(op, 'bias, uniformRows and scale are for dense queries; ragged queries take none of them', q, k);
  const { nh, mask, dtype, hd, scale, kern } = headsOf(op, q, k, v, B, Tk, H, opts, null);
  // One batched GEMM over the heads of batch row b (c_b queries).
  const gemmRow = (role: 'forward' | 'gradInput', tA: boolean, tB: boolean, M: number, N: number, K: number,
    A: Buf, offA: number, lda: number, sAi: number, Bm: Buf, offB: number, ldb: number, sBi: number,
    beta: number, C: Buf, offC: number, ldc: number, sCi: number) => {
    countGemm(role, 2 * M * N * K * nh);
    kern.sgemmBatched(tA, tB, M, N, K, 1, A, offA, lda, 0, sAi, Bm, offB, ldb, 0, sBi, beta, C, offC, ldc, 0, sCi, 1, nh);
  };
  const rows = (fn: (b: number, c: number, qo: number, po: number, ko: number) => void) => {
    for (let b = 0; b < B; b++) {
      const c = off[b + 1]! - off[b]!;
      if (c > 0) fn(b, c, off[b]! * H, nh * off[b]! * Tk, b * Tk * H);
    }
  };

  const probs = Tensor.output([nh * Nq * Tk], dtype, []);
  const P = probs.data;
  rows((b, c, qo, po, ko) => {
    gemmRow('forward', false, true, c, Tk, hd, q.data, qo, H, hd, k.data, ko, H, hd, 0, P, po, Tk, c * Tk);
    const block = P.subarray(po, po + nh * c * Tk);
    kern.softmaxForward(block, block, mask ? mask.subarray(b * Tk, (b + 1) * Tk) : null, scale, nh * c, Tk, nh * c);
  });
  let used = P;
  let keep: Uint8Array | null = null;
  const drop = opts.dropout && opts.dropout.p > 0 ? opts.dropout : null;
  if (drop) {
    keep = new Uint8Array(probs.size);
    used = Tensor.output(probs.shape, dtype, []).data;
    kern.dropoutForward(used, keep, P, probs.size, drop.p, drop.seed);
  }
  const ctx = Tensor.output([Nq, H], dtype, [q, k, v]);
  rows((_b, c, qo, po, ko) => gemmRow('forward', false, false, c, hd, Tk, used, po, Tk, c * Tk, v.data, ko, H, hd, 0, ctx.data, qo, H, hd));

  return finish(op, ctx, (dctx) => {
    const dUsed = Tensor.output(probs.shape, dtype, []).data;
    rows((_b, c, qo, po, ko) => gemmRow('gradInput', false, true, c, Tk, hd, dctx, qo, H, hd, v.data, ko, H, hd, 0, dUsed, po, Tk, c * Tk));
    // A fresh dk / dv is overwritten row by row; rows without queries get no GEMM, so they are zeroed here.
    const sinkKV = (t: Tensor) => {
      const s = t.gradSink();
      if (!s.accumulate) for (let b = 0; b < B; b++) if (off[b + 1] === off[b]) s.grad.fill(0, b * Tk * H, (b + 1) * Tk * H);
      return s;
    };
    if (v.requiresGrad) {
      const dv = sinkKV(v);
      rows((_b, c, qo, po, ko) => gemmRow('gradInput', true, false, Tk, hd, c, used, po, Tk, c * Tk, dctx, qo, H, hd, dv.accumulate ? 1 : 0, dv.grad, ko, H, hd));
    }
    let dProbs = dUsed;
    if (drop && keep) {
      dProbs = Tensor.output(probs.shape, dtype, [], true).data;
      kern.dropoutBackward(dProbs, dUsed, keep, probs.size, drop.p);
    }
    const dScores = Tensor.output(probs.shape, dtype, [], true).data;
    kern.softmaxBackward(dScores, dProbs, P, scale, nh * Nq, Tk);
    if (q.requiresGrad) {
      const dq = q.gradSink();
      rows((_b, c, qo, po, ko) => gemmRow('gradInput', false, false, c, hd, Tk, dScores, po, Tk, c * Tk, k.data, ko, H, hd, dq.accumulate ? 1 : 0, dq.grad, qo, H, hd));
    }
    if (k.requiresGrad) {
      const dk = sinkKV(k);
      rows((_b, c, qo, po, ko) => gemmRow('gradInput', true, false, Tk, hd, c, dScores, po, Tk, c * Tk, q.data, qo, H, hd, dk.accumulate ? 1 : 0, dk.grad, ko, H, hd));
    }
  });
}
