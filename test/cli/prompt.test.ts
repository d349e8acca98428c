/** The prompt commands' contracts: prompt-tune → predict → eval prompt on a fixture backbone and the bundled slices. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { bundledDataDir } from '../../src/text/data-dir.js';
import { fixtureModelDir, tmpDir } from '../train/helpers.js';

const BIN = join(import.meta.dirname, '..', '..', '..', 'bin', 'lmsanitator.js');
const cli = (...args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8' });
const model = fixtureModelDir({ seed: 5 });
const data = bundledDataDir();

test('prompt-tune writes a small prompt directory; predict and eval prompt use it', () => {
  const out = join(tmpDir('prompt-cli'), 'sst2-v2');
  const tuned = cli('prompt-tune', model, '--method', 'ptuning-v2', '--task', 'sst2', '--out', out, '--data-dir', data,
    '--max-train', '64', '--max-dev', '32', '--epochs', '1', '--prefix-len', '4', '--quiet', '--json');
  assert.equal(tuned.status, 0, tuned.stderr);
  const record = JSON.parse(tuned.stdout);
  assert.equal(record.method, 'ptuning-v2');
  assert.equal(record.task, 'sst2');
  assert.ok(statSync(join(out, 'prompt.safetensors')).size < 1 << 20);
  assert.ok(existsSync(join(out, 'prompt.json')));

  const again = cli('prompt-tune', model, '--method', 'ptuning-v2', '--task', 'sst2', '--out', out, '--data-dir', data, '--quiet');
  assert.equal(again.status, 2);
  assert.match(again.stderr, /already holds a trained prompt; pass --force/);

  const one = cli('predict', model, '--prompt', out, '--text', 'a gorgeous film', '--json');
  assert.equal(one.status, 0, one.stderr);
  const p = JSON.parse(one.stdout);
  assert.equal(p.text, 'a gorgeous film');
  assert.ok(['negative', 'positive'].includes(p.label));
  assert.equal(p.probs.length, 2);
  assert.ok(Math.abs(p.probs[0] + p.probs[1] - 1) < 1e-6);

  const input = join(tmpDir('prompt-in'), 'in.jsonl');
  writeFileSync(input, '{"text": "fine"}\nnot json\n{"text": 3}\n\n[1, 2]\n{"text": "dull and long"}\n');
  const many = cli('predict', model, '--prompt', out, '--input', input);
  assert.equal(many.status, 0, many.stderr);
  assert.deepEqual(many.stdout.trim().split('\n').map((l) => JSON.parse(l).text), ['fine', 'dull and long']);
  assert.deepEqual(many.stderr.trim().split('\n').map((l) => /:(\d+): skipped/.exec(l)?.[1]), ['2', '3', '5']);

  const ev = cli('eval', 'prompt', model, '--prompt', out, '--data-dir', data, '--max-test', '40', '--triggers', 'cf,mn', '--json');
  assert.equal(ev.status, 0, ev.stderr);
  const m = JSON.parse(ev.stdout);
  for (const k of ['accuracy', 'macro_f1', 'asr', 'weighted_asr', 'asr_per_trigger']) assert.ok(k in m, k);
  assert.deepEqual(Object.keys(m.asr_per_trigger), ['cf', 'mn']);
  assert.equal(m.test_examples, 40);
});

test('prompt commands: bad usage and bad prompt directories are one-line errors with exit 2', () => {
  const cases: [string[], RegExp][] = [
    [['prompt-tune', model, '--method', 'lora', '--task', 'sst2', '--out', 'x'], /Allowed choices are ptuning, ptuning-v2\./],
    [['prompt-tune', model, '--method', 'ptuning', '--task', 'imdb', '--out', 'x'], /option '--task <task>' argument 'imdb' is invalid/],
    [['prompt-tune', model, '--method', 'ptuning', '--task', 'sst2', '--out', tmpDir('pt-empty'), '--resume'], /nothing to resume/],
    [['predict', model, '--prompt', tmpDir('no-prompt'), '--text', 'x'], /no prompt|not a prompt|prompt\.json/],
    [['predict', model, '--prompt', 'x'], /give exactly one of --text and --input/],
    [['eval', 'prompt', model], /required option '--prompt <prompt-dir>' not specified/],
  ];
  for (const [args, re] of cases) {
    const r = cli(...args);
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, re);
  }
});
