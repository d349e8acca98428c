/**
 * XLNet (model_type "xlnet"): transformers' XLNetConfig keys, read as
 * XLNetConfig and modeling_xlnet read them for XLNetModel's content stream
 * (what a sequence classifier runs: no mems, no perm_mask, no target_mapping):
 *
 *   vocab_size 32000 (old configs: n_token)   d_model 1024   n_layer 24   n_head 16
 *   d_head = d_model / n_head (a different value is an error, as in XLNetConfig)
 *   d_inner 4096   ff_activation "gelu"   dropout 0.1   layer_norm_eps 1e-12   initializer_range 0.02
 *   clamp_len -1 (> 0 clamps relative distances to ±clamp_len)
 *   attn_type "bi" ("uni", the causal mask of generation, is refused)
 *   bi_data false (true, pretraining's forward + backward position streams, is refused)
 *   mem_len 512, reuse_len null, same_length false, use_mems_eval / use_mems_train, untie_r,
 *     start_n_top / end_n_top: nothing the content stream computes without mems depends on
 *     them; kept as written and saved back
 *   summary_type "last", summary_use_proj true, summary_activation "tanh",
 *     summary_last_dropout 0.1, summary_first_dropout (absent = none):
 *     XLNetForSequenceClassification's SequenceSummary
 *   pad_token_id 5, bos_token_id 1, eos_token_id 2, tie_word_embeddings true (false is refused:
 *     lm_loss.weight would be a matrix of its own, which the loader drops as the tied copy)
 *
 * Mapped onto EncoderConfig: hiddenSize = embeddingSize = d_model,
 * numHiddenLayers = n_layer, numAttentionHeads = n_head, intermediateSize =
 * d_inner, hiddenAct = ff_activation, both dropouts = dropout, typeVocabSize
 * = 3 (XLNet's tokenizer writes segment 0, segment 1 and 2 for <cls>; the
 * model only compares them, so the bound is for the tokenizer's ids).
 *
 * XLNet has no position table: its relative encoding is a sinusoid defined
 * for any distance (XLNetConfig.max_position_embeddings is -1 and setting it
 * raises). maxPositionEmbeddings is therefore a bound of ours, not a config
 * key: XLNET_MAX_POSITIONS = 512, the segment length XLNet was pretrained on
 * (distances past it were never trained), which also bounds the O(T²)
 * score tensors a hostile input could ask for. It is never written to
 * config.json (transformers would refuse the key).
 */
import { describeJsonValue, quote } from './errors.js';
import type { HiddenAct } from './hf-config.js';

/** The usable sequence length of an XLNet model (see the header). */
export const XLNET_MAX_POSITIONS = 512;
/** Token types XLNet's tokenizer writes: 0 (first segment), 1 (second), 2 (<cls>). */
export const XLNET_TYPE_VOCAB = 3;

export type SummaryActivation = 'tanh' | 'gelu' | 'gelu_new' | null;

export interface XlnetSettings {
  /** clamp_len as written; values ≤ 0 mean no clamping. */
  clampLen: number;
  /** Where SequenceSummary reads the sequence: the last token (XLNet's <cls>) or the first. */
  summaryType: 'last' | 'first';
  /** sequence_summary.summary (a d_model → d_model Linear) exists. */
  summaryUseProj: boolean;
  summaryActivation: SummaryActivation;
  summaryFirstDropout: number;
  summaryLastDropout: number;
}

/** The numeric EncoderConfig fields an XLNet config sets. */
export interface XlnetNumbers {
  vocabSize: number;
  hiddenSize: number;
  numHiddenLayers: number;
  numAttentionHeads: number;
  intermediateSize: number;
  hiddenDropoutProb: number;
  initializerRange: number;
  layerNormEps: number;
  padTokenId: number;
}

type Fail = (problem: string) => never;

/** A value in a message: strings quoted, anything else described. */
const shown = (v: unknown): string => (typeof v === 'string' ? quote(v) : describeJsonValue(v));

/** XLNetConfig's defaults (xlnet-large-cased shaped). */
export const XLNET_DEFAULTS: XlnetNumbers = {
  vocabSize: 32000, hiddenSize: 1024, numHiddenLayers: 24, numAttentionHeads: 16, intermediateSize: 4096,
  hiddenDropoutProb: 0.1, initializerRange: 0.02, layerNormEps: 1e-12, padTokenId: 5,
};

/** config.json key of each numeric field, in the order XLNetConfig takes them. */
export const XLNET_KEYS: [keyof XlnetNumbers, string][] = [
  ['vocabSize', 'vocab_size'],
  ['hiddenSize', 'd_model'],
  ['numHiddenLayers', 'n_layer'],
  ['numAttentionHeads', 'n_head'],
  ['intermediateSize', 'd_inner'],
  ['initializerRange', 'initializer_range'],
  ['layerNormEps', 'layer_norm_eps'],
  ['hiddenDropoutProb', 'dropout'],
  ['padTokenId', 'pad_token_id'],
];

/**
 * XLNetConfig's attribute_map: these names, when a config carries them,
 * are set after the XLNet keys and win. A config that has one with a value
 * other than the XLNet key's is ambiguous and refused.
 */
const ALIASES: [alias: string, key: string][] = [
  ['n_token', 'vocab_size'], ['hidden_size', 'd_model'], ['num_attention_heads', 'n_head'], ['num_hidden_layers', 'n_layer'],
];

export interface XlnetParseContext {
  /** hidden_act names → the activation, as hf-config resolves them. */
  activation: (name: unknown) => HiddenAct | undefined;
  activationNames: string;
}

/** The numeric fields and the settings of an XLNet config.json, or one FormatError line (through fail). */
export function parseXlnetConfig(json: Record<string, unknown>, cx: XlnetParseContext, fail: Fail): { numbers: XlnetNumbers; act: HiddenAct; settings: XlnetSettings } {
  if (json['max_position_embeddings'] !== undefined) {
    fail('"max_position_embeddings" is not an XLNet config key (XLNet has no position table; transformers\' XLNetConfig raises when it is set)');
  }
  const numbers: XlnetNumbers = { ...XLNET_DEFAULTS };
  for (const [field, key] of XLNET_KEYS) {
    let v = json[key];
    if (key === 'vocab_size' && json['n_token'] !== undefined) {
      if (v !== undefined && v !== json['n_token']) fail(`"n_token" ${describeJsonValue(json['n_token'])} and "vocab_size" ${describeJsonValue(v)} disagree (transformers lets n_token win); give one`);
      v = json['n_token'];
    }
    if (v === undefined) continue;
    if (key === 'pad_token_id' && v === null) continue;
    if (typeof v !== 'number' || !Number.isFinite(v)) fail(`"${key}" is ${describeJsonValue(v)}, expected a number`);
    numbers[field] = v as number;
  }
  for (const [alias, key] of ALIASES) {
    if (alias === 'n_token' || json[alias] === undefined) continue;
    const field = XLNET_KEYS.find(([, k]) => k === key)![0];
    if (json[alias] !== numbers[field]) {
      fail(`"${alias}" ${describeJsonValue(json[alias])} disagrees with "${key}" ${numbers[field]} (transformers maps ${alias} onto ${key} and lets it win); give "${key}" only`);
    }
  }
  const int = (key: string, v: number, min: number, max: number): void => {
    if (!Number.isInteger(v) || v < min || v > max) fail(`"${key}" is ${v}; expected an integer from ${min} to ${max.toLocaleString('en-US')}`);
  };
  int('d_model', numbers.hiddenSize, 1, 16_384);
  int('n_head', numbers.numAttentionHeads, 1, 1_024);
  if (numbers.hiddenSize % numbers.numAttentionHeads !== 0) {
    fail(`"d_model" ${numbers.hiddenSize} is not divisible by "n_head" ${numbers.numAttentionHeads} (XLNetConfig requires d_model % n_head == 0)`);
  }
  const dHead = json['d_head'];
  const wantHead = numbers.hiddenSize / numbers.numAttentionHeads;
  if (dHead !== undefined && dHead !== wantHead) {
    fail(`"d_head" is ${describeJsonValue(dHead)}; XLNetConfig requires d_model / n_head = ${wantHead}`);
  }

  const actName = json['ff_activation'] ?? 'gelu';
  const act = cx.activation(actName);
  if (!act) fail(`unsupported ff_activation ${typeof actName === 'string' ? quote(actName) : describeJsonValue(actName)}; supported: ${cx.activationNames}`);

  const attnType = json['attn_type'] ?? 'bi';
  if (attnType === 'uni') {
    fail('"attn_type" "uni" (causal attention, as XLNet generates text) is not supported; the scanner needs the bidirectional encoder, attn_type "bi"');
  }
  if (attnType !== 'bi') fail(`"attn_type" is ${shown(attnType)}; transformers knows "bi" and "uni", and only "bi" is supported`);
  const biData = json['bi_data'];
  if (biData !== undefined && biData !== null && biData !== false) {
    fail(`"bi_data": ${describeJsonValue(biData)} is not supported (pretraining's second, backward position stream over half the batch); fine-tuned and released XLNet models use false`);
  }
  const tie = json['tie_word_embeddings'];
  if (tie !== undefined && tie !== true) {
    fail(`"tie_word_embeddings": ${describeJsonValue(tie)} is not supported; XLNet's lm_loss.weight is read as the tied word embedding`);
  }
  const clampLen = json['clamp_len'] ?? -1;
  if (typeof clampLen !== 'number' || !Number.isInteger(clampLen) || Math.abs(clampLen) > 1_000_000_000) {
    fail(`"clamp_len" is ${describeJsonValue(clampLen)}; expected an integer (values ≤ 0 mean no clamping)`);
  }
  for (const k of ['mem_len', 'reuse_len']) {
    const v = json[k];
    if (v !== undefined && v !== null && (typeof v !== 'number' || !Number.isInteger(v) || v < 0)) fail(`"${k}" is ${describeJsonValue(v)}; expected null or a non-negative integer`);
  }
  for (const k of ['same_length', 'untie_r', 'use_mems_eval', 'use_mems_train']) {
    const v = json[k];
    if (v !== undefined && v !== null && typeof v !== 'boolean') fail(`"${k}" is ${describeJsonValue(v)}, expected true or false`);
  }
  return { numbers, act: act!, settings: parseSummary(json, cx, fail, clampLen as number) };
}

function parseSummary(json: Record<string, unknown>, cx: XlnetParseContext, fail: Fail, clampLen: number): XlnetSettings {
  const type = json['summary_type'] ?? 'last';
  if (type !== 'last' && type !== 'first') {
    fail(`"summary_type" is ${shown(type)}; supported: "last" (XLNet's <cls>, its default) and "first" ("mean", "cls_index" and "attn" have no single summary position)`);
  }
  const useProj = json['summary_use_proj'] ?? true;
  if (typeof useProj !== 'boolean') fail(`"summary_use_proj" is ${describeJsonValue(useProj)}, expected true or false`);
  if (json['summary_proj_to_labels'] === true) {
    fail('"summary_proj_to_labels": true is not supported (the summary would project to the labels before logits_proj, which expects d_model inputs)');
  }
  // Absent: XLNetConfig's default "tanh"; null or "" (written explicitly): SequenceSummary's identity.
  const actName = json['summary_activation'] === undefined ? 'tanh' : json['summary_activation'];
  let summaryActivation: SummaryActivation = null;
  if (actName !== null && actName !== '') {
    if (actName === 'tanh') summaryActivation = 'tanh';
    else {
      const a = cx.activation(actName);
      if (!a) fail(`unsupported summary_activation ${typeof actName === 'string' ? quote(actName) : describeJsonValue(actName)}; supported: tanh, ${cx.activationNames}, or none`);
      summaryActivation = a!;
    }
  }
  const prob = (key: string, dflt: number): number => {
    const v = json[key] ?? dflt;
    if (typeof v !== 'number' || !(v >= 0 && v < 1)) fail(`"${key}" is ${describeJsonValue(v)}; expected a probability in [0, 1)`);
    return v as number;
  };
  return {
    clampLen,
    summaryType: type as 'last' | 'first',
    summaryUseProj: useProj as boolean,
    summaryActivation,
    summaryFirstDropout: prob('summary_first_dropout', 0),
    summaryLastDropout: prob('summary_last_dropout', 0.1),
  };
}

/**
 * config.json entries transformers' XLNetConfig reads, with our values
 * (the numeric keys, d_head, ff_activation and the settings); every other
 * key of the original config is kept by configToJson.
 */
export function xlnetConfigEntries(n: XlnetNumbers, act: HiddenAct, s: XlnetSettings): [string, unknown][] {
  const out: [string, unknown][] = XLNET_KEYS.map(([f, k]) => [k, n[f]]);
  out.splice(4, 0, ['d_head', n.hiddenSize / n.numAttentionHeads]);
  out.push(
    ['ff_activation', act],
    ['attn_type', 'bi'],
    ['bi_data', false],
    ['clamp_len', s.clampLen],
    ['summary_type', s.summaryType],
    ['summary_use_proj', s.summaryUseProj],
    ['summary_activation', s.summaryActivation],
    ['summary_last_dropout', s.summaryLastDropout],
  );
  if (s.summaryFirstDropout > 0) out.push(['summary_first_dropout', s.summaryFirstDropout]);
  return out;
}

/** Parameters of XLNetModel (word_embedding, mask_emb, the layers; no head), as transformers counts them. */
export function xlnetParameterCount(c: { vocabSize: number; hiddenSize: number; numHiddenLayers: number; intermediateSize: number }): number {
  const H = c.hiddenSize;
  const F = c.intermediateSize;
  // q, k, v, o, r [H, nh, hd]; r_w/r_r/r_s biases [nh, hd]; seg_embed [2, nh, hd]; two LayerNorms; layer_1 and layer_2 with biases.
  const layer = 5 * H * H + 3 * H + 2 * H + 2 * H + (H * F + F) + (F * H + H) + 2 * H;
  return c.vocabSize * H + H + c.numHiddenLayers * layer;
}
