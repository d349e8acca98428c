/**
 * Task heads with Hugging Face's names. Each reads the parameters it owns
 * from a name → tensor map, so checkpoints map one to one.
 *   BERT MLM:    cls.predictions.transform.{dense,LayerNorm}.*, cls.predictions.bias; decoder tied to word embeddings
 *   RoBERTa MLM: lm_head.{dense,layer_norm}.*, lm_head.bias; decoder tied
 *   sequence classification: BERT classifier.* on the pooler; RoBERTa classifier.{dense,out_proj}.* on <s>
 *   token classification:    classifier.* on every token
 */
import { dropout, gelu, layerNorm, linear, tanh, Tensor } from '../engine/index.js';
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

export function mlmParamShapes(c: EncoderConfig): Map<string, number[]> {
  const H = c.hiddenSize;
  if (c.modelType === 'roberta') {
    return new Map([
      ['lm_head.dense.weight', [H, H]], ['lm_head.dense.bias', [H]],
      ['lm_head.layer_norm.weight', [H]], ['lm_head.layer_norm.bias', [H]],
      ['lm_head.bias', [c.vocabSize]],
    ]);
  }
  return new Map([
    ['cls.predictions.transform.dense.weight', [H, H]], ['cls.predictions.transform.dense.bias', [H]],
    ['cls.predictions.transform.LayerNorm.weight', [H]], ['cls.predictions.transform.LayerNorm.bias', [H]],
    ['cls.predictions.bias', [c.vocabSize]],
  ]);
}

/** dense → GELU → LayerNorm → tied decoder (+ bias). */
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
    const t = layerNorm(gelu(linear(hidden, ...this.dense)), ...this.norm, this.config.layerNormEps);
    return linear(t, this.decoder, this.bias);
  }
}

export function sequenceClassifierShapes(c: EncoderConfig, numLabels: number): Map<string, number[]> {
  const H = c.hiddenSize;
  if (c.modelType === 'roberta') {
    return new Map([
      ['classifier.dense.weight', [H, H]], ['classifier.dense.bias', [H]],
      ['classifier.out_proj.weight', [numLabels, H]], ['classifier.out_proj.bias', [numLabels]],
    ]);
  }
  return new Map([['classifier.weight', [numLabels, H]], ['classifier.bias', [numLabels]]]);
}

/**
 * BERT: dropout(pooler) → classifier. RoBERTa: dropout(h<s>) → dense → tanh
 * → dropout → out_proj. Input: the pooler output (BERT) or the first
 * token's hidden state (RoBERTa), [B, H].
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

  /** Whether the head reads the pooler (BERT) or the first token (RoBERTa). */
  get usesPooler(): boolean {
    return this.config.modelType !== 'roberta';
  }

  forward(x: Tensor, dropoutSeed?: number): Tensor {
    const p = this.params;
    const drop = (t: Tensor, salt: number) =>
      dropoutSeed === undefined ? t : dropout(t, this.config.hiddenDropoutProb, (dropoutSeed + salt) >>> 0);
    if (this.config.modelType === 'roberta') {
      const h = tanh(linear(drop(x, 1), p.get('classifier.dense.weight')!, p.get('classifier.dense.bias')!));
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
