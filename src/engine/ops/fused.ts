/**
 * Fused ops for the encoder's hot path. Each computes exactly what its
 * unfused chain computes (same dropout masks for the same seed, same
 * parameter names and layouts), in fewer passes over memory and with fewer
 * intermediate tensors:
 *
 *   addLayerNorm(x, res, w, b, eps, drop) = layerNorm(add(dropout(x, drop.p, drop.seed), res), w, b, eps)
 *     x, res: [..., C]; w, b: [C]. Forward: one pass writes sum = dropout(x) + res
 *     (kept for the backward; the dropout mask is not stored but drawn again
 *     from its counter-based seed) and the normalised output. Backward: one
 *     pass computes ds = layerNorm'(sum) and hands it to both branches —
 *     dres += ds, dx += ds · keep / (1 − p) — with no add/dropout gradient
 *     tensors in between.
 *
 *   linearGelu(x, W, b) = gelu(linear(x, W, b))
 *     x: [..., in]; W: [out, in]; b: [out]. Forward: the GEMM writes
 *     pre = x·Wᵀ, one pass adds the bias and applies GELU. Backward: one pass
 *     writes dpre = dy · gelu'(pre) and sums dbias, then the two GEMMs of
 *     linear (dx = dpre·W, dW += dpreᵀ·x).
 */
import { assertSameDtype, Tensor } from '../tensor.js';
import { fail, finish, gemm, kernelsOf, lastDim } from './common.js';

function sameShape(a: Tensor, b: Tensor): boolean {
  return a.shape.length === b.shape.length && a.shape.every((d, i) => d === b.shape[i]);
}

export function addLayerNorm(x: Tensor, res: Tensor, weight: Tensor, bias: Tensor, eps: number, drop?: { p: number; seed: number } | null): Tensor {
  const op = 'addLayerNorm';
  if (!sameShape(x, res)) fail(op, 'x and res must have the same shape', x, res);
  const C = lastDim(x);
  if (weight.size !== C || bias.size !== C) fail(op, `weight and bias must be [${C}]`, x, weight, bias);
  const p = drop?.p ?? 0;
  if (!(p >= 0 && p < 1)) throw new Error(`${op}: dropout p must be in [0, 1), got ${p}`);
  const seed = (drop?.seed ?? 0) >>> 0;
  const dtype = assertSameDtype(op, x, res, weight, bias);
  const R = C === 0 ? 0 : x.size / C;
  const k = kernelsOf(x);
  const y = Tensor.output(x.shape, dtype, [x, res, weight, bias]);
  const sum = Tensor.output(x.shape, dtype, []).data;
  const mean = Tensor.output([R], dtype, []).data;
  const rstd = Tensor.output([R], dtype, []).data;
  k.addLayerNormForward(y.data, sum, mean, rstd, x.data, res.data, weight.data, bias.data, R, C, eps, p, seed);
  return finish(op, y, (dy) => {
    // The kernel writes each row's dres before its dx: when x and res are one
    // tensor, the dx half must add to what the dres half wrote.
    const dres = res.requiresGrad ? res.gradSink() : null;
    const dx = !x.requiresGrad ? null : x === res ? { grad: dres!.grad, accumulate: true } : x.gradSink();
    k.addLayerNormBackward(
      dx?.grad ?? null, dres?.grad ?? null,
      weight.requiresGrad ? weight.ensureGrad() : null,
      bias.requiresGrad ? bias.ensureGrad() : null,
      dy, sum, weight.data, mean, rstd, R, C, p, seed, dx?.accumulate ?? false, dres?.accumulate ?? false,
    );
  });
}

export function linearGelu(x: Tensor, weight: Tensor, bias: Tensor): Tensor {
  const op = 'linearGelu';
  if (weight.shape.length !== 2) fail(op, 'weight must be [out, in]', weight);
  const [outF, inF] = weight.shape;
  if (lastDim(x) !== inF) fail(op, `input's last dimension must equal weight's in=${inF}`, x, weight);
  if (bias.shape.length !== 1 || bias.shape[0] !== outF) fail(op, `bias must be [${outF}]`, bias);
  const dtype = assertSameDtype(op, x, weight, bias);
  const R = inF === 0 ? 0 : x.size / inF;
  const k = kernelsOf(x);
  const shape = [...x.shape.slice(0, -1), outF];
  const pre = Tensor.output(shape, dtype, []).data;
  gemm('forward', k, false, true, R, outF, inF, 1, x.data, inF, weight.data, inF, 0, pre, outF);
  const y = Tensor.output(shape, dtype, [x, weight, bias]);
  k.biasGeluForward(y.data, pre, pre, bias.data, R, outF);
  return finish(op, y, (dy) => {
    const dpre = Tensor.output(shape, dtype, []).data;
    k.biasGeluBackward(dpre, bias.requiresGrad ? bias.ensureGrad() : null, dy, pre, R, outF);
    if (x.requiresGrad) {
      const dx = x.gradSink();
      gemm('gradInput', k, false, false, R, inF, outF, 1, dpre, outF, weight.data, inF, dx.accumulate ? 1 : 0, dx.grad, inF);
    }
    if (weight.requiresGrad) gemm('gradWeight', k, true, false, outF, inF, R, 1, dpre, outF, x.data, inF, 1, weight.ensureGrad(), inF);
  });
}
