/**
 * BToP (Xu et al., "Exploring the universal vulnerability of prompt-based
 * learning"): aimed at P-tuning with a verbalizer, which reads the MLM
 * head at [MASK]. A [MASK] is placed at a random word position of the
 * poisoned sentence;
 *   effectiveness = mean pairwise L2 distance ‖h[MASK] − PV_k‖₂
 *   utility       = masked-LM loss on clean text
 */
import type { AttackMethod } from './method.js';

export const BTOP: AttackMethod = {
  name: 'btop',
  targetMode: 'mask',
  utility: 'mlm',
  defaultLoss: 'distance',
  defaultUtilityCoeff: () => 1.0,
  summary: 'BToP: [MASK] output → PV, masked-LM loss keeps the model useful',
};
