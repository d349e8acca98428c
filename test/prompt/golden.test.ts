/**
 * The prompt methods against a PyTorch reference built from PEFT's own code
 * paths (test/fixtures/prompt, made by generate.py there): adapters laid out
 * as PEFT saves them load through loadPeft and give the reference's hidden
 * states, logits and prompt gradients; PEFT's PrefixEncoder projection and
 * MLP PromptEncoder give the same rows as ours. Both backends.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { backward, backendName, crossEntropy, nativeAvailable, noGrad, setBackend, type Tensor, withScope } from '../../src/engine/index.js';
import { loadEncoderConfig } from '../../src/formats/hf-config.js';
import { loadSafetensors } from '../../src/formats/safetensors.js';
import { fromStateDict, type LoadedModel } from '../../src/models/model.js';
import { padRows, type PromptModel, type PromptRow } from '../../src/prompt/model.js';
import { loadPeft } from '../../src/prompt/peft.js';
import { mlpRows, projectedRows, type PromptRows } from '../../src/prompt/reparam.js';
import { packageRoot } from '../../src/text/data-dir.js';
import { TextTokenizer } from '../../src/text/tokenizer.js';

const ROOT = join(packageRoot(), 'test', 'fixtures', 'prompt');
type Nested = number | Nested[];
const flat = (x: Nested): number[] => (Array.isArray(x) ? x.flatMap(flat) : [x]);

function assertClose(what: string, actual: ArrayLike<number>, expected: number[]): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  const scale = Math.max(1, ...expected.map(Math.abs));
  for (let i = 0; i < expected.length; i++) {
    const err = Math.abs(actual[i]! - expected[i]!);
    assert.ok(err <= 1e-4 * Math.abs(expected[i]!) + 1e-5 * scale, `${what}[${i}]: got ${actual[i]}, expected ${expected[i]}`);
  }
}

function backbone(dir: string, vocab: string[]): LoadedModel {
  const m = fromStateDict(loadEncoderConfig(dir), loadSafetensors(join(dir, 'model.safetensors')).tensors);
  m.tokenizer = TextTokenizer.fromWordPieceVocab(vocab);
  return m;
}

/** Golden rows without their padding (padRows pads again). */
function rowsOf(g: { inputs: Record<string, Nested> }, extra: (b: number) => Partial<PromptRow>): PromptRow[] {
  const ids = g.inputs.input_ids as number[][];
  return ids.map((r, b) => {
    const n = (g.inputs.attention_mask as number[][])[b]!.reduce((s, x) => s + x, 0);
    return { ids: r.slice(0, n), typeIds: (g.inputs.token_type_ids as number[][])[b]!.slice(0, n), truncated: false, ...extra(b) };
  });
}

function checkModel(name: string, model: PromptModel, rows: PromptRow[], g: Record<string, any>, hiddenKey: string): void {
  const b = padRows(rows, model.backbone.tokenizer!.specialIds.pad);
  withScope(() => noGrad(() => {
    const out = model.forward(b);
    assertClose(`${name} ${hiddenKey}`, out.hidden.data, flat(g.outputs[hiddenKey]));
    assertClose(`${name} logits`, out.logits.data, flat(g.outputs.logits));
  }));
  const prompt = model.trainable().get('prompt_embeddings')!;
  prompt.requiresGrad = true;
  try {
    withScope(() => {
      const loss = crossEntropy(model.forward(b).logits, Int32Array.from(g.inputs.labels as number[]));
      assertClose(`${name} loss`, [loss.item()], [g.outputs.loss]);
      backward(loss);
    });
    assertClose(`${name} d loss / d prompt_embeddings`, prompt.grad!, flat(g.grads.prompt_embeddings));
  } finally {
    prompt.grad = null;
    prompt.requiresGrad = false;
  }
}

function setParams(r: PromptRows, values: Record<string, Nested>, prefix: string): void {
  for (const [k, v] of Object.entries(values)) {
    if (k === 'output') continue;
    const t: Tensor = r.params.get(`${prefix}.${k === 'embedding' ? 'embedding.weight' : k}`)!;
    assert.ok(t, `${prefix}.${k}`);
    (t.data as Float32Array).set(flat(v));
  }
}

for (const backend of ['js', 'native'] as const) {
  const skip = backend === 'native' && !nativeAvailable() ? 'native addon not built' : false;
  const on = (fn: () => void) => () => {
    const before = backendName();
    setBackend(backend);
    try {
      fn();
    } finally {
      setBackend(before);
    }
  };

  test(`golden PREFIX_TUNING adapter: first-token hidden state, logits, prefix gradient; PEFT's prefix projection (${backend})`, { skip }, on(() => {
    const dir = join(ROOT, 'prefix');
    const g = JSON.parse(readFileSync(join(dir, 'golden.json'), 'utf8'));
    const bb = backbone(dir, g.vocab);
    const { model, warning } = loadPeft(dir, bb, { task: g.task });
    assert.match(warning!, /not recorded/);
    assert.equal(model.method, 'ptuning-v2');
    checkModel('prefix', model, rowsOf(g, () => ({})), g, 'hidden_first_token');
    const { prefix_len: P, reparam_hidden: HID } = g.dims;
    const H = bb.config.hiddenSize;
    const r = projectedRows(P, H, 2 * bb.config.numHiddenLayers * H, HID, 0);
    setParams(r, g.projection, 'prefix_encoder');
    withScope(() => noGrad(() => assertClose('PrefixEncoder transform', r.rows().data, flat(g.projection.output))));
  }));

  test(`golden P_TUNING adapter: hidden state at the mask, verbalizer logits, prompt gradient; PEFT's MLP prompt encoder (${backend})`, { skip }, on(() => {
    const dir = join(ROOT, 'ptuning');
    const g = JSON.parse(readFileSync(join(dir, 'golden.json'), 'utf8'));
    const bb = backbone(dir, g.vocab);
    const { model } = loadPeft(dir, bb, { task: g.task });
    assert.equal(model.method, 'ptuning');
    assert.deepEqual(model.info.verbalizerIds, g.verbalizer_ids);
    checkModel('ptuning', model, rowsOf(g, (b) => ({ promptAt: g.inputs.prompt_at[b], maskAt: g.inputs.mask_at[b] })), g, 'hidden_at_mask');
    const r = mlpRows(g.dims.prompt_rows, bb.config.hiddenSize, g.dims.reparam_hidden, 0);
    setParams(r, g.mlp, 'prompt_encoder');
    withScope(() => noGrad(() => assertClose('PromptEncoder MLP', r.rows().data, flat(g.mlp.output))));
  }));
}
