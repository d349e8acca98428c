/**
 * The prompt directory and the PEFT layout: round trips that give the same
 * logits, and bad files refused with one line naming the file (wrong
 * shapes, truncation, extra tensors, non-finite values, deep JSON, another
 * backbone's shape); another backbone of the same shape loads with a
 * warning naming both hashes.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { noGrad, withScope } from '../../src/engine/index.js';
import { loadSafetensors, saveSafetensors } from '../../src/formats/safetensors.js';
import type { LoadedModel } from '../../src/models/model.js';
import { loadPrompt, PROMPT_JSON, PROMPT_TENSORS, savePrompt } from '../../src/prompt/artefact.js';
import { padRows, type PromptModel } from '../../src/prompt/model.js';
import { ADAPTER_CONFIG, ADAPTER_WEIGHTS, loadPeft, savePeft } from '../../src/prompt/peft.js';
import { PrefixTuningModel } from '../../src/prompt/ptuning-v2.js';
import { PTuningModel } from '../../src/prompt/ptuning.js';
import { promptModel, tmpDir } from './helpers.js';

const HASH_A = 'a'.repeat(64);
const HASH_B = 'b'.repeat(64);

function backbone(o: { hidden?: number; hash?: string } = {}): LoadedModel {
  const m = promptModel({ seed: 5, hidden: o.hidden });
  m.hash = o.hash ?? HASH_A;
  return m;
}

function logitsOf(m: PromptModel): number[] {
  const ex = m.kind === 'ner'
    ? [m.encode({ tokens: ['John', 'lives', 'in', 'Boston'] }), m.encode({ tokens: ['the', 'film'] })]
    : [m.encode({ text: 'a great film', textB: 'it was' }), m.encode({ text: 'the worst movie', textB: 'so bad' })];
  return withScope(() => noGrad(() => m.forward(padRows(ex, m.backbone.tokenizer!.specialIds.pad)).logits.toArray()));
}

/** Perturbs the trained tensors so a round trip cannot pass on initial values alone. */
function trained(m: PromptModel): PromptModel {
  let k = 0;
  for (const t of m.trainable().values()) for (let i = 0; i < t.size; i++) t.data[i]! += Math.sin(++k) * 0.1;
  return m;
}

const models: [string, (b: LoadedModel) => PromptModel][] = [
  ['ptuning sst2', (b) => trained(PTuningModel.create(b, { task: 'sst2', rowsPerPlaceholder: 2, maxLen: 48, seed: 1 }))],
  ['ptuning boolq + MLP (folded)', (b) => trained(PTuningModel.create(b, { task: 'boolq', reparamHidden: 8, maxLen: 48, seed: 2 }))],
  ['ptuning-v2 rte', (b) => trained(PrefixTuningModel.create(b, { task: 'rte', prefixLen: 4, maxLen: 48, seed: 3 }))],
  ['ptuning-v2 ag-news + projection (folded)', (b) => trained(PrefixTuningModel.create(b, { task: 'ag-news', prefixLen: 2, reparamHidden: 8, maxLen: 48, seed: 4 }))],
  ['ptuning-v2 conll04', (b) => trained(PrefixTuningModel.create(b, { task: 'conll04', prefixLen: 3, maxLen: 48, seed: 5 }))],
];

function oneLine(e: unknown, re: RegExp): boolean {
  const msg = (e as Error).message;
  assert.ok(!/[\r\n]/.test(msg), `one line: ${msg}`);
  assert.match(msg, re);
  return true;
}

test('our prompt directory round-trips every method, with the same logits and a kilobyte-sized tensor file', () => {
  for (const [name, make] of models) {
    const b = backbone();
    const m = make(b);
    const before = logitsOf(m);
    const dir = tmpDir('prompt-rt');
    savePrompt(dir, m);
    const size = readFileSync(join(dir, PROMPT_TENSORS)).length;
    assert.ok(size < 16 * 1024, `${name}: ${size} bytes`);
    const l = loadPrompt(dir, b);
    assert.equal(l.warning, null, `${name}: same backbone, no warning`);
    assert.deepEqual(logitsOf(l.model).map((x) => Math.round(x * 1e5)), before.map((x) => Math.round(x * 1e5)), name);
    assert.equal(l.model.method, m.method);
    assert.deepEqual(l.model.info.reparam, m.info.reparam, `${name}: the reparameterisation is recorded`);
    assert.equal(l.model.info.template, m.info.template);
    assert.deepEqual([...l.model.saved().keys()], [...m.saved().keys()]);
    const json = JSON.parse(readFileSync(join(dir, PROMPT_JSON), 'utf8'));
    assert.equal(json.backbone.sha256, HASH_A);
    assert.deepEqual([json.backbone.layers, json.backbone.hidden, json.backbone.heads, json.backbone.vocab], [2, 32, 2, b.config.vocabSize]);
    assert.deepEqual(json.labels, m.labelNames);
  }
});

test('the PEFT layout round-trips every method; adapter_config.json and the tensor names are PEFT\'s', () => {
  for (const [name, make] of models) {
    const b = backbone();
    const m = make(b);
    const dir = tmpDir('peft-rt');
    savePeft(dir, m);
    const cfg = JSON.parse(readFileSync(join(dir, ADAPTER_CONFIG), 'utf8'));
    const { tensors, metadata } = loadSafetensors(join(dir, ADAPTER_WEIGHTS));
    const L = b.config.numHiddenLayers;
    const H = b.config.hiddenSize;
    const P = m.info.numVirtualTokens;
    assert.equal(metadata.format, 'pt');
    if (m.method === 'ptuning') {
      assert.equal(cfg.peft_type, 'P_TUNING');
      assert.deepEqual(tensors.get('prompt_embeddings')!.shape, [P, H]);
      assert.deepEqual([...tensors.keys()], ['prompt_embeddings']);
    } else {
      assert.equal(cfg.peft_type, 'PREFIX_TUNING');
      assert.equal(cfg.prefix_projection, false, 'rows are stored folded');
      assert.deepEqual(tensors.get('prompt_embeddings')!.shape, [P, L * 2 * H]);
      const head = m.kind === 'ner' ? 'base_model.classifier' : 'lmsanitator.classifier';
      assert.deepEqual([...tensors.keys()].sort(), [`${head}.bias`, `${head}.weight`, 'prompt_embeddings']);
      assert.equal(cfg.task_type, m.kind === 'ner' ? 'TOKEN_CLS' : 'SEQ_CLS');
    }
    assert.deepEqual([cfg.num_virtual_tokens, cfg.token_dim, cfg.num_layers, cfg.num_attention_heads, cfg.num_transformer_submodules], [P, H, L, 2, 1]);
    const l = loadPeft(dir, b);
    assert.equal(l.warning, null, name);
    assert.deepEqual(logitsOf(l.model).map((x) => Math.round(x * 1e5)), logitsOf(m).map((x) => Math.round(x * 1e5)), name);
  }
});

test('a PEFT-written adapter (no metadata) loads with the task given; without it, or with a pooler head, it is refused', () => {
  const b = backbone();
  const m = PTuningModel.create(b, { task: 'sms-spam', maxLen: 48, seed: 1 });
  const dir = tmpDir('peft-foreign');
  const rows = m.saved().get('prompt_embeddings')!;
  saveSafetensors(join(dir, ADAPTER_WEIGHTS), new Map([['prompt_embeddings', { shape: [...rows.shape], data: Float32Array.from(rows.data) }]]), { format: 'pt' });
  writeFileSync(join(dir, ADAPTER_CONFIG), JSON.stringify({
    peft_type: 'P_TUNING', task_type: 'SEQ_CLS', num_virtual_tokens: 2, token_dim: 32, num_layers: 2, num_attention_heads: 2,
    num_transformer_submodules: 1, encoder_reparameterization_type: 'MLP', encoder_hidden_size: 32, inference_mode: true,
  }));
  assert.throws(() => loadPeft(dir, b), (e) => oneLine(e, /adapter_model\.safetensors: does not say which task/));
  const l = loadPeft(dir, b, { task: 'sms-spam' });
  assert.match(l.warning!, /not recorded/);
  assert.deepEqual(logitsOf(l.model), logitsOf(m));

  const v2 = tmpDir('peft-foreign-v2');
  writeFileSync(join(v2, ADAPTER_CONFIG), JSON.stringify({ peft_type: 'PREFIX_TUNING', task_type: 'SEQ_CLS', num_virtual_tokens: 2, token_dim: 32, num_layers: 2, num_attention_heads: 2 }));
  const f = (shape: number[]) => ({ shape, data: new Float32Array(shape.reduce((a, c) => a * c, 1)) });
  saveSafetensors(join(v2, ADAPTER_WEIGHTS), new Map([['prompt_embeddings', f([2, 128])], ['base_model.classifier.weight', f([2, 32])], ['base_model.classifier.bias', f([2])]]));
  assert.throws(() => loadPeft(v2, b, { task: 'sst2' }), (e) => oneLine(e, /no task head lmsanitator\.classifier\.weight; .*reads the pooler/));
});

test('bad prompt files are refused with one line naming the file', () => {
  const b = backbone();
  const fresh = () => {
    const dir = tmpDir('prompt-bad');
    savePrompt(dir, PrefixTuningModel.create(b, { task: 'sst2', prefixLen: 2, maxLen: 48, seed: 1 }));
    return dir;
  };
  const tensorsFile = (d: string) => join(d, PROMPT_TENSORS);
  const write = (d: string, entries: [string, number[], number?][]) => saveSafetensors(tensorsFile(d), new Map(entries.map(([n, s, v]) => [n, { shape: s, data: new Float32Array(s.reduce((a, c) => a * c, 1)).fill(v ?? 0) }])));

  let d = fresh();
  write(d, [['prompt_embeddings', [3, 128]], ['classifier.weight', [2, 32]], ['classifier.bias', [2]]]);
  assert.throws(() => loadPrompt(d, b), (e) => oneLine(e, /prompt\.safetensors: tensor "prompt_embeddings" has shape \[3, 128\], expected \[2, 128\]/));

  d = fresh();
  const bytes = readFileSync(tensorsFile(d));
  writeFileSync(tensorsFile(d), bytes.subarray(0, bytes.length - 100));
  assert.throws(() => loadPrompt(d, b), (e) => oneLine(e, /prompt\.safetensors: /));

  d = fresh();
  write(d, [['prompt_embeddings', [2, 128]], ['classifier.weight', [2, 32]], ['classifier.bias', [2]], ['extra', [1]]]);
  assert.throws(() => loadPrompt(d, b), (e) => oneLine(e, /unexpected tensor "extra"/));

  d = fresh();
  write(d, [['prompt_embeddings', [2, 128], NaN], ['classifier.weight', [2, 32]], ['classifier.bias', [2]]]);
  assert.throws(() => loadPrompt(d, b), (e) => oneLine(e, /"prompt_embeddings" holds NaN at element 0; values must be finite/));

  d = fresh();
  writeFileSync(join(d, PROMPT_JSON), `${'['.repeat(40)}${']'.repeat(40)}`);
  assert.throws(() => loadPrompt(d, b), (e) => oneLine(e, /prompt\.json: JSON nests deeper than 6 levels/));

  d = fresh();
  const json = JSON.parse(readFileSync(join(d, PROMPT_JSON), 'utf8'));
  writeFileSync(join(d, PROMPT_JSON), JSON.stringify({ ...json, num_virtual_tokens: 'two' }));
  assert.throws(() => loadPrompt(d, b), (e) => oneLine(e, /prompt\.json: "num_virtual_tokens" must be an integer/));

  assert.throws(() => loadPrompt(join(d, 'nope'), b), (e) => oneLine(e, /nope: no such prompt directory/));
});

test('another backbone: a different shape is refused naming both shapes; the same shape loads with a warning naming both hashes', () => {
  const dir = tmpDir('prompt-other');
  savePrompt(dir, PTuningModel.create(backbone(), { task: 'sst2', maxLen: 48, seed: 1 }));
  assert.throws(() => loadPrompt(dir, backbone({ hidden: 16 })), (e) => oneLine(e, new RegExp(`^${dir}: this prompt was trained on a backbone of shape bert 2 layers × hidden 32, 2 heads, vocab \\d+; the backbone given is bert 2 layers × hidden 16, 2 heads`)));
  const l = loadPrompt(dir, backbone({ hash: HASH_B }));
  assert.ok(l.warning!.includes(HASH_A) && l.warning!.includes(HASH_B), l.warning!);
  assert.ok(!/[\r\n]/.test(l.warning!));

  const peft = tmpDir('peft-other');
  savePeft(peft, PrefixTuningModel.create(backbone(), { task: 'sst2', prefixLen: 2, maxLen: 48, seed: 1 }));
  assert.throws(() => loadPeft(peft, backbone({ hidden: 16 })), (e) => oneLine(e, /this adapter was made for a backbone with 2 layers × token_dim 32, 2 heads; the backbone given is bert 2 layers × hidden 16/));
  const lp = loadPeft(peft, backbone({ hash: HASH_B }));
  assert.ok(lp.warning!.includes(HASH_A) && lp.warning!.includes(HASH_B), lp.warning!);
});
