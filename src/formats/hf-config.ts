/**
 * Hugging Face `config.json` for the encoders we handle (BERT, RoBERTa,
 * ERNIE checkpoints that are BERT-shaped, ELECTRA, ALBERT, DeBERTa,
 * DeBERTa-v2/v3 and XLNet), parsed into a typed, validated EncoderConfig and
 * written back in a form transformers loads. DeBERTa's own switches are
 * parsed in deberta-config.ts; XLNet, whose config names every size its own
 * way (d_model, n_layer, …), in xlnet-config.ts.
 *
 * The numbers here decide every allocation the engine makes, so each is
 * range-checked and the implied parameter count is capped: a hostile config
 * cannot ask for terabytes. Defaults for absent keys follow transformers'
 * BertConfig / RobertaConfig / ErnieConfig / ElectraConfig / AlbertConfig /
 * DebertaConfig / DebertaV2Config / XLNetConfig.
 */
import * as path from 'node:path';
import { FormatError, quote, bytesText, describeJsonValue } from './errors.js';
import { parseGuardedJson, isPlainObject } from './json-guard.js';
import { writeTextFileAtomic } from './file-io.js';
import { CONFIG_FILE, openModelDir, type ModelDir } from './model-dir.js';
import { debertaConfigEntries, debertaParameterCount, type DebertaSettings, parseDebertaSettings } from './deberta-config.js';
import {
  parseXlnetConfig, XLNET_DEFAULTS, XLNET_KEYS, XLNET_MAX_POSITIONS, XLNET_TYPE_VOCAB, xlnetConfigEntries, xlnetParameterCount, type XlnetSettings,
} from './xlnet-config.js';

export type { DebertaSettings, RelativeTerm } from './deberta-config.js';
export type { XlnetSettings } from './xlnet-config.js';
export type EncoderModelType = 'bert' | 'roberta' | 'electra' | 'albert' | 'deberta' | 'deberta-v2' | 'xlnet';
export type SourceModelType = 'bert' | 'roberta' | 'ernie' | 'electra' | 'albert' | 'deberta' | 'deberta-v2' | 'xlnet';
/** gelu: the exact erf form; gelu_new: the tanh approximation (ALBERT's default; HF's gelu_pytorch_tanh and gelu_fast are the same function). */
export type HiddenAct = 'gelu' | 'gelu_new';

export interface EncoderConfig {
  /** Architecture the engine builds; ERNIE configs are BERT-shaped and map to 'bert'. */
  modelType: EncoderModelType;
  /** model_type as written in config.json, kept so saving round-trips ERNIE. */
  sourceModelType: SourceModelType;
  vocabSize: number;
  /**
   * Width E of the embedding tables. BERT and RoBERTa: E = H. ELECTRA and
   * ALBERT factorise: [V, E] tables, then a projection E → H
   * (`embeddings_project`, only when E ≠ H, for ELECTRA;
   * `encoder.embedding_hidden_mapping_in`, always, for ALBERT). DeBERTa
   * projects with `embeddings.embed_proj` (no bias, E ≠ H only) before its LayerNorm.
   */
  embeddingSize: number;
  hiddenSize: number;
  /** Layers applied. ALBERT applies its shared layer groups this many times. */
  numHiddenLayers: number;
  /** ALBERT: distinct layer groups (layer i uses group ⌊i / (L / G)⌋); 1 elsewhere. */
  numHiddenGroups: number;
  /** ALBERT: layers inside each group, applied in turn; 1 elsewhere. */
  innerGroupNum: number;
  numAttentionHeads: number;
  intermediateSize: number;
  hiddenAct: HiddenAct;
  /** Position rows; XLNet has none and this is our bound on its sequence length (XLNET_MAX_POSITIONS, never saved). */
  maxPositionEmbeddings: number;
  typeVocabSize: number;
  layerNormEps: number;
  padTokenId: number;
  hiddenDropoutProb: number;
  attentionProbsDropoutProb: number;
  initializerRange: number;
  /** DeBERTa's switches (relative attention, buckets, …); absent for the other families. */
  deberta?: DebertaSettings;
  /** XLNet's relative-encoding clamp and sequence summary; absent for the other families. */
  xlnet?: XlnetSettings;
  /** The parsed config.json as it was, so saving keeps keys we do not interpret. */
  raw: Record<string, unknown>;
}

export const SUPPORTED_MODEL_TYPES: readonly SourceModelType[] = ['bert', 'roberta', 'ernie', 'electra', 'albert', 'deberta', 'deberta-v2', 'xlnet'];

/** Upper bounds, each well past any published encoder (XLM-R large: 250k vocab, 1024 hidden). */
export const CONFIG_LIMITS = {
  vocabSize: 4_000_000,
  hiddenSize: 16_384,
  numHiddenLayers: 512,
  numAttentionHeads: 1_024,
  intermediateSize: 131_072,
  maxPositionEmbeddings: 131_072,
  typeVocabSize: 1_024,
  /** ALBERT: layers per group. */
  innerGroupNum: 64,
  /** Total parameters the config implies: 2^31 float32s is 8 GiB. */
  parameters: 2 ** 31,
} as const;

const MAX_CONFIG_BYTES = 1 << 20;

type Numeric = Omit<EncoderConfig, 'modelType' | 'sourceModelType' | 'hiddenAct' | 'raw' | 'deberta' | 'xlnet'>;

/** Defaults before the family's own: embeddingSize undefined means "= hiddenSize". */
type Defaults = Omit<Numeric, 'embeddingSize'> & { embeddingSize?: number };

const COMMON_DEFAULTS: Defaults = {
  vocabSize: 30522, hiddenSize: 768, numHiddenLayers: 12, numHiddenGroups: 1, innerGroupNum: 1, numAttentionHeads: 12, intermediateSize: 3072,
  maxPositionEmbeddings: 512, typeVocabSize: 2, layerNormEps: 1e-12, padTokenId: 0,
  hiddenDropoutProb: 0.1, attentionProbsDropoutProb: 0.1, initializerRange: 0.02,
};

const DEFAULTS: Record<SourceModelType, Defaults> = {
  bert: COMMON_DEFAULTS,
  ernie: COMMON_DEFAULTS,
  roberta: { ...COMMON_DEFAULTS, vocabSize: 50265, padTokenId: 1 },
  electra: { ...COMMON_DEFAULTS, embeddingSize: 128, hiddenSize: 256, numAttentionHeads: 4, intermediateSize: 1024 },
  albert: {
    ...COMMON_DEFAULTS, vocabSize: 30000, embeddingSize: 128, hiddenSize: 4096, numAttentionHeads: 64, intermediateSize: 16384,
    hiddenDropoutProb: 0, attentionProbsDropoutProb: 0,
  },
  deberta: { ...COMMON_DEFAULTS, vocabSize: 50265, typeVocabSize: 0, layerNormEps: 1e-7 },
  'deberta-v2': {
    ...COMMON_DEFAULTS, vocabSize: 128100, hiddenSize: 1536, numHiddenLayers: 24, numAttentionHeads: 24, intermediateSize: 6144,
    typeVocabSize: 0, layerNormEps: 1e-7,
  },
  xlnet: {
    ...COMMON_DEFAULTS, ...XLNET_DEFAULTS, attentionProbsDropoutProb: XLNET_DEFAULTS.hiddenDropoutProb,
    maxPositionEmbeddings: XLNET_MAX_POSITIONS, typeVocabSize: XLNET_TYPE_VOCAB,
  },
};

const DEFAULT_ACT: Record<SourceModelType, HiddenAct> = {
  bert: 'gelu', ernie: 'gelu', roberta: 'gelu', electra: 'gelu', albert: 'gelu_new', deberta: 'gelu', 'deberta-v2': 'gelu', xlnet: 'gelu',
};

/** hidden_act names transformers maps to the erf GELU or to its tanh approximation. */
const ACTIVATIONS: Record<string, HiddenAct> = { gelu: 'gelu', gelu_new: 'gelu_new', gelu_pytorch_tanh: 'gelu_new', gelu_fast: 'gelu_new' };

/** config.json key for each numeric field, in the order transformers writes them. */
const KEYS: [keyof Numeric, string][] = [
  ['vocabSize', 'vocab_size'],
  ['hiddenSize', 'hidden_size'],
  ['numHiddenLayers', 'num_hidden_layers'],
  ['numAttentionHeads', 'num_attention_heads'],
  ['intermediateSize', 'intermediate_size'],
  ['hiddenDropoutProb', 'hidden_dropout_prob'],
  ['attentionProbsDropoutProb', 'attention_probs_dropout_prob'],
  ['maxPositionEmbeddings', 'max_position_embeddings'],
  ['typeVocabSize', 'type_vocab_size'],
  ['initializerRange', 'initializer_range'],
  ['layerNormEps', 'layer_norm_eps'],
  ['padTokenId', 'pad_token_id'],
];

/** Keys only some families have (written back only for them). */
const FAMILY_KEYS: Partial<Record<EncoderModelType, [keyof Numeric, string][]>> = {
  electra: [['embeddingSize', 'embedding_size']],
  albert: [['embeddingSize', 'embedding_size'], ['numHiddenGroups', 'num_hidden_groups'], ['innerGroupNum', 'inner_group_num']],
  deberta: [['embeddingSize', 'embedding_size']],
  'deberta-v2': [['embeddingSize', 'embedding_size']],
};

const MODEL_TYPES: Record<SourceModelType, EncoderModelType> = {
  bert: 'bert', ernie: 'bert', roberta: 'roberta', electra: 'electra', albert: 'albert', deberta: 'deberta', 'deberta-v2': 'deberta-v2', xlnet: 'xlnet',
};

/** DeBERTa (v1) and DeBERTa-v2/v3: disentangled attention, no pooler, the switches of deberta-config.ts. */
export function isDebertaType(t: EncoderModelType): t is 'deberta' | 'deberta-v2' {
  return t === 'deberta' || t === 'deberta-v2';
}

function keysOf(t: EncoderModelType): [keyof Numeric, string][] {
  // XLNet names every size its own way (d_model, n_layer, …): only its keys.
  if (t === 'xlnet') return XLNET_KEYS;
  return [...KEYS, ...(FAMILY_KEYS[t] ?? [])];
}

/** Read and validate `config.json` of a model directory (see openModelDir for the entry check). */
export function loadEncoderConfig(dir: string | ModelDir): EncoderConfig {
  const md = openModelDir(dir, { requireConfig: true });
  return parseEncoderConfigText(md.readText(CONFIG_FILE, MAX_CONFIG_BYTES), md.file(CONFIG_FILE));
}

export function parseEncoderConfigText(text: string, label = 'config.json'): EncoderConfig {
  if (text.length > MAX_CONFIG_BYTES) throw new FormatError(label, `config is over the ${bytesText(MAX_CONFIG_BYTES)} limit`);
  // Configs nest a little (id2label, task_specific_params); 16 levels is plenty.
  const parsed = parseGuardedJson(text, 16);
  if ('error' in parsed) throw new FormatError(label, parsed.error);
  return parseEncoderConfig(parsed.value, label);
}

/** Validate an already-parsed config.json object. */
export function parseEncoderConfig(json: unknown, label = 'config.json'): EncoderConfig {
  const fail = (problem: string): never => {
    throw new FormatError(label, problem);
  };
  if (!isPlainObject(json)) return fail('config is not a JSON object');
  const mt = json['model_type'];
  if (mt === undefined) fail(`missing "model_type"; supported: ${SUPPORTED_MODEL_TYPES.join(', ')}`);
  if (typeof mt !== 'string' || !(SUPPORTED_MODEL_TYPES as readonly string[]).includes(mt)) {
    fail(`unsupported model_type ${typeof mt === 'string' ? quote(mt) : describeJsonValue(mt)}; supported: ${SUPPORTED_MODEL_TYPES.join(', ')}`);
  }
  const source = mt as SourceModelType;
  if (source === 'xlnet') return parseXlnet(json, fail);

  if (source === 'ernie' && json['use_task_id'] !== undefined && json['use_task_id'] !== false) {
    fail('ERNIE with task-type embeddings (use_task_id true) is not supported; only BERT-shaped ERNIE checkpoints are');
  }
  const actName = json['hidden_act'] === undefined ? DEFAULT_ACT[source] : json['hidden_act'];
  const act = typeof actName === 'string' && Object.hasOwn(ACTIVATIONS, actName) ? ACTIVATIONS[actName]! : undefined;
  if (!act) fail(`unsupported hidden_act ${typeof actName === 'string' ? quote(actName) : describeJsonValue(actName)}; supported: ${Object.keys(ACTIVATIONS).join(', ')}`);
  const posType = json['position_embedding_type'] ?? 'absolute';
  // DeBERTa has no position_embedding_type (its relative attention has switches of its own).
  if (posType !== 'absolute' && !isDebertaType(MODEL_TYPES[source])) {
    fail(`unsupported position_embedding_type ${typeof posType === 'string' ? quote(posType) : describeJsonValue(posType)}; only "absolute" is supported`);
  }
  for (const flag of ['is_decoder', 'add_cross_attention']) {
    if (json[flag] !== undefined && json[flag] !== false) fail(`"${flag}": ${describeJsonValue(json[flag])} is not supported; encoders only`);
  }

  const modelType = MODEL_TYPES[source];
  const defaults = DEFAULTS[source];
  const values: Defaults = { ...defaults };
  for (const [field, key] of keysOf(modelType)) {
    const v = json[key];
    if (v === undefined) continue;
    if (key === 'pad_token_id' && v === null) {
      // transformers allows None; an embedding without a padding row behaves like id 0 for BERT.
      if (source === 'roberta') fail('"pad_token_id" is null; RoBERTa position ids need a padding id');
      continue;
    }
    if (typeof v !== 'number') fail(`"${key}" is ${describeJsonValue(v)}, expected a number`);
    if (!Number.isFinite(v)) fail(`"${key}" is out of range (not a finite number)`);
    values[field] = v as number;
  }
  const cfg: EncoderConfig = {
    modelType,
    sourceModelType: source,
    hiddenAct: act!,
    ...values,
    embeddingSize: values.embeddingSize ?? values.hiddenSize,
    raw: json,
  };
  if (isDebertaType(modelType)) {
    // The sizes the switches are checked against must be valid first.
    validate(cfg, fail, false);
    cfg.deberta = parseDebertaSettings(json, {
      version: modelType === 'deberta' ? 1 : 2,
      hiddenSize: cfg.hiddenSize,
      numAttentionHeads: cfg.numAttentionHeads,
      maxPositionEmbeddings: cfg.maxPositionEmbeddings,
      positionLimit: CONFIG_LIMITS.maxPositionEmbeddings,
      activation: (name) => (typeof name === 'string' && Object.hasOwn(ACTIVATIONS, name) ? ACTIVATIONS[name] : undefined),
      activationNames: Object.keys(ACTIVATIONS).join(', '),
    }, fail);
  }
  validate(cfg, fail);
  return cfg;
}

/** XLNet: its own keys (xlnet-config.ts), mapped onto the EncoderConfig fields, then the common checks. */
function parseXlnet(json: Record<string, unknown>, fail: (p: string) => never): EncoderConfig {
  for (const flag of ['is_decoder', 'add_cross_attention']) {
    if (json[flag] !== undefined && json[flag] !== false) fail(`"${flag}": ${describeJsonValue(json[flag])} is not supported; encoders only`);
  }
  const { numbers, act, settings } = parseXlnetConfig(json, {
    activation: (name) => (typeof name === 'string' && Object.hasOwn(ACTIVATIONS, name) ? ACTIVATIONS[name] : undefined),
    activationNames: Object.keys(ACTIVATIONS).join(', '),
  }, fail);
  const cfg: EncoderConfig = {
    ...DEFAULTS.xlnet,
    ...numbers,
    modelType: 'xlnet',
    sourceModelType: 'xlnet',
    hiddenAct: act,
    embeddingSize: numbers.hiddenSize,
    attentionProbsDropoutProb: numbers.hiddenDropoutProb,
    maxPositionEmbeddings: XLNET_MAX_POSITIONS,
    typeVocabSize: XLNET_TYPE_VOCAB,
    numHiddenGroups: 1,
    innerGroupNum: 1,
    xlnet: settings,
    raw: json,
  };
  // The common checks name BERT's keys; say which XLNet key a failure is about.
  const names: Record<string, string> = {
    hidden_size: 'd_model', num_hidden_layers: 'n_layer', num_attention_heads: 'n_head', intermediate_size: 'd_inner',
    hidden_dropout_prob: 'dropout', attention_probs_dropout_prob: 'dropout',
  };
  validate(cfg, (problem) => fail(problem.replace(/^"([a-z_]+)"/, (m, k: string) => (names[k] ? `"${names[k]}"` : m))));
  return cfg;
}

function validate(c: EncoderConfig, fail: (p: string) => never, withCount = true): void {
  const int = (key: string, v: number, min: number, max: number): void => {
    if (!Number.isInteger(v) || v < min || v > max) fail(`"${key}" is ${v}; expected an integer from ${min} to ${max.toLocaleString('en-US')}`);
  };
  const prob = (key: string, v: number): void => {
    if (!(v >= 0 && v < 1)) fail(`"${key}" is ${v}; expected a probability in [0, 1)`);
  };
  int('vocab_size', c.vocabSize, 1, CONFIG_LIMITS.vocabSize);
  int('embedding_size', c.embeddingSize, 1, CONFIG_LIMITS.hiddenSize);
  int('hidden_size', c.hiddenSize, 1, CONFIG_LIMITS.hiddenSize);
  int('num_hidden_layers', c.numHiddenLayers, 1, CONFIG_LIMITS.numHiddenLayers);
  if (c.modelType === 'albert') {
    int('num_hidden_groups', c.numHiddenGroups, 1, c.numHiddenLayers);
    int('inner_group_num', c.innerGroupNum, 1, CONFIG_LIMITS.innerGroupNum);
  } else {
    if (c.embeddingSize !== c.hiddenSize && c.modelType !== 'electra' && !isDebertaType(c.modelType)) {
      fail(`"embedding_size" ${c.embeddingSize} differs from "hidden_size" ${c.hiddenSize}; only ELECTRA, ALBERT and DeBERTa factorise their embeddings`);
    }
    if (c.numHiddenGroups !== 1 || c.innerGroupNum !== 1) fail('layer groups ("num_hidden_groups", "inner_group_num") are ALBERT\'s; this model_type has none');
  }
  int('num_attention_heads', c.numAttentionHeads, 1, CONFIG_LIMITS.numAttentionHeads);
  int('intermediate_size', c.intermediateSize, 1, CONFIG_LIMITS.intermediateSize);
  int('max_position_embeddings', c.maxPositionEmbeddings, 1, CONFIG_LIMITS.maxPositionEmbeddings);
  // DeBERTa's type_vocab_size 0 means no token type embeddings (token_type_ids are ignored).
  int('type_vocab_size', c.typeVocabSize, isDebertaType(c.modelType) ? 0 : 1, CONFIG_LIMITS.typeVocabSize);
  int('pad_token_id', c.padTokenId, 0, c.vocabSize - 1);
  if (c.hiddenSize % c.numAttentionHeads !== 0) {
    fail(`"hidden_size" ${c.hiddenSize} is not divisible by "num_attention_heads" ${c.numAttentionHeads}`);
  }
  if (c.modelType === 'roberta' && c.maxPositionEmbeddings <= c.padTokenId + 1) {
    fail(`"max_position_embeddings" ${c.maxPositionEmbeddings} leaves no positions after RoBERTa's offset of pad_token_id + 1 = ${c.padTokenId + 1}`);
  }
  if (!(c.layerNormEps > 0 && c.layerNormEps < 1)) fail(`"layer_norm_eps" is ${c.layerNormEps}; expected a number in (0, 1)`);
  prob('hidden_dropout_prob', c.hiddenDropoutProb);
  prob('attention_probs_dropout_prob', c.attentionProbsDropoutProb);
  if (!(c.initializerRange > 0 && c.initializerRange <= 1)) fail(`"initializer_range" is ${c.initializerRange}; expected a number in (0, 1]`);
  if (!withCount) return;
  if (isDebertaType(c.modelType) && !c.deberta) fail('DeBERTa config without its switches (relative_attention, pos_att_type, …)');
  if (c.modelType === 'xlnet' && !c.xlnet) fail('XLNet config without its settings (clamp_len, summary_type, …)');
  const params = parameterCount(c);
  if (params > CONFIG_LIMITS.parameters) {
    fail(`config implies ${params.toLocaleString('en-US')} parameters, over the limit of ${CONFIG_LIMITS.parameters.toLocaleString('en-US')}`);
  }
}

/**
 * Token positions a sequence may use. RoBERTa numbers positions from
 * padding_idx + 1 (the rows up to the pad id are never used), BERT from 0.
 */
export function usablePositions(c: Pick<EncoderConfig, 'maxPositionEmbeddings' | 'modelType' | 'padTokenId'>): number {
  return c.maxPositionEmbeddings - (c.modelType === 'roberta' ? (c.padTokenId ?? 1) + 1 : 0);
}

/** Whether the family has an E → H projection after its embeddings. */
export function hasEmbeddingProjection(c: Pick<EncoderConfig, 'modelType' | 'embeddingSize' | 'hiddenSize'>): boolean {
  return c.modelType === 'albert' || (c.modelType === 'electra' && c.embeddingSize !== c.hiddenSize);
}

/** Distinct layers whose weights the checkpoint stores (ALBERT shares them across applications). */
export function storedLayerCount(c: Pick<EncoderConfig, 'modelType' | 'numHiddenLayers' | 'numHiddenGroups' | 'innerGroupNum'>): number {
  return c.modelType === 'albert' ? c.numHiddenGroups * c.innerGroupNum : c.numHiddenLayers;
}

/** Whether the base model has a pooler (ELECTRA, DeBERTa and XLNet have none). */
export function hasPoolerLayer(c: Pick<EncoderConfig, 'modelType'>): boolean {
  return c.modelType !== 'electra' && c.modelType !== 'xlnet' && !isDebertaType(c.modelType);
}

type CountFields = 'modelType' | 'vocabSize' | 'embeddingSize' | 'hiddenSize' | 'numHiddenLayers' | 'numHiddenGroups' | 'innerGroupNum'
  | 'intermediateSize' | 'maxPositionEmbeddings' | 'typeVocabSize' | 'deberta';

/** Parameters of the base model with its pooler, as transformers counts them. */
export function parameterCount(c: Pick<EncoderConfig, CountFields>): number {
  if (isDebertaType(c.modelType)) return debertaParameterCount({ ...c, deberta: c.deberta! });
  if (c.modelType === 'xlnet') return xlnetParameterCount(c);
  const H = c.hiddenSize;
  const E = c.embeddingSize;
  const F = c.intermediateSize;
  const embeddings = (c.vocabSize + c.maxPositionEmbeddings + c.typeVocabSize) * E + 2 * E + (hasEmbeddingProjection(c) ? E * H + H : 0);
  const layer = 4 * (H * H + H) + 2 * H + (F * H + F) + (H * F + H) + 2 * H;
  const pooler = hasPoolerLayer(c) ? H * H + H : 0;
  return embeddings + storedLayerCount(c) * layer + pooler;
}

/**
 * A validated config for a model we create. Unspecified sizes take the
 * transformers defaults for `modelType` (BERT-base shaped).
 */
export function createEncoderConfig(
  modelType: SourceModelType,
  overrides: Partial<Numeric> = {},
  /** Further config.json keys as transformers names them (DeBERTa's relative_attention, pos_att_type, …). */
  extra: Record<string, unknown> = {},
): EncoderConfig {
  const raw: Record<string, unknown> = { model_type: modelType, ...extra };
  for (const [field, key] of keysOf(MODEL_TYPES[modelType])) {
    if (overrides[field] !== undefined) raw[key] = overrides[field];
  }
  return parseEncoderConfig(raw, `<new ${modelType} config>`);
}

const ARCHITECTURES: Record<SourceModelType, string> = {
  bert: 'BertModel',
  roberta: 'RobertaModel',
  ernie: 'ErnieModel',
  electra: 'ElectraModel',
  albert: 'AlbertModel',
  deberta: 'DebertaModel',
  'deberta-v2': 'DebertaV2Model',
  xlnet: 'XLNetModel',
};

/**
 * config.json text transformers can load: the standard keys with our
 * validated values first, then every other key of the original config.
 */
export function configToJson(cfg: EncoderConfig): string {
  validate(cfg, (problem) => {
    throw new FormatError('<config to save>', problem);
  });
  const raw = cfg.raw;
  const has = (k: string) => Object.prototype.hasOwnProperty.call(raw, k);
  const out: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  const architectures = raw['architectures'];
  out['architectures'] = Array.isArray(architectures) && architectures.length > 0 && architectures.every((a) => typeof a === 'string')
    ? architectures
    : [ARCHITECTURES[cfg.sourceModelType]];
  out['model_type'] = cfg.sourceModelType;
  if (cfg.xlnet) {
    // XLNetConfig's own names only: it has no hidden_act, position_embedding_type or max_position_embeddings.
    for (const [k, v] of xlnetConfigEntries(cfg, cfg.hiddenAct, cfg.xlnet)) out[k] = v;
  } else {
    for (const [field, key] of keysOf(cfg.modelType)) out[key] = cfg[field];
    out['hidden_act'] = cfg.hiddenAct;
  }
  if (cfg.xlnet) {
    out['bos_token_id'] = has('bos_token_id') ? raw['bos_token_id'] : 1;
    out['eos_token_id'] = has('eos_token_id') ? raw['eos_token_id'] : 2;
  } else if (cfg.deberta) for (const [k, v] of debertaConfigEntries(cfg.deberta, cfg.hiddenSize)) out[k] = v;
  else out['position_embedding_type'] = 'absolute';
  if (cfg.sourceModelType === 'roberta') {
    out['bos_token_id'] = has('bos_token_id') ? raw['bos_token_id'] : 0;
    out['eos_token_id'] = has('eos_token_id') ? raw['eos_token_id'] : 2;
  }
  if (cfg.sourceModelType === 'albert') {
    out['bos_token_id'] = has('bos_token_id') ? raw['bos_token_id'] : 2;
    out['eos_token_id'] = has('eos_token_id') ? raw['eos_token_id'] : 3;
  }
  if (cfg.sourceModelType === 'ernie') {
    out['use_task_id'] = false;
    out['task_type_vocab_size'] = has('task_type_vocab_size') ? raw['task_type_vocab_size'] : 3;
  }
  // A null-prototype object, so a "__proto__" key from the file stays a plain key.
  for (const k of Object.keys(raw)) {
    if (!Object.prototype.hasOwnProperty.call(out, k)) out[k] = raw[k];
  }
  return `${JSON.stringify(out, null, 2)}\n`;
}

/** Write config.json into a model directory (atomically). */
export function saveEncoderConfig(dir: string, cfg: EncoderConfig): void {
  writeTextFileAtomic(path.join(dir, CONFIG_FILE), configToJson(cfg));
}
