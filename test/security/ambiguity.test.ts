/**
 * Issue #12, item 1: scan evasion through ambiguous names, and tokenizers
 * that name ids the model has no embedding row for.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { saveSafetensors } from '../../src/formats/safetensors.js';
import type { StateDict } from '../../src/formats/state-dict.js';
import { loadModel } from '../../src/models/model.js';
import { assertFormatError } from '../formats/helpers.js';
import { BERT_VOCAB, tmpDir, writeTinyModel, writeWeights } from './model-files.js';

function model(o: Parameters<typeof writeTinyModel>[1] = {}) {
  return writeTinyModel(path.join(tmpDir('ambiguity'), 'm'), o);
}

/** The state dict with `extra` added (a copy of an existing tensor under a new name, with other values). */
function withCopy(sd: StateDict, from: string, to: string): StateDict {
  const t = sd.get(from)!;
  const out = new Map(sd);
  out.set(to, { shape: [...t.shape], data: (t.data as Float32Array).map((v) => v + 1) });
  return out;
}

test('X and bert.X in one checkpoint: refused, naming both keys', () => {
  const m = model();
  const prefixed = 'bert.encoder.layer.0.attention.self.query.weight';
  assert.ok(m.stateDict.has(prefixed));
  saveSafetensors(path.join(m.dir, 'model.safetensors'), withCopy(m.stateDict, prefixed, 'encoder.layer.0.attention.self.query.weight'));
  const file = path.join(m.dir, 'model.safetensors');
  const msg = assertFormatError(() => loadModel(m.dir), file,
    /tensors "bert\.encoder\.layer\.0\.attention\.self\.query\.weight" and "encoder\.layer\.0\.attention\.self\.query\.weight" both map to parameter "encoder\.layer\.0\.attention\.self\.query\.weight"/);
  assert.doesNotMatch(msg, /\(in /, 'same file: no second file named');
});

test('LayerNorm.gamma next to LayerNorm.weight: refused (also for head parameters)', () => {
  for (const base of ['bert.embeddings.LayerNorm', 'cls.predictions.transform.LayerNorm']) {
    const m = model();
    saveSafetensors(path.join(m.dir, 'model.safetensors'), withCopy(m.stateDict, `${base}.weight`, `${base}.gamma`));
    assertFormatError(() => loadModel(m.dir), path.join(m.dir, 'model.safetensors'),
      new RegExp(`"${base.replace(/\./g, '\\.')}\\.(weight|gamma)" and "${base.replace(/\./g, '\\.')}\\.(weight|gamma)" both map to parameter`));
  }
});

test('the two names in different shards: refused, naming both keys and both files', () => {
  const m = model({ weights: 'sharded' });
  const index = JSON.parse(fs.readFileSync(path.join(m.dir, 'model.safetensors.index.json'), 'utf8')) as { weight_map: Record<string, string> };
  const name = 'bert.embeddings.word_embeddings.weight';
  const home = index.weight_map[name]!;
  const other = home.includes('00001') ? 'model-00002-of-00002.safetensors' : 'model-00001-of-00002.safetensors';
  // Put an unprefixed copy into the other shard, listed in the index as living there.
  const otherNames = Object.keys(index.weight_map).filter((n) => index.weight_map[n] === other);
  const part: StateDict = new Map(otherNames.map((n) => [n, m.stateDict.get(n)!]));
  const t = m.stateDict.get(name)!;
  part.set('embeddings.word_embeddings.weight', { shape: t.shape, data: new Float32Array(t.data.length).fill(0.5) });
  saveSafetensors(path.join(m.dir, other), part);
  index.weight_map['embeddings.word_embeddings.weight'] = other;
  fs.writeFileSync(path.join(m.dir, 'model.safetensors.index.json'), JSON.stringify(index));
  let msg = '';
  try {
    loadModel(m.dir);
  } catch (e) {
    msg = (e as Error).message;
  }
  assert.match(msg, /"bert\.embeddings\.word_embeddings\.weight"|"embeddings\.word_embeddings\.weight"/);
  assert.match(msg, /both map to parameter "embeddings\.word_embeddings\.weight"/);
  assert.ok(msg.includes(home) && msg.includes(other), `names both shards: ${msg}`);
});

test('decoder.bias disagreeing with the MLM bias it is tied to: refused; agreeing: loads', () => {
  const m = model();
  const bias = m.stateDict.get('cls.predictions.bias')!;
  const same = new Map(m.stateDict);
  same.set('cls.predictions.decoder.bias', { shape: bias.shape, data: (bias.data as Float32Array).slice() });
  writeWeights(m.dir, same, 'safetensors');
  assert.ok(loadModel(m.dir).mlm);
  writeWeights(m.dir, withCopy(m.stateDict, 'cls.predictions.bias', 'cls.predictions.decoder.bias'), 'safetensors');
  assertFormatError(() => loadModel(m.dir), path.join(m.dir, 'model.safetensors'),
    /"cls\.predictions\.bias" and "cls\.predictions\.decoder\.bias" both map to parameter "cls\.predictions\.bias"/);
});

test('a tokenizer with ids beyond the embedding rows is a one-line error naming the tokenizer file', () => {
  // vocab.txt with more lines than the model has rows.
  const m = model();
  const vocabTxt = path.join(m.dir, 'vocab.txt');
  fs.writeFileSync(vocabTxt, [...BERT_VOCAB, ...Array.from({ length: 100 }, (_, i) => `w${i}`)].join('\n') + '\n');
  assertFormatError(() => loadModel(m.dir), vocabTxt, new RegExp(`${BERT_VOCAB.length + 100} entries, beyond the ${m.config.vocabSize} rows of the model's word embeddings \\("vocab_size" in .*config\\.json\\)`));

  // tokenizer.json with one vocab id past the end.
  const j = model({ tokenizer: 'tokenizer.json' });
  const file = path.join(j.dir, 'tokenizer.json');
  const tj = JSON.parse(fs.readFileSync(file, 'utf8'));
  tj.model.vocab.zebra = 999_999;
  fs.writeFileSync(file, JSON.stringify(tj));
  assertFormatError(() => loadModel(j.dir), file, /vocab token "zebra" has an invalid id 999999, beyond the \d+ rows of the model's word embeddings/);

  // A million-token tokenizer on a small model is refused before it is built.
  const big = model({ tokenizer: 'tokenizer.json' });
  const bigFile = path.join(big.dir, 'tokenizer.json');
  const extra = Array.from({ length: 1_000_000 - BERT_VOCAB.length }, (_, i) => `"t${i}":${BERT_VOCAB.length + i}`).join(',');
  fs.writeFileSync(bigFile, fs.readFileSync(bigFile, 'utf8').replace('"vocab":{', `"vocab":{${extra},`));
  const t0 = Date.now();
  assertFormatError(() => loadModel(big.dir), bigFile, /has an invalid id \d+, beyond the \d+ rows of the model's word embeddings/);
  assert.ok(Date.now() - t0 < 10_000);
});

test('special tokens a slow vocabulary lacks are appended; past the last row that is an error naming it', () => {
  const m = model();
  const vocabTxt = path.join(m.dir, 'vocab.txt');
  // Same number of lines as rows, but no [MASK]: it would be appended as row vocabSize.
  fs.writeFileSync(vocabTxt, [...BERT_VOCAB.filter((t) => t !== '[MASK]'), 'extra'].join('\n') + '\n');
  assertFormatError(() => loadModel(m.dir), vocabTxt, /has token ids up to \d+, beyond the \d+ rows/);
});

test('token type ids the model has no row for: refused for single sequences, an error for pairs', () => {
  const m = model({ tokenizer: 'tokenizer.json' });
  const file = path.join(m.dir, 'tokenizer.json');
  const tj = JSON.parse(fs.readFileSync(file, 'utf8'));
  tj.post_processor.single[0].SpecialToken.type_id = 5;
  fs.writeFileSync(file, JSON.stringify(tj));
  assertFormatError(() => loadModel(m.dir), file, /emits token type id 5, beyond the 2 rows of the model's token type embeddings \("type_vocab_size" in .*config\.json\)$/);
  // Only the pair template over the bound (a BERT tokenizer on a one-type-row model): loads, pairs refused.
  tj.post_processor.single[0].SpecialToken.type_id = 0;
  tj.post_processor.pair[3].Sequence.type_id = 2;
  fs.writeFileSync(file, JSON.stringify(tj));
  const tok = loadModel(m.dir).tokenizer!;
  assert.equal(tok.encode('the fox').ids.length, 4);
  assertFormatError(() => tok.encode('the fox', 'a dog'), file, /emits token type id 2 for a second sequence, beyond the 2 rows .*; the model takes single sequences only$/);
});
