/**
 * Issue #12, item 4: what used to load silently or report badly: NaN/Inf
 * weights, a flipped byte in a torch zip, messages that echo file contents
 * or break over lines, model-layer messages without a file, 1e400 as "null".
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createEncoderConfig, loadEncoderConfig, saveEncoderConfig } from '../../src/formats/hf-config.js';
import { loadCheckpoint } from '../../src/formats/checkpoint.js';
import { readZipEntries } from '../../src/formats/torch-zip.js';
import { loadModel } from '../../src/models/model.js';
import { TextTokenizer } from '../../src/text/tokenizer.js';
import { assertFormatError } from '../formats/helpers.js';
import { tmpDir, writeTinyModel, writeWeights } from './model-files.js';

const BIN = path.join(import.meta.dirname, '..', '..', '..', 'bin', 'lmsanitator.js');

function model(o: Parameters<typeof writeTinyModel>[1] = {}) {
  return writeTinyModel(path.join(tmpDir('silent'), 'm'), o);
}

test('NaN and ±Infinity weights are refused, naming file, tensor and element; nonFinite: "warn" loads them with a warning', () => {
  for (const [name, value] of [['bert.embeddings.word_embeddings.weight', NaN], ['cls.predictions.transform.dense.bias', -Infinity]] as const) {
    const m = model();
    const t = m.stateDict.get(name)!;
    const data = (t.data as Float32Array).slice();
    data[3] = value;
    writeWeights(m.dir, new Map(m.stateDict).set(name, { shape: t.shape, data }), 'safetensors');
    const file = path.join(m.dir, 'model.safetensors');
    assertFormatError(() => loadModel(m.dir), file, new RegExp(`tensor "${name.replace(/\./g, '\\.')}" holds ${String(value)} at element 3; weights must be finite`));
    const loaded = loadModel(m.dir, { nonFinite: 'warn' });
    assert.equal(loaded.warnings!.length, 1);
    assert.match(loaded.warnings![0]!, new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: tensor "${name.replace(/\./g, '\\.')}" holds`));
  }
  // Through the CLI: encode exits 2 with the message instead of printing nulls.
  const m = model();
  const name = 'bert.encoder.layer.0.attention.self.query.weight';
  const t = m.stateDict.get(name)!;
  writeWeights(m.dir, new Map(m.stateDict).set(name, { shape: t.shape, data: new Float32Array(t.data.length).fill(Infinity) }), 'bin');
  const r = spawnSync(process.execPath, [BIN, 'encode', m.dir, '--text', 'the fox', '--json'], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.status, 2, r.stdout);
  assert.match(r.stderr, /pytorch_model\.bin: tensor "bert\.encoder\.layer\.0\.attention\.self\.query\.weight" holds Infinity at element 0/);
});

test('an unused checkpoint key may be non-finite: it is not loaded', () => {
  const m = model();
  writeWeights(m.dir, new Map(m.stateDict).set('cls.seq_relationship.weight', { shape: [2], data: new Float32Array([NaN, 1]) }), 'safetensors');
  assert.ok(loadModel(m.dir));
});

test('a flipped byte inside a weight record of a torch zip fails its CRC-32', () => {
  const m = model({ weights: 'bin' });
  const file = path.join(m.dir, 'pytorch_model.bin');
  const buf = fs.readFileSync(file);
  const entries = readZipEntries(buf, file);
  const storage = [...entries.values()].find((e) => /\/data\/\d+$/.test(e.name) && e.size > 16)!;
  buf[storage.dataStart + 5]! ^= 0x01; // one bit of one float: a plausible, silently different weight
  fs.writeFileSync(file, buf);
  assertFormatError(() => loadCheckpoint(m.dir), file, new RegExp(`zip archive: entry "${storage.name}" fails its CRC-32 check`));
});

test('error messages never echo file contents: a symlink to /proc/self/environ, or a copy of it', () => {
  const secret = `SHELL=/bin/bash\nLMS_SECRET=hunter2-${process.pid}\n`;
  const m = model();
  const cfg = path.join(m.dir, 'config.json');
  fs.rmSync(cfg);
  fs.symlinkSync('/proc/self/environ', cfg);
  const linked = assertFormatError(() => loadModel(m.dir), cfg, /resolves to "\/proc\/\d+\/environ", outside the model directory/);
  assert.doesNotMatch(linked, /SHELL|PATH=/);
  fs.rmSync(cfg);
  fs.writeFileSync(cfg, secret);
  const copied = assertFormatError(() => loadModel(m.dir), cfg, /^[^:]+: invalid JSON at byte 0$/);
  assert.doesNotMatch(copied, /SHELL|hunter2/);
  // Also deep inside a valid-looking file, and for tokenizer files.
  fs.writeFileSync(cfg, `{"model_type": "bert", "x": hunter2}`);
  assertFormatError(() => loadModel(m.dir), cfg, /^[^:]+: invalid JSON at byte 28$/);
  const t = model({ tokenizer: 'tokenizer.json' });
  const tj = path.join(t.dir, 'tokenizer.json');
  fs.writeFileSync(tj, `{"model": {"type": "WordPiece", "vocab": {"a": 0}}, ${secret}}`);
  const msg = assertFormatError(() => TextTokenizer.fromDir(t.dir), tj, /invalid JSON at byte 52$/);
  assert.doesNotMatch(msg, /hunter2/);
});

test('a newline in the text near the error does not split the message', () => {
  const t = model({ tokenizer: 'tokenizer.json' });
  const tj = path.join(t.dir, 'tokenizer.json');
  fs.writeFileSync(tj, '{"model":\n\n\n x\n}');
  assertFormatError(() => TextTokenizer.fromDir(t.dir), tj, /invalid JSON at byte 13$/); // the "x"
  const c = model({ tokenizer: 'tokenizer.json' });
  fs.rmSync(path.join(c.dir, 'special_tokens_map.json')); // it would override the config's cls_token
  fs.writeFileSync(path.join(c.dir, 'tokenizer_config.json'), JSON.stringify({ cls_token: '[C\nLS]\u2028' }));
  assertFormatError(() => TextTokenizer.fromDir(c.dir), path.join(c.dir, 'tokenizer.json'), /cls token "\[C\\nLS\]\\u2028" is not in the vocabulary/);
});

test('shape mismatches from the model layer name the weight file and config.json', () => {
  const m = model();
  const bigger = createEncoderConfig('bert', { ...numeric(m.dir), hiddenSize: 16 });
  saveEncoderConfig(m.dir, bigger);
  const file = path.join(m.dir, 'model.safetensors');
  assertFormatError(() => loadModel(m.dir), file,
    new RegExp(`tensor "bert\\.embeddings\\.word_embeddings\\.weight" has shape \\[${m.config.vocabSize}, 8\\] but ${path.join(m.dir, 'config.json').replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} implies \\[${m.config.vocabSize}, 16\\]`));
  // A missing parameter names the checkpoint too.
  const n = model();
  const sd = new Map(n.stateDict);
  sd.delete('bert.encoder.layer.0.output.dense.bias');
  writeWeights(n.dir, sd, 'safetensors');
  assertFormatError(() => loadModel(n.dir), path.join(n.dir, 'model.safetensors'), /no tensor for parameter "encoder\.layer\.0\.output\.dense\.bias" \(shape \[8\] from .*config\.json\)/);
  // An integer tensor where a weight belongs.
  const i = model();
  const sdi = new Map(i.stateDict).set('bert.pooler.dense.bias', { shape: [8], data: new Int32Array(8), dtype: 'I64' });
  writeWeights(i.dir, sdi, 'safetensors');
  assertFormatError(() => loadModel(i.dir), path.join(i.dir, 'model.safetensors'), /tensor "bert\.pooler\.dense\.bias" holds integers \(I64\); a weight must be floating point/);
});

test('"hidden_size": 1e400 is out of range, not "null"', () => {
  const m = model();
  const cfg = path.join(m.dir, 'config.json');
  fs.writeFileSync(cfg, fs.readFileSync(cfg, 'utf8').replace(/"hidden_size": \d+/, '"hidden_size": 1e400'));
  const msg = assertFormatError(() => loadEncoderConfig(m.dir), cfg, /"hidden_size" is out of range \(not a finite number\)/);
  assert.doesNotMatch(msg, /null/);
});

function numeric(dir: string) {
  const c = loadEncoderConfig(dir);
  return {
    vocabSize: c.vocabSize, hiddenSize: c.hiddenSize, numHiddenLayers: c.numHiddenLayers, numAttentionHeads: c.numAttentionHeads,
    intermediateSize: c.intermediateSize, maxPositionEmbeddings: c.maxPositionEmbeddings, typeVocabSize: c.typeVocabSize, padTokenId: c.padTokenId,
  };
}
