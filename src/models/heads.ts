/**
 * Task heads with Hugging Face's names. Each reads the parameters it owns
 * from a name → tensor map, so checkpoints map one to one.
 *   BERT MLM:    cls.predictions.transform.{dense,LayerNorm}.*, cls.predictions.bias; decoder tied to word embeddings
 *   RoBERTa MLM: lm_head.{dense,layer_norm}.*, lm_head.bias; decoder tied
 *   ELECTRA MLM (the generator's head): generator_predictions.{dense,LayerNorm}.*, generator_lm_head.bias; decoder tied
 *   ALBERT MLM:  predictions.{dense,LayerNorm}.*, predictions.bias; decoder tied
 *   DeBERTa MLM: cls.predictions.transform.{dense,LayerNorm}.*, cls.predictions.bias (transformers' legacy
 *     head, its default) or lm_predictions.lm_head.{dense,LayerNorm}.*, lm_predictions.lm_head.bias (the
 *     original checkpoints and legacy: false; H = E only); decoder tied
 *     (ELECTRA, ALBERT and DeBERTa's legacy head map H → E before the tied [V, E] decoder)
 *   XLNet LM:    lm_loss.bias; logits = h·word_embeddingᵀ + b, no transform (XLNetLMHeadModel's lm_loss,
 *     tied; here it scores the content stream's outputs, so masked-LM uses of it see <mask> tokens)
 *   sequence classification: BERT and ALBERT classifier.* on the pooler;
 *     RoBERTa and ELECTRA classifier.{dense,out_proj}.* on the first token (tanh / GELU between);
 *     DeBERTa pooler.dense.* (its ContextPooler: first token, dense, pooler_hidden_act) then classifier.*;
 *     XLNet sequence_summary.summary.* (on the summary token, the last: see summary.ts) then logits_proj.*
 *   token classification:    classifier.* on every token
 */
import { dropout, layerNorm, linear, Tensor } from '../engine/index.js';
import { type EncoderConfig, isDebertaType } from '../formats/hf-config.js';
import { activate } from './activation.js';
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

/** An MLM head's module names: dense, norm, output bias (XLNet's lm_loss has no dense and no norm). */
type MlmNames = [dense: string | null, norm: string | null, bias: string];

const BERT_MLM: MlmNames = ['cls.predictions.transform.dense', 'cls.predictions.transform.LayerNorm', 'cls.predictions.bias'];
/** DeBERTa's other head (DebertaLMPredictionHead): dense H → H, so only for E = H. */
const DEBERTA_LM_PREDICTIONS: MlmNames = ['lm_predictions.lm_head.dense', 'lm_predictions.lm_head.LayerNorm', 'lm_predictions.lm_head.bias'];

/** The MLM head's names per family; the first is what a new head gets. */
const MLM_MODULES: Record<EncoderConfig['modelType'], MlmNames[]> = {
  bert: [BERT_MLM],
  roberta: [['lm_head.dense', 'lm_head.layer_norm', 'lm_head.bias']],
  electra: [['generator_predictions.dense', 'generator_predictions.LayerNorm', 'generator_lm_head.bias']],
  albert: [['predictions.dense', 'predictions.LayerNorm', 'predictions.bias']],
  deberta: [BERT_MLM, DEBERTA_LM_PREDICTIONS],
  'deberta-v2': [BERT_MLM, DEBERTA_LM_PREDICTIONS],
  xlnet: [[null, null, 'lm_loss.bias']],
};

/** Module prefixes that belong to a head of some family (the rest of a checkpoint is the encoder or unused). */
export const HEAD_PREFIXES = ['cls.predictions.', 'lm_head.', 'generator_predictions.', 'generator_lm_head.', 'predictions.', 'classifier.'];

/**
 * The head prefixes of this family: DeBERTa's other MLM head and its
 * classification ContextPooler (`pooler.dense`) too; XLNet's lm_loss, its
 * SequenceSummary and logits_proj (its token classifier is classifier.*).
 */
export function headPrefixes(c: Pick<EncoderConfig, 'modelType'>): string[] {
  if (c.modelType === 'xlnet') return ['lm_loss.', 'sequence_summary.', 'logits_proj.', 'classifier.'];
  return isDebertaType(c.modelType) ? [...HEAD_PREFIXES, 'lm_predictions.lm_head.', 'pooler.dense.'] : HEAD_PREFIXES;
}

/**
 * The MLM naming schemes a family's checkpoints use, in order of preference
 * for a new head. DeBERTa has two (transformers has switched between them;
 * `legacy: false` in config.json asks for lm_predictions); the second
 * needs E = H.
 */
export function mlmSchemes(c: EncoderConfig): number[] {
  const all = MLM_MODULES[c.modelType];
  const usable = all.map((_, i) => i).filter((i) => all[i] !== DEBERTA_LM_PREDICTIONS || c.embeddingSize === c.hiddenSize);
  if (isDebertaType(c.modelType) && c.raw['legacy'] === false && usable.length > 1) usable.reverse();
  return usable;
}

/**
 * The config that names a DeBERTa checkpoint's MLM head as transformers
 * (≥ 4.47) reads it: `legacy` true (the default) for cls.predictions,
 * false for lm_predictions. Other families, and a config that already
 * agrees, come back unchanged.
 */
export function withMlmScheme(c: EncoderConfig, scheme: number): EncoderConfig {
  if (!isDebertaType(c.modelType) || mlmSchemes(c)[0] === scheme) return c;
  const lmPredictions = MLM_MODULES[c.modelType][scheme] === DEBERTA_LM_PREDICTIONS;
  return { ...c, raw: { ...c.raw, legacy: !lmPredictions } };
}

export function mlmParamShapes(c: EncoderConfig, scheme = mlmSchemes(c)[0]!): Map<string, number[]> {
  const H = c.hiddenSize;
  const E = c.embeddingSize;
  const names = MLM_MODULES[c.modelType][scheme];
  if (!names) throw new Error(`no MLM naming scheme ${scheme} for ${c.modelType}`);
  const [dense, norm, bias] = names;
  if (dense === null || norm === null) return new Map([[bias, [c.vocabSize]]]);
  return new Map([
    [`${dense}.weight`, [E, H]], [`${dense}.bias`, [E]],
    [`${norm}.weight`, [E]], [`${norm}.bias`, [E]],
    [bias, [c.vocabSize]],
  ]);
}

/**
 * dense → activation → LayerNorm → tied decoder (+ bias). The activation is
 * GELU, except ALBERT's and DeBERTa's heads, which use the config's hidden_act.
 * XLNet's lm_loss is the tied decoder (+ bias) alone: dense and norm are null.
 */
export class MlmHead {
  readonly dense: [Tensor, Tensor] | null;
  readonly norm: [Tensor, Tensor] | null;
  readonly bias: Tensor;

  /** `scheme`: which of the family's naming schemes the params use (see mlmSchemes). */
  constructor(readonly config: EncoderConfig, readonly params: Map<string, Tensor>, readonly decoder: Tensor, scheme?: number) {
    const s = mlmParamShapes(config, scheme);
    const names = [...s.keys()];
    const got = names.map((n) => need(params, n, s.get(n)!));
    if (got.length === 1) {
      this.dense = this.norm = null;
      this.bias = got[0]!;
    } else {
      const [dw, db, lw, lb, bias] = got;
      this.dense = [dw!, db!];
      this.norm = [lw!, lb!];
      this.bias = bias!;
    }
  }

  static init(config: EncoderConfig, decoder: Tensor, seed: number): MlmHead {
    const rng = new Rng(seed);
    const params = new Map<string, Tensor>();
    for (const [n, shape] of mlmParamShapes(config)) params.set(n, initParam(n, shape, config.initializerRange, rng));
    return new MlmHead(config, params, decoder);
  }

  /** The rows the decoder scores: dense → activation → LayerNorm of hidden [N, H] → [N, E] (XLNet: hidden itself). */
  transform(hidden: Tensor): Tensor {
    if (!this.dense || !this.norm) return hidden;
    const pre = linear(hidden, ...this.dense);
    const ownAct = this.config.modelType === 'albert' || isDebertaType(this.config.modelType);
    return layerNorm(activate(pre, ownAct ? this.config.hiddenAct : 'gelu'), ...this.norm, this.config.layerNormEps);
  }

  /** hidden [N, H] (gather the masked positions first) → logits [N, V]. */
  forward(hidden: Tensor): Tensor {
    return linear(this.transform(hidden), this.decoder, this.bias);
  }
}

/**
 * RoBERTa, ELECTRA and DeBERTa classify from the first token through a
 * dense layer, XLNet from its summary token (the last: summary.ts); BERT
 * and ALBERT from the pooler. True: the head reads the summary token's
 * hidden state (summaryPositions), not the pooler.
 */
export function classifiesFirstToken(c: Pick<EncoderConfig, 'modelType'>): boolean {
  return c.modelType === 'roberta' || c.modelType === 'electra' || c.modelType === 'xlnet' || isDebertaType(c.modelType);
}

/** The name of a sequence classifier's output weight (its rows are the labels). */
export function sequenceClassifierOutput(c: Pick<EncoderConfig, 'modelType'>): string {
  if (c.modelType === 'xlnet') return 'logits_proj.weight';
  return c.modelType === 'roberta' || c.modelType === 'electra' ? 'classifier.out_proj.weight' : 'classifier.weight';
}

export function sequenceClassifierShapes(c: EncoderConfig, numLabels: number): Map<string, number[]> {
  const H = c.hiddenSize;
  if (c.xlnet) {
    const m = new Map<string, number[]>();
    if (c.xlnet.summaryUseProj) m.set('sequence_summary.summary.weight', [H, H]).set('sequence_summary.summary.bias', [H]);
    return m.set('logits_proj.weight', [numLabels, H]).set('logits_proj.bias', [numLabels]);
  }
  if (isDebertaType(c.modelType)) {
    return new Map([
      ['pooler.dense.weight', [H, H]], ['pooler.dense.bias', [H]],
      ['classifier.weight', [numLabels, H]], ['classifier.bias', [numLabels]],
    ]);
  }
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
 * DeBERTa: dropout(h[CLS]; pooler_dropout) → pooler.dense → pooler_hidden_act
 * → dropout(cls_dropout, else hidden_dropout_prob) → classifier.
 * XLNet (SequenceSummary): dropout(h<cls>; summary_first_dropout) →
 * sequence_summary.summary (summary_use_proj) → summary_activation →
 * dropout(summary_last_dropout) → logits_proj.
 * Input: the pooler output (BERT, ALBERT) or the first token's hidden state
 * (RoBERTa, ELECTRA, DeBERTa), [B, H].
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

  /** Whether the head reads the pooler (BERT, ALBERT) or the summary token (RoBERTa, ELECTRA, DeBERTa: the first; XLNet: the last). */
  get usesPooler(): boolean {
    return !classifiesFirstToken(this.config);
  }

  forward(x: Tensor, dropoutSeed?: number): Tensor {
    const p = this.params;
    const drop = (t: Tensor, salt: number, p = this.config.hiddenDropoutProb) =>
      dropoutSeed === undefined ? t : dropout(t, p, (dropoutSeed + salt) >>> 0);
    const xl = this.config.xlnet;
    if (xl) {
      let h = drop(x, 1, xl.summaryFirstDropout);
      if (xl.summaryUseProj) h = linear(h, p.get('sequence_summary.summary.weight')!, p.get('sequence_summary.summary.bias')!);
      if (xl.summaryActivation) h = activate(h, xl.summaryActivation);
      return linear(drop(h, 2, xl.summaryLastDropout), p.get('logits_proj.weight')!, p.get('logits_proj.bias')!);
    }
    const deberta = this.config.deberta;
    if (deberta) {
      const pre = linear(drop(x, 1, deberta.poolerDropout), p.get('pooler.dense.weight')!, p.get('pooler.dense.bias')!);
      const pooled = activate(pre, deberta.poolerHiddenAct);
      const clsDropout = this.config.raw['cls_dropout'];
      const pc = typeof clsDropout === 'number' && clsDropout >= 0 && clsDropout < 1 ? clsDropout : this.config.hiddenDropoutProb;
      return linear(drop(pooled, 2, pc), p.get('classifier.weight')!, p.get('classifier.bias')!);
    }
    if (classifiesFirstToken(this.config)) {
      const dense = linear(drop(x, 1), p.get('classifier.dense.weight')!, p.get('classifier.dense.bias')!);
      const h = activate(dense, this.config.modelType === 'electra' ? 'gelu' : 'tanh');
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
