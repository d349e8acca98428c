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

/**
 * GELU, tanh approximation (HF's gelu_new, ALBERT's default):
 *   y = ½x(1 + tanh(u)), u = √(2/π)(x + 0.044715x³)
 *   dy/dx = ½(1 + tanh u) + ½x(1 − tanh²u)·√(2/π)(1 + 3·0.044715x²)
 * x: any shape. Plain JS: only ALBERT-style checkpoints use it, and the
 * GEMMs around it dominate the layer's time.
 */
export function geluTanh(x: Tensor): Tensor {
  const y = Tensor.output(x.shape, x.dtype, [x]);
  const xd = x.data;
  const yd = y.data;
  const n = x.size;
  for (let i = 0; i < n; i++) {
    const v = xd[i]!;
    yd[i] = 0.5 * v * (1 + Math.tanh(SQRT_2_OVER_PI * (v + GELU_TANH_C * v * v * v)));
  }
  return finish('geluTanh', y, (dy) => {
    const g = x.ensureGrad();
    for (let i = 0; i < n; i++) {
      const v = xd[i]!;
      const t = Math.tanh(SQRT_2_OVER_PI * (v + GELU_TANH_C * v * v * v));
      g[i]! += dy[i]! * (0.5 * (1 + t) + 0.5 * v * (1 - t * t) * SQRT_2_OVER_PI * (1 + 3 * GELU_TANH_C * v * v));
    }
  });
}

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
const GELU_TANH_C = 0.044715;

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
