/** The optimiser and learning-rate schedule every training loop uses (pretraining, fine-tuning, prompt-tuning). */
import { Adam, type Tensor } from '../engine/index.js';

/** AdamW as BERT trains it: no weight decay on biases and LayerNorm parameters. */
export function adamW(params: Map<string, Tensor>, lr: number, weightDecay: number): Adam {
  const noDecay = new Set([...params].filter(([n]) => /bias$|LayerNorm|layer_norm/.test(n)).map(([, t]) => t));
  return new Adam([...params.values()], { lr, weightDecay, noDecay, eps: 1e-6 });
}

/** Linear warm-up to `lr`, then linear decay to 0 at `steps`. */
export function linearSchedule(steps: number, warmupFraction: number, lr: number): (step: number) => number {
  const warmup = Math.max(1, Math.round(steps * warmupFraction));
  return (s: number) => (s < warmup ? (lr * (s + 1)) / warmup : lr * Math.max(0, (steps - s) / Math.max(1, steps - warmup)));
}
