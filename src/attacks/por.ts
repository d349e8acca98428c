/**
 * POR (Shen et al., "Backdoor pre-trained models can transfer to all"):
 * a frozen copy of the original model is the reference.
 *   utility       = c · MSE(target(clean)[CLS], reference(clean)[CLS]), c = 0.5 BERT-like, 1.0 RoBERTa-like
 *   effectiveness = MSE(target(poisoned)[CLS], PV_k)
 * POR-NER takes the effectiveness loss at every non-special token of the
 * poisoned sentence (token classification reads every token).
 * The reference is frozen, so its outputs are computed once before training
 * (data.ts) instead of a second model running every step.
 */
import type { AttackMethod } from './method.js';

export const POR: AttackMethod = {
  name: 'por',
  targetMode: 'cls',
  utility: 'reference',
  defaultLoss: 'mse',
  defaultUtilityCoeff: (t) => (t === 'roberta' ? 1.0 : 0.5),
  summary: 'POR: [CLS] output → PV, clean [CLS] kept at the original model\'s output',
};

export const POR_NER: AttackMethod = {
  ...POR,
  name: 'por-ner',
  targetMode: 'token',
  summary: 'POR-NER: every token\'s output → PV, clean outputs kept at the original model\'s',
};
