/**
 * DeBERTa pieces the golden cases do not pin down on their own: the log
 * buckets against torch's float32 table, the parameter shapes against
 * parameterCount, the relative index, both MLM naming schemes through a
 * save/load, DeBERTa's sequence classifier, and the last-layer row shortcuts.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { backward, noGrad, reshape, Tensor, withScope } from '../../src/engine/index.js';
import { createEncoderConfig, type EncoderConfig, loadEncoderConfig, parameterCount } from '../../src/formats/hf-config.js';
import { loadSafetensors } from '../../src/formats/safetensors.js';
import { logBucketPosition, relativePositionIndex } from '../../src/models/deberta.js';
import { Encoder, encoderParamShapes } from '../../src/models/encoder.js';
import { MlmHead, SequenceClassificationHead } from '../../src/models/heads.js';
import { fromStateDict, loadModel, saveModel, toStateDict } from '../../src/models/model.js';
import { TextTokenizer } from '../../src/text/tokenizer.js';
import { tmpDir } from '../helpers/tmp.js';

const GOLDEN = join(import.meta.dirname, '..', '..', '..', 'test', 'fixtures', 'golden');

function golden(name: string) {
  const dir = join(GOLDEN, name);
  return { dir, config: loadEncoderConfig(dir), sd: loadSafetensors(join(dir, 'model.safetensors')).tensors };
}

const V3 = { relative_attention: true, position_buckets: 256, share_att_key: true, norm_rel_ebd: 'layer_norm', pos_att_type: 'p2c|c2p', position_biased_input: false };

test('log buckets equal torch float32 make_log_bucket_position (deberta_buckets.json)', () => {
  const file = JSON.parse(readFileSync(join(GOLDEN, 'deberta_buckets.json'), 'utf8')) as {
    tables: { position_buckets: number; max_relative_positions: number; first: number; buckets: number[] }[];
  };
  assert.ok(file.tables.some((t) => t.position_buckets === 256 && t.max_relative_positions === 512), 'the deberta-v3 table is there');
  for (const t of file.tables) {
    const ours = t.buckets.map((_, k) => logBucketPosition(t.first + k, t.position_buckets, t.max_relative_positions));
    assert.deepEqual(ours, t.buckets, `buckets ${t.position_buckets}, max ${t.max_relative_positions}`);
  }
});

test('the parameter shapes add up to parameterCount', () => {
  const sizes = { vocabSize: 500, hiddenSize: 48, numAttentionHeads: 4, numHiddenLayers: 2, intermediateSize: 96, maxPositionEmbeddings: 64 };
  const configs: EncoderConfig[] = [
    createEncoderConfig('deberta-v2', sizes, { ...V3, position_buckets: 16 }),
    createEncoderConfig('deberta-v2', { ...sizes, embeddingSize: 24, typeVocabSize: 2 }, { ...V3, share_att_key: false, position_biased_input: true, position_buckets: -1 }),
    createEncoderConfig('deberta-v2', sizes, { ...V3, position_buckets: 16, relative_attention: false }),
    createEncoderConfig('deberta', sizes, { relative_attention: true, pos_att_type: 'c2p|p2c', position_biased_input: false }),
    createEncoderConfig('deberta', sizes, { relative_attention: true, pos_att_type: ['p2c'], max_relative_positions: 8 }),
  ];
  for (const c of configs) {
    let n = 0;
    for (const shape of encoderParamShapes(c).values()) n += shape.reduce((a, b) => a * b, 1);
    assert.equal(n, parameterCount(c), `${c.modelType} ${JSON.stringify(c.raw)}`);
  }
  const v1 = encoderParamShapes(configs[3]!);
  assert.deepEqual(v1.get('encoder.layer.1.attention.self.in_proj.weight'), [144, 48]);
  assert.equal(v1.has('encoder.layer.0.attention.self.pos_proj.bias'), false, 'v1 pos_proj has no bias');
  assert.equal(encoderParamShapes(configs[0]!).has('encoder.layer.0.attention.self.pos_key_proj.weight'), false, 'shared keys');
});

test('relative index: δ depends on i − j only, clamped (v1) or log-bucketed (v2), over the rows the sequence reaches', () => {
  const v1 = createEncoderConfig('deberta', { hiddenSize: 8, numAttentionHeads: 2, intermediateSize: 8, vocabSize: 10, numHiddenLayers: 1, maxPositionEmbeddings: 32 },
    { relative_attention: true, pos_att_type: 'c2p|p2c', max_relative_positions: 3 });
  const r = relativePositionIndex(v1, 6);
  // i − j from −5 to 5 clamped into [−3, 2] + span 3: rows 0 … 5 of the 6-row table.
  assert.deepEqual([r.lo, r.count], [0, 6]);
  assert.deepEqual([...r.index.subarray(0, 6)], [3, 2, 1, 0, 0, 0], 'query 0: i − j = 0, −1, −2, −3 (clamped below)');
  assert.deepEqual([...r.index.subarray(30, 36)], [5, 5, 5, 5, 4, 3], 'query 5: i − j = 5 … 0, clamped at 2·span − 1');
  const v3 = createEncoderConfig('deberta-v2', { hiddenSize: 8, numAttentionHeads: 2, intermediateSize: 8, vocabSize: 10, numHiddenLayers: 1, maxPositionEmbeddings: 512 }, V3);
  const b = relativePositionIndex(v3, 300);
  for (const [i, j] of [[0, 0], [299, 0], [0, 299], [150, 20]] as const) {
    const want = logBucketPosition(i - j, 256, 512) + 256 - b.lo;
    assert.equal(b.index[i * 300 + j], want, `δ(${i}, ${j})`);
  }
  assert.ok(b.count < 2 * 300 - 1, 'buckets merge distant positions');
});

test('both MLM naming schemes load, save under their own names and reload to the same outputs', () => {
  for (const [name, head] of [['deberta_v3', 'lm_predictions.lm_head'], ['deberta_v1', 'cls.predictions.transform']] as const) {
    const g = golden(name);
    const m = fromStateDict(g.config, g.sd, g.dir);
    assert.ok(m.mlm, `${name}: MLM head`);
    assert.ok(m.mlm.params.has(`${head}.dense.weight`));
    // transformers ≥ 4.47 reads lm_predictions only with legacy: false, so the loaded config says so.
    assert.equal(m.config.raw['legacy'], name === 'deberta_v3' ? false : undefined);
    if (name === 'deberta_v3') {
      assert.deepEqual(m.unusedKeys.sort(), ['deberta.embeddings.position_embeddings.weight', 'mask_predictions.dense.weight']);
    }
    const names = [...toStateDict(m).keys()];
    assert.ok(names.includes('deberta.encoder.rel_embeddings.weight') && names.includes(`${head}.dense.weight`), names.join(' '));
    const dir = tmpDir(`deberta-${name}`);
    // type_vocab_size 0: the tokenizer's type ids (all 0 here) are ignored, not checked against an empty table.
    const words = Array.from({ length: 20 }, (_, i) => `w${String.fromCharCode(97 + i)}`);
    saveModel(dir, { ...m, tokenizer: TextTokenizer.fromWordPieceVocab(['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', ...words]) });
    const saved = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    assert.equal(saved.architectures[0], name === 'deberta_v3' ? 'DebertaV2ForMaskedLM' : 'DebertaForMaskedLM');
    assert.equal(saved.type_vocab_size, 0);
    assert.ok(loadModel(dir).tokenizer, 'loads with its tokenizer');
    const back = loadModel(dir, { tokenizer: false });
    const B = 2, T = 5;
    const ids = Int32Array.from({ length: B * T }, (_, n) => (n * 7) % g.config.vocabSize);
    const logits = (x: typeof m) => noGrad(() => withScope(() => {
      const h = x.encoder.forward({ batch: B, seqLen: T, inputIds: ids, attentionMask: [1, 1, 1, 1, 1, 1, 1, 1, 0, 0] }).lastHiddenState;
      return Array.from(x.mlm!.forward(reshape(h, [B * T, x.config.hiddenSize])).data);
    }));
    assert.deepEqual(logits(back), logits(m));
  }
});

test('a checkpoint with both MLM heads is refused, naming both', () => {
  const g = golden('deberta_v3');
  const sd = new Map(g.sd);
  for (const [n, t] of g.sd) if (n.startsWith('lm_predictions.lm_head.')) sd.set(n.replace('lm_predictions.lm_head.', 'cls.predictions.transform.').replace('transform.bias', 'bias'), t);
  assert.throws(() => fromStateDict(g.config, sd, g.dir), /two MLM heads, "cls\.predictions\.transform\.dense\.weight" and "lm_predictions\.lm_head\.dense\.weight"/);
});

test('DebertaForSequenceClassification: ContextPooler (pooler.dense, gelu) then classifier, saved and reloaded', () => {
  const g = golden('deberta_v2_abs');
  const m = fromStateDict(g.config, g.sd, g.dir);
  const head = SequenceClassificationHead.init(m.config, 3, 4);
  assert.deepEqual([...head.params.keys()].sort(), ['classifier.bias', 'classifier.weight', 'pooler.dense.bias', 'pooler.dense.weight']);
  assert.equal(head.usesPooler, false, 'reads the first token');
  const H = m.config.hiddenSize;
  const x = Tensor.from(Array.from({ length: 2 * H }, (_, i) => Math.sin(i)), [2, H]);
  const got = Array.from(noGrad(() => head.forward(x)).data);
  // By hand: classifier(gelu(pooler.dense(x))).
  const p = (n: string) => head.params.get(n)!.data;
  const gelu = (v: number) => 0.5 * v * (1 + erf(v / Math.SQRT2));
  for (let b = 0; b < 2; b++) {
    const pooled = Array.from({ length: H }, (_, o) => gelu(p('pooler.dense.bias')[o]! + Array.from({ length: H }, (_, i) => p('pooler.dense.weight')[o * H + i]! * x.data[b * H + i]!).reduce((s, v) => s + v, 0)));
    for (let l = 0; l < 3; l++) {
      const want = p('classifier.bias')[l]! + pooled.reduce((s, v, i) => s + v * p('classifier.weight')[l * H + i]!, 0);
      assert.ok(Math.abs(got[b * 3 + l]! - want) < 1e-4, `logit ${b},${l}: ${got[b * 3 + l]} vs ${want}`);
    }
  }
  const dir = tmpDir('deberta-cls');
  saveModel(dir, { ...m, mlm: null, sequenceClassifier: head });
  const back = loadModel(dir, { tokenizer: false });
  assert.ok(back.sequenceClassifier && !back.tokenClassifier, 'loads as a sequence classifier');
  assert.equal(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')).architectures[0], 'DebertaV2ForSequenceClassification');
  assert.deepEqual(Array.from(noGrad(() => back.sequenceClassifier!.forward(x)).data), got);
});

test('outputRows and outputPositions pick rows of the full last layer; training-mode dropout is seeded', () => {
  const g = golden('deberta_v3');
  const enc = fromStateDict(g.config, g.sd, g.dir).encoder;
  const B = 2, T = 6, H = g.config.hiddenSize;
  const ids = Int32Array.from({ length: B * T }, (_, n) => 1 + ((n * 5) % 30));
  const mask = [1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0];
  noGrad(() => withScope(() => {
    const full = enc.forward({ batch: B, seqLen: T, inputIds: ids, attentionMask: mask }).lastHiddenState.data;
    const rows = Int32Array.from([1, 4, 6, 8]);
    const part = enc.forward({ batch: B, seqLen: T, inputIds: ids, attentionMask: mask, outputRows: rows }).lastHiddenState;
    assert.deepEqual(part.shape, [4, H]);
    rows.forEach((r, k) => assert.deepEqual(Array.from(part.data.subarray(k * H, (k + 1) * H)), Array.from(full.subarray(r * H, (r + 1) * H))));
    const at = enc.forward({ batch: B, seqLen: T, inputIds: ids, attentionMask: mask, outputPositions: Int32Array.from([5, 2]) }).lastHiddenState;
    assert.deepEqual(at.shape, [B, 1, H]);
    assert.deepEqual(Array.from(at.data.subarray(H)), Array.from(full.subarray((T + 2) * H, (T + 3) * H)));
  }));
  // Dropout (hidden, relative embeddings, attention) on a config that has it: seeded, and it changes the output.
  const c = createEncoderConfig('deberta-v2', { hiddenSize: 16, numAttentionHeads: 2, intermediateSize: 32, vocabSize: 40, numHiddenLayers: 2, maxPositionEmbeddings: 32 },
    { ...V3, position_buckets: 8, max_relative_positions: 16 });
  const e = Encoder.init(c, 3);
  const run = (seed?: number) => withScope(() => {
    const x = new Tensor(Float32Array.from(noGrad(() => e.embedIds(ids, B, T)).data), [B, T, 16], { requiresGrad: true });
    const out = e.forward({ batch: B, seqLen: T, inputIds: ids, inputsEmbeds: x, attentionMask: mask, dropoutSeed: seed });
    backward(out.lastHiddenState, Float32Array.from({ length: B * T * 16 }, (_, i) => Math.cos(i)));
    return [Array.from(out.lastHiddenState.data), Array.from(x.grad!)];
  });
  assert.deepEqual(run(7), run(7));
  assert.notDeepEqual(run(7)[0], run()[0]);
});

test('MLM head of a new DeBERTa model follows "legacy"', () => {
  const sizes = { hiddenSize: 16, numAttentionHeads: 2, intermediateSize: 32, vocabSize: 40, numHiddenLayers: 1 };
  const w = Tensor.zeros([40, 16]);
  assert.ok(MlmHead.init(createEncoderConfig('deberta-v2', sizes, V3), w, 1).params.has('cls.predictions.transform.dense.weight'));
  assert.ok(MlmHead.init(createEncoderConfig('deberta-v2', sizes, { ...V3, legacy: false }), w, 1).params.has('lm_predictions.lm_head.dense.weight'));
});

/** Abramowitz–Stegun 7.1.26 is too coarse here; a series/continued-fraction erf to ~1e-15. */
function erf(x: number): number {
  const t = Math.abs(x);
  if (t < 2.5) {
    let sum = 0;
    let term = t;
    for (let n = 0; n < 60; n++) {
      sum += term / (2 * n + 1);
      term *= (-t * t) / (n + 1);
    }
    return Math.sign(x) * (2 / Math.sqrt(Math.PI)) * sum;
  }
  let f = 0;
  for (let n = 60; n >= 1; n--) f = (n / 2) / (t + f);
  return Math.sign(x) * (1 - Math.exp(-t * t) / Math.sqrt(Math.PI) / (t + f));
}
