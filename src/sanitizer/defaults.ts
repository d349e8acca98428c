/**
 * Default hyper-parameters per model family and purpose, from the paper's
 * appendix G (ALGORITHM.md step I.5). The table lists the *initial* rate
 * (lr × 100); we store the base lr.
 *
 * Small self-pretrained models (hidden < 768) are not in the paper: their
 * values were tuned on shadow models, as the paper does (see SMALL below).
 */
import type { EncoderConfig } from '../formats/hf-config.js';

export interface FamilyDefaults {
  family: string;
  lr: number;
  distanceTh: number;
  converGrad: number;
  provenance: string;
}

/**
 * Small zoo models (bert-micro, bert-mini, roberta-mini). Provenance:
 * ALGORITHM.md's feasibility run on a 4×256 BERT (paper BERT settings:
 * initial lr 2e-3, distanceTh 0.2, converGrad 5e-3 — clean models stayed at
 * distance −0.06…−0.17, POR reached −1.58…−1.85) and our own shadow runs on
 * POR-backdoored bert-micro copies (see README "Tuning").
 */
const SMALL: FamilyDefaults = {
  family: 'small (hidden < 768; tuned on shadow models)',
  lr: 2e-5,
  distanceTh: 0.2,
  converGrad: 5e-3,
  provenance: 'ALGORITHM.md feasibility run (4×256 BERT) + POR shadow models on the zoo',
};

export function defaultsFor(c: EncoderConfig, purpose: 'scan' | 'search'): FamilyDefaults {
  const roberta = c.modelType === 'roberta';
  if (c.hiddenSize < 768) return SMALL;
  if (c.hiddenSize >= 1024) {
    return roberta
      ? { family: 'RoBERTa-large', lr: 2e-4, distanceTh: 0.1, converGrad: 5e-3, provenance: 'paper appendix G' }
      : { family: 'BERT-large', lr: purpose === 'scan' ? 2e-5 : 5e-5, distanceTh: 0.2, converGrad: 5e-3, provenance: 'paper appendix G' };
  }
  if (roberta) {
    return { family: 'RoBERTa-base', lr: 2e-4, distanceTh: purpose === 'scan' ? 0.5 : 0.1, converGrad: 5e-3, provenance: 'paper appendix G' };
  }
  if (c.sourceModelType === 'ernie') {
    return { family: 'ERNIE-2.0', lr: 5e-5, distanceTh: 0.2, converGrad: 5e-3, provenance: 'paper appendix G' };
  }
  return { family: 'BERT-base', lr: purpose === 'scan' ? 2e-5 : 5e-5, distanceTh: 0.2, converGrad: 5e-3, provenance: 'paper appendix G' };
}
