/**
 * The Hugging Face PEFT layout for the two methods: adapter_config.json +
 * adapter_model.safetensors, as PEFT's save_pretrained writes them for
 * peft_type P_TUNING and PREFIX_TUNING (huggingface/peft,
 * utils/save_and_load.py get_peft_model_state_dict; the prompt encoder's
 * _get_adapter_state_dict). What maps, and what cannot, is in README.md;
 * in short:
 *   prompt_embeddings  P_TUNING [num_virtual_tokens, token_dim]; PREFIX_TUNING
 *                      [num_virtual_tokens, num_layers·2·token_dim]: the encoder's
 *                      output (reparameterisation folded), exactly our tensor
 *   head               P-tuning v2 NER: base_model.classifier.{weight,bias} (PEFT's
 *                      modules_to_save key; BertForTokenClassification's classifier
 *                      computes what ours does). Sequence classification:
 *                      lmsanitator.classifier.{weight,bias}, a key PEFT ignores,
 *                      because transformers' classifier reads the pooler and ours
 *                      does not
 *   template, verbalizer, task, backbone hash: the safetensors __metadata__
 *                      (strings; PEFT reads only the tensors)
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { FormatError } from '../formats/errors.js';
import { writeJsonAtomic } from '../formats/file-io.js';
import { isPlainObject, parseGuardedJson } from '../formats/json-guard.js';
import { readSafetensors, saveSafetensors } from '../formats/safetensors.js';
import type { StateDict } from '../formats/state-dict.js';
import type { LoadedModel } from '../models/model.js';
import { checkTensors, Fields, readCapped, readJsonObject } from './files.js';
import { openModelDir } from '../formats/model-dir.js';
import { backboneShape, type PromptModel, shapeText } from './model.js';
import { PrefixTuningModel } from './ptuning-v2.js';
import { PTuningModel } from './ptuning.js';
import { plainRows, type ReparamInfo } from './reparam.js';
import { isPromptTask, PROMPT_TASKS, type PromptTask, taskLabelNames } from './tasks.js';
import { parseTemplate, promptPlaceholders, TEMPLATES } from './templates.js';
import { usablePositions } from '../formats/hf-config.js';

export const ADAPTER_CONFIG = 'adapter_config.json';
export const ADAPTER_WEIGHTS = 'adapter_model.safetensors';
/** PEFT's modules_to_save key for a token-classification head (PeftModel → base_model → classifier). */
export const PEFT_TOKEN_HEAD = 'base_model.classifier';
/** Our sequence-classification head, under a key PEFT leaves alone. */
export const OWN_SEQUENCE_HEAD = 'lmsanitator.classifier';

export interface LoadedPeft {
  model: PromptModel;
  warning: string | null;
  config: Record<string, unknown>;
}

function headKey(model: PromptModel): string {
  return model.kind === 'ner' ? PEFT_TOKEN_HEAD : OWN_SEQUENCE_HEAD;
}

/** adapter_config.json's content for a model. */
export function adapterConfig(model: PromptModel): Record<string, unknown> {
  const c = model.backbone.config;
  const r = model.info.reparam;
  const common = {
    base_model_name_or_path: model.backbone.dir,
    revision: null,
    inference_mode: true,
    num_virtual_tokens: model.info.numVirtualTokens,
    // P_TUNING's rows are word embeddings (E wide); PREFIX_TUNING's are keys and values (H wide).
    token_dim: model.method === 'ptuning' ? c.embeddingSize : c.hiddenSize,
    num_transformer_submodules: 1,
    num_attention_heads: c.numAttentionHeads,
    num_layers: c.numHiddenLayers,
  };
  if (model.method === 'ptuning') {
    // PEFT has no masked-LM task type; its P_TUNING prepends the rows to the input rather than placing them in a template.
    return {
      peft_type: 'P_TUNING', task_type: null, ...common, modules_to_save: null,
      encoder_reparameterization_type: 'MLP', encoder_hidden_size: r?.hiddenSize ?? c.hiddenSize, encoder_num_layers: 2, encoder_dropout: 0.0,
    };
  }
  return {
    peft_type: 'PREFIX_TUNING', task_type: model.kind === 'ner' ? 'TOKEN_CLS' : 'SEQ_CLS', ...common,
    modules_to_save: model.kind === 'ner' ? ['classifier'] : null,
    // Saved rows are the projection's output; PEFT reads them back only with prefix_projection false (PrefixEncoder.load_prompt_embeddings).
    encoder_hidden_size: r?.hiddenSize ?? c.hiddenSize, prefix_projection: false,
  };
}

/** Writes adapter_config.json and adapter_model.safetensors (atomically each). */
export function savePeft(dir: string, model: PromptModel): void {
  mkdirSync(dir, { recursive: true });
  const saved = model.saved();
  const sd: StateDict = new Map();
  sd.set('prompt_embeddings', { shape: [...saved.get('prompt_embeddings')!.shape], data: Float32Array.from(saved.get('prompt_embeddings')!.data) });
  const head = saved.get('classifier.weight');
  if (head) {
    sd.set(`${headKey(model)}.weight`, { shape: [...head.shape], data: Float32Array.from(head.data) });
    const bias = saved.get('classifier.bias')!;
    sd.set(`${headKey(model)}.bias`, { shape: [...bias.shape], data: Float32Array.from(bias.data) });
  }
  const i = model.info;
  const meta: Record<string, string> = {
    format: 'pt',
    lmsanitator_method: model.method,
    lmsanitator_task: model.task,
    lmsanitator_max_len: String(model.maxLen),
    lmsanitator_backbone_sha256: model.backbone.hash,
    lmsanitator_backbone_shape: JSON.stringify(backboneShape(model.backbone.config)),
  };
  if (i.reparam) meta.lmsanitator_reparameterization = JSON.stringify({ type: i.reparam.type, hidden_size: i.reparam.hiddenSize });
  if (model.method === 'ptuning') {
    meta.lmsanitator_template = i.template!;
    meta.lmsanitator_verbalizer = JSON.stringify(i.verbalizer);
    meta.lmsanitator_rows_per_placeholder = String(i.rowsPerPlaceholder);
  }
  saveSafetensors(join(dir, ADAPTER_WEIGHTS), sd, meta);
  writeJsonAtomic(join(dir, ADAPTER_CONFIG), adapterConfig(model));
}

export interface LoadPeftOptions {
  /** The task, for adapters PEFT wrote (ours carry it in the safetensors metadata). */
  task?: string;
  /** Longest input (default 128). */
  maxLen?: number;
}

/** Loads a PEFT P_TUNING / PREFIX_TUNING adapter directory onto `backbone`. */
export function loadPeft(dir: string, backbone: LoadedModel, o: LoadPeftOptions = {}): LoadedPeft {
  const md = openModelDir(dir, { what: 'PEFT adapter' });
  const cfgFile = md.file(ADAPTER_CONFIG);
  const weightsFile = md.file(ADAPTER_WEIGHTS);
  const config = readJsonObject(md, ADAPTER_CONFIG);
  const f = new Fields(cfgFile, config);
  const peftType = f.oneOf('peft_type', ['P_TUNING', 'PREFIX_TUNING'] as const);
  const c = backbone.config;
  const have = backboneShape(c);
  const tokenDim = f.int('token_dim', 1, 1 << 20);
  const layers = f.int('num_layers', 1, 1 << 20);
  const heads = f.has('num_attention_heads') ? f.int('num_attention_heads', 1, 1 << 20) : c.numAttentionHeads;
  const wantDim = peftType === 'P_TUNING' ? c.embeddingSize : c.hiddenSize;
  if (tokenDim !== wantDim || layers !== c.numHiddenLayers || heads !== c.numAttentionHeads) {
    throw new FormatError(dir, `this adapter was made for a backbone with ${layers} layers × token_dim ${tokenDim}, ${heads} heads; the backbone given is ${shapeText(have)}`);
  }
  if (f.has('num_transformer_submodules') && f.int('num_transformer_submodules', 1, 2) !== 1) {
    throw new FormatError(cfgFile, 'num_transformer_submodules is 2 (an encoder-decoder adapter); an encoder takes 1');
  }
  const P = f.int('num_virtual_tokens', 1, usablePositions(c));

  // The shapes follow from the config and the task; the task may come from our metadata, so read the file once, capped for the largest head.
  const H = c.hiddenSize;
  const W = peftType === 'P_TUNING' ? c.embeddingSize : 2 * layers * H;
  const cap = new Map<string, number[]>([['prompt_embeddings', [P, W]], ['head', [Math.max(...PROMPT_TASKS.map((t) => taskLabelNames(t).length)), H + 1]]]);
  const { tensors: stored, metadata: meta } = readSafetensors(readCapped(md, ADAPTER_WEIGHTS, cap), weightsFile);
  const task = meta.lmsanitator_task ?? o.task;
  if (task === undefined) throw new FormatError(weightsFile, 'does not say which task it serves (no lmsanitator_task metadata: PEFT wrote it); pass the task');
  if (!isPromptTask(task)) throw new FormatError(weightsFile, `task ${JSON.stringify(task).slice(0, 60)} is not a prompt task`);
  const method = peftType === 'P_TUNING' ? 'ptuning' : 'ptuning-v2';
  if (meta.lmsanitator_method !== undefined && meta.lmsanitator_method !== method) throw new FormatError(weightsFile, `metadata says method ${JSON.stringify(meta.lmsanitator_method).slice(0, 40)}, adapter_config.json says ${peftType}`);
  const metaShape = meta.lmsanitator_backbone_shape;
  if (metaShape !== undefined && metaShape !== JSON.stringify(have)) throw new FormatError(dir, `this adapter was trained on a backbone of shape ${describeShape(metaShape)}; the backbone given is ${shapeText(have)}`);
  const trained = meta.lmsanitator_backbone_sha256;
  const warning = trained !== undefined && trained !== '' && trained === backbone.hash ? null
    : `${dir}: this adapter was trained on backbone sha256 ${trained === undefined ? '(not recorded: PEFT keeps only base_model_name_or_path)' : trained || '(unknown)'}, but is loaded onto sha256 ${backbone.hash || '(unknown: built in memory)'}; its behaviour there is untested`;
  const maxLen = meta.lmsanitator_max_len !== undefined ? intMeta(weightsFile, meta, 'lmsanitator_max_len') : (o.maxLen ?? 128);
  const reparam = meta.lmsanitator_reparameterization !== undefined ? reparamMeta(weightsFile, meta.lmsanitator_reparameterization) : null;

  const C = taskLabelNames(task).length;
  const shapes = new Map<string, number[]>([['prompt_embeddings', [P, W]]]);
  const ner = task === 'conll04';
  const head = ner ? PEFT_TOKEN_HEAD : OWN_SEQUENCE_HEAD;
  if (method === 'ptuning-v2') {
    if (!stored.has(`${head}.weight`)) {
      const why = !ner && stored.has(`${PEFT_TOKEN_HEAD}.weight`)
        ? `; its ${PEFT_TOKEN_HEAD}.* is transformers' sequence classifier, which reads the pooler, not the first token's last hidden state this model's head reads`
        : ' (PEFT saves a task head only through modules_to_save)';
      throw new FormatError(weightsFile, `no task head ${head}.weight${why}`);
    }
    shapes.set(`${head}.weight`, [C, H]);
    shapes.set(`${head}.bias`, [C]);
  }
  const tensors = checkTensors(weightsFile, stored, shapes);
  const rows = plainRows(tensors.get('prompt_embeddings')!);
  let model: PromptModel;
  try {
    if (method === 'ptuning') {
      if (task === 'conll04') throw new Error('P-tuning has no NER variant');
      const base = TEMPLATES[task]!;
      const template = meta.lmsanitator_template ?? base.template;
      const verbalizer = meta.lmsanitator_verbalizer !== undefined ? stringsMeta(weightsFile, meta.lmsanitator_verbalizer) : base.verbalizer;
      const slots = promptPlaceholders(parseTemplate({ template, fields: base.fields }));
      const per = meta.lmsanitator_rows_per_placeholder !== undefined ? intMeta(weightsFile, meta, 'lmsanitator_rows_per_placeholder') : P / slots;
      if (!Number.isInteger(per) || per * slots !== P) throw new Error(`num_virtual_tokens ${P} does not fill the template's ${slots} <p> slots evenly`);
      model = new PTuningModel(backbone, task as Exclude<PromptTask, 'conll04'>, { ...base, template, verbalizer }, rows, per, maxLen);
    } else {
      model = new PrefixTuningModel(backbone, task, rows, { weight: tensors.get(`${head}.weight`)!, bias: tensors.get(`${head}.bias`)! }, maxLen);
    }
  } catch (e) {
    if (e instanceof FormatError) throw e;
    throw new FormatError(dir, (e as Error).message);
  }
  model.info.reparam = reparam ?? (f.has('prefix_projection') && f.bool('prefix_projection') ? { type: 'prefix_projection', hiddenSize: f.int('encoder_hidden_size', 1, 1 << 20) } : null);
  return { model, warning, config };
}

function intMeta(file: string, meta: Record<string, string>, key: string): number {
  const v = meta[key]!;
  if (!/^[1-9][0-9]{0,6}$/.test(v)) throw new FormatError(file, `metadata ${key} is not a positive integer`);
  return Number(v);
}

function stringsMeta(file: string, v: string): string[] {
  const p = parseGuardedJson(v, 2);
  if ('error' in p || !Array.isArray(p.value) || !p.value.every((x) => typeof x === 'string')) throw new FormatError(file, 'metadata lmsanitator_verbalizer is not a JSON array of strings');
  return p.value as string[];
}

function reparamMeta(file: string, v: string): ReparamInfo {
  const p = parseGuardedJson(v, 2);
  const o = 'error' in p ? null : p.value;
  if (!isPlainObject(o) || (o.type !== 'MLP' && o.type !== 'prefix_projection') || !Number.isInteger(o.hidden_size)) {
    throw new FormatError(file, 'metadata lmsanitator_reparameterization is not {"type", "hidden_size"}');
  }
  return { type: o.type, hiddenSize: o.hidden_size as number };
}

function describeShape(json: string): string {
  const p = parseGuardedJson(json, 2);
  const o = 'error' in p ? null : p.value;
  if (!isPlainObject(o)) return '(unreadable)';
  return shapeText({ model_type: String(o.model_type), layers: Number(o.layers), hidden: Number(o.hidden), heads: Number(o.heads), vocab: Number(o.vocab) });
}
