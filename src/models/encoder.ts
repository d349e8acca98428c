/**
 * One post-LN encoder for the BERT family (BERT, ERNIE-2.0), RoBERTa,
 * ELECTRA, ALBERT, DeBERTa (v1, v2/v3: embeddings and disentangled
 * self-attention in deberta.ts, the output blocks here) and XLNet (its
 * content stream: whole layers in xlnet.ts), with Hugging Face's parameter
 * names (without the `bert.`/`roberta.`/`electra.`/`albert.`/`deberta.`/`transformer.` prefix):
 *   embeddings.{word,position,token_type}_embeddings.weight, embeddings.LayerNorm.*   (width E)
 *   ELECTRA with E ≠ H: embeddings_project.*;  ALBERT: encoder.embedding_hidden_mapping_in.*   (E → H)
 *   BERT, RoBERTa, ELECTRA layer i:
 *     encoder.layer.{i}.attention.self.{query,key,value}.*, encoder.layer.{i}.attention.output.{dense,LayerNorm}.*
 *     encoder.layer.{i}.intermediate.dense.*, encoder.layer.{i}.output.{dense,LayerNorm}.*
 *   ALBERT, group g, inner layer j (shared by every application of the group):
 *     encoder.albert_layer_groups.{g}.albert_layers.{j}.attention.{query,key,value,dense,LayerNorm}.*
 *     encoder.albert_layer_groups.{g}.albert_layers.{j}.{ffn,ffn_output,full_layer_layer_norm}.*
 *   DeBERTa layer i: encoder.layer.{i}.attention.self.* (see deberta.ts), then BERT's attention.output.*, intermediate.*, output.*
 *   XLNet: word_embedding.weight, mask_emb, layer.{i}.rel_attn.*, layer.{i}.ff.* (see xlnet.ts)
 *   pooler: BERT/RoBERTa pooler.dense.*, ALBERT pooler.*, ELECTRA, DeBERTa and XLNet none.
 * Shapes: B = batch, T = sequence length, E = embedding width, H = hidden size, P = prefix rows.
 */
import {
  add, addLayerNorm, attention, concatSeq, dropout, embedding, gatherRows, geluTanh, layerNorm, linear, linearGelu, reshape, tanh, Tensor,
} from '../engine/index.js';
import { type EncoderConfig, hasEmbeddingProjection, hasPoolerLayer, isDebertaType, storedLayerCount, usablePositions } from '../formats/hf-config.js';
import { Rng } from '../text/random.js';
import { DebertaParts, debertaParamShapes, type DisentangledAttention } from './deberta.js';
import { contentMask, segmentIndex, XlnetLayer, xlnetDefaultTokenTypes, xlnetParamShapes, XlnetParts } from './xlnet.js';

/** Additive mask value for blocked keys; finite so a masked score never becomes NaN. */
export const MASK_NEG = -1e9;

export interface EncoderInput {
  batch: number;
  seqLen: number;
  /** Token ids, B·T. Needed unless inputsEmbeds is given. */
  inputIds?: Int32Array;
  /** Replaces the word-embedding lookup ([B, T, H]); position/type embeddings are still added. */
  inputsEmbeds?: Tensor;
  /** 1 attends, 0 is padding; B·T (default: all ones). */
  attentionMask?: ArrayLike<number>;
  tokenTypeIds?: Int32Array;
  /** Per-layer prefix key/value rows in key space, [B, P, H] each (P-tuning v2). */
  prefix?: { keys: Tensor[]; values: Tensor[] };
  outputHiddenStates?: boolean;
  /** Enables dropout (training) with this seed; omitted = inference. */
  dropoutSeed?: number;
  /** Skip the pooler when the caller does not need it. */
  withPooler?: boolean;
  /**
   * One token index per batch row: the last layer computes only these rows
   * and lastHiddenState is [B, 1, H]. A scan reads one position per
   * sentence, and the last layer's queries, residuals and feed-forward
   * block on the other rows would be thrown away (about a fifth of a
   * 4-layer model's work, forward and backward).
   */
  outputPositions?: Int32Array;
  /**
   * Flat rows (b·T + t), strictly ascending, any number per batch row: the
   * last layer computes only these rows (its keys and values still use
   * every row) and lastHiddenState is [rows.length, H]. An MLM step reads
   * only its masked positions, ~15% of the rows, so the last layer's
   * queries, attention output, residuals and feed-forward block on the rest
   * are skipped (bert-mini MLM step: 35.2 → 30.2 GEMM GFLOP). No pooler.
   */
  outputRows?: Int32Array;
}

export interface EncoderOutput {
  lastHiddenState: Tensor;
  poolerOutput: Tensor | null;
  /** Embedding output followed by each layer's output, when asked for. */
  hiddenStates?: Tensor[];
}

type LayerField = 'q' | 'k' | 'v' | 'attnOut' | 'attnLn' | 'inter' | 'out' | 'outLn';
/** The fields after the self-attention, which every family shares (DeBERTa computes its own q, k, v). */
const BLOCK_FIELDS: readonly LayerField[] = ['attnOut', 'attnLn', 'inter', 'out', 'outLn'];

/** Each layer weight's module path inside one layer, per naming scheme. */
const LAYER_MODULES: Record<'bert' | 'albert', Record<LayerField, string>> = {
  bert: {
    q: 'attention.self.query', k: 'attention.self.key', v: 'attention.self.value',
    attnOut: 'attention.output.dense', attnLn: 'attention.output.LayerNorm',
    inter: 'intermediate.dense', out: 'output.dense', outLn: 'output.LayerNorm',
  },
  albert: {
    q: 'attention.query', k: 'attention.key', v: 'attention.value',
    attnOut: 'attention.dense', attnLn: 'attention.LayerNorm',
    inter: 'ffn', out: 'ffn_output', outLn: 'full_layer_layer_norm',
  },
};

/** The name prefix of stored layer s (ALBERT: group s / inner, inner layer s % inner). */
function storedLayerPrefix(c: EncoderConfig, s: number): string {
  if (c.modelType !== 'albert') return `encoder.layer.${s}.`;
  return `encoder.albert_layer_groups.${Math.floor(s / c.innerGroupNum)}.albert_layers.${s % c.innerGroupNum}.`;
}

/**
 * Which stored layer each application uses, in order. ALBERT applies group
 * ⌊i / (L / G)⌋ at layer i (as AlbertTransformer does) and runs the group's
 * inner layers in turn; the others apply layer i at step i.
 */
export function layerSchedule(c: EncoderConfig): number[] {
  if (c.modelType !== 'albert') return Array.from({ length: c.numHiddenLayers }, (_, i) => i);
  const out: number[] = [];
  for (let i = 0; i < c.numHiddenLayers; i++) {
    const group = Math.floor(i / (c.numHiddenLayers / c.numHiddenGroups));
    for (let j = 0; j < c.innerGroupNum; j++) out.push(group * c.innerGroupNum + j);
  }
  return out;
}

function layerShapes(c: EncoderConfig): Record<LayerField, [number[], number[]]> {
  const H = c.hiddenSize;
  const F = c.intermediateSize;
  const sq: [number[], number[]] = [[H, H], [H]];
  return { q: sq, k: sq, v: sq, attnOut: sq, attnLn: [[H], [H]], inter: [[F, H], [F]], out: [[H, F], [H]], outLn: [[H], [H]] };
}

/** Every parameter name and shape the config implies (pooler included where the family has one). */
export function encoderParamShapes(c: EncoderConfig): Map<string, number[]> {
  const H = c.hiddenSize;
  const E = c.embeddingSize;
  if (c.modelType === 'xlnet') return xlnetParamShapes(c);
  if (isDebertaType(c.modelType)) {
    const m = debertaParamShapes(c);
    const shapes = layerShapes(c);
    for (let s = 0; s < c.numHiddenLayers; s++) {
      for (const f of BLOCK_FIELDS) {
        m.set(`${storedLayerPrefix(c, s)}${LAYER_MODULES.bert[f]}.weight`, shapes[f][0]);
        m.set(`${storedLayerPrefix(c, s)}${LAYER_MODULES.bert[f]}.bias`, shapes[f][1]);
      }
    }
    return m;
  }
  const m = new Map<string, number[]>([
    ['embeddings.word_embeddings.weight', [c.vocabSize, E]],
    ['embeddings.position_embeddings.weight', [c.maxPositionEmbeddings, E]],
    ['embeddings.token_type_embeddings.weight', [c.typeVocabSize, E]],
    ['embeddings.LayerNorm.weight', [E]],
    ['embeddings.LayerNorm.bias', [E]],
  ]);
  const projection = embeddingProjectionName(c);
  if (projection) {
    m.set(`${projection}.weight`, [H, E]);
    m.set(`${projection}.bias`, [H]);
  }
  const modules = LAYER_MODULES[c.modelType === 'albert' ? 'albert' : 'bert'];
  const shapes = layerShapes(c);
  for (let s = 0; s < storedLayerCount(c); s++) {
    const p = storedLayerPrefix(c, s);
    for (const f of Object.keys(modules) as LayerField[]) {
      m.set(`${p}${modules[f]}.weight`, shapes[f][0]);
      m.set(`${p}${modules[f]}.bias`, shapes[f][1]);
    }
  }
  const pooler = poolerName(c);
  if (pooler) {
    m.set(`${pooler}.weight`, [H, H]);
    m.set(`${pooler}.bias`, [H]);
  }
  return m;
}

/** The E → H projection's module name, or null where the family has none. */
export function embeddingProjectionName(c: EncoderConfig): string | null {
  if (!hasEmbeddingProjection(c)) return null;
  return c.modelType === 'albert' ? 'encoder.embedding_hidden_mapping_in' : 'embeddings_project';
}

/** The pooler's module name (ALBERT's is a bare Linear), or null (ELECTRA). */
export function poolerName(c: EncoderConfig): string | null {
  if (!hasPoolerLayer(c)) return null;
  return c.modelType === 'albert' ? 'pooler' : 'pooler.dense';
}

/**
 * BERT's initialisation: N(0, initializer_range) weights, zero biases, unit
 * LayerNorm. XLNet's relative-attention biases (r_w_bias, r_r_bias,
 * r_s_bias) are drawn like weights, as XLNetPreTrainedModel does.
 */
export function initParam(name: string, shape: number[], std: number, rng: Rng): Tensor {
  const t = Tensor.zeros(shape, { name });
  if (name.endsWith('LayerNorm.weight') || name.endsWith('layer_norm.weight')) t.data.fill(1);
  else if (!name.endsWith('bias') || /\.r_[wrs]_bias$/.test(name)) for (let i = 0; i < t.size; i++) t.data[i] = rng.normal() * std;
  return t;
}

/** The weights after the self-attention: attention.output and the feed-forward block. */
export type BlockWeights = Pick<LayerWeights, 'attnOut' | 'attnLn' | 'inter' | 'out' | 'outLn'>;

/** A DeBERTa layer: its disentangled self-attention, then BERT's blocks. */
export interface DebertaLayer extends BlockWeights {
  attention: DisentangledAttention;
}

export interface LayerWeights {
  q: [Tensor, Tensor];
  k: [Tensor, Tensor];
  v: [Tensor, Tensor];
  attnOut: [Tensor, Tensor];
  attnLn: [Tensor, Tensor];
  inter: [Tensor, Tensor];
  out: [Tensor, Tensor];
  outLn: [Tensor, Tensor];
}

export interface LayerOptions {
  heads: number;
  eps: number;
  /** The feed-forward activation (default gelu, fused with its linear). */
  act?: EncoderConfig['hiddenAct'];
  mask: Float32Array | null;
  prefix?: { key: Tensor; value: Tensor };
  /** Hidden dropout (identity at inference). */
  drop?: (x: Tensor) => Tensor;
  /**
   * The hidden dropout as the fused residual + LayerNorm takes it: each call
   * draws the next seed (as `drop` would when applied), or returns null for
   * none. Preferred over `drop` when given.
   */
  hiddenDropout?: () => { p: number; seed: number } | null;
  attentionDropout?: { p: number; seed: number } | null;
  /** Flat rows (b·T + t) of h, the same count per batch row, that need an output; keys and values still use every row. */
  queryRows?: Int32Array;
  /** Flat rows of h, ascending, any count per batch row (offsets: B + 1, batch row b's are rows [off[b], off[b+1])); the output is [rows.length, H]. */
  raggedRows?: { rows: Int32Array; offsets: Int32Array };
}

/**
 * One post-LN transformer layer: self-attention block, then the feed-forward block. h: [B, T, H].
 * Fused where it is the same computation: dropout + residual + LayerNorm in
 * one op (addLayerNorm), the intermediate dense's bias + GELU in one
 * (linearGelu).
 */
/** Keys and values [B, P + T, H]: the layer's projections of h, after the P-tuning v2 prefix rows when there are any. */
function keysValues(L: LayerWeights, h: Tensor, prefix: LayerOptions['prefix']): { k: Tensor; v: Tensor } {
  const k = linear(h, ...L.k);
  const v = linear(h, ...L.v);
  return prefix ? { k: concatSeq(prefix.key, k), v: concatSeq(prefix.value, v) } : { k, v };
}

export function layerForward(L: LayerWeights, h: Tensor, o: LayerOptions): Tensor {
  if (!o.drop || o.hiddenDropout || o.raggedRows) return layerForwardFused(L, h, o);
  const drop = o.drop;
  const { k, v } = keysValues(L, h, o.prefix);
  const [B, T, H] = h.shape;
  const hq = o.queryRows ? reshape(gatherRows(reshape(h, [B * T, H]), o.queryRows), [B, o.queryRows.length / B, H]) : h;
  const ctx = attention(linear(hq, ...L.q), k, v, { heads: o.heads, mask: o.mask, dropout: o.attentionDropout });
  return outputBlocks(L, ctx, hq, o);
}

/**
 * attention.output (dense, dropout, residual, LayerNorm) and the
 * feed-forward block, from the attention context [.., H] and the residual
 * rows hq it was computed for.
 */
export function outputBlocks(L: BlockWeights, ctx: Tensor, hq: Tensor, o: Pick<LayerOptions, 'eps' | 'act' | 'drop' | 'hiddenDropout' | 'raggedRows'>): Tensor {
  if (!o.drop || o.hiddenDropout || o.raggedRows) {
    const dropSpec = o.hiddenDropout ?? (() => null);
    const a = addLayerNorm(linear(ctx, ...L.attnOut), hq, ...L.attnLn, o.eps, dropSpec());
    const f = linear(intermediate(L, a, o.act), ...L.out);
    return addLayerNorm(f, a, ...L.outLn, o.eps, dropSpec());
  }
  const drop = o.drop;
  const a = layerNorm(add(drop(linear(ctx, ...L.attnOut)), hq), ...L.attnLn, o.eps);
  const f = linear(intermediate(L, a, o.act), ...L.out);
  return layerNorm(add(drop(f), a), ...L.outLn, o.eps);
}

function layerForwardFused(L: LayerWeights, h: Tensor, o: LayerOptions): Tensor {
  const { k, v } = keysValues(L, h, o.prefix);
  const [B, T, H] = h.shape;
  const ragged = o.raggedRows;
  const hq = ragged
    ? gatherRows(reshape(h, [B * T, H]), ragged.rows)
    : o.queryRows ? reshape(gatherRows(reshape(h, [B * T, H]), o.queryRows), [B, o.queryRows.length / B, H]) : h;
  const ctx = attention(linear(hq, ...L.q), k, v, { heads: o.heads, mask: o.mask, dropout: o.attentionDropout, queryOffsets: ragged?.offsets });
  return outputBlocks(L, ctx, hq, { ...o, drop: undefined });
}

/** The feed-forward block's first half: act(a·W_interᵀ + b), GELU fused with its linear. */
function intermediate(L: BlockWeights, a: Tensor, act: LayerOptions['act']): Tensor {
  return act === 'gelu_new' ? geluTanh(linear(a, ...L.inter)) : linearGelu(a, ...L.inter);
}

export class Encoder {
  /** The weights of each layer application, in order (ALBERT repeats its shared ones; DeBERTa's carry their own attention; XLNet's are whole layers). */
  readonly layers: readonly (LayerWeights | DebertaLayer | XlnetLayer)[];
  /** Whether the checkpoint had a pooler (HF drops it for some MLM-only saves; ELECTRA has none). */
  readonly hasPooler: boolean;
  private readonly pooler: [Tensor, Tensor] | null;
  private readonly projection: [Tensor, Tensor] | null;
  /** DeBERTa's embeddings and relative positions; null for the other families. */
  private readonly deberta: DebertaParts | null;
  /** XLNet's layers and relative encodings; null for the other families. */
  private readonly xlnet: XlnetParts | null;

  constructor(readonly config: EncoderConfig, readonly params: Map<string, Tensor>) {
    const shapes = encoderParamShapes(config);
    const poolerModule = poolerName(config);
    this.hasPooler = poolerModule !== null && params.has(`${poolerModule}.weight`);
    for (const [name, shape] of shapes) {
      if (name.startsWith('pooler.') && !this.hasPooler) continue;
      const t = params.get(name);
      if (!t) throw new Error(`missing parameter "${name}" (expected shape [${shape.join(', ')}])`);
      if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
        throw new Error(`parameter "${name}" has shape [${t.shape.join(', ')}] but config.json implies [${shape.join(', ')}]`);
      }
    }
    const get = (n: string) => params.get(n)!;
    const pair = (n: string): [Tensor, Tensor] => [get(`${n}.weight`), get(`${n}.bias`)];
    const modules = LAYER_MODULES[config.modelType === 'albert' ? 'albert' : 'bert'];
    this.deberta = isDebertaType(config.modelType) ? new DebertaParts(config, params) : null;
    this.xlnet = config.modelType === 'xlnet' ? new XlnetParts(config, params) : null;
    const deberta = this.deberta;
    const stored: (LayerWeights | DebertaLayer | XlnetLayer)[] = this.xlnet ? this.xlnet.layers : Array.from({ length: storedLayerCount(config) }, (_, s) => {
      const p = storedLayerPrefix(config, s);
      const w = {} as LayerWeights & DebertaLayer;
      for (const f of deberta ? BLOCK_FIELDS : Object.keys(modules) as LayerField[]) w[f] = pair(`${p}${modules[f]}`);
      if (deberta) w.attention = deberta.attention[s]!;
      return w;
    });
    this.layers = layerSchedule(config).map((s) => stored[s]!);
    this.pooler = this.hasPooler ? pair(poolerModule!) : null;
    const projection = embeddingProjectionName(config);
    this.projection = projection ? pair(projection) : null;
  }

  /** A freshly initialised encoder (seeded). */
  static init(config: EncoderConfig, seed: number): Encoder {
    const rng = new Rng(seed);
    const params = new Map<string, Tensor>();
    for (const [name, shape] of encoderParamShapes(config)) params.set(name, initParam(name, shape, config.initializerRange, rng));
    return new Encoder(config, params);
  }

  get wordEmbeddings(): Tensor {
    return this.params.get(this.xlnet ? 'word_embedding.weight' : 'embeddings.word_embeddings.weight')!;
  }

  get hidden(): number {
    return this.config.hiddenSize;
  }

  /** Width of the word embeddings (E; = H except for ELECTRA and ALBERT). */
  get embeddingWidth(): number {
    return this.config.embeddingSize;
  }

  /** Freezes (false) or unfreezes every encoder parameter. */
  setTrainable(on: boolean): void {
    for (const t of this.params.values()) t.requiresGrad = on;
  }

  /** Word-embedding lookup only, [B, T, E] (the scanner splices prompts into it). */
  embedIds(ids: Int32Array, batch: number, seqLen: number): Tensor {
    return embedding(ids, [batch, seqLen], this.wordEmbeddings);
  }

  /**
   * Position ids as HF computes them. With P prefix rows (P-tuning v2's
   * past key/values) positions start after the prefix, as in HF. RoBERTa
   * counts past padding_idx and pads keep padding_idx. DeBERTa's prefix has
   * no position (see deberta.ts), so its positions start at 0 regardless.
   */
  positionIds(input: EncoderInput, P = 0): Int32Array {
    const { batch: B, seqLen: T } = input;
    const pos = new Int32Array(B * T);
    if (this.deberta) P = 0;
    if (this.config.modelType !== 'roberta') {
      for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) pos[b * T + t] = P + t;
      return pos;
    }
    const pad = this.config.padTokenId ?? 1;
    for (let b = 0; b < B; b++) {
      let run = 0;
      for (let t = 0; t < T; t++) {
        // With ids, pad tokens are found by id (as HF); with embeddings, HF numbers positions sequentially.
        const isPad = input.inputIds ? input.inputIds[b * T + t] === pad : false;
        pos[b * T + t] = isPad ? pad : pad + P + ++run;
      }
    }
    return pos;
  }

  forward(input: EncoderInput): EncoderOutput {
    const c = this.config;
    const { batch: B, seqLen: T } = input;
    const H = c.hiddenSize;
    const E = c.embeddingSize;
    const maxT = usablePositions(c);
    // A DeBERTa or XLNet prefix takes no position.
    const prefixLen = this.deberta || this.xlnet ? 0 : input.prefix?.keys[0]?.shape[1] ?? 0;
    if (T + prefixLen > maxT) {
      throw new Error(`sequence length ${T}${prefixLen ? ` + prefix ${prefixLen}` : ''} exceeds the model's position table (${maxT} usable positions)`);
    }
    let seedCounter = 0;
    const train = input.dropoutSeed !== undefined;
    const nextSeed = () => ((input.dropoutSeed! * 1000003) ^ Math.imul(++seedCounter, 0x9e3779b1)) >>> 0;
    const drop = (x: Tensor) => (train && c.hiddenDropoutProb > 0 ? dropout(x, c.hiddenDropoutProb, nextSeed()) : x);
    // The layers' hidden dropout as the fused residual + LayerNorm takes it: the same seeds in the same order.
    const hiddenDropout = () => (train && c.hiddenDropoutProb > 0 ? { p: c.hiddenDropoutProb, seed: nextSeed() } : null);

    let words: Tensor;
    if (input.inputsEmbeds) {
      const s = input.inputsEmbeds.shape;
      if (s.length !== 3 || s[0] !== B || s[1] !== T || s[2] !== E) {
        throw new Error(`inputsEmbeds must be [${B}, ${T}, ${E}], got [${s.join(', ')}]`);
      }
      words = input.inputsEmbeds;
    } else if (input.inputIds) {
      words = this.embedIds(input.inputIds, B, T);
    } else {
      throw new Error('encoder: give inputIds or inputsEmbeds');
    }
    const P = input.prefix ? input.prefix.keys[0]?.shape[1] ?? 0 : 0;
    let h: Tensor;
    if (this.xlnet) {
      // No position or type embeddings, no LayerNorm: the word embeddings, dropped out.
      h = drop(words);
    } else if (this.deberta) {
      h = this.deberta.embed(words, { batch: B, seqLen: T, tokenTypeIds: input.tokenTypeIds, attentionMask: input.attentionMask, drop });
    } else {
      const posIds = this.positionIds(input, P);
      const typeIds = input.tokenTypeIds ?? new Int32Array(B * T);
      h = add(add(words, embedding(posIds, [B, T], this.params.get('embeddings.position_embeddings.weight')!)),
        embedding(typeIds, [B, T], this.params.get('embeddings.token_type_embeddings.weight')!));
      h = drop(layerNorm(h, this.params.get('embeddings.LayerNorm.weight')!, this.params.get('embeddings.LayerNorm.bias')!, c.layerNormEps));
      if (this.projection) h = linear(h, ...this.projection);
    }

    const applied = this.layers.length;
    if (input.prefix && (input.prefix.keys.length !== applied || input.prefix.values.length !== applied)) {
      throw new Error(`prefix needs ${applied} key and value tensors, one per layer application`);
    }
    const xlnet = this.xlnet;
    // XLNet: a per-query mask (a padded query keeps its own key) instead of the key mask.
    const mask = xlnet ? contentMask(input.attentionMask, B, T, P) : this.additiveMask(input.attentionMask, B, T, P);
    const hiddenStates: Tensor[] | undefined = input.outputHiddenStates ? [h] : undefined;
    const eps = c.layerNormEps;
    const attnDrop = train && c.attentionProbsDropoutProb > 0;

    const outRows = this.outputRows(input.outputPositions, B, T);
    const ragged = this.raggedRows(input.outputRows, B, T);
    if (ragged && outRows) throw new Error('give outputPositions or outputRows, not both');
    if (ragged && (input.withPooler ?? true) && this.hasPooler) throw new Error('outputRows computes no pooler; pass withPooler: false');
    const last = this.layers.length - 1;
    const deberta = this.deberta;
    const rel = deberta?.relative(T) ?? null;
    const uniformRows = deberta && input.attentionMask ? Uint8Array.from({ length: B * T }, (_, n) => (input.attentionMask![n] ? 0 : 1)) : null;
    const xrel = xlnet?.relative(T, drop) ?? null;
    const segments = xlnet ? segmentIndex(input.tokenTypeIds ?? xlnetDefaultTokenTypes(input.attentionMask, B, T), B, T) : null;
    const embedded = h;
    this.layers.forEach((L, i) => {
      const prefix = input.prefix ? { key: input.prefix.keys[i], value: input.prefix.values[i] } : undefined;
      const attentionDropout = attnDrop ? { p: c.attentionProbsDropoutProb, seed: nextSeed() } : null;
      if (L instanceof XlnetLayer) {
        // Like DeBERTa's, every query meets every key through its relative terms: the last layer runs in full, rows are picked after.
        h = L.forward(h, xrel!, { heads: c.numAttentionHeads, eps, act: c.hiddenAct, mask, segments, prefix, attentionDropout, hiddenDropout, innerDropout: drop });
      } else if ('attention' in L) {
        // Relative positions tie every query to every key, so DeBERTa computes the last layer in full and picks rows after.
        const ctx = L.attention.forward(h, rel, { heads: c.numAttentionHeads, mask, uniformRows, prefix, attentionDropout, relativeDropout: drop });
        h = outputBlocks(L, ctx, h, { eps, act: c.hiddenAct, hiddenDropout });
        if (i === 0) h = deberta!.convAfterFirstLayer(embedded, h, input.attentionMask, drop);
      } else {
        h = layerForward(L, h, {
          queryRows: i === last ? outRows : undefined,
          raggedRows: i === last ? ragged : undefined,
          heads: c.numAttentionHeads,
          eps,
          act: c.hiddenAct,
          mask,
          prefix,
          hiddenDropout,
          attentionDropout,
        });
      }
      hiddenStates?.push(h);
    });
    // XLNet's last_hidden_state is dropout(h_L); hidden_states[-1] is before it.
    if (xlnet) h = drop(h);
    if (ragged && (this.layers.length === 0 || deberta || xlnet)) h = gatherRows(reshape(h, [B * T, H]), ragged.rows);
    if (outRows && (deberta || xlnet)) h = reshape(gatherRows(reshape(h, [B * T, H]), outRows), [B, 1, H]);

    let pooler: Tensor | null = null;
    if ((input.withPooler ?? true) && this.hasPooler) {
      if (outRows && input.outputPositions!.some((t) => t !== 0)) throw new Error('the pooler reads position 0; outputPositions must all be 0 when it is asked for');
      const Tout = h.shape[1];
      const first = gatherRows(reshape(h, [B * Tout, H]), Int32Array.from({ length: B }, (_, b) => b * Tout));
      pooler = tanh(linear(first, ...this.pooler!));
    }
    return { lastHiddenState: h, poolerOutput: pooler, hiddenStates };
  }

  private raggedRows(rows: Int32Array | undefined, B: number, T: number): { rows: Int32Array; offsets: Int32Array } | undefined {
    if (!rows) return undefined;
    const offsets = new Int32Array(B + 1);
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i]!;
      if (!Number.isInteger(r) || r < 0 || r >= B * T) throw new Error(`outputRows[${i}] = ${r} is outside the batch's ${B * T} rows`);
      if (i > 0 && r <= rows[i - 1]!) throw new Error(`outputRows must be strictly ascending (entry ${i}: ${r} after ${rows[i - 1]})`);
      offsets[Math.floor(r / T) + 1]!++;
    }
    for (let b = 0; b < B; b++) offsets[b + 1]! += offsets[b]!;
    return { rows, offsets };
  }

  private outputRows(positions: Int32Array | undefined, B: number, T: number): Int32Array | undefined {
    if (!positions) return undefined;
    if (positions.length !== B) throw new Error(`outputPositions has ${positions.length} entries, expected one per batch row (${B})`);
    return Int32Array.from(positions, (t, b) => {
      if (!Number.isInteger(t) || t < 0 || t >= T) throw new Error(`outputPositions[${b}] = ${t} is outside the sequence (0…${T - 1})`);
      return b * T + t;
    });
  }

  private additiveMask(attentionMask: ArrayLike<number> | undefined, B: number, T: number, P: number): Float32Array | null {
    if (!attentionMask && P === 0) return null;
    if (attentionMask && attentionMask.length !== B * T) {
      throw new Error(`attentionMask has ${attentionMask.length} entries, expected batch×seqLen = ${B * T}`);
    }
    const Tk = P + T;
    const m = new Float32Array(B * Tk);
    if (attentionMask) {
      for (let b = 0; b < B; b++) {
        for (let t = 0; t < T; t++) if (!attentionMask[b * T + t]) m[b * Tk + P + t] = MASK_NEG;
      }
    }
    return m;
  }
}
