/**
 * The prompt artefact: a directory with
 *   prompt.safetensors  only the trained tensors (prompt_embeddings, and
 *                       P-tuning v2's classifier.weight / classifier.bias): kilobytes
 *   prompt.json         what they mean and where they came from (written last:
 *                       its presence marks a complete directory)
 * The backbone is not copied; prompt.json names it by sha256 and shape.
 * Loading onto a backbone of another shape is refused (the tensors would
 * not fit, or would fit by accident); onto another backbone of the same
 * shape it loads with a warning naming both hashes, since a prompt tuned on
 * a clean backbone and run on a backdoored copy of it is exactly the case
 * the guard exists for.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { FormatError } from '../formats/errors.js';
import { writeJsonAtomic } from '../formats/file-io.js';
import { saveSafetensors } from '../formats/safetensors.js';
import type { StateDict } from '../formats/state-dict.js';
import type { LoadedModel } from '../models/model.js';
import { Fields, readJsonObject, readTensors } from './files.js';
import { openModelDir } from '../formats/model-dir.js';
import { backboneShape, type BackboneShape, PROMPT_METHODS, type PromptMethod, type PromptModel, shapeText } from './model.js';
import { PrefixTuningModel } from './ptuning-v2.js';
import { PTuningModel } from './ptuning.js';
import { plainRows, type ReparamInfo } from './reparam.js';
import { PROMPT_TASKS, type PromptTask, taskLabelNames } from './tasks.js';
import { TEMPLATES } from './templates.js';
import type { PromptTuneRecord } from './train.js';
import { usablePositions } from '../formats/hf-config.js';

export const PROMPT_JSON = 'prompt.json';
export const PROMPT_TENSORS = 'prompt.safetensors';
export const PROMPT_FORMAT = 'lmsanitator-prompt';
export const PROMPT_FORMAT_VERSION = 1;

export interface LoadedPrompt {
  model: PromptModel;
  /** Set when the backbone is not the one the prompt was trained on (same shape, other sha256). */
  warning: string | null;
  /** prompt.json as read. */
  json: Record<string, unknown>;
}

/** prompt.json's content for a model (and its training record, when it has one). */
export function promptJson(model: PromptModel, record?: PromptTuneRecord | null): Record<string, unknown> {
  const i = model.info;
  const { hyperparameters, dev, seed, data, ...training } = record ?? ({} as Partial<PromptTuneRecord>);
  const b = model.backbone;
  return {
    format: PROMPT_FORMAT,
    format_version: PROMPT_FORMAT_VERSION,
    method: model.method,
    task: model.task,
    kind: model.kind,
    labels: model.labelNames,
    ...(model.method === 'ptuning'
      ? { template: i.template, verbalizer: i.verbalizer, verbalizer_ids: i.verbalizerIds, verbalizer_warnings: i.warnings, rows_per_placeholder: i.rowsPerPlaceholder }
      : { prefix_length: i.prefixLength }),
    num_virtual_tokens: i.numVirtualTokens,
    reparameterization: i.reparam ? { type: i.reparam.type, hidden_size: i.reparam.hiddenSize, stored: 'folded: prompt_embeddings holds its output' } : null,
    head: i.head,
    max_len: model.maxLen,
    tensors: Object.fromEntries([...model.saved()].map(([n, t]) => [n, [...t.shape]])),
    backbone: { sha256: b.hash, dir: b.dir ? resolve(b.dir) : null, ...backboneShape(b.config) },
    seed: seed ?? null,
    data: data ?? null,
    hyperparameters: hyperparameters ?? null,
    dev: dev ?? null,
    training: record ? training : null,
  };
}

/** Writes prompt.safetensors, then prompt.json (atomically each; a stale prompt.json is removed first). */
export function savePrompt(dir: string, model: PromptModel, record?: PromptTuneRecord | null): void {
  mkdirSync(dir, { recursive: true });
  rmSync(join(dir, PROMPT_JSON), { force: true });
  const sd: StateDict = new Map();
  for (const [n, t] of model.saved()) sd.set(n, { shape: [...t.shape], data: Float32Array.from(t.data) });
  saveSafetensors(join(dir, PROMPT_TENSORS), sd, { format: 'pt', lmsanitator: 'prompt', method: model.method, task: model.task });
  writeJsonAtomic(join(dir, PROMPT_JSON), promptJson(model, record));
}

/** Reads the backbone block and refuses another shape; returns the hash warning, if any. */
export function checkBackbone(where: string, f: Fields, backbone: LoadedModel, what = 'prompt'): string | null {
  const bf = f.object('backbone');
  const want: BackboneShape = {
    model_type: bf.str('model_type', 40), layers: bf.int('layers', 1, 1 << 20), hidden: bf.int('hidden', 1, 1 << 20),
    heads: bf.int('heads', 1, 1 << 20), vocab: bf.int('vocab', 1, 1 << 30),
  };
  const have = backboneShape(backbone.config);
  if ((Object.keys(want) as (keyof BackboneShape)[]).some((k) => want[k] !== have[k])) {
    throw new FormatError(where, `this ${what} was trained on a backbone of shape ${shapeText(want)}; the backbone given is ${shapeText(have)}`);
  }
  const trained = bf.has('sha256') ? bf.str('sha256', 128) : '';
  if (trained === backbone.hash && trained !== '') return null;
  return `${where}: this ${what} was trained on backbone sha256 ${trained || '(unknown)'}, but is loaded onto sha256 ${backbone.hash || '(unknown: built in memory)'} (same shape); its behaviour there is untested`;
}

function reparamOf(f: Fields): ReparamInfo | null {
  if (!f.has('reparameterization')) return null;
  const r = f.object('reparameterization');
  return { type: r.oneOf('type', ['MLP', 'prefix_projection'] as const), hiddenSize: r.int('hidden_size', 1, 1 << 20) };
}

/** Loads a prompt directory onto `backbone`; every problem with the files is one line naming the file. */
export function loadPrompt(dir: string, backbone: LoadedModel): LoadedPrompt {
  const md = openModelDir(dir, { what: 'prompt' });
  const jsonFile = md.file(PROMPT_JSON);
  const json = readJsonObject(md, PROMPT_JSON);
  const f = new Fields(jsonFile, json);
  if (f.str('format', 100) !== PROMPT_FORMAT) throw new FormatError(jsonFile, `not a prompt file ("format" is not "${PROMPT_FORMAT}")`);
  const version = f.int('format_version', 1, 1 << 20);
  if (version > PROMPT_FORMAT_VERSION) throw new FormatError(jsonFile, `format_version ${version} is newer than this program reads (${PROMPT_FORMAT_VERSION})`);
  const method = f.oneOf<PromptMethod>('method', PROMPT_METHODS);
  const task = f.oneOf<PromptTask>('task', PROMPT_TASKS);
  const labels = f.strings('labels');
  const expectedLabels = taskLabelNames(task);
  if (labels.length !== expectedLabels.length || labels.some((l, i) => l !== expectedLabels[i])) {
    throw new FormatError(jsonFile, `"labels" ${JSON.stringify(labels).slice(0, 200)} are not ${task}'s (${expectedLabels.join(', ')})`);
  }
  const warning = checkBackbone(dir, f, backbone);
  const c = backbone.config;
  const P = f.int('num_virtual_tokens', 1, usablePositions(c));
  const maxLen = f.int('max_len', 1, 1 << 20);
  const reparam = reparamOf(f);
  const H = c.hiddenSize;
  const C = expectedLabels.length;
  const shapes = new Map<string, number[]>([['prompt_embeddings', method === 'ptuning' ? [P, H] : [P, 2 * c.numHiddenLayers * H]]]);
  if (method === 'ptuning-v2') {
    shapes.set('classifier.weight', [C, H]);
    shapes.set('classifier.bias', [C]);
  }
  const tensors = readTensors(md, PROMPT_TENSORS, shapes);
  const build = (): PromptModel => {
    if (method === 'ptuning') {
      if (task === 'conll04') throw new Error('P-tuning has no NER variant');
      const per = f.int('rows_per_placeholder', 1, 1 << 16);
      const spec = { template: f.str('template', 2000), fields: TEMPLATES[task]!.fields, verbalizer: f.strings('verbalizer', C, 200), source: 'prompt.json' };
      const m = new PTuningModel(backbone, task, spec, plainRows(tensors.get('prompt_embeddings')!), per, maxLen);
      const ids = f.ints('verbalizer_ids', 0, c.vocabSize - 1, C);
      if (ids.length !== C || ids.some((id, k) => id !== m.info.verbalizerIds![k])) {
        throw new Error(`the backbone's tokenizer maps the verbalizer words to ids ${JSON.stringify(m.info.verbalizerIds)}, prompt.json says ${JSON.stringify(ids)}: a different tokenizer`);
      }
      m.info.reparam = reparam;
      return m;
    }
    if (f.int('prefix_length', 1, 1 << 16) !== P) throw new Error('"prefix_length" and "num_virtual_tokens" disagree');
    const m = new PrefixTuningModel(backbone, task, plainRows(tensors.get('prompt_embeddings')!), { weight: tensors.get('classifier.weight')!, bias: tensors.get('classifier.bias')! }, maxLen);
    m.info.reparam = reparam;
    return m;
  };
  let model: PromptModel;
  try {
    model = build();
  } catch (e) {
    if (e instanceof FormatError) throw e;
    throw new FormatError(jsonFile, (e as Error).message);
  }
  return { model, warning, json };
}
