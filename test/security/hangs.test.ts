/**
 * Issue #12, item 2: files that made a load hang or exhaust memory. Each
 * load runs in a child process with a time limit and a heap cap
 * (isolated.ts), so a regression fails the test instead of stalling the run.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readWholeFile } from '../../src/formats/file-io.js';
import { assertFormatError } from '../formats/helpers.js';
import { loadIsolated, type Result } from './isolated.js';
import { tmpDir, writeTinyModel } from './model-files.js';

const EVIL = '(.?.?.?.?.?.?.?.?.?.?){10}#';
const BIN = path.join(import.meta.dirname, '..', '..', '..', 'bin', 'lmsanitator.js');

function model(o: Parameters<typeof writeTinyModel>[1] = {}) {
  return writeTinyModel(path.join(tmpDir('hangs'), 'm'), o);
}

function editJson(file: string, edit: (j: Record<string, any>) => void): void {
  const j = JSON.parse(fs.readFileSync(file, 'utf8'));
  edit(j);
  fs.writeFileSync(file, JSON.stringify(j));
}

/** A refusal: one line, a FormatError, naming `file`, matching `pattern`, within the limits. */
function refused(r: Result, file: string, pattern: RegExp): void {
  assert.ok(!r.hung, `${file}: the load hung`);
  assert.ok(!r.crashed, `${file}: the child died: ${r.crashed}`);
  assert.equal(r.ok, false, `${file}: loaded`);
  assert.ok(r.formatError, `not a FormatError: ${r.name}: ${r.message}`);
  assert.ok(!/[\r\n]/.test(r.message!), `not one line: ${r.message}`);
  assert.ok(r.message!.startsWith(`${file}: `), `does not start with ${file}: ${r.message}`);
  assert.match(r.message!, pattern);
}

test('a catastrophic regex from tokenizer.json (Split pre-tokenizer, Replace normalizer) is an error within its time budget', async () => {
  const split = model({ tokenizer: 'tokenizer.json' });
  editJson(path.join(split.dir, 'tokenizer.json'), (j) => {
    j.pre_tokenizer = { type: 'Sequence', pretokenizers: [j.pre_tokenizer, { type: 'Split', pattern: { Regex: EVIL }, behavior: 'Isolated', invert: false }] };
  });
  const replace = model({ tokenizer: 'tokenizer.json' });
  editJson(path.join(replace.dir, 'tokenizer.json'), (j) => {
    j.normalizer = { type: 'Sequence', normalizers: [{ type: 'Replace', pattern: { Regex: EVIL }, content: '' }, j.normalizer] };
  });
  const ok = model({ tokenizer: 'tokenizer.json' });
  editJson(path.join(ok.dir, 'tokenizer.json'), (j) => {
    // A real-world pattern (GPT-2's, with its lookahead) is not affected.
    j.pre_tokenizer = { type: 'Split', pattern: { Regex: "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+" }, behavior: 'Isolated', invert: false };
  });
  const t0 = Date.now();
  const [a, b, c] = await loadIsolated([
    { dir: split.dir, encode: 'the quick brown fox', options: { tokenizerTimeBudgetMs: 200 } },
    { dir: replace.dir, encode: 'the quick brown fox', options: { tokenizerTimeBudgetMs: 200 } },
    { dir: ok.dir, encode: 'the quick brown fox', options: { tokenizerTimeBudgetMs: 200 } },
  ], { timeoutMs: 15_000 });
  for (const [r, m] of [[a!, split], [b!, replace]] as const) {
    refused(r, path.join(m.dir, 'tokenizer.json'), /the tokenizer ran past its 200 ms time budget while encoding; a regular expression in the file backtracks/);
  }
  assert.equal(c!.ok, true, c!.message);
  assert.ok(Date.now() - t0 < 15_000);
});

test('lmsanitator inspect on the Split case ends with the one-line error (default budget)', () => {
  const m = model({ tokenizer: 'tokenizer.json' });
  const file = path.join(m.dir, 'tokenizer.json');
  editJson(file, (j) => {
    j.pre_tokenizer = { type: 'Split', pattern: { Regex: EVIL }, behavior: 'Isolated', invert: false };
  });
  const r = spawnSync(process.execPath, [BIN, 'inspect', m.dir], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.signal, null, 'inspect hung');
  assert.equal(r.status, 2, r.stderr);
  assert.equal(r.stderr.trim().split('\n').length, 1);
  assert.match(r.stderr, new RegExp(`^lmsanitator: ${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: the tokenizer ran past its 5000 ms time budget`));
});

test('added_tokens_decoder ids such as "2e9" and "1e300" are bounded by the embedding, not allocated', async () => {
  const cases = ['2e9', '1e300', '2000000000', '150'];
  const models = cases.map((id) => {
    const m = model();
    fs.writeFileSync(path.join(m.dir, 'tokenizer_config.json'), JSON.stringify({ added_tokens_decoder: { [id]: { content: '<x>', special: true } } }));
    return m;
  });
  const results = await loadIsolated(models.map((m) => ({ dir: m.dir })), { timeoutMs: 10_000, heapMb: 256 });
  results.forEach((r, i) => {
    const file = path.join(models[i]!.dir, 'tokenizer_config.json');
    refused(r, file, /^[^:]+: added_tokens_decoder entry "[^"]+"(: the key is not a token id| has an invalid id \d+, beyond the \d+ rows of the model's word embeddings)/);
    assert.ok(r.maxRssMb! < 400, `${cases[i]}: ${r.maxRssMb} MB`);
  });
});

test('config.json, vocab.txt and tokenizer_config.json symlinked to /proc/self/pagemap are refused unread', async () => {
  const names = ['config.json', 'vocab.txt', 'tokenizer_config.json', 'model.safetensors'];
  const models = names.map((name) => {
    const m = model();
    fs.rmSync(path.join(m.dir, name), { force: true });
    fs.symlinkSync('/proc/self/pagemap', path.join(m.dir, name));
    return m;
  });
  const results = await loadIsolated(models.map((m) => ({ dir: m.dir })), { timeoutMs: 10_000, heapMb: 256 });
  results.forEach((r, i) => {
    refused(r, path.join(models[i]!.dir, names[i]!), /resolves to "\/proc\/\d+\/pagemap", outside the model directory/);
    assert.ok(r.maxRssMb! < 400, `${names[i]}: ${r.maxRssMb} MB`);
  });
});

test('a FIFO under a model file name is refused without blocking', async () => {
  const m = model();
  const vocab = path.join(m.dir, 'vocab.txt');
  fs.rmSync(vocab);
  const mk = spawnSync('mkfifo', [vocab]);
  if (mk.status !== 0) return; // no mkfifo here: nothing to test
  const [r] = await loadIsolated([{ dir: m.dir }], { timeoutMs: 10_000 });
  refused(r!, vocab, /not a regular file \(a FIFO\)/);
});

test('the byte cap holds when stat lies: /proc files report size 0 and are refused after one extra byte', () => {
  for (const f of ['/proc/self/pagemap', '/proc/self/environ']) {
    if (!fs.existsSync(f)) continue;
    assertFormatError(() => readWholeFile(f, 1 << 20), f, /holds more than the 0 bytes its size says/);
  }
});

test('a 2.5 GiB garbage model.safetensors or pytorch_model.bin is rejected from its first bytes, in little memory', async () => {
  const GiB = 2 ** 30;
  const st = model();
  const stFile = path.join(st.dir, 'model.safetensors');
  fs.rmSync(stFile);
  fs.writeFileSync(stFile, Buffer.from('GARBAGE!'));
  fs.truncateSync(stFile, 2.5 * GiB); // sparse: no disk space used
  const st2 = model();
  const st2File = path.join(st2.dir, 'model.safetensors');
  fs.rmSync(st2File);
  const head = Buffer.alloc(8 + 16, 0x20);
  head.writeBigUInt64LE(16n);
  head.write('{"a":', 8); // plausible length, broken JSON
  fs.writeFileSync(st2File, head);
  fs.truncateSync(st2File, 2.5 * GiB);
  const bin = model({ weights: 'bin' });
  const binFile = path.join(bin.dir, 'pytorch_model.bin');
  fs.writeFileSync(binFile, Buffer.from([0x50, 0x4b, 0x03, 0x04]));
  fs.truncateSync(binFile, 2.5 * GiB);
  const results = await loadIsolated([{ dir: st.dir }, { dir: st2.dir }, { dir: bin.dir }], { timeoutMs: 20_000 });
  refused(results[0]!, stFile, /header length \d+ exceeds the 100,000,000 bytes limit/);
  refused(results[1]!, st2File, /header: invalid JSON/);
  refused(results[2]!, binFile, /no end-of-central-directory record/);
  for (const r of results) assert.ok(r.maxRssMb! < 400, `peak RSS ${r.maxRssMb} MB`);
});
