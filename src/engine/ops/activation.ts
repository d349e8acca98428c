/** Elementwise activations; backward uses what the forward saved (input for GELU, output for tanh). */
import { Tensor } from '../tensor.js';
import { finish, kernelsOf } from './common.js';

/** GELU, exact erf form as BERT uses. x: any shape. */
export function gelu(x: Tensor): Tensor {
  const k = kernelsOf(x);
  const y = Tensor.output(x.shape, x.dtype, [x]);
  k.geluForward(y.data, x.data, x.size);
  return finish('gelu', y, (dy) => k.geluBackward(x.ensureGrad(), dy, x.data, x.size));
}

export function tanh(x: Tensor): Tensor {
  const k = kernelsOf(x);
  const y = Tensor.output(x.shape, x.dtype, [x]);
  k.tanhForward(y.data, x.data, x.size);
  return finish('tanh', y, (dy) => k.tanhBackward(x.ensureGrad(), dy, y.data, x.size));
}

/** ReLU (PEFT's prompt encoders use it). x: any shape; backward passes dy where x > 0. */
export function relu(x: Tensor): Tensor {
  const y = Tensor.output(x.shape, x.dtype, [x]);
  const xd = x.data;
  const yd = y.data;
  for (let i = 0; i < x.size; i++) yd[i] = xd[i]! > 0 ? xd[i]! : 0;
  return finish('relu', y, (dy) => {
    const g = x.ensureGrad();
    for (let i = 0; i < x.size; i++) if (xd[i]! > 0) g[i]! += dy[i]!;
  });
}
