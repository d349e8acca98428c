/**
 * DeBERTa (model_type "deberta") and DeBERTa-v2/v3 ("deberta-v2"): the
 * embeddings and the disentangled self-attention. The Encoder applies the
 * rest of each layer (attention.output, intermediate, output: BERT's blocks
 * and names). Names, without the `deberta.` prefix:
 *   embeddings.word_embeddings.weight [V, E]
 *   embeddings.position_embeddings.weight [max_pos, E]   (position_biased_input only)
 *   embeddings.token_type_embeddings.weight [types, E]   (type_vocab_size > 0 only)
 *   embeddings.embed_proj.weight [H, E]                  (E ≠ H only; no bias)
 *   embeddings.LayerNorm.* [H]
 *   encoder.rel_embeddings.weight [2·span, H]            (relative_attention)
 *   encoder.LayerNorm.* [H]                              (v2, norm_rel_ebd "layer_norm")
 *   encoder.conv.conv.weight [H, H, k], .bias [H], encoder.conv.LayerNorm.* [H]   (v2, conv_kernel_size k > 0)
 *   v1 layer i: encoder.layer.i.attention.self.in_proj.weight [3H, H] (rows per head: its q, k, v),
 *               .q_bias, .v_bias [H], .pos_proj.weight [H, H] (c2p, no bias), .pos_q_proj.* (p2c)
 *   v2 layer i: encoder.layer.i.attention.self.{query,key,value}_proj.*, pos_key_proj.* (c2p),
 *               pos_query_proj.* (p2c); with share_att_key the position terms use key_proj / query_proj
 *
 * What it computes (transformers' modeling_deberta / modeling_deberta_v2):
 *   embeddings: (words + positions? + types?) → embed_proj? → LayerNorm → × attention mask → dropout
 *   relative position of query i to key j: r = i − j (v2 with buckets: HF's log buckets of r),
 *     δ(i, j) = clamp(r + span, 0, 2·span − 1), a row of rel_embeddings
 *   scores = (q_i·k_j + q_i·posK[δ] (c2p) + k_j·posQ[δ] (p2c)) / √(hd · (1 + number of terms))
 *     posK, posQ: the relative embeddings (v2: LayerNorm'd; dropped out per layer in training)
 *     through the position projections. HF writes p2c as a gather at clamp(−r(j, i) + span);
 *     the buckets are odd in r, so that is δ(i, j) again: one index serves both terms.
 *   v2's ConvLayer (xlarge/xxlarge): layer 0's output becomes
 *     LayerNorm(out₀ + act(dropout(conv(embeddings) with padded rows zeroed))) × mask
 *   the mask is HF's 2-D one (query and key both real): a real query ignores padded keys, a padded
 *     query's row is all masked, and transformers' softmax of a row filled with finfo.min is uniform
 *     over every key (transformers ≥ 4.47; older releases' XSoftmax returned zeros there instead).
 * Only the relative-position rows a sequence of length T can reach (at most 2T − 1) are projected.
 *
 * P-tuning v2 prefixes: HF DeBERTa takes no past_key_values, so a prefix is
 * defined here as P rows prepended to the content keys and values (key
 * space, as for BERT), never masked, with no relative-position terms (a
 * prefix slot has no position: its scores are q·k only) and no offset of the
 * absolute positions. That keeps P-tuning v2 usable on DeBERTa backbones
 * with the same meaning it has for BERT: extra attendable slots.
 */
import {
  add, attention, concatSeq, embedding, gatherRows, headDot, layerNorm, linear, permute, relativeGather, reshape, scaleRows, type Tensor, unfoldSeq,
} from '../engine/index.js';
import { type DebertaSettings, relativeSpan, resolvedMaxRelative } from '../formats/deberta-config.js';
import type { EncoderConfig } from '../formats/hf-config.js';
import { activate } from './activation.js';

type Pair = [Tensor, Tensor | null];

function settings(c: EncoderConfig): DebertaSettings {
  if (!c.deberta) throw new Error(`a ${c.modelType} config without DeBERTa settings`);
  return c.deberta;
}

/** Which relative terms a layer computes (none without relative_attention). */
function termsOf(s: DebertaSettings): { c2p: boolean; p2c: boolean } {
  return { c2p: s.relativeAttention && s.posAttType.includes('c2p'), p2c: s.relativeAttention && s.posAttType.includes('p2c') };
}

/** The module path of layer i's self-attention. */
export function selfAttentionPrefix(i: number): string {
  return `encoder.layer.${i}.attention.self.`;
}

/** Embedding, relative-position and self-attention parameter shapes (the Encoder adds each layer's output blocks). */
export function debertaParamShapes(c: EncoderConfig): Map<string, number[]> {
  const s = settings(c);
  const H = c.hiddenSize;
  const E = c.embeddingSize;
  const m = new Map<string, number[]>([['embeddings.word_embeddings.weight', [c.vocabSize, E]]]);
  if (s.positionBiasedInput) m.set('embeddings.position_embeddings.weight', [c.maxPositionEmbeddings, E]);
  if (c.typeVocabSize > 0) m.set('embeddings.token_type_embeddings.weight', [c.typeVocabSize, E]);
  if (E !== H) m.set('embeddings.embed_proj.weight', [H, E]);
  m.set('embeddings.LayerNorm.weight', [H]);
  m.set('embeddings.LayerNorm.bias', [H]);
  if (s.relativeAttention) m.set('encoder.rel_embeddings.weight', [2 * relativeSpan({ ...c, deberta: s }), H]);
  if (s.normRelEmbedding) {
    m.set('encoder.LayerNorm.weight', [H]);
    m.set('encoder.LayerNorm.bias', [H]);
  }
  if (s.conv) {
    m.set('encoder.conv.conv.weight', [H, H, s.conv.kernelSize]);
    m.set('encoder.conv.conv.bias', [H]);
    m.set('encoder.conv.LayerNorm.weight', [H]);
    m.set('encoder.conv.LayerNorm.bias', [H]);
  }
  const { c2p, p2c } = termsOf(s);
  const lin = (p: string, bias = true) => {
    m.set(`${p}.weight`, [H, H]);
    if (bias) m.set(`${p}.bias`, [H]);
  };
  for (let i = 0; i < c.numHiddenLayers; i++) {
    const p = selfAttentionPrefix(i);
    if (s.version === 1) {
      m.set(`${p}in_proj.weight`, [3 * H, H]);
      m.set(`${p}q_bias`, [H]);
      m.set(`${p}v_bias`, [H]);
      if (c2p) lin(`${p}pos_proj`, false);
      if (p2c) lin(`${p}pos_q_proj`);
    } else {
      for (const n of ['query_proj', 'key_proj', 'value_proj']) lin(`${p}${n}`);
      if (c2p && !s.shareAttKey) lin(`${p}pos_key_proj`);
      if (p2c && !s.shareAttKey) lin(`${p}pos_query_proj`);
    }
  }
  return m;
}

/**
 * HF's make_log_bucket_position for one relative position, in float32 as
 * torch computes it (the division, the logs, the product, the ceiling):
 * |r| ≤ buckets/2 stays r; beyond, sign(r) · (mid + ⌈log(|r|/mid) / log((max − 1)/mid) · (mid − 1)⌉).
 */
export function logBucketPosition(r: number, buckets: number, maxPosition: number): number {
  const mid = Math.floor(buckets / 2);
  const abs = r < mid && r > -mid ? mid - 1 : Math.abs(r);
  if (abs <= mid) return r;
  const f = Math.fround;
  const ratio = f(f(Math.log(f(abs / mid))) / f(Math.log(f((maxPosition - 1) / mid))));
  return Math.sign(r) * (Math.ceil(f(ratio * (mid - 1))) + mid);
}

export interface RelativeIndex {
  /** δ(i, j) − lo for query i and key j, T·T entries. */
  index: Int32Array;
  /** The first rel_embeddings row the sequence reaches, and how many it reaches. */
  lo: number;
  count: number;
}

/** δ(i, j) for a sequence of T tokens, as an index into the reachable rows [lo, lo + count). */
export function relativePositionIndex(c: EncoderConfig, T: number): RelativeIndex {
  const s = settings(c);
  const span = relativeSpan({ ...c, deberta: s });
  const buckets = s.version === 2 && s.positionBuckets > 0 ? s.positionBuckets : 0;
  const maxRel = resolvedMaxRelative({ ...c, deberta: s });
  if (T <= 0) return { index: new Int32Array(0), lo: 0, count: 0 };
  // δ depends on i − j only: one value per distance, from −(T − 1) to T − 1.
  const byDistance = Int32Array.from({ length: 2 * T - 1 }, (_, k) => {
    const r = k - (T - 1);
    const b = buckets ? logBucketPosition(r, buckets, maxRel) : r;
    return Math.min(Math.max(b + span, 0), 2 * span - 1);
  });
  let lo = Infinity;
  let hi = -Infinity;
  for (const d of byDistance) {
    lo = Math.min(lo, d);
    hi = Math.max(hi, d);
  }
  const index = new Int32Array(T * T);
  for (let i = 0; i < T; i++) for (let j = 0; j < T; j++) index[i * T + j] = byDistance[i - j + T - 1]! - lo;
  return { index, lo, count: hi - lo + 1 };
}

/** One forward pass's relative positions: the index and the (normalised) relative embeddings it reaches. */
export interface RelativeContext {
  T: number;
  index: Int32Array;
  /** [count, H]: rel_embeddings rows lo … lo + count − 1, after v2's LayerNorm. */
  rows: Tensor;
}

export interface DisentangledOptions {
  heads: number;
  /** Additive key mask [B, P + T] (padding keys blocked). */
  mask: Float32Array | null;
  /** B·T: padding query rows (uniform attention, as HF's fully masked rows). */
  uniformRows: Uint8Array | null;
  prefix?: { key: Tensor; value: Tensor };
  attentionDropout?: { p: number; seed: number } | null;
  /** The per-layer dropout of the relative embeddings (HF's pos_dropout); identity at inference. */
  relativeDropout: (x: Tensor) => Tensor;
}

/** One layer's disentangled self-attention: hidden [B, T, H] → context [B, T, H] (before attention.output). */
export class DisentangledAttention {
  private readonly v1: { inProj: Tensor; qBias: Tensor; vBias: Tensor; rows: [Int32Array, Int32Array, Int32Array] } | null;
  private readonly q: Pair | null;
  private readonly k: Pair | null;
  private readonly v: Pair | null;
  private readonly posKey: Pair | null;
  private readonly posQuery: Pair | null;
  /** 1/√(hd · (1 + relative terms)): transformers counts pos_att_type even without relative_attention. */
  readonly scale: number;

  constructor(c: EncoderConfig, params: Map<string, Tensor>, layer: number) {
    const s = settings(c);
    const p = selfAttentionPrefix(layer);
    const get = (n: string) => {
      const t = params.get(`${p}${n}`);
      if (!t) throw new Error(`missing parameter "${p}${n}"`);
      return t;
    };
    const pair = (n: string, bias = true): Pair => [get(`${n}.weight`), bias ? get(`${n}.bias`) : null];
    const { c2p, p2c } = termsOf(s);
    const H = c.hiddenSize;
    const hd = H / c.numAttentionHeads;
    this.scale = 1 / Math.sqrt(hd * (1 + s.posAttType.length));
    if (s.version === 1) {
      // in_proj's rows come per head: head h's q, k, v are rows h·3hd + [0, hd), + [hd, 2hd), + [2hd, 3hd).
      const rowsOf = (part: number) => Int32Array.from({ length: H }, (_, r) => Math.floor(r / hd) * 3 * hd + part * hd + (r % hd));
      this.v1 = { inProj: get('in_proj.weight'), qBias: get('q_bias'), vBias: get('v_bias'), rows: [rowsOf(0), rowsOf(1), rowsOf(2)] };
      this.q = this.k = this.v = null;
      this.posKey = c2p ? pair('pos_proj', false) : null;
      this.posQuery = p2c ? pair('pos_q_proj') : null;
    } else {
      this.v1 = null;
      this.q = pair('query_proj');
      this.k = pair('key_proj');
      this.v = pair('value_proj');
      this.posKey = c2p ? (s.shareAttKey ? this.k : pair('pos_key_proj')) : null;
      this.posQuery = p2c ? (s.shareAttKey ? this.q : pair('pos_query_proj')) : null;
    }
  }

  /** Content queries, keys and values [B, T, H]. */
  private project(h: Tensor): { q: Tensor; k: Tensor; v: Tensor } {
    if (this.v1) {
      const { inProj, qBias, vBias, rows } = this.v1;
      return {
        q: linear(h, gatherRows(inProj, rows[0]), qBias),
        k: linear(h, gatherRows(inProj, rows[1]), null),
        v: linear(h, gatherRows(inProj, rows[2]), vBias),
      };
    }
    return { q: linear(h, ...this.q!), k: linear(h, ...this.k!), v: linear(h, ...this.v!) };
  }

  forward(h: Tensor, rel: RelativeContext | null, o: DisentangledOptions): Tensor {
    const T = h.shape[1];
    const { q, k, v } = this.project(h);
    const P = o.prefix?.key.shape[1] ?? 0;
    let bias: Tensor | null = null;
    if (rel && (this.posKey || this.posQuery)) {
      if (rel.T !== T) throw new Error(`relative positions for ${rel.T} tokens, hidden states have ${T}`);
      const relE = o.relativeDropout(rel.rows);
      const terms: Tensor[] = [];
      if (this.posKey) terms.push(relativeGather(headDot(q, linear(relE, ...this.posKey), o.heads), rel.index, T, T, { keyOffset: P, alpha: this.scale }));
      if (this.posQuery) {
        terms.push(relativeGather(headDot(k, linear(relE, ...this.posQuery), o.heads), rel.index, T, T, { transposed: true, keyOffset: P, alpha: this.scale }));
      }
      bias = terms.length === 2 ? add(terms[0]!, terms[1]!) : terms[0]!;
    }
    const keys = o.prefix ? concatSeq(o.prefix.key, k) : k;
    const values = o.prefix ? concatSeq(o.prefix.value, v) : v;
    return attention(q, keys, values, {
      heads: o.heads, mask: o.mask, scale: this.scale, bias, uniformRows: o.uniformRows, dropout: o.attentionDropout,
    });
  }
}

export interface DebertaEmbeddingInput {
  batch: number;
  seqLen: number;
  tokenTypeIds?: Int32Array;
  attentionMask?: ArrayLike<number>;
  /** Hidden dropout (identity at inference). */
  drop: (x: Tensor) => Tensor;
}

/** The embeddings, the relative-position table and every layer's attention, read from the encoder's parameters. */
export class DebertaParts {
  readonly attention: DisentangledAttention[];
  private readonly settings: DebertaSettings;
  private readonly indexCache = new Map<number, RelativeIndex>();

  constructor(readonly config: EncoderConfig, private readonly params: Map<string, Tensor>) {
    this.settings = settings(config);
    this.attention = Array.from({ length: config.numHiddenLayers }, (_, i) => new DisentangledAttention(config, params, i));
  }

  private get(name: string): Tensor | null {
    return this.params.get(name) ?? null;
  }

  /** words [B, T, E] → the encoder's input [B, T, H]. Positions are 0 … T − 1 (a prefix has none). */
  embed(words: Tensor, o: DebertaEmbeddingInput): Tensor {
    const { batch: B, seqLen: T } = o;
    const c = this.config;
    let e = words;
    const positions = this.get('embeddings.position_embeddings.weight');
    if (positions) e = add(e, embedding(Int32Array.from({ length: B * T }, (_, n) => n % T), [B, T], positions));
    const types = this.get('embeddings.token_type_embeddings.weight');
    if (types) e = add(e, embedding(o.tokenTypeIds ?? new Int32Array(B * T), [B, T], types));
    const project = this.get('embeddings.embed_proj.weight');
    if (project) e = linear(e, project, null);
    e = layerNorm(e, this.get('embeddings.LayerNorm.weight')!, this.get('embeddings.LayerNorm.bias')!, c.layerNormEps);
    // HF multiplies by the mask: a padded position enters the encoder as zeros.
    if (o.attentionMask) e = scaleRows(e, o.attentionMask);
    return o.drop(e);
  }

  /**
   * v2's ConvLayer, applied to layer 0's output: `embedded` is the encoder's
   * input [B, T, H] (the conv's input), `layerOut` layer 0's output (its
   * residual). Without conv_kernel_size, layerOut unchanged.
   */
  convAfterFirstLayer(embedded: Tensor, layerOut: Tensor, attentionMask: ArrayLike<number> | undefined, drop: (x: Tensor) => Tensor): Tensor {
    const conv = this.settings.conv;
    if (!conv) return layerOut;
    const H = this.config.hiddenSize;
    const k = conv.kernelSize;
    // Conv1d(H, H, k, padding (k − 1) // 2) as a linear layer over the windows: weight [H, H, k] → [H, k·H].
    const weight = reshape(permute(this.get('encoder.conv.conv.weight')!, [0, 2, 1]), [H, k * H]);
    let out = linear(unfoldSeq(embedded, k), weight, this.get('encoder.conv.conv.bias')!);
    if (attentionMask) out = scaleRows(out, attentionMask);
    const normed = layerNorm(add(layerOut, activate(drop(out), conv.act)), this.get('encoder.conv.LayerNorm.weight')!, this.get('encoder.conv.LayerNorm.bias')!, this.config.layerNormEps);
    return attentionMask ? scaleRows(normed, attentionMask) : normed;
  }

  /** The relative positions of a T-token sequence, or null without relative_attention. */
  relative(T: number): RelativeContext | null {
    if (!this.settings.relativeAttention) return null;
    let idx = this.indexCache.get(T);
    if (!idx) {
      idx = relativePositionIndex(this.config, T);
      if (this.indexCache.size >= 16) this.indexCache.delete(this.indexCache.keys().next().value!);
      this.indexCache.set(T, idx);
    }
    const table = this.get('encoder.rel_embeddings.weight')!;
    let rows = gatherRows(table, Int32Array.from({ length: idx.count }, (_, r) => idx!.lo + r));
    // The LayerNorm is row-wise, so normalising only the reachable rows is HF's normalised table, sliced.
    const w = this.get('encoder.LayerNorm.weight');
    if (this.settings.normRelEmbedding && w) rows = layerNorm(rows, w, this.get('encoder.LayerNorm.bias')!, this.config.layerNormEps);
    return { T, index: idx.index, rows };
  }
}
