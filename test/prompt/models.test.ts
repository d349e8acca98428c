/**
 * What each model computes, checked against the backbone run by hand: the
 * prompt rows land at the template's slots, the verbalizer logits are the
 * MLM logits at the label words, the v2 prefix is PEFT's layout, the
 * monitored vector is the backbone's own output, and a training step puts
 * no gradient on the backbone (and runs no weight-gradient GEMM for it).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  backward, gatherRows, gemmCounters, noGrad, reshape, resetGemmCounters, spliceRows, withScope,
} from '../../src/engine/index.js';
import { backboneTensors, freezeBackbone, padRows } from '../../src/prompt/model.js';
import { PrefixTuningModel } from '../../src/prompt/ptuning-v2.js';
import { PTuningModel } from '../../src/prompt/ptuning.js';
import { forEachBatch } from '../../src/prompt/predict.js';
import { promptLoss } from '../../src/prompt/train.js';
import { promptModel } from './helpers.js';

const close = (a: ArrayLike<number>, b: ArrayLike<number>, what: string, tol = 1e-5) => {
  assert.equal(a.length, b.length, `${what}: length`);
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i]! - b[i]!) <= tol * (1 + Math.abs(b[i]!)), `${what}[${i}]: ${a[i]} vs ${b[i]}`);
};

test('P-tuning: rows at the <p> slots, logits = the full MLM logits at the verbalizer ids, hidden = the mask position', () => {
  const bb = promptModel({ seed: 7 });
  const m = PTuningModel.create(bb, { task: 'sms-spam', rowsPerPlaceholder: 2, maxLen: 40, seed: 1 });
  const rows = [m.encode({ text: 'win a free prize now' }), m.encode({ text: 'see you at the station later tonight' })];
  const b = padRows(rows, bb.tokenizer!.specialIds.pad);
  withScope(() => noGrad(() => {
    const out = m.forward(b);
    assert.deepEqual(out.logits.shape, [2, 2]);
    assert.deepEqual(out.hidden.shape, [2, bb.config.hiddenSize]);
    const H = bb.config.hiddenSize;
    const prompt = m.trainable().get('prompt_embeddings')!;
    const dst = rows.flatMap((r, i) => r.promptAt!.map((t) => i * b.T + t));
    const src = rows.flatMap((r) => r.promptAt!.map((_, k) => k));
    const embeds = reshape(spliceRows(reshape(bb.encoder.embedIds(b.ids, b.B, b.T), [b.B * b.T, H]), Int32Array.from(dst), prompt, Int32Array.from(src)), [b.B, b.T, H]);
    const full = bb.encoder.forward({ batch: b.B, seqLen: b.T, inputIds: b.ids, inputsEmbeds: embeds, attentionMask: b.mask, tokenTypeIds: b.typeIds });
    const atMask = gatherRows(reshape(full.lastHiddenState, [b.B * b.T, H]), Int32Array.from(rows, (r, i) => i * b.T + r.maskAt!));
    close(out.hidden.data, atMask.data, 'hidden at <mask>');
    const vocab = bb.mlm!.forward(atMask);
    const V = vocab.shape[1]!;
    const ids = m.info.verbalizerIds!;
    close(out.logits.data, [0, 1].flatMap((r) => ids.map((id) => vocab.data[r * V + id]!)), 'verbalizer logits');
  }));
  assert.equal(m.info.numVirtualTokens, 4, '<p><p> × 2 rows each');
});

test("P-tuning v2: the prefix is PEFT's [P, 2·L·H] layout (layer l key at 2l, value at 2l+1), the head reads token 0's last hidden state", () => {
  const bb = promptModel({ seed: 8 });
  const m = PrefixTuningModel.create(bb, { task: 'sst2', prefixLen: 3, maxLen: 40, seed: 2 });
  const { hiddenSize: H, numHiddenLayers: L } = bb.config;
  const rows = m.trainable().get('prompt_embeddings')!;
  assert.deepEqual(rows.shape, [3, 2 * L * H]);
  withScope(() => noGrad(() => {
    const pre = m.prefix(2);
    for (let l = 0; l < L; l++) {
      for (const [kind, list, slot] of [['key', pre.keys, 2 * l], ['value', pre.values, 2 * l + 1]] as const) {
        assert.deepEqual(list[l]!.shape, [2, 3, H]);
        for (let b = 0; b < 2; b++) for (let p = 0; p < 3; p++) {
          close(list[l]!.data.subarray((b * 3 + p) * H, (b * 3 + p + 1) * H), rows.data.subarray(p * 2 * L * H + slot * H, p * 2 * L * H + (slot + 1) * H), `layer ${l} ${kind} row ${p}`, 0);
        }
      }
    }
    const ex = [m.encode({ text: 'a great film' }), m.encode({ text: 'dull and far too long for its own good' })];
    const b = padRows(ex, bb.tokenizer!.specialIds.pad);
    const out = m.forward(b);
    const full = bb.encoder.forward({ batch: b.B, seqLen: b.T, inputIds: b.ids, attentionMask: b.mask, tokenTypeIds: b.typeIds, prefix: m.prefix(b.B) });
    const first = gatherRows(reshape(full.lastHiddenState, [b.B * b.T, H]), Int32Array.from([0, b.T]));
    close(out.hidden.data, first.data, 'hidden at token 0');
    const w = m.head.weight.data;
    const expect = [0, 1].flatMap((r) => [0, 1].map((c) => m.head.bias.data[c]! + Array.from({ length: H }, (_, k) => w[c * H + k]! * first.data[r * H + k]!).reduce((s, x) => s + x, 0)));
    close(out.logits.data, expect, 'linear head on token 0');
  }));
  assert.equal(m.maxLen, 40);
  assert.equal(PrefixTuningModel.create(bb, { task: 'sst2', prefixLen: 30, maxLen: 500, seed: 2 }).maxLen, 160 - 30, 'the prefix uses up position rows');
});

test('NER: the first piece of each word carries its tag, other tokens −100; hidden is every token', () => {
  const bb = promptModel({ seed: 9 });
  const m = PrefixTuningModel.create(bb, { task: 'conll04', prefixLen: 2, maxLen: 40, seed: 3 });
  const tokens = ['John', 'U.S.', 'in', 'Boston'];
  const r = m.encode({ tokens, tags: [3, 4, 0, 1] });
  const enc = bb.tokenizer!.encodeWords(tokens, null, { maxLength: 40 });
  assert.ok(enc.ids.length > tokens.length + 2, 'one word is split into pieces');
  const firstOf = tokens.map((_, w) => enc.wordIds.indexOf(w));
  assert.deepEqual(r.wordStarts, firstOf);
  assert.deepEqual(r.tokenLabels, enc.ids.map((_, t) => (firstOf.includes(t) ? [3, 4, 0, 1][firstOf.indexOf(t)]! : -100)));
  const cut = m.encode({ tokens: Array.from({ length: 60 }, () => 'in') });
  assert.equal(cut.wordStarts!.filter((t) => t < 0).length, 60 - 38, 'truncated words have no first piece');
  withScope(() => noGrad(() => {
    const b = padRows([r], bb.tokenizer!.specialIds.pad);
    const out = m.forward(b);
    assert.deepEqual(out.hidden.shape, [1, b.T, bb.config.hiddenSize]);
    assert.deepEqual(out.logits.shape, [b.T, 9]);
  }));
});

test('a training step leaves the backbone without gradients and runs weight-gradient GEMMs only for the trained linear layers', () => {
  const cases: [string, () => { model: PTuningModel | PrefixTuningModel; gradWeight: number }][] = [
    ['ptuning', () => ({ model: PTuningModel.create(promptModel(), { task: 'sst2', maxLen: 32, seed: 1 }), gradWeight: 0 })],
    ['ptuning+mlp', () => ({ model: PTuningModel.create(promptModel(), { task: 'sst2', reparamHidden: 16, maxLen: 32, seed: 1 }), gradWeight: 3 })],
    ['ptuning-v2', () => ({ model: PrefixTuningModel.create(promptModel(), { task: 'rte', prefixLen: 4, maxLen: 32, seed: 1 }), gradWeight: 1 })],
    ['ptuning-v2+projection', () => ({ model: PrefixTuningModel.create(promptModel(), { task: 'rte', prefixLen: 4, reparamHidden: 8, maxLen: 32, seed: 1 }), gradWeight: 3 })],
    ['ptuning-v2 ner', () => ({ model: PrefixTuningModel.create(promptModel(), { task: 'conll04', prefixLen: 4, maxLen: 32, seed: 1 }), gradWeight: 1 })],
  ];
  for (const [name, make] of cases) {
    const { model, gradWeight } = make();
    freezeBackbone(model.backbone);
    for (const t of model.trainable().values()) t.requiresGrad = true;
    const rows = model.kind === 'ner'
      ? [model.encode({ tokens: ['John', 'in', 'Boston'], tags: [3, 0, 1] })]
      : [model.encode({ text: 'a great film', textB: 'it is good', label: 1 }), model.encode({ text: 'dull', textB: 'no', label: 0 })];
    resetGemmCounters();
    withScope(() => backward(promptLoss(model, rows, 11).loss));
    assert.equal(gemmCounters.gradWeight, gradWeight, `${name}: weight-gradient GEMMs`);
    assert.ok(gemmCounters.gradInput > 0, `${name}: gradients flow back through the backbone`);
    assert.equal(backboneTensors(model.backbone).filter((t) => t.grad !== null).length, 0, `${name}: no backbone gradient`);
    for (const [n, t] of model.trainable()) assert.ok(t.grad && t.grad.some((g) => g !== 0), `${name}: ${n} got a gradient`);
    for (const t of model.trainable().values()) {
      t.grad = null;
      t.requiresGrad = false;
    }
  }
});

test('forEachBatch: length-sorted batches, cut where padding would pass 25% (after 8 rows), every row once', () => {
  const lengths = [10, 40, 12, 11, 30, 13, 10, 39, 12, 11, 10, 31, 12, 40, 25, 26, 27, 10, 11, 12];
  const rows = lengths.map((n) => ({ ids: new Array<number>(n).fill(5), typeIds: new Array<number>(n).fill(0), truncated: false }));
  const seen: { T: number; lengths: number[] }[] = [];
  const stub = {
    backbone: { tokenizer: { specialIds: { pad: 0 } } },
    forward: (b: { T: number; rows: readonly { ids: number[] }[] }) => ({ logits: null, hidden: null, T: b.T }),
  } as unknown as Parameters<typeof forEachBatch>[0];
  forEachBatch(stub, rows, { batchSize: 64 }, (b, _out, index) => seen.push({ T: b.T, lengths: index.map((i) => lengths[i]!) }));
  assert.deepEqual(seen.flatMap((s) => s.lengths).sort((a, b) => a - b), [...lengths].sort((a, b) => a - b), 'every row once');
  for (const s of seen) {
    assert.equal(s.T, Math.max(...s.lengths));
    const first = Math.min(...s.lengths);
    assert.ok(s.lengths.length <= 8 || s.T <= 1.25 * first, `batch of ${s.lengths.length} rows padded from ${first} to ${s.T}`);
  }
  assert.ok(seen.length >= 2, 'the 10-token rows are not padded to 40');
  const small: number[] = [];
  forEachBatch(stub, rows, { batchSize: 3 }, (b) => small.push(b.B));
  assert.ok(small.every((n) => n <= 3));
});
