/** Finite-difference gradient checks of every op, in float64 on the js kernels. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  add, addBias, addLayerNorm, attention, concatSeq, crossEntropy, dropout, embedding, entropy, expandBatch, gatherRows, gelu, geluTanh,
  headDot, layerNorm, linear, linearGelu, linearInOut, logSoftmax, mean, mse, permute, relativeGather, reshape, scale, scaleRows, sliceSeq,
  spliceRows, sum, tanh, Tensor, transpose2d, unfoldSeq, weightedSum,
} from '../../src/engine/index.js';
import { gradcheck, randTensor } from '../helpers/gradcheck.js';

test('linear: input, weight and bias gradients', () => {
  const x = randTensor([2, 3, 5], 1);
  const w = randTensor([4, 5], 2);
  const b = randTensor([4], 3);
  gradcheck('linear', [x, w, b], (x, w, b) => linear(x, w, b));
});

test('linear without bias and with a frozen weight', () => {
  const x = randTensor([3, 5], 4);
  const w = randTensor([2, 5], 5, { requiresGrad: false });
  gradcheck('linear-frozen', [x, w], (x, w) => linear(x, w, null));
});

test('gelu and tanh', () => {
  const x = randTensor([3, 7], 6, { scale: 3 });
  gradcheck('gelu', [x], (x) => gelu(x));
  gradcheck('tanh', [x], (x) => tanh(x));
  gradcheck('geluTanh', [x], (x) => geluTanh(x));
});

test('geluTanh is the tanh approximation, not the erf GELU', () => {
  // At x = 1: ½(1 + tanh(√(2/π)·1.044715)) = 0.841192; the erf form gives 0.841345.
  const y = geluTanh(Tensor.from([1, -2], [2])).data;
  if (Math.abs(y[0]! - 0.8411919906) > 1e-6 || Math.abs(y[1]! - -0.0454023) > 1e-6) throw new Error(`geluTanh(1, -2) = ${y[0]}, ${y[1]}`);
});

test('layerNorm: input, weight, bias', () => {
  const x = randTensor([4, 6], 7, { scale: 2 });
  const w = randTensor([6], 8, { offset: 1, scale: 0.3 });
  const b = randTensor([6], 9, { scale: 0.3 });
  gradcheck('layerNorm', [x, w, b], (x, w, b) => layerNorm(x, w, b, 1e-12));
});

test('fused addLayerNorm (dropout + residual + layerNorm) and linearGelu', () => {
  const x = randTensor([2, 3, 6], 40, { scale: 2 });
  const r = randTensor([2, 3, 6], 41);
  const w = randTensor([6], 42, { offset: 1, scale: 0.3 });
  const b = randTensor([6], 43, { scale: 0.3 });
  gradcheck('addLayerNorm', [x, r, w, b], (x, r, w, b) => addLayerNorm(x, r, w, b, 1e-12));
  gradcheck('addLayerNorm-dropout', [x, r, w, b], (x, r, w, b) => addLayerNorm(x, r, w, b, 1e-12, { p: 0.3, seed: 5 }));
  gradcheck('addLayerNorm-same-tensor', [x, w, b], (x, w, b) => addLayerNorm(x, x, w, b, 1e-5, { p: 0.3, seed: 9 }));
  gradcheck('addLayerNorm-frozen-params', [x, r], (x, r) => addLayerNorm(x, r, randTensor([6], 44, { offset: 1, requiresGrad: false }), randTensor([6], 45, { requiresGrad: false }), 1e-5, { p: 0.2, seed: 3 }));
  const W = randTensor([5, 6], 46);
  const bb = randTensor([5], 47);
  gradcheck('linearGelu', [x, W, bb], (x, W, bb) => linearGelu(x, W, bb));
  gradcheck('linearGelu-frozen-weight', [x, bb], (x, bb) => linearGelu(x, randTensor([5, 6], 48, { requiresGrad: false }), bb));
  // Fresh gradients are overwritten, existing ones accumulated: a tensor feeding both kinds of consumer.
  gradcheck('gradSink-mixed', [x, W, bb], (x, W, bb) => add(linearGelu(x, W, bb), linear(x, W, null)));
});

test('attention: q, k, v with a mask and more keys than queries', () => {
  const B = 2, T = 3, Tk = 5, H = 4;
  const q = randTensor([B, T, H], 10);
  const k = randTensor([B, Tk, H], 11);
  const v = randTensor([B, Tk, H], 12);
  const mask = new Float64Array(B * Tk);
  mask[Tk - 1] = -1e9; // row 0 cannot see its last key
  mask[Tk + 0] = -1e9; // row 1 cannot see its first key
  gradcheck('attention', [q, k, v], (q, k, v) => attention(q, k, v, { heads: 2, mask }));
});

test('attention with ragged queries (0–3 per batch row), a mask and dropout', () => {
  const B = 4, Tk = 5, H = 4;
  const offsets = Int32Array.from([0, 2, 2, 3, 6]);
  const q = randTensor([6, H], 50);
  const k = randTensor([B, Tk, H], 51);
  const v = randTensor([B, Tk, H], 52);
  const mask = new Float64Array(B * Tk);
  mask[Tk - 1] = -1e9;
  mask[3 * Tk + 1] = -1e9;
  gradcheck('attention-ragged', [q, k, v], (q, k, v) => attention(q, k, v, { heads: 2, mask, queryOffsets: offsets }));
  gradcheck('attention-ragged-dropout', [q, k, v], (q, k, v) => attention(q, k, v, { heads: 2, mask, queryOffsets: offsets, dropout: { p: 0.3, seed: 11 } }));
});

test('attention with an additive score bias, a custom scale and uniform (fully masked) query rows', () => {
  const B = 2, T = 3, Tk = 5, H = 4, nh = 2;
  const q = randTensor([B, T, H], 60);
  const k = randTensor([B, Tk, H], 61);
  const v = randTensor([B, Tk, H], 62);
  const bias = randTensor([B, nh, T, Tk], 63, { scale: 2 });
  const mask = new Float64Array(B * Tk);
  mask[Tk + 4] = -1e9;
  const uniformRows = Uint8Array.from([0, 0, 0, 0, 0, 1]);
  gradcheck('attention-bias', [q, k, v, bias], (q, k, v, b) => attention(q, k, v, { heads: nh, mask, bias: b, scale: 0.3, uniformRows }));
  gradcheck('attention-bias-dropout', [q, k, v, bias], (q, k, v, b) => attention(q, k, v, { heads: nh, bias: b, dropout: { p: 0.25, seed: 3 } }));
  gradcheck('attention-scale-only', [q, k, v], (q, k, v) => attention(q, k, v, { heads: nh, mask, scale: 0.7, uniformRows }));
  // A uniform row is the mean of the values, whatever its scores.
  const out = attention(q, k, v, { heads: nh, bias, uniformRows });
  for (let c = 0; c < H; c++) {
    let m = 0;
    for (let j = 0; j < Tk; j++) m += v.data[(Tk + j) * H + c] / Tk;
    if (Math.abs(out.data[(T + 2) * H + c] - m) > 1e-12) throw new Error('uniform row is not the mean of the values');
  }
});

test('headDot (per-head products with shared rows) and relativeGather (c2p, transposed p2c, key offset)', () => {
  const B = 2, T = 3, H = 6, R = 4, nh = 3;
  const x = randTensor([B, T, H], 70);
  const p = randTensor([R, H], 71);
  gradcheck('headDot', [x, p], (x, p) => headDot(x, p, nh));
  gradcheck('headDot-frozen-rows', [x], (x) => headDot(x, randTensor([R, H], 72, { requiresGrad: false }), nh));
  // δ(i, j) for 3 queries × 3 keys, repeated distances included (clamped at the ends).
  const idx = Int32Array.from([1, 0, 0, 2, 1, 0, 3, 2, 1]);
  const src = randTensor([B, nh, T, R], 73);
  gradcheck('relativeGather', [src], (s) => relativeGather(s, idx, T, T, { alpha: 0.5 }));
  gradcheck('relativeGather-transposed-offset', [src], (s) => relativeGather(s, idx, T, T, { transposed: true, keyOffset: 2 }));
  // Queries and keys of different lengths: transposed reads rows of length cols.
  const srcK = randTensor([nh, 4, R], 74);
  const idx34 = Int32Array.from([0, 1, 2, 3, 3, 2, 1, 0, 1, 1, 1, 1]);
  gradcheck('relativeGather-3x4-transposed', [srcK], (s) => relativeGather(s, idx34, 3, 4, { transposed: true }));
  // The two compose into DeBERTa's score bias: c2p + p2c over one index.
  const pk = randTensor([R, H], 75);
  gradcheck('c2p+p2c', [x, p, pk], (x, p, pk) => add(relativeGather(headDot(x, pk, nh), idx, T, T), relativeGather(headDot(x, p, nh), idx, T, T, { transposed: true })));
  const g = relativeGather(src, idx, T, T, { transposed: true, keyOffset: 1 });
  if (g.shape.join() !== [B, nh, T, T + 1].join() || g.data[0] !== 0) throw new Error('key offset columns must be zero');
  if (g.data[1] !== src.data[0 * R + 1]) throw new Error('transposed gather reads src[n, j, δ(i, j)]');
});

test('XLNet\'s pieces: linearInOut ([in, out] weights), addBias, a per-batch relativeGather index, a per-query attention mask', () => {
  const x = randTensor([2, 3, 5], 90);
  const w = randTensor([5, 4], 91);
  const b = randTensor([4], 92);
  gradcheck('linearInOut', [x, w, b], (x, w, b) => linearInOut(x, w, b));
  gradcheck('linearInOut-frozen-no-bias', [x], (x) => linearInOut(x, randTensor([5, 4], 93, { requiresGrad: false }), null));
  // [in, out] is linear's [out, in] transposed.
  const wt = Tensor.from(Array.from({ length: 20 }, (_, n) => w.data[(n % 5) * 4 + Math.floor(n / 5)]), [4, 5], { dtype: 'f64' });
  const a = linearInOut(x, w, b).data;
  const c = linear(x, wt, b).data;
  for (let i = 0; i < a.length; i++) if (Math.abs(a[i] - c[i]) > 1e-12) throw new Error('linearInOut is not x·W + b');
  // A [2, 2] bias (XLNet's [n_head, d_head]) on [.., 4] rows; the same input through two biases.
  const hb = randTensor([2, 2], 94);
  const hb2 = randTensor([2, 2], 95);
  gradcheck('addBias', [randTensor([2, 3, 4], 96), hb, hb2], (q, b1, b2) => add(addBias(q, b1), addBias(q, b2)));

  // Segment term: per batch row, whether tokens i and j differ (index 0/1), with two prefix columns.
  const B = 2, T = 3, nh = 2, H = 4;
  const seg = Int32Array.from([0, 0, 1, 0, 0, 1, 1, 1, 0, /* row 1 */ 0, 1, 1, 1, 0, 0, 1, 0, 0]);
  const src = randTensor([B, nh, T, 2], 97);
  gradcheck('relativeGather-batched', [src], (s) => relativeGather(s, seg, T, T, { batchedIndex: true, keyOffset: 2, alpha: 0.7 }));
  const y = relativeGather(src, seg, T, T, { batchedIndex: true });
  // Row 1, head 1, query 0, key 1 reads src[1, 1, 0, seg[1][0][1] = 1].
  if (y.data[((1 * nh + 1) * T + 0) * T + 1] !== src.data[((1 * nh + 1) * T + 0) * 2 + 1]) throw new Error('batched index: row 1 reads its own matrix');

  // A padded query (row 1, token 2) keeps its own key; every other query ignores that key.
  const q = randTensor([B, T, H], 98);
  const k = randTensor([B, T, H], 99);
  const v = randTensor([B, T, H], 100);
  const bias = randTensor([B, nh, T, T], 101);
  const mask = new Float64Array(B * T * T);
  for (let i = 0; i < T; i++) if (i !== 2) mask[(1 * T + i) * T + 2] = -1e9;
  gradcheck('attention-per-query-mask', [q, k, v, bias], (q, k, v, b) => attention(q, k, v, { heads: nh, mask, bias: b, scale: 0.4 }));
  // Agrees with the [B, Tk] mask where every query of a row has the same one.
  const keyMask = new Float64Array(B * T);
  keyMask[T + 1] = -1e9;
  const perQuery = new Float64Array(B * T * T);
  for (let i = 0; i < T; i++) perQuery[(T + i) * T + 1] = -1e9;
  const one = attention(q, k, v, { heads: nh, mask: keyMask, bias }).data;
  const two = attention(q, k, v, { heads: nh, mask: perQuery, bias }).data;
  for (let i = 0; i < one.length; i++) if (Math.abs(one[i] - two[i]) > 1e-12) throw new Error('a per-query mask with equal rows is the key mask');
});

test('scaleRows', () => {
  const x = randTensor([2, 3, 4], 80);
  gradcheck('scaleRows', [x], (x) => scaleRows(x, [1, 0, 0.5, 1, 1, 0]));
});

test('attention with dropout on the probabilities (fixed seed)', () => {
  const q = randTensor([1, 4, 6], 13);
  const k = randTensor([1, 4, 6], 14);
  const v = randTensor([1, 4, 6], 15);
  gradcheck('attention-dropout', [q, k, v], (q, k, v) => attention(q, k, v, { heads: 3, dropout: { p: 0.3, seed: 7 } }));
});

test('embedding scatter-add with repeated ids, gatherRows and spliceRows', () => {
  const table = randTensor([5, 3], 16);
  const ids = Int32Array.from([1, 4, 1, 0]);
  gradcheck('embedding', [table], (t) => embedding(ids, [2, 2], t));
  const x = randTensor([6, 3], 17);
  gradcheck('gatherRows', [x], (x) => gatherRows(x, Int32Array.from([5, 0, 5])));
  const base = randTensor([6, 3], 18);
  const prompt = randTensor([2, 3], 19);
  gradcheck('spliceRows', [base, prompt], (b, p) => spliceRows(b, Int32Array.from([1, 2, 4, 5]), p, Int32Array.from([0, 1, 0, 1])));
});

test('add, scale, dropout', () => {
  const a = randTensor([2, 5], 20);
  const b = randTensor([2, 5], 21);
  gradcheck('add', [a, b], (a, b) => add(a, b));
  gradcheck('add-self', [a], (a) => add(a, a));
  gradcheck('scale', [a], (a) => scale(a, -1.7));
  gradcheck('dropout', [a], (a) => dropout(a, 0.4, 123));
});

test('reshape, permute, transpose2d', () => {
  const x = randTensor([2, 3, 4], 22);
  gradcheck('reshape', [x], (x) => gelu(reshape(x, [6, -1])));
  gradcheck('permute', [x], (x) => permute(x, [2, 0, 1]));
  gradcheck('transpose2d', [randTensor([3, 5], 23)], (x) => transpose2d(x));
});

test('concatSeq, sliceSeq, expandBatch', () => {
  const a = randTensor([2, 3, 4], 24);
  const b = randTensor([2, 2, 4], 25);
  gradcheck('concatSeq', [a, b], (a, b) => concatSeq(a, b));
  gradcheck('sliceSeq', [a], (a) => sliceSeq(a, 1, 2));
  gradcheck('expandBatch', [randTensor([3, 4], 26)], (p) => expandBatch(p, 3));
});

test('unfoldSeq: the windows of a zero-padded 1-D convolution, and their gradient', () => {
  const x = new Tensor(Float64Array.from({ length: 2 * 3 * 2 }, (_, i) => i + 1), [2, 3, 2]);
  // Row t holds x[t − 1], x[t], x[t + 1] (zeros past either end), batch rows apart.
  assert.deepEqual([...unfoldSeq(x, 3).data], [
    0, 0, 1, 2, 3, 4, /**/ 1, 2, 3, 4, 5, 6, /**/ 3, 4, 5, 6, 0, 0,
    0, 0, 7, 8, 9, 10, /**/ 7, 8, 9, 10, 11, 12, /**/ 9, 10, 11, 12, 0, 0,
  ]);
  assert.deepEqual([...unfoldSeq(x, 1).data], [...x.data]);
  assert.throws(() => unfoldSeq(x, 2), /kernel size 2 must be a positive odd integer/);
  gradcheck('unfoldSeq', [randTensor([2, 4, 3], 61)], (a) => unfoldSeq(a, 3));
  gradcheck('unfoldSeq-wide', [randTensor([1, 3, 2], 62)], (a) => unfoldSeq(a, 5));
  // As a convolution: the linear of the windows with the weight permuted to [out, k, in].
  gradcheck('conv1d', [randTensor([2, 4, 3], 63), randTensor([2, 3, 3], 64), randTensor([2], 65)],
    (a, w, b) => linear(unfoldSeq(a, 3), reshape(permute(w, [0, 2, 1]), [2, 9]), b));
});

test('reductions and losses', () => {
  const x = randTensor([3, 4], 27);
  const y = randTensor([3, 4], 28);
  gradcheck('sum', [x], (x) => sum(x));
  gradcheck('mean', [x], (x) => mean(x));
  gradcheck('mse', [x, y], (x, y) => mse(x, y));
  gradcheck('mse-broadcast', [x, randTensor([4], 29)], (x, p) => mse(x, p));
  gradcheck('logSoftmax', [x], (x) => logSoftmax(x));
  gradcheck('crossEntropy', [x], (x) => crossEntropy(x, Int32Array.from([2, -100, 0])));
  gradcheck('entropy', [x], (x) => entropy(x));
  gradcheck('entropy-transposed', [x], (x) => entropy(transpose2d(x)));
  gradcheck('weightedSum', [x, y], (x, y) => weightedSum([[1, mse(x, y)], [0.5, entropy(x)], [-2, mean(y)]]));
});

test('a small transformer block end to end', () => {
  const B = 2, T = 3, H = 4;
  const x = randTensor([B, T, H], 30);
  const wq = randTensor([H, H], 31), wk = randTensor([H, H], 32), wv = randTensor([H, H], 33);
  const bq = randTensor([H], 34, { requiresGrad: false });
  const lnw = randTensor([H], 35, { offset: 1, scale: 0.2 });
  const lnb = randTensor([H], 36, { scale: 0.2 });
  gradcheck('block', [x, wq, wk, wv, lnw, lnb], (x, wq, wk, wv, lnw, lnb) => {
    const ctx = attention(linear(x, wq, bq), linear(x, wk, null), linear(x, wv, null), { heads: 2 });
    return layerNorm(add(gelu(ctx), x), lnw, lnb, 1e-5);
  });
});

test('frozen tensors receive no gradient buffer', () => {
  const x = randTensor([2, 3], 37);
  const w = Tensor.from([1, 2, 3, 4, 5, 6], [2, 3], { dtype: 'f64' });
  gradcheck('frozen', [x, w], (x, w) => linear(x, w, null));
  if (w.grad !== null) throw new Error('frozen weight got a gradient buffer');
});
