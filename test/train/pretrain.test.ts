/**
 * Pretraining: training.json has its contract keys, and a run killed with
 * SIGKILL mid-way resumes from its checkpoint to exactly the weights of an
 * uninterrupted run (batch order, masks and dropout are functions of the
 * seed and step).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { tmpDir } from './helpers.js';

const DIST = join(import.meta.dirname, '..', '..');

// A child process that pretrains the fixture model; argv: outDir, steps.
const SCRIPT = `
import { fixtureModel } from ${JSON.stringify(pathToFileURL(join(DIST, 'test/train/helpers.js')).href)};
import { pretrain } from ${JSON.stringify(pathToFileURL(join(DIST, 'src/train/pretrain.js')).href)};
import { readFixture } from ${JSON.stringify(pathToFileURL(join(DIST, 'test/text/helpers.js')).href)};
const [outDir, steps] = process.argv.slice(-2);
const m = fixtureModel({ seed: 3 });
const lines = readFixture('sst2-dev-head.tsv').split('\\n').slice(1).map((l) => l.split('\\t')[0]).filter((l) => l.length > 10);
pretrain(m.config, m.tokenizer, lines, lines.slice(0, 8), outDir, {
  steps: Number(steps), batchSize: 4, maxLen: 32, lr: 1e-3, warmupFraction: 0.1, weightDecay: 0.01, clip: 1,
  maskProb: 0.15, seed: 5, checkpointEvery: 10, evalSentences: 8, quiet: true,
}, 'fixture', true);
`;

function run(outDir: string, steps: number, killWhen?: () => boolean): Promise<number | null> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', SCRIPT, outDir, String(steps)], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    let timer: NodeJS.Timeout | undefined;
    if (killWhen) {
      timer = setInterval(() => {
        if (killWhen()) child.kill('SIGKILL');
      }, 5);
    }
    child.on('exit', (code) => {
      if (timer) clearInterval(timer);
      if (code !== 0 && code !== null) process.stderr.write(err);
      resolve(code);
    });
  });
}

test('a pretraining run killed with SIGKILL resumes to the same weights as an uninterrupted one', { timeout: 120_000 }, async () => {
  const steps = 40;
  const whole = tmpDir('pretrain-whole');
  assert.equal(await run(whole, steps), 0);
  const training = JSON.parse(readFileSync(join(whole, 'training.json'), 'utf8'));
  for (const k of ['heldout_mlm_accuracy', 'unigram_baseline_accuracy', 'steps', 'seed', 'data']) assert.ok(k in training, `training.json has ${k}`);
  assert.equal(training.steps, steps);

  const killed = tmpDir('pretrain-killed');
  const ckpt = join(killed, 'checkpoint.safetensors');
  // Kill as soon as the first checkpoint exists (step 10 of 40).
  const code = await run(killed, steps, () => existsSync(ckpt));
  assert.equal(code, null, 'the first run was killed');
  assert.ok(!existsSync(join(killed, 'training.json')), 'the killed run did not finish');
  assert.equal(await run(killed, steps), 0, 'the resumed run finishes');
  const resumed = JSON.parse(readFileSync(join(killed, 'training.json'), 'utf8'));
  assert.ok(resumed.resumed_from_step >= 10 && resumed.resumed_from_step < steps, `resumed from step ${resumed.resumed_from_step}`);
  assert.deepEqual(readFileSync(join(killed, 'model.safetensors')), readFileSync(join(whole, 'model.safetensors')));
});
