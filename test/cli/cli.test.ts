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
  assert.match(bad.stderr, /^lmsanitator scan: option '--mode <mode>' argument 'nonsense' is invalid. Allowed choices are cls, mask, token, pooler./);
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

test('pretrain writes a Hugging Face directory and training.json with the accuracy keys', () => {
  const out = tmpDir('pretrain');
  const corpus = join(out, 'corpus.txt');
  const words = ['the', 'film', 'was', 'good', 'bad', 'a', 'story', 'of', 'people', 'and', 'music', 'in', 'town'];
  writeFileSync(corpus, Array.from({ length: 120 }, (_, i) => Array.from({ length: 6 + (i % 5) }, (_, j) => words[(i * 7 + j * 3) % words.length]).join(' ')).join('\n'));
  const model = join(out, 'model');
  const r = cli('pretrain', '--out', model, '--corpus', corpus, '--layers', '1', '--hidden', '16', '--heads', '2', '--ff', '32',
    '--steps', '4', '--batch', '8', '--heldout', '20', '--max-len', '16', '--quiet', '--json');
  assert.equal(r.status, 0, r.stderr);
  const t = JSON.parse(r.stdout);
  assert.equal(t.steps, 4);
  assert.ok(t.heldout_mlm_accuracy >= 0 && t.heldout_mlm_accuracy <= 1);
  assert.ok(t.unigram_baseline_accuracy > 0 && t.unigram_baseline_accuracy <= 1);
  for (const f of ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'training.json']) {
    assert.ok(existsSync(join(model, f)), f);
  }
  assert.equal(JSON.parse(readFileSync(join(model, 'config.json'), 'utf8')).hidden_size, 16);
  const again = cli('pretrain', '--out', model, '--corpus', corpus, '--quiet');
  assert.equal(again.status, 2);
  assert.match(again.stderr, /already holds a pretrained model; use --force/);
});

test('pretrain: bad corpus files and impossible sizes fail before any work, naming the problem', () => {
  const d = tmpDir('pretrain-bad');
  const file = (name: string, content: string | Buffer) => {
    const p = join(d, name);
    writeFileSync(p, content);
    return p;
  };
  const cases: [string[], RegExp][] = [
    [['--corpus', file('empty.txt', '')], /empty\.txt: the file is empty/],
    [['--corpus', file('blob.bin', Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0, 1, 2, 3]))], /blob\.bin: binary data \(a NUL byte at offset 4\)/],
    [['--corpus', file('big.txt', 'a sentence of text\n'.repeat(200)), '--max-corpus-mb', '0.001'], /big\.txt: file is .* over the .* limit/],
    [['--corpus', file('latin1.txt', Buffer.from('caf\xe9 cr\xe8me br\xfbl\xe9e\n'.repeat(20), 'latin1'))], /latin1\.txt: not UTF-8 text/],
    [['--corpus', join(d, 'missing.txt')], /missing\.txt: cannot open/],
    [['--hidden', '30', '--heads', '4'], /"hidden_size" 30 is not divisible by "num_attention_heads" 4/],
    [['--vocab-size', '50'], /--vocab-size 50 is smaller than the bert tokenizer's 30522 tokens/],
    [['--family', 'gpt'], /option '--family <family>' argument 'gpt' is invalid\. Allowed choices are bert, roberta, electra, albert, deberta, xlnet\./],
    [['--heldout', '200000'], /--heldout 200000 plus one batch of 64 need more/],
    [['--corpus', join(d, 'big.txt'), '--max-corpus-mb', '0'], /option '--max-corpus-mb <n>' argument '0' is invalid\. Expected a number > 0\./],
  ];
  for (const [args, message] of cases) {
    const r = cli('pretrain', '--out', join(d, 'out'), ...args); // not --quiet: a started run would print its steps
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message);
    // Before any work: no training step was reported and nothing was written.
    assert.doesNotMatch(r.stderr + r.stdout, /pretrain: \d+\//, 'fails before training');
    assert.equal(existsSync(join(d, 'out', 'checkpoint.safetensors')), false);
  }
});
