/**
 * The config switches of DeBERTa (model_type "deberta") and DeBERTa-v2
 * ("deberta-v2", which DeBERTa-v3 checkpoints use), read as transformers'
 * DebertaConfig / DebertaV2Config and modeling code read them:
 *
 *   relative_attention        false   disentangled attention over relative positions (encoder.rel_embeddings)
 *   max_relative_positions    -1      values < 1 mean max_position_embeddings
 *   position_buckets (v2)     -1      log-bucketed relative positions; <= 0 means none
 *   pos_att_type              none    "c2p|p2c" string (lower-cased, split on |) or a list; scale 1/√(hd·(1 + terms))
 *   position_biased_input     true    absolute position embeddings added to the input
 *   share_att_key (v2)        false   position projections reuse query_proj / key_proj
 *   norm_rel_ebd (v2)         "none"  "layer_norm": encoder.LayerNorm on the relative embeddings
 *   conv_kernel_size (v2)     0       > 0 adds v2's ConvLayer after the first layer (deberta-v2-xlarge/xxlarge):
 *                                     encoder.conv.conv [H, H, k] over the embeddings, masked, conv_act
 *                                     ("tanh" by default), added to layer 0's output and LayerNorm'd;
 *                                     odd k only (HF's padding (k − 1) // 2 gives T − 1 outputs for even k)
 *   conv_groups (v2)          1       only 1 (a grouped ConvLayer is refused: no published checkpoint has one)
 *   pooler_hidden_size / _act / pooler_dropout: the ContextPooler of the classification heads
 *
 * v1-only keys in a v2 config and v2-only keys in a v1 config are ignored,
 * as transformers ignores them. What transformers would compute differently
 * from us is refused, one FormatError line per problem: "p2p" and unknown
 * relative terms (v1 would count them in its score scale), ConvLayer,
 * talking heads, an attention_head_size other than H / heads.
 */
import { describeJsonValue, quote } from './errors.js';
import type { EncoderConfig, HiddenAct } from './hf-config.js';

export type RelativeTerm = 'c2p' | 'p2c';

/** The activations transformers' ConvLayer may apply (its conv_act) that are implemented here. */
export type ConvAct = 'tanh' | HiddenAct;

/** DeBERTa-v2's ConvLayer (encoder.conv): a Conv1d of odd width over the embeddings, after the first layer. */
export interface DebertaConv {
  kernelSize: number;
  /** conv_act as written ("tanh" when absent), resolved. */
  act: ConvAct;
}

export interface DebertaSettings {
  /** 1: "deberta" (in_proj + q_bias/v_bias, pos_proj, pos_q_proj); 2: "deberta-v2" (query/key/value_proj, buckets, shared keys). */
  version: 1 | 2;
  relativeAttention: boolean;
  /** As written; values < 1 mean max_position_embeddings (see resolvedMaxRelative). */
  maxRelativePositions: number;
  /** v2's log-bucket count as written; <= 0 (and always for v1) means none. */
  positionBuckets: number;
  /** The relative terms, in the config's order, each at most once. */
  posAttType: RelativeTerm[];
  positionBiasedInput: boolean;
  /** v2: c2p/p2c project the relative embeddings with key_proj/query_proj instead of pos_key_proj/pos_query_proj. */
  shareAttKey: boolean;
  /** v2: norm_rel_ebd has "layer_norm" (encoder.LayerNorm over the relative embeddings). */
  normRelEmbedding: boolean;
  poolerHiddenAct: HiddenAct;
  poolerDropout: number;
  /** v2's ConvLayer (conv_kernel_size > 0), else null. */
  conv: DebertaConv | null;
}

/** Widest ConvLayer kernel accepted (deberta-v2-xlarge/xxlarge use 3); bounds the unfolded activations. */
export const MAX_CONV_KERNEL = 63;

type Fail = (problem: string) => never;

/** What the parser needs from the rest of the config. */
interface Context {
  version: 1 | 2;
  hiddenSize: number;
  numAttentionHeads: number;
  maxPositionEmbeddings: number;
  /** Upper bound for position counts (CONFIG_LIMITS.maxPositionEmbeddings). */
  positionLimit: number;
  /** hidden_act names → the activation, as hf-config resolves hidden_act. */
  activation: (name: unknown) => HiddenAct | undefined;
  activationNames: string;
}

const TERMS: readonly RelativeTerm[] = ['c2p', 'p2c'];

export function parseDebertaSettings(json: Record<string, unknown>, cx: Context, fail: Fail): DebertaSettings {
  const v2 = cx.version === 2;
  const bool = (key: string, dflt: boolean): boolean => {
    const v = json[key];
    if (v === undefined || v === null) return dflt;
    if (typeof v !== 'boolean') fail(`"${key}" is ${describeJsonValue(v)}, expected true or false`);
    return v as boolean;
  };
  const int = (key: string, dflt: number, min: number, max: number, note = ''): number => {
    const v = json[key];
    if (v === undefined || v === null) return dflt;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      fail(`"${key}" is ${describeJsonValue(v)}; expected an integer from ${min.toLocaleString('en-US')} to ${max.toLocaleString('en-US')}${note}`);
    }
    return v as number;
  };

  if (!v2 && json['talking_head'] !== undefined && json['talking_head'] !== false) {
    fail(`"talking_head": ${describeJsonValue(json['talking_head'])} is not supported (DeBERTa's talking-head projections are not implemented)`);
  }
  let conv: DebertaConv | null = null;
  if (v2) {
    const kernelSize = int('conv_kernel_size', 0, -cx.positionLimit, MAX_CONV_KERNEL);
    if (kernelSize > 0) {
      if (kernelSize % 2 === 0) fail(`"conv_kernel_size" ${kernelSize} is even: transformers' ConvLayer pads (k - 1) // 2 per side, so it would return one position fewer than its input and fail; expected an odd size`);
      const groups = int('conv_groups', 1, 1, cx.hiddenSize);
      if (groups !== 1) fail(`"conv_groups" ${groups}: a grouped ConvLayer is not implemented (only 1; no published DeBERTa-v2 checkpoint uses groups)`);
      const actName = json['conv_act'] ?? 'tanh';
      const act: ConvAct | undefined = actName === 'tanh' ? 'tanh' : cx.activation(actName);
      if (!act) fail(`unsupported conv_act ${typeof actName === 'string' ? quote(actName) : describeJsonValue(actName)}; supported: "tanh", ${cx.activationNames}`);
      conv = { kernelSize, act: act! };
    }
    const hs = json['attention_head_size'];
    if (hs !== undefined && hs !== cx.hiddenSize / cx.numAttentionHeads) {
      fail(`"attention_head_size" is ${describeJsonValue(hs)}; only hidden_size / num_attention_heads = ${cx.hiddenSize / cx.numAttentionHeads} is supported`);
    }
  }
  const relativeAttention = bool('relative_attention', false);
  const lim = cx.positionLimit;
  const maxRelativePositions = int('max_relative_positions', -1, -lim, lim, ' (values below 1 mean max_position_embeddings)');
  const maxRel = maxRelativePositions < 1 ? cx.maxPositionEmbeddings : maxRelativePositions;
  const positionBuckets = v2 ? int('position_buckets', -1, -lim, lim, ' (values below 1 mean no buckets)') : -1;
  if (positionBuckets > 0) {
    // make_log_bucket_position divides by mid = buckets // 2 and by log((max_relative - 1) / mid).
    const mid = Math.floor(positionBuckets / 2);
    if (mid < 1 || mid >= maxRel - 1) {
      fail(`"position_buckets" ${positionBuckets} needs 2 <= position_buckets and position_buckets / 2 < max_relative_positions - 1 = ${maxRel - 1} (the log buckets divide by log((max_relative_positions - 1) / (position_buckets / 2)))`);
    }
  }
  const pooled = json['pooler_hidden_size'];
  if (pooled !== undefined && pooled !== cx.hiddenSize) {
    fail(`"pooler_hidden_size" is ${describeJsonValue(pooled)}; the classification head's ContextPooler must be hidden_size = ${cx.hiddenSize} wide`);
  }
  const actName = json['pooler_hidden_act'] ?? 'gelu';
  const poolerHiddenAct = cx.activation(actName);
  if (!poolerHiddenAct) fail(`unsupported pooler_hidden_act ${typeof actName === 'string' ? quote(actName) : describeJsonValue(actName)}; supported: ${cx.activationNames}`);
  const poolerDropout = json['pooler_dropout'] ?? 0;
  if (typeof poolerDropout !== 'number' || !(poolerDropout >= 0 && poolerDropout < 1)) {
    fail(`"pooler_dropout" is ${describeJsonValue(poolerDropout)}; expected a probability in [0, 1)`);
  }
  return {
    version: cx.version,
    relativeAttention,
    maxRelativePositions,
    positionBuckets,
    posAttType: parseTerms(json['pos_att_type'], fail),
    positionBiasedInput: bool('position_biased_input', true),
    shareAttKey: v2 ? bool('share_att_key', false) : false,
    normRelEmbedding: v2 ? parseNormRelEmbedding(json['norm_rel_ebd'], fail) : false,
    poolerHiddenAct: poolerHiddenAct!,
    poolerDropout: poolerDropout as number,
    conv,
  };
}

/** pos_att_type: null/absent = none; a string is lower-cased and split on "|" (as the config class does), a list is taken as is. */
function parseTerms(v: unknown, fail: Fail): RelativeTerm[] {
  if (v === undefined || v === null) return [];
  let entries: unknown[];
  if (typeof v === 'string') entries = v.toLowerCase().split('|').map((x) => x.trim());
  else if (Array.isArray(v)) entries = v;
  else return fail(`"pos_att_type" is ${describeJsonValue(v)}, expected a string such as "c2p|p2c" or a list of "c2p" / "p2c"`);
  const out: RelativeTerm[] = [];
  for (const e of entries) {
    if (typeof e !== 'string') fail(`"pos_att_type" has an entry that is ${describeJsonValue(e)}, expected "c2p" or "p2c"`);
    const t = e as string;
    if (!(TERMS as readonly string[]).includes(t)) {
      const why = t === 'p2p' ? ' (position-to-position is in the paper, but transformers never computes it, and DeBERTa (v1) would still count it in its score scale)' : '';
      fail(`"pos_att_type" has ${quote(t)}${why}; supported: "c2p", "p2c"`);
    }
    if (out.includes(t as RelativeTerm)) fail(`"pos_att_type" lists ${quote(t)} twice (DeBERTa (v1) counts entries in its score scale)`);
    out.push(t as RelativeTerm);
  }
  return out;
}

function parseNormRelEmbedding(v: unknown, fail: Fail): boolean {
  if (v === undefined || v === null) return false;
  if (typeof v !== 'string') return fail(`"norm_rel_ebd" is ${describeJsonValue(v)}, expected "layer_norm" or "none"`);
  const parts = v.toLowerCase().split('|').map((x) => x.trim());
  for (const p of parts) if (p !== 'layer_norm' && p !== 'none') fail(`"norm_rel_ebd" has ${quote(p)}; supported: "layer_norm", "none"`);
  return parts.includes('layer_norm');
}

/** max_relative_positions as the modeling code uses it (< 1 → max_position_embeddings). */
export function resolvedMaxRelative(c: Pick<EncoderConfig, 'maxPositionEmbeddings'> & { deberta: DebertaSettings }): number {
  const m = c.deberta.maxRelativePositions;
  return m < 1 ? c.maxPositionEmbeddings : m;
}

/** The attention span: relative positions run over [-span, span); rel_embeddings has 2·span rows. */
export function relativeSpan(c: Pick<EncoderConfig, 'maxPositionEmbeddings'> & { deberta: DebertaSettings }): number {
  const d = c.deberta;
  return d.version === 2 && d.positionBuckets > 0 ? d.positionBuckets : resolvedMaxRelative(c);
}

/** config.json entries for the switches, in the form transformers reads and writes them (pos_att_type as a list). */
export function debertaConfigEntries(s: DebertaSettings, hiddenSize: number): [string, unknown][] {
  const out: [string, unknown][] = [
    ['relative_attention', s.relativeAttention],
    ['max_relative_positions', s.maxRelativePositions],
    ['position_biased_input', s.positionBiasedInput],
    ['pos_att_type', [...s.posAttType]],
  ];
  if (s.version === 2) {
    out.push(['position_buckets', s.positionBuckets], ['share_att_key', s.shareAttKey], ['norm_rel_ebd', s.normRelEmbedding ? 'layer_norm' : 'none']);
    if (s.conv) out.push(['conv_kernel_size', s.conv.kernelSize], ['conv_act', s.conv.act], ['conv_groups', 1]);
  }
  out.push(['pooler_hidden_size', hiddenSize], ['pooler_hidden_act', s.poolerHiddenAct], ['pooler_dropout', s.poolerDropout]);
  return out;
}

type CountFields = 'vocabSize' | 'embeddingSize' | 'hiddenSize' | 'numHiddenLayers' | 'intermediateSize' | 'maxPositionEmbeddings' | 'typeVocabSize';

/** Parameters of DebertaModel / DebertaV2Model (no pooler: the ContextPooler belongs to the classification heads). */
export function debertaParameterCount(c: Pick<EncoderConfig, CountFields> & { deberta: DebertaSettings }): number {
  const d = c.deberta;
  const H = c.hiddenSize;
  const E = c.embeddingSize;
  const F = c.intermediateSize;
  const linear = (inF: number, outF: number, bias = true) => inF * outF + (bias ? outF : 0);
  const embeddings = c.vocabSize * E + (d.positionBiasedInput ? c.maxPositionEmbeddings * E : 0) + c.typeVocabSize * E
    + (E !== H ? linear(E, H, false) : 0) + 2 * H;
  const relative = (d.relativeAttention ? 2 * relativeSpan(c) * H : 0) + (d.normRelEmbedding ? 2 * H : 0);
  const c2p = d.relativeAttention && d.posAttType.includes('c2p');
  const p2c = d.relativeAttention && d.posAttType.includes('p2c');
  const selfAttention = d.version === 1
    ? linear(H, 3 * H, false) + 2 * H + (c2p ? linear(H, H, false) : 0) + (p2c ? linear(H, H) : 0)
    : 3 * linear(H, H) + (d.shareAttKey ? 0 : (c2p ? linear(H, H) : 0) + (p2c ? linear(H, H) : 0));
  const layer = selfAttention + linear(H, H) + 2 * H + linear(H, F) + linear(F, H) + 2 * H;
  const conv = d.conv ? H * H * d.conv.kernelSize + H + 2 * H : 0;
  return embeddings + relative + c.numHiddenLayers * layer + conv;
}
