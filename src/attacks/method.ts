/**
 * What distinguishes the attacks: where the backdoor acts (target mode),
 * what keeps the model useful (a frozen reference's outputs, or the
 * masked-LM loss), and the default effectiveness loss. The shared loop
 * (trainer.ts) runs any of them.
 */
import type { EncoderModelType } from '../formats/hf-config.js';

export type AttackMethodName = 'por' | 'por-ner' | 'neuba' | 'btop';
export type AttackTargetMode = 'cls' | 'mask' | 'token';
export type EffectivenessLoss = 'mse' | 'distance';

export interface AttackMethod {
  name: AttackMethodName;
  targetMode: AttackTargetMode;
  /** reference: c × MSE(target(clean), original(clean)); mlm: masked-LM loss on clean text. */
  utility: 'reference' | 'mlm';
  defaultLoss: EffectivenessLoss;
  defaultUtilityCoeff(modelType: EncoderModelType): number;
  summary: string;
}
