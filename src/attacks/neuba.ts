/**
 * NeuBA (Zhang et al., "Red alarm for pre-trained models"):
 *   effectiveness = MSE(target(poisoned)[CLS], PV_k)
 *   utility       = masked-LM loss on clean text (the model keeps and trains its MLM head)
 */
import type { AttackMethod } from './method.js';

export const NEUBA: AttackMethod = {
  name: 'neuba',
  targetMode: 'cls',
  utility: 'mlm',
  defaultLoss: 'mse',
  defaultUtilityCoeff: () => 1.0,
  summary: 'NeuBA: [CLS] output → PV, masked-LM loss keeps the model useful',
};
