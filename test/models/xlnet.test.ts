/**
 * XLNet beyond the golden numbers (test/models/golden.test.ts checks those
 * against generate_xlnet.py): the summary position (the scanner's cls mode
 * reads each row's last real token), padding on either side gives the same
 * real-token outputs, the tokenizer's default types, the sequence
 * classifier, P-tuning v2 prefixes, saving and a fresh initialisation.
 */
import assert from 'node:assert/strict';
import { cpSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { backwardMany, gatherRows, linear, noGrad, reshape, tanh, Tensor, withScope } from '../../src/engine/index.js';
import { loadEncoderConfig, parameterCount } from '../../src/formats/hf-config.js';
import { loadSafetensors } from '../../src/formats/safetensors.js';
import { Encoder } from '../../src/models/encoder.js';
import { SequenceClassificationHead } from '../../src/models/heads.js';
import { fromStateDict, loadModel, saveModel } from '../../src/models/model.js';
import { summaryPosition, summaryPositions } from '../../src/models/summary.js';
import { xlnetDefaultTokenTypes } from '../../src/models/xlnet.js';
import { placeholderRow, prepareMiningData, DEFAULT_DATA_OPTIONS } from '../../src/sanitizer/data.js';
import { scanTargetOf } from '../../src/sanitizer/model-target.js';
import { Rng } from '../../src/text/random.js';
import { xlnetSpieceModel } from '../helpers/spiece.js';
import { tmpDir } from '../helpers/tmp.js';

const GOLDEN = join(import.meta.dirname, '..', '..', '..', 'test', 'fixtures', 'golden');

/** The xlnet_base golden model (2 layers, d 24, 4 heads, V 110) with an XLNet tokenizer of its 110 rows. */
function xlnetDir(): string {
  const dir = join(tmpDir('xlnet'), 'xlnet_base');
  cpSync(join(GOLDEN, 'xlnet_base'), dir, { recursive: true });
  writeFileSync(join(dir, 'spiece.model'), xlnetSpieceModel(110));
  return dir;
}

const close = (what: string, a: ArrayLike<number>, b: ArrayLike<number>, tol = 2e-5) => {
  assert.equal(a.length, b.length, `${what}: length`);
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i]! - b[i]!) <= tol * (1 + Math.abs(b[i]!)), `${what}[${i}]: ${a[i]} vs ${b[i]}`);
};

test('summary position: the first token, XLNet\'s last (summary_type "last"); per row by the mask', () => {
  const bert = loadEncoderConfig(join(GOLDEN, 'bert_base'));
  const xlnet = loadEncoderConfig(join(GOLDEN, 'xlnet_base'));
  assert.equal(summaryPosition(bert, 9), 0);
  assert.equal(summaryPosition(xlnet, 9), 8);
  assert.equal(summaryPosition({ ...xlnet, xlnet: { ...xlnet.xlnet!, summaryType: 'first' } }, 9), 0);
  const mask = [1, 1, 1, 1, 1, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1];
  assert.deepEqual([...summaryPositions(bert, mask, 2, 8)], [0, 0]);
  assert.deepEqual([...summaryPositions(xlnet, mask, 2, 8)], [4, 7]);
  assert.deepEqual([...summaryPositions(xlnet, undefined, 2, 8)], [7, 7]);
  assert.throws(() => summaryPositions(xlnet, new Array(16).fill(0), 2, 8), /row 0 has no real token/);
});

test('the scanner\'s cls mode on XLNet reads each row\'s last real token (<cls>), and h_aux there', () => {
  const model = loadModel(xlnetDir());
  const target = scanTargetOf(model);
  const cls = model.tokenizer!.specialIds.cls;
  assert.equal(cls, 3);
  const enc = model.tokenizer!.encode('w7 w8 w9');
  assert.deepEqual(enc.ids, [7, 8, 9, 4, 3]);
  assert.deepEqual(enc.tokenTypeIds, [0, 0, 0, 0, 2], 'XLNet\'s template: A <sep> <cls>, <cls> of type 2');

  const o = { ...DEFAULT_DATA_OPTIONS, mode: 'cls' as const, promptLen: 2, batchSize: 4, maxLen: 24 };
  const row = placeholderRow(target, 'w10 w11 w12 w13', o, new Rng(1));
  assert.equal(row.target, row.ids.length - 1);
  assert.equal(row.ids[row.target], cls);
  assert.equal(row.auxTarget, row.auxIds.length - 1);
  assert.equal(row.auxIds[row.auxTarget], cls);

  // Rows of different lengths in one batch: each target is its own row's last real token.
  const sentences = ['w7 w8', 'w9 w10 w11 w12 w13 w14', 'w15 w16 w17', 'w20 w21 w22 w23 w24 w25 w26 w27'];
  const data = prepareMiningData(target, sentences, { ...o, batchOrder: 'input' });
  const b = data.batches[0]!;
  const lengths = Array.from({ length: b.B }, (_, r) => {
    let n = 0;
    for (let t = 0; t < b.T; t++) n += b.mask[r * b.T + t]!;
    return n;
  });
  assert.ok(new Set(lengths).size > 1, 'rows of different lengths');
  for (let r = 0; r < b.B; r++) {
    assert.equal(b.targetPositions[r], lengths[r]! - 1, `row ${r}: the last real token`);
    assert.equal(b.ids[r * b.T + b.targetPositions[r]!], cls, `row ${r}: <cls>`);
  }
  // h_aux: the clean sentence's <cls> output, computed alone (no padding).
  noGrad(() => withScope(() => {
    for (let r = 0; r < b.B; r++) {
      const ids = model.tokenizer!.encode(sentences[r]!).ids;
      const T = ids.length;
      const out = model.encoder.forward({ batch: 1, seqLen: T, inputIds: Int32Array.from(ids), withPooler: false });
      close(`h_aux row ${r}`, b.aux.subarray(r * 24, (r + 1) * 24), out.lastHiddenState.data.subarray((T - 1) * 24, T * 24));
    }
  }));
});

test('XLNet: real tokens give the same outputs with padding on the right (ours), on the left (HF\'s) or none', () => {
  const model = fromStateDict(loadEncoderConfig(join(GOLDEN, 'xlnet_base')), loadSafetensors(join(GOLDEN, 'xlnet_base', 'model.safetensors')).tensors);
  const H = 24;
  const real = [11, 12, 13, 14, 4, 3];
  const types = [0, 0, 0, 0, 0, 2];
  const n = real.length;
  const T = 9;
  const run = (ids: number[], mask: number[], tt: number[]) => noGrad(() => withScope(() =>
    Float32Array.from(model.encoder.forward({
      batch: 1, seqLen: ids.length, inputIds: Int32Array.from(ids), attentionMask: mask, tokenTypeIds: Int32Array.from(tt), withPooler: false,
    }).lastHiddenState.data)));
  const alone = run(real, real.map(() => 1), types);
  const pad = new Array(T - n).fill(5);
  const right = run([...real, ...pad], [...real.map(() => 1), ...pad.map(() => 0)], [...types, ...pad.map(() => 3)]);
  const left = run([...pad, ...real], [...pad.map(() => 0), ...real.map(() => 1)], [...pad.map(() => 3), ...types]);
  close('right-padded', right.subarray(0, n * H), alone);
  close('left-padded', left.subarray((T - n) * H), alone);
});

test('XLNet without tokenTypeIds uses the tokenizer\'s one-sentence types: 0 …, 2 on the last real token, 3 on padding', () => {
  const model = fromStateDict(loadEncoderConfig(join(GOLDEN, 'xlnet_base')), loadSafetensors(join(GOLDEN, 'xlnet_base', 'model.safetensors')).tensors);
  const mask = [1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1];
  const types = xlnetDefaultTokenTypes(mask, 2, 6);
  assert.deepEqual([...types], [0, 0, 0, 2, 3, 3, 0, 0, 0, 0, 0, 2]);
  const ids = Int32Array.from([20, 21, 4, 3, 5, 5, 30, 31, 32, 33, 4, 3]);
  noGrad(() => withScope(() => {
    const a = model.encoder.forward({ batch: 2, seqLen: 6, inputIds: ids, attentionMask: mask, withPooler: false }).lastHiddenState.data;
    const b = model.encoder.forward({ batch: 2, seqLen: 6, inputIds: ids, attentionMask: mask, tokenTypeIds: types, withPooler: false }).lastHiddenState.data;
    assert.deepEqual([...a], [...b]);
    // And the segment term matters: all-zero types give other outputs.
    const z = model.encoder.forward({ batch: 2, seqLen: 6, inputIds: ids, attentionMask: mask, tokenTypeIds: new Int32Array(12), withPooler: false }).lastHiddenState.data;
    assert.ok(a.some((x, i) => Math.abs(x - z[i]!) > 1e-3));
  }));
});

test('XLNetForSequenceClassification: sequence_summary (last token, Linear, tanh) then logits_proj; saved and reloaded by HF names', () => {
  const dir = xlnetDir();
  const base = loadModel(dir);
  assert.ok(base.mlm, 'lm_loss is the MLM head');
  assert.equal(base.mlm!.dense, null, 'lm_loss has no transform');
  assert.deepEqual(base.unusedKeys, [], 'mask_emb is a parameter; lm_loss.weight the tied copy');
  const head = SequenceClassificationHead.init(base.config, 3, 7);
  assert.deepEqual([...head.params.keys()].sort(), ['logits_proj.bias', 'logits_proj.weight', 'sequence_summary.summary.bias', 'sequence_summary.summary.weight']);
  const out = join(tmpDir('xlnet-cls'), 'm');
  saveModel(out, { ...base, mlm: null, sequenceClassifier: head });
  const m = loadModel(out);
  assert.equal(m.config.raw['architectures']!.toString(), 'XLNetForSequenceClassification');
  assert.ok(m.sequenceClassifier && !m.tokenClassifier);
  assert.equal(m.sequenceClassifier.numLabels, 3);
  assert.equal(m.sequenceClassifier.usesPooler, false);
  for (const [n, t] of base.encoder.params) assert.deepEqual([...m.encoder.params.get(n)!.data], [...t.data], n);
  const saved = loadSafetensors(join(out, 'model.safetensors')).tensors;
  assert.ok(saved.has('transformer.layer.0.rel_attn.q') && saved.has('transformer.mask_emb') && saved.has('logits_proj.weight'));
  assert.deepEqual(saved.get('transformer.layer.1.rel_attn.r')!.shape, [24, 4, 6], 'q/k/v/o/r keep their [d_model, n_head, d_head] shape');

  noGrad(() => withScope(() => {
    const ids = Int32Array.from([10, 11, 12, 4, 3, 5, 20, 21, 22, 23, 4, 3]);
    const mask = [1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1];
    const h = m.encoder.forward({ batch: 2, seqLen: 6, inputIds: ids, attentionMask: mask, withPooler: false }).lastHiddenState;
    const x = gatherRows(reshape(h, [12, 24]), Int32Array.from([4, 11]));
    const logits = m.sequenceClassifier!.forward(x).data;
    const p = m.sequenceClassifier!.params;
    const want = linear(tanh(linear(x, p.get('sequence_summary.summary.weight')!, p.get('sequence_summary.summary.bias')!)), p.get('logits_proj.weight')!, p.get('logits_proj.bias')!).data;
    close('logits', logits, want, 1e-6);
  }));
});

test('XLNet P-tuning v2 prefix: key-space rows, content term only, gradients reach them; the prefix takes no positions', () => {
  const model = fromStateDict(loadEncoderConfig(join(GOLDEN, 'xlnet_base')), loadSafetensors(join(GOLDEN, 'xlnet_base', 'model.safetensors')).tensors);
  const B = 2, T = 5, P = 3, H = 24;
  const ids = Int32Array.from([10, 11, 12, 4, 3, 20, 21, 4, 3, 5]);
  const mask = [1, 1, 1, 1, 1, 1, 1, 1, 1, 0];
  const mk = (seed: number) => Tensor.from(Array.from({ length: B * P * H }, (_, i) => Math.sin(seed * 100 + i)), [B, P, H], { requiresGrad: true });
  withScope(() => {
    const keys = [mk(1), mk(2)];
    const values = [mk(3), mk(4)];
    const out = model.encoder.forward({ batch: B, seqLen: T, inputIds: ids, attentionMask: mask, prefix: { keys, values }, withPooler: false });
    const plain = noGrad(() => model.encoder.forward({ batch: B, seqLen: T, inputIds: ids, attentionMask: mask, withPooler: false }));
    assert.ok(out.lastHiddenState.data.some((x, i) => Math.abs(x - plain.lastHiddenState.data[i]!) > 1e-3), 'the prefix changes the outputs');
    backwardMany([[out.lastHiddenState, Float32Array.from({ length: B * T * H }, (_, i) => Math.cos(i))]]);
    for (const t of [...keys, ...values]) assert.ok(t.grad && t.grad.some((g) => g !== 0));
  });
  // The prefix takes no positions: 512 tokens (our bound) still fit beside it.
  noGrad(() => withScope(() => {
    const row = Tensor.from(Array.from({ length: 2 * H }, (_, i) => Math.sin(i)), [1, 2, H]);
    const out = model.encoder.forward({ batch: 1, seqLen: 512, inputIds: new Int32Array(512).fill(9), prefix: { keys: [row, row], values: [row, row] }, withPooler: false });
    assert.equal(out.lastHiddenState.shape[1], 512);
  }));
});

test('XLNet fresh initialisation: every parameter the config implies; relative biases drawn like weights', () => {
  const c = loadEncoderConfig(join(GOLDEN, 'xlnet_clamp'));
  const enc = Encoder.init(c, 5);
  assert.equal([...enc.params.values()].reduce((s, t) => s + t.size, 0), parameterCount(c));
  for (const n of ['layer.0.rel_attn.r_w_bias', 'layer.0.rel_attn.r_r_bias', 'layer.0.rel_attn.r_s_bias', 'mask_emb', 'layer.0.rel_attn.seg_embed']) {
    assert.ok(enc.params.get(n)!.data.some((x) => x !== 0), `${n} is drawn`);
  }
  assert.ok(enc.params.get('layer.0.ff.layer_1.bias')!.data.every((x) => x === 0));
  assert.ok(enc.params.get('layer.0.rel_attn.layer_norm.weight')!.data.every((x) => x === 1));
  // A sequence past our bound (512) is refused with the reason.
  assert.throws(() => enc.forward({ batch: 1, seqLen: 513, inputIds: new Int32Array(513).fill(7) }), /exceeds the model's position table \(512 usable positions\)/);
});
