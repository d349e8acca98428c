/** The CLI contracts other tools rely on: JSON keys and exit codes. */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fixtureModelDir, tmpDir } from '../train/helpers.js';
import { readFixture } from '../text/helpers.js';

const BIN = join(import.meta.dirname, '..', '..', '..', 'bin', 'lmsanitator.js');
const cli = (...args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...process.env, LMS_CACHE: tmpDir('cache') } });
const dir = fixtureModelDir({ seed: 2 });

test('encode --json gives input_ids, attention_mask, last_hidden_state [batch][token][hidden] and pooler_output', () => {
  const r = cli('encode', dir, '--text', 'a gorgeous film', '--pair', 'the story', '--json');
  assert.equal(r.status, 0, r.stderr);
  const o = JSON.parse(r.stdout);
  const T = o.input_ids[0].length;
  assert.equal(o.attention_mask[0].length, T);
  assert.equal(o.last_hidden_state.length, 1);
  assert.equal(o.last_hidden_state[0].length, T);
  assert.equal(o.last_hidden_state[0][0].length, 32);
  assert.equal(o.pooler_output[0].length, 32);
  assert.equal(o.tokens[0][0], '[CLS]');
});

test('inspect --json describes the architecture and tokenizer', () => {
  const r = cli('inspect', dir, '--json');
  assert.equal(r.status, 0, r.stderr);
  const o = JSON.parse(r.stdout);
  assert.equal(o.model_type, 'bert');
  assert.equal(o.tokenizer.kind, 'wordpiece');
  assert.ok(o.parameters > 0);
  assert.deepEqual(o.heads, ['masked-lm']);
});

test('errors are one line on stderr with exit code 2', () => {
  const r = cli('inspect', join(dir, 'missing'));
  assert.equal(r.status, 2);
  assert.equal(r.stderr.trim().split('\n').length, 1);
  assert.match(r.stderr, /missing/);
  const bad = cli('scan', dir, '--mode', 'nonsense');
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--mode must be one of/);
});

test('scan exits 0 for a clean verdict and writes its outputs', () => {
  const sentences = join(tmpDir('sent'), 's.txt');
  const lines = readFixture('sst2-dev-head.tsv').split('\n').slice(1).map((l) => l.split('\t')[0]).filter((l) => l.length > 10);
  writeFileSync(sentences, lines.join('\n'));
  const out = tmpDir('scan-out');
  const r = cli('scan', dir, '--sentences', sentences, '--batch', '8', '--loops', '1', '--out', out, '--json', '--quiet');
  assert.equal(r.status, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  assert.equal(report.verdict, 'clean');
});

test('Ctrl-C stops a scan at the next step, writes what it has (exit 130), and --resume continues', { timeout: 120_000 }, async () => {
  const sentences = join(tmpDir('sent'), 's.txt');
  const lines = readFixture('sst2-dev-head.tsv').split('\n').slice(1).map((l) => l.split('\t')[0]).filter((l) => l.length > 10);
  writeFileSync(sentences, lines.join('\n'));
  const out = tmpDir('scan-int');
  const args = [BIN, 'scan', dir, '--sentences', sentences, '--batch', '8', '--loops', '500', '--out', out, '--quiet'];
  const child = spawn(process.execPath, args, { stdio: 'ignore', env: { ...process.env, LMS_CACHE: tmpDir('cache') } });
  const journal = join(out, 'journal.jsonl');
  const loopsDone = () => (existsSync(journal) ? readFileSync(journal, 'utf8').split('\n').filter((l) => l.includes('"type":"loop"')).length : 0);
  const code: number | null = await new Promise((resolve) => {
    const timer = setInterval(() => {
      if (loopsDone() >= 2) {
        clearInterval(timer);
        child.kill('SIGINT');
      }
    }, 20);
    child.on('exit', (c) => {
      clearInterval(timer);
      resolve(c);
    });
  });
  assert.equal(code, 130);
  const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8'));
  assert.equal(report.interrupted, true);
  const before = loopsDone();
  assert.ok(before >= 2 && before < 500);
  const r = cli('scan', dir, '--sentences', sentences, '--batch', '8', '--loops', String(before + 2), '--out', out, '--resume', '--quiet');
  assert.equal(r.status, 0, r.stderr);
  const seeds = readFileSync(journal, 'utf8').split('\n').filter((l) => l.includes('"type":"loop"')).map((l) => JSON.parse(l).seed);
  assert.deepEqual(seeds, Array.from({ length: before + 2 }, (_, i) => i), 'each seed once, in order');
});
