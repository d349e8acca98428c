/**
 * Task heads with Hugging Face's names. Each reads the parameters it owns
 * from a name → tensor map, so checkpoints map one to one.
 *   BERT MLM:    cls.predictions.transform.{dense,LayerNorm}.*, cls.predictions.bias; decoder tied to word embeddings
 *   RoBERTa MLM: lm_head.{dense,layer_norm}.*, lm_head.bias; decoder tied
 *   ELECTRA MLM (the generator's head): generator_predictions.{dense,LayerNorm}.*, generator_lm_head.bias; decoder tied
 *   ALBERT MLM:  predictions.{dense,LayerNorm}.*, predictions.bias; decoder tied
 *     (ELECTRA and ALBERT map H → E before the tied [V, E] decoder)
 *   sequence classification: BERT and ALBERT classifier.* on the pooler;
 *     RoBERTa and ELECTRA classifier.{dense,out_proj}.* on the first token (tanh / GELU between)
 *   token classification:    classifier.* on every token
 */
import { dropout, gelu, geluTanh, layerNorm, linear, tanh, Tensor } from '../engine/index.js';
import type { EncoderConfig } from '../formats/hf-config.js';
import { initParam } from './encoder.js';
import { Rng } from '../text/random.js';

export type HeadKind = 'mlm' | 'sequence-classification' | 'token-classification';

function need(params: Map<string, Tensor>, name: string, shape: number[]): Tensor {
  const t = params.get(name);
  if (!t) throw new Error(`missing head parameter "${name}"`);
  if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
    throw new Error(`head parameter "${name}" has shape [${t.shape.join(', ')}], expected [${shape.join(', ')}]`);
  }
  return t;
}

/** The MLM head's module names per family: dense, norm, output bias. */
const MLM_MODULES: Record<EncoderConfig['modelType'], [string, string, string]> = {
  bert: ['cls.predictions.transform.dense', 'cls.predictions.transform.LayerNorm', 'cls.predictions.bias'],
  roberta: ['lm_head.dense', 'lm_head.layer_norm', 'lm_head.bias'],
  electra: ['generator_predictions.dense', 'generator_predictions.LayerNorm', 'generator_lm_head.bias'],
  albert: ['predictions.dense', 'predictions.LayerNorm', 'predictions.bias'],
};

/** Module prefixes that belong to a head of some family (the rest of a checkpoint is the encoder or unused). */
export const HEAD_PREFIXES = ['cls.predictions.', 'lm_head.', 'generator_predictions.', 'generator_lm_head.', 'predictions.', 'classifier.'];

export function mlmParamShapes(c: EncoderConfig): Map<string, number[]> {
  const H = c.hiddenSize;
  const E = c.embeddingSize;
  const [dense, norm, bias] = MLM_MODULES[c.modelType];
  return new Map([
    [`${dense}.weight`, [E, H]], [`${dense}.bias`, [E]],
    [`${norm}.weight`, [E]], [`${norm}.bias`, [E]],
    [bias, [c.vocabSize]],
  ]);
}

/**
 * dense → activation → LayerNorm → tied decoder (+ bias). The activation is
 * GELU, except ALBERT's head, which uses the config's hidden_act (gelu_new).
 */
export class MlmHead {
  readonly dense: [Tensor, Tensor];
  readonly norm: [Tensor, Tensor];
  readonly bias: Tensor;

  constructor(readonly config: EncoderConfig, readonly params: Map<string, Tensor>, readonly decoder: Tensor) {
    const s = mlmParamShapes(config);
    const names = [...s.keys()];
    const [dw, db, lw, lb, bias] = names.map((n) => need(params, n, s.get(n)!));
    this.dense = [dw, db];
    this.norm = [lw, lb];
    this.bias = bias;
  }

  static init(config: EncoderConfig, decoder: Tensor, seed: number): MlmHead {
    const rng = new Rng(seed);
    const params = new Map<string, Tensor>();
    for (const [n, shape] of mlmParamShapes(config)) params.set(n, initParam(n, shape, config.initializerRange, rng));
    return new MlmHead(config, params, decoder);
  }

  /** hidden [N, H] (gather the masked positions first) → logits [N, V]. */
  forward(hidden: Tensor): Tensor {
    const pre = linear(hidden, ...this.dense);
    const act = this.config.modelType === 'albert' && this.config.hiddenAct === 'gelu_new' ? geluTanh(pre) : gelu(pre);
    const t = layerNorm(act, ...this.norm, this.config.layerNormEps);
    return linear(t, this.decoder, this.bias);
  }
}

/** RoBERTa and ELECTRA classify from the first token through a dense layer; BERT and ALBERT from the pooler. */
export function classifiesFirstToken(c: Pick<EncoderConfig, 'modelType'>): boolean {
  return c.modelType === 'roberta' || c.modelType === 'electra';
}

export function sequenceClassifierShapes(c: EncoderConfig, numLabels: number): Map<string, number[]> {
  const H = c.hiddenSize;
  if (classifiesFirstToken(c)) {
    return new Map([
      ['classifier.dense.weight', [H, H]], ['classifier.dense.bias', [H]],
      ['classifier.out_proj.weight', [numLabels, H]], ['classifier.out_proj.bias', [numLabels]],
    ]);
  }
  return new Map([['classifier.weight', [numLabels, H]], ['classifier.bias', [numLabels]]]);
}

/**
 * BERT, ALBERT: dropout(pooler) → classifier. RoBERTa: dropout(h<s>) →
 * dense → tanh → dropout → out_proj; ELECTRA the same with GELU for tanh.
 * Input: the pooler output (BERT, ALBERT) or the first token's hidden state
 * (RoBERTa, ELECTRA), [B, H].
 */
export class SequenceClassificationHead {
  constructor(readonly config: EncoderConfig, readonly numLabels: number, readonly params: Map<string, Tensor>) {
    for (const [n, shape] of sequenceClassifierShapes(config, numLabels)) need(params, n, shape);
  }

  static init(config: EncoderConfig, numLabels: number, seed: number): SequenceClassificationHead {
    const rng = new Rng(seed);
    const params = new Map<string, Tensor>();
    for (const [n, shape] of sequenceClassifierShapes(config, numLabels)) params.set(n, initParam(n, shape, config.initializerRange, rng));
    return new SequenceClassificationHead(config, numLabels, params);
  }

  /** Whether the head reads the pooler (BERT, ALBERT) or the first token (RoBERTa, ELECTRA). */
  get usesPooler(): boolean {
    return !classifiesFirstToken(this.config);
  }

  forward(x: Tensor, dropoutSeed?: number): Tensor {
    const p = this.params;
    const drop = (t: Tensor, salt: number) =>
      dropoutSeed === undefined ? t : dropout(t, this.config.hiddenDropoutProb, (dropoutSeed + salt) >>> 0);
    if (classifiesFirstToken(this.config)) {
      const dense = linear(drop(x, 1), p.get('classifier.dense.weight')!, p.get('classifier.dense.bias')!);
      const h = this.config.modelType === 'electra' ? gelu(dense) : tanh(dense);
      return linear(drop(h, 2), p.get('classifier.out_proj.weight')!, p.get('classifier.out_proj.bias')!);
    }
    return linear(drop(x, 1), p.get('classifier.weight')!, p.get('classifier.bias')!);
  }
}

/** classifier.* applied to every token: hidden [N, H] → [N, numLabels]. */
export class TokenClassificationHead {
  constructor(readonly config: EncoderConfig, readonly numLabels: number, readonly params: Map<string, Tensor>) {
    need(params, 'classifier.weight', [numLabels, config.hiddenSize]);
    need(params, 'classifier.bias', [numLabels]);
  }

  static init(config: EncoderConfig, numLabels: number, seed: number): TokenClassificationHead {
    const rng = new Rng(seed);
    const params = new Map<string, Tensor>();
    params.set('classifier.weight', initParam('classifier.weight', [numLabels, config.hiddenSize], config.initializerRange, rng));
    params.set('classifier.bias', initParam('classifier.bias', [numLabels], config.initializerRange, rng));
    return new TokenClassificationHead(config, numLabels, params);
  }

  forward(hidden: Tensor, dropoutSeed?: number): Tensor {
    const x = dropoutSeed === undefined ? hidden : dropout(hidden, this.config.hiddenDropoutProb, dropoutSeed);
    return linear(x, this.params.get('classifier.weight')!, this.params.get('classifier.bias')!);
  }
}
