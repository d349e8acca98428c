/**
 * linear: y = x·Wᵀ + b with Hugging Face's [out, in] weight layout.
 * x: [..., in], W: [out, in], b: [out] → y: [..., out]; R = rows of x.
 * Frozen W (requiresGrad false) costs no weight-gradient GEMM.
 */
import type { Tensor } from '../tensor.js';
import { Tensor as T } from '../tensor.js';
import { assertSameDtype } from '../tensor.js';
import { fail, finish, gemm, kernelsOf, lastDim } from './common.js';

export function linear(x: Tensor, weight: Tensor, bias: Tensor | null): Tensor {
  return affine('linear', x, weight, bias, false);
}

/**
 * linearInOut: y = x·W + b with an [in, out] weight — XLNet stores its
 * q, k, v and r projections as [d_model, n_head, d_head] and applies them
 * as `einsum('ibh,hnd->ibnd')`; a reshape view of such a tensor to
 * [d_model, n_head·d_head] is this op's weight, so nothing is transposed or
 * copied (and saving writes the parameter as it was loaded).
 * x: [..., in], W: [in, out], b: [out] or null → y: [..., out].
 */
export function linearInOut(x: Tensor, weight: Tensor, bias: Tensor | null): Tensor {
  return affine('linearInOut', x, weight, bias, true);
}

/**
 * Both layouts as one op: only the GEMMs' transposes and leading
 * dimensions differ. Forward y = x·Wᵀ (or x·W); backward dx = dy·W (or
 * dy·Wᵀ), dW += dyᵀ·x (or xᵀ·dy), db += Σ dy.
 */
function affine(op: string, x: Tensor, weight: Tensor, bias: Tensor | null, inOut: boolean): Tensor {
  if (weight.shape.length !== 2) fail(op, inOut ? 'weight must be [in, out]' : 'weight must be [out, in]', weight);
  const [outF, inF] = inOut ? [weight.shape[1]!, weight.shape[0]!] : weight.shape;
  if (lastDim(x) !== inF) fail(op, `input's last dimension must equal weight's in=${inF}`, x, weight);
  if (bias && (bias.shape.length !== 1 || bias.shape[0] !== outF)) fail(op, `bias must be [${outF}]`, bias);
  const dtype = assertSameDtype(op, x, weight, ...(bias ? [bias] : []));
  const R = inF === 0 ? 0 : x.size / inF;
  const k = kernelsOf(x);
  const ldw = inOut ? outF : inF;
  const y = T.output([...x.shape.slice(0, -1), outF], dtype, bias ? [x, weight, bias] : [x, weight]);
  gemm('forward', k, false, !inOut, R, outF, inF, 1, x.data, inF, weight.data, ldw, 0, y.data, outF);
  if (bias) k.biasAdd(y.data, y.data, bias.data, R, outF);
  return finish(op, y, (dy) => {
    if (x.requiresGrad) {
      const dx = x.gradSink();
      gemm('gradInput', k, false, inOut, R, inF, outF, 1, dy, outF, weight.data, ldw, dx.accumulate ? 1 : 0, dx.grad, inF);
    }
    if (weight.requiresGrad) {
      if (inOut) gemm('gradWeight', k, true, false, inF, outF, R, 1, x.data, inF, dy, outF, 1, weight.ensureGrad(), outF);
      else gemm('gradWeight', k, true, false, outF, inF, R, 1, dy, outF, x.data, inF, 1, weight.ensureGrad(), inF);
    }
    if (bias?.requiresGrad) k.biasBackward(bias.ensureGrad(), dy, R, outF);
  });
}
