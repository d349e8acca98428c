import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadPvSet, savePvSet, type PvSet } from '../../src/sanitizer/pvset.js';
import { loadSafetensors, saveSafetensors } from '../../src/formats/safetensors.js';
import type { StateDict } from '../../src/formats/state-dict.js';
import { tmpDir as makeTmpDir } from '../helpers/tmp.js';

const tmpDir = (): string => makeTmpDir('pvset');

function sampleSet(n: number): PvSet {
  const H = 12, L = 2, E = 5;
  return {
    modelHash: 'f0'.repeat(32),
    modelDir: 'zoo/bert-micro-por',
    mode: 'cls',
    hidden: H,
    promptLen: L,
    embedDim: E,
    hyperParameters: { lr: 2e-5, distanceTh: 0.2, divTh: -3.446, data: { promptLen: L, batchSize: 32 } },
    command: 'search',
    created: '2025-01-02T03:04:05.000Z',
    toolVersion: '0.1.0',
    pvs: Array.from({ length: n }, (_, k) => Float32Array.from({ length: H }, (_, i) => (i + k) % 3 === 0 ? -1 : 1.5)),
    prompts: Array.from({ length: n }, (_, k) => Float32Array.from({ length: L * E }, (_, i) => i * 0.01 - k)),
    seeds: Array.from({ length: n }, (_, k) => 40 + k * 7),
  };
}

/** Asserts a one-line error that starts with the file and matches `re`. */
function assertRejects(file: string, re: RegExp): void {
  assert.throws(() => loadPvSet(file), (e: Error) => {
    assert.ok(e.message.startsWith(`${file}: `), e.message);
    assert.ok(!e.message.includes('\n'), 'one line');
    assert.match(e.message, re);
    return true;
  });
}

test('round trip keeps vectors, prompts, seeds and metadata', () => {
  const file = path.join(tmpDir(), 'pvset.safetensors');
  const set = sampleSet(3);
  savePvSet(file, set);
  const back = loadPvSet(file);
  assert.deepEqual(back, set);
  // A plain safetensors file: the generic reader sees the documented layout.
  const raw = loadSafetensors(file);
  assert.deepEqual(raw.tensors.get('pvs')!.shape, [3, 12]);
  assert.deepEqual(raw.tensors.get('prompts')!.shape, [3, 2, 5]);
  assert.deepEqual(raw.tensors.get('seeds')!.shape, [3]);
  assert.equal(raw.tensors.get('seeds')!.dtype, 'I32');
  assert.equal(raw.metadata['mode'], 'cls');
  assert.equal(raw.metadata['hidden_size'], '12');
});

test('loaded arrays are copies, not views over one shared buffer', () => {
  const file = path.join(tmpDir(), 'pvset.safetensors');
  savePvSet(file, sampleSet(2));
  const back = loadPvSet(file);
  back.pvs[0][0] = 123;
  assert.notEqual(back.pvs[1][0], 123);
  assert.equal(back.pvs[0].byteOffset, 0);
});

test('an empty set (clean verdict) is a valid file that still carries H, L and E', () => {
  const file = path.join(tmpDir(), 'pvset.safetensors');
  savePvSet(file, sampleSet(0));
  const back = loadPvSet(file);
  assert.equal(back.pvs.length, 0);
  assert.equal(back.prompts.length, 0);
  assert.deepEqual(back.seeds, []);
  assert.equal(back.hidden, 12);
  assert.equal(back.promptLen, 2);
  assert.equal(back.embedDim, 5);
  const raw = loadSafetensors(file);
  assert.deepEqual(raw.tensors.get('pvs')!.shape, [0, 12]);
  assert.deepEqual(raw.tensors.get('prompts')!.shape, [0, 2, 5]);
});

/** Writes a set, then rewrites it with one metadata key or tensor changed. */
function tampered(edit: (tensors: StateDict, meta: Record<string, string>) => void): string {
  const dir = tmpDir();
  const good = path.join(dir, 'good.safetensors');
  savePvSet(good, sampleSet(2));
  const { tensors, metadata } = loadSafetensors(good);
  const meta = { ...metadata };
  edit(tensors, meta);
  const bad = path.join(dir, 'bad.safetensors');
  saveSafetensors(bad, tensors, meta);
  return bad;
}

test('corrupted metadata is rejected with one line naming the file', () => {
  assertRejects(tampered((_, m) => (m['mode'] = 'cls<script>')), /mode "cls<script>" is not one of cls, mask, token, pooler/);
  assertRejects(tampered((_, m) => (m['hidden_size'] = '13')), /tensor "pvs" has shape \[2, 12\], expected \[N, 13\]/);
  assertRejects(tampered((_, m) => (m['hidden_size'] = '12.0')), /"hidden_size" is "12.0", not a positive integer/);
  assertRejects(tampered((_, m) => (m['prompt_length'] = '3')), /tensor "prompts" has shape \[2, 2, 5\], expected \[2, 3, 5\]/);
  assertRejects(tampered((_, m) => (m['hyper_parameters'] = '{"lr": 2e-5,')), /hyper_parameters is not valid JSON/);
  assertRejects(tampered((_, m) => (m['hyper_parameters'] = '[1]')), /hyper_parameters is not a JSON object/);
  assertRejects(tampered((_, m) => delete m['model_hash']), /metadata has no "model_hash"/);
  assertRejects(tampered((_, m) => (m['model_hash'] = 'not a hash\nforged line')), /model_hash "not a hash\\nforged line" is not a hex digest/);
  assertRejects(tampered((_, m) => (m['command'] = 'guard')), /command "guard" is neither scan nor search/);
  assertRejects(tampered((_, m) => (m['created'] = 'yesterday')), /created "yesterday" is not a date/);
  assertRejects(tampered((_, m) => (m['format_version'] = '2')), /format version "2" is not supported/);
});

test('wrong tensors are rejected', () => {
  assertRejects(tampered((t) => t.delete('seeds')), /missing tensor "seeds"/);
  assertRejects(tampered((t) => t.set('extra', { shape: [1], data: new Float32Array(1) })), /unexpected tensor "extra"/);
  assertRejects(tampered((t) => t.set('seeds', { shape: [3], data: new Int32Array(3), dtype: 'I32' })), /tensor "seeds" has shape \[3\], expected \[2\]/);
  assertRejects(tampered((t) => t.set('seeds', { shape: [2], data: new Float32Array(2) })), /tensor "seeds" is F32, expected I32/);
  assertRejects(tampered((t) => {
    const pvs = t.get('pvs')!;
    const d = Float32Array.from(pvs.data);
    d[5] = Number.NaN;
    t.set('pvs', { shape: pvs.shape, data: d });
  }), /tensor "pvs" has a non-finite value at element 5/);
});

test('files that are not PV sets are rejected', () => {
  const dir = tmpDir();
  const model = path.join(dir, 'model.safetensors');
  saveSafetensors(model, new Map([['w', { shape: [2], data: new Float32Array(2) }]]));
  assertRejects(model, /not a PV set: no "format" in the metadata/);
  const other = path.join(dir, 'other.safetensors');
  saveSafetensors(other, new Map(), { format: 'pt' });
  assertRejects(other, /not a PV set: format is "pt"/);
  const good = path.join(dir, 'good.safetensors');
  savePvSet(good, sampleSet(1));
  const truncated = path.join(dir, 'truncated.safetensors');
  fs.writeFileSync(truncated, fs.readFileSync(good).subarray(0, 40));
  assertRejects(truncated, /header length/);
  assertRejects(path.join(dir, 'missing.safetensors'), /cannot open/);
});

test('save refuses inconsistent sets rather than write an unreadable file', () => {
  const file = path.join(tmpDir(), 'pvset.safetensors');
  const s = sampleSet(2);
  assert.throws(() => savePvSet(file, { ...s, seeds: [1] }), /2 PVs but 2 prompts and 1 seeds/);
  assert.throws(() => savePvSet(file, { ...s, pvs: [s.pvs[0], new Float32Array(3)] }), /PV 1 has 3 values, hidden size is 12/);
  assert.throws(() => savePvSet(file, { ...s, mode: 'cls2' as never }), /unknown mode/);
  assert.throws(() => savePvSet(file, { ...s, modelHash: '' }), /not a hex digest/);
  assert.throws(() => savePvSet(file, { ...s, seeds: [1, 2 ** 40] }), /not a 32-bit integer/);
  assert.equal(fs.existsSync(file), false);
});
