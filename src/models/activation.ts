/**
 * The activations a config names for one block (conv_act, pooler_hidden_act,
 * summary_activation, an MLM transform's hidden_act), applied to an output
 * already computed. The feed-forward blocks keep their fused linear + GELU.
 */
import { gelu, geluTanh, tanh, type Tensor } from '../engine/index.js';
import type { HiddenAct } from '../formats/hf-config.js';

export function activate(x: Tensor, act: 'tanh' | HiddenAct): Tensor {
  return act === 'tanh' ? tanh(x) : act === 'gelu_new' ? geluTanh(x) : gelu(x);
}
