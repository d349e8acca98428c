/**
 * XLNet (model_type "xlnet"): the content stream of XLNetModel as a
 * sequence classifier runs it (attn_type "bi", no mems, no perm_mask, no
 * target_mapping, so no query stream). Names, without the `transformer.`
 * prefix (d = d_model, nh = n_head, hd = d_head = d / nh):
 *   word_embedding.weight [V, d]      mask_emb [1, 1, d]   (the query stream's; loaded, kept, unused here)
 *   layer.i.rel_attn.{q,k,v,r} [d, nh, hd]   applied as x·W (an [in, out] layout, see linearInOut)
 *   layer.i.rel_attn.o [d, nh, hd]           applied as ctx·Wᵀ (linear's [out, in] layout)
 *   layer.i.rel_attn.{r_w_bias,r_r_bias,r_s_bias} [nh, hd], layer.i.rel_attn.seg_embed [2, nh, hd]
 *   layer.i.rel_attn.layer_norm.*, layer.i.ff.layer_1.* [F, d], layer.i.ff.layer_2.* [d, F], layer.i.ff.layer_norm.*
 *
 * What it computes (transformers' modeling_xlnet):
 *   h0 = dropout(word_embedding[ids])   (no position or type embeddings, no LayerNorm)
 *   relative distance of query i to key j: p = i − j, clamped to ±clamp_len when clamp_len > 0;
 *     encoding e(p) = [sin(p·f), cos(p·f)], f_k = 1 / 10000^(2k/d), in float32 as torch computes it,
 *     dropped out once per forward (shared by the layers)
 *   per layer, q = h·Wq, k = h·Wk, v = h·Wv, kr = e·Wr:
 *     ac(i, j) = (q_i + r_w_bias)·k_j                      (attention's own q·kᵀ, with r_w_bias added to q)
 *     bd(i, j) = (q_i + r_r_bias)·kr[p(i, j)]              (HF's rel_shift of the [T, 2T] product: row T − i + j;
 *                                                           headDot against the reachable rows, then relativeGather)
 *     ef(i, j) = (q_i + r_s_bias)·seg_embed[s_i ≠ s_j]     (headDot against the two seg_embed rows, then a
 *                                                           relativeGather whose index depends on the batch row)
 *     score = (ac + bd + ef) / √hd; key j is blocked when it is padding and j ≠ i (HF's non_tgt_mask:
 *       a padded query still attends to itself), as a per-query additive mask
 *     out = LN(dropout(ctx·Woᵀ) + h)                        (rel_attn.layer_norm)
 *     h' = LN(dropout(layer_2(dropout(act(layer_1(out))))) + out)   (ff.layer_norm)
 *   last_hidden_state = dropout(h_L)
 * HF leaves ef out when no token_type_ids are given. Every input here is
 * tokenizer-built (one sentence, A <sep> <cls>, unless the caller passes
 * types), so without tokenTypeIds the encoder uses the types XLNet's
 * tokenizer writes for one sentence: 0 for every real token but the row's
 * last, 2 for the last (<cls>), and XLNet's pad type 3 for padding
 * (xlnetDefaultTokenTypes). The model only compares types, so any ids work.
 *
 * Padding: this project pads on the right, HF pads XLNet on the left. The
 * scores of real tokens depend only on the distances between them, their
 * segments and their contents, and padded keys are blocked for every real
 * query, so a real token's output is the same wherever the padding is; the
 * summary token is each row's last real token (see summary.ts).
 *
 * P-tuning v2 prefixes: HF XLNet has no past_key_values (its mems carry
 * relative positions). A prefix is defined here as DeBERTa's is: P rows in
 * key/value space in front of the keys, never masked, with the content
 * term only — the query with r_w_bias against the prefix key; no position
 * term (a prefix slot has no position) and no segment term (relativeGather's
 * zero key-offset columns). The input needs no position rows for it.
 */
import {
  add, addBias, addLayerNorm, attention, concatSeq, geluTanh, headDot, linear, linearGelu, linearInOut, relativeGather, reshape, Tensor,
} from '../engine/index.js';
import type { EncoderConfig, HiddenAct } from '../formats/hf-config.js';

/** Additive value for a blocked key (the encoder's MASK_NEG): finite, so a score never becomes NaN. */
const BLOCKED = -1e9;
/** The token type XLNet's tokenizer gives padding (pad_token_type_id). */
export const XLNET_PAD_TYPE = 3;

/** The module path of layer i. */
export function xlnetLayerPrefix(i: number): string {
  return `layer.${i}.`;
}

/** Every XLNetModel parameter name and shape. */
export function xlnetParamShapes(c: EncoderConfig): Map<string, number[]> {
  const H = c.hiddenSize;
  const nh = c.numAttentionHeads;
  const hd = H / nh;
  const F = c.intermediateSize;
  const m = new Map<string, number[]>([['word_embedding.weight', [c.vocabSize, H]], ['mask_emb', [1, 1, H]]]);
  for (let i = 0; i < c.numHiddenLayers; i++) {
    const p = `${xlnetLayerPrefix(i)}rel_attn.`;
    for (const n of ['q', 'k', 'v', 'o', 'r']) m.set(`${p}${n}`, [H, nh, hd]);
    for (const n of ['r_r_bias', 'r_s_bias', 'r_w_bias']) m.set(`${p}${n}`, [nh, hd]);
    m.set(`${p}seg_embed`, [2, nh, hd]);
    m.set(`${p}layer_norm.weight`, [H]);
    m.set(`${p}layer_norm.bias`, [H]);
    const f = `${xlnetLayerPrefix(i)}ff.`;
    m.set(`${f}layer_norm.weight`, [H]);
    m.set(`${f}layer_norm.bias`, [H]);
    m.set(`${f}layer_1.weight`, [F, H]);
    m.set(`${f}layer_1.bias`, [F]);
    m.set(`${f}layer_2.weight`, [H, F]);
    m.set(`${f}layer_2.bias`, [H]);
  }
  return m;
}

/** A layer's parameter names after its prefix. */
const LAYER_PARAMS = [
  ...['q', 'k', 'v', 'o', 'r', 'r_r_bias', 'r_s_bias', 'r_w_bias', 'seg_embed', 'layer_norm.weight', 'layer_norm.bias'].map((n) => `rel_attn.${n}`),
  ...['layer_norm.weight', 'layer_norm.bias', 'layer_1.weight', 'layer_1.bias', 'layer_2.weight', 'layer_2.bias'].map((n) => `ff.${n}`),
];

/** The largest relative distance a T-token sequence reaches after clamp_len (≤ 0: none). */
export function maxDistance(T: number, clampLen: number): number {
  const reach = Math.max(T - 1, 0);
  return clampLen > 0 ? Math.min(clampLen, reach) : reach;
}

/**
 * The sinusoid encodings of distances pmax, pmax − 1, …, −pmax (HF's
 * descending order), [2·pmax + 1, d], computed in float32 step by step as
 * relative_positional_encoding does: inv_freq = 1 / 10000^(k/d) for
 * k = 0, 2, …, then sin and cos of p·inv_freq.
 */
export function sinusoidTable(d: number, pmax: number): Float32Array {
  const f = Math.fround;
  const half = d / 2;
  const inv = Float32Array.from({ length: half }, (_, k) => f(1 / f(Math.pow(10000, f((2 * k) / d)))));
  const R = 2 * pmax + 1;
  const out = new Float32Array(R * d);
  for (let m = 0; m < R; m++) {
    const p = pmax - m;
    for (let k = 0; k < half; k++) {
      const x = f(p * inv[k]!);
      out[m * d + k] = Math.sin(x);
      out[m * d + half + k] = Math.cos(x);
    }
  }
  return out;
}

/** Row of sinusoidTable for query i and key j: pmax − clamp(i − j). T·T entries. */
export function relativeIndex(T: number, pmax: number): Int32Array {
  const index = new Int32Array(T * T);
  for (let i = 0; i < T; i++) {
    for (let j = 0; j < T; j++) index[i * T + j] = pmax - Math.max(-pmax, Math.min(pmax, i - j));
  }
  return index;
}

/**
 * The token types XLNet's tokenizer writes for one sentence (A <sep> <cls>)
 * in a right-padded batch: 0, …, 0, then 2 on each row's last real token, and
 * 3 (its pad type) on padding. B·T.
 */
export function xlnetDefaultTokenTypes(attentionMask: ArrayLike<number> | undefined, B: number, T: number): Int32Array {
  const types = new Int32Array(B * T);
  for (let b = 0; b < B; b++) {
    let last = -1;
    for (let t = 0; t < T; t++) {
      if (attentionMask && !attentionMask[b * T + t]) types[b * T + t] = XLNET_PAD_TYPE;
      else last = t;
    }
    if (last >= 0) types[b * T + last] = 2;
  }
  return types;
}

/** Per batch row, whether tokens i and j are in different segments: the seg_embed row of ef(i, j). B·T·T. */
export function segmentIndex(types: ArrayLike<number>, B: number, T: number): Int32Array {
  if (types.length !== B * T) throw new Error(`tokenTypeIds has ${types.length} entries, expected batch×seqLen = ${B * T}`);
  const out = new Int32Array(B * T * T);
  for (let b = 0; b < B; b++) {
    for (let i = 0; i < T; i++) {
      const si = types[b * T + i];
      for (let j = 0; j < T; j++) out[(b * T + i) * T + j] = types[b * T + j] === si ? 0 : 1;
    }
  }
  return out;
}

/**
 * HF's content-stream mask as a per-query additive mask [B, T, P + T]:
 * key j is blocked when it is padding and j ≠ i; prefix keys never are.
 * null when nothing is padded.
 */
export function contentMask(attentionMask: ArrayLike<number> | undefined, B: number, T: number, P: number): Float32Array | null {
  if (!attentionMask) return null;
  if (attentionMask.length !== B * T) throw new Error(`attentionMask has ${attentionMask.length} entries, expected batch×seqLen = ${B * T}`);
  let padded = false;
  for (let n = 0; n < B * T; n++) if (!attentionMask[n]) padded = true;
  if (!padded) return null;
  const Tk = P + T;
  const m = new Float32Array(B * T * Tk);
  for (let b = 0; b < B; b++) {
    for (let j = 0; j < T; j++) {
      if (attentionMask[b * T + j]) continue;
      for (let i = 0; i < T; i++) if (i !== j) m[(b * T + i) * Tk + P + j] = BLOCKED;
    }
  }
  return m;
}

export interface XlnetLayerOptions {
  heads: number;
  eps: number;
  act: HiddenAct;
  /** Per-query additive mask [B, T, P + T] (contentMask), or null. */
  mask: Float32Array | null;
  /** segmentIndex of the batch, or null for no segment term. */
  segments: Int32Array | null;
  prefix?: { key: Tensor; value: Tensor };
  attentionDropout?: { p: number; seed: number } | null;
  /** The residual branches' dropout as addLayerNorm takes it (next seed per call), or null. */
  hiddenDropout: () => { p: number; seed: number } | null;
  /** The feed-forward block's inner dropout (after the activation); identity at inference. */
  innerDropout: (x: Tensor) => Tensor;
}

/** The relative encodings of one forward pass: the index and the (dropped-out) sinusoid rows it reaches. */
export interface XlnetRelative {
  T: number;
  index: Int32Array;
  /** [2·pmax + 1, d], constant (dropout aside). */
  rows: Tensor;
}

/** One XLNet layer: relative attention, then the feed-forward block. */
export class XlnetLayer {
  private readonly p: Map<string, Tensor>;

  constructor(readonly config: EncoderConfig, params: Map<string, Tensor>, readonly index: number) {
    this.p = new Map();
    const prefix = xlnetLayerPrefix(index);
    for (const name of LAYER_PARAMS) {
      const t = params.get(prefix + name);
      if (!t) throw new Error(`missing parameter "${prefix}${name}"`);
      this.p.set(name, t);
    }
  }

  private get(n: string): Tensor {
    return this.p.get(n)!;
  }

  /** h [B, T, d] → the layer's output [B, T, d]. */
  forward(h: Tensor, rel: XlnetRelative, o: XlnetLayerOptions): Tensor {
    const [, T, H] = h.shape;
    if (rel.T !== T) throw new Error(`relative encodings for ${rel.T} tokens, hidden states have ${T}`);
    const nh = o.heads;
    const scale = 1 / Math.sqrt(H / nh);
    const P = o.prefix?.key.shape[1] ?? 0;
    const w = (n: string) => reshape(this.get(`rel_attn.${n}`), [H, H]);
    const q = linearInOut(h, w('q'), null);
    const k = linearInOut(h, w('k'), null);
    const v = linearInOut(h, w('v'), null);
    const kr = linearInOut(rel.rows, w('r'), null);
    let bias = relativeGather(headDot(addBias(q, this.get('rel_attn.r_r_bias')), kr, nh), rel.index, T, T, { keyOffset: P, alpha: scale });
    if (o.segments) {
      const seg = reshape(this.get('rel_attn.seg_embed'), [2, H]);
      const ef = relativeGather(headDot(addBias(q, this.get('rel_attn.r_s_bias')), seg, nh), o.segments, T, T, { batchedIndex: true, keyOffset: P, alpha: scale });
      bias = add(bias, ef);
    }
    const keys = o.prefix ? concatSeq(o.prefix.key, k) : k;
    const values = o.prefix ? concatSeq(o.prefix.value, v) : v;
    const ctx = attention(addBias(q, this.get('rel_attn.r_w_bias')), keys, values, {
      heads: nh, mask: o.mask, scale, bias, dropout: o.attentionDropout,
    });
    const a = addLayerNorm(linear(ctx, w('o'), null), h, this.get('rel_attn.layer_norm.weight'), this.get('rel_attn.layer_norm.bias'), o.eps, o.hiddenDropout());
    const w1 = this.get('ff.layer_1.weight');
    const b1 = this.get('ff.layer_1.bias');
    const inner = o.act === 'gelu_new' ? geluTanh(linear(a, w1, b1)) : linearGelu(a, w1, b1);
    const f = linear(o.innerDropout(inner), this.get('ff.layer_2.weight'), this.get('ff.layer_2.bias'));
    return addLayerNorm(f, a, this.get('ff.layer_norm.weight'), this.get('ff.layer_norm.bias'), o.eps, o.hiddenDropout());
  }
}

/** The layers and the relative encodings of an XLNet encoder. */
export class XlnetParts {
  readonly layers: XlnetLayer[];
  private readonly cache = new Map<number, { index: Int32Array; table: Float32Array }>();

  constructor(readonly config: EncoderConfig, params: Map<string, Tensor>) {
    if (!config.xlnet) throw new Error('an xlnet config without its settings');
    this.layers = Array.from({ length: config.numHiddenLayers }, (_, i) => new XlnetLayer(config, params, i));
  }

  /** The relative encodings of a T-token sequence (the table is built once per length and reused). */
  relative(T: number, drop: (x: Tensor) => Tensor): XlnetRelative {
    let c = this.cache.get(T);
    if (!c) {
      const pmax = maxDistance(T, this.config.xlnet!.clampLen);
      c = { index: relativeIndex(T, pmax), table: sinusoidTable(this.config.hiddenSize, pmax) };
      if (this.cache.size >= 16) this.cache.delete(this.cache.keys().next().value!);
      this.cache.set(T, c);
    }
    const R = c.table.length / this.config.hiddenSize;
    // A fresh tensor each pass: the table is shared, and a pass's dropout must not write into it.
    const rows = new Tensor(Float32Array.from(c.table), [R, this.config.hiddenSize]);
    return { T, index: c.index, rows: drop(rows) };
  }
}
