/**
 * `fleet submit --local`: the queue's submission and job code run in this
 * process, without Redis. Verdicts equal serial scans, duplicates are
 * scanned once, the exit code summarises the batch, and a second run
 * finds everything scanned.
 */
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { scan } from '../../src/eval/scan-model.js';
import { fleetModels, runCli, scanArgs, tmpDir } from './helpers.js';

test('--local scans in process: verdicts equal serial scans, the same weights once, exit 0 when all are clean, 2 when a job fails', { timeout: 90_000 }, () => {
  const m = fleetModels();
  const workDir = tmpDir('fleet-local');
  const env = { LMS_CACHE: tmpDir('fleet-cache') };
  const copy = join(tmpDir('fleet-local-copy'), 'same');
  cpSync(m.dirs[1]!, copy, { recursive: true });
  const r = runCli(['fleet', 'submit', m.dirs[0]!, m.dirs[1]!, copy, '--local', '--work-dir', workDir, ...scanArgs(m, 3), '--json'], env);
  assert.equal(r.status, 0, r.stderr);
  const lines = JSON.parse(r.stdout) as { model: string; sha256: string; verdict: string; score: number; worker: string; attempts: number }[];
  assert.deepEqual(lines.map((l) => l.model), [m.dirs[0], m.dirs[1], copy]);
  assert.equal(lines[2]!.sha256, lines[1]!.sha256);
  assert.equal(readdirSync(workDir).filter((d) => /^[0-9a-f]{64}$/.test(d)).length, 2, 'two distinct sets of weights, two scans');
  for (const [i, dir] of m.dirs.slice(0, 2).entries()) {
    const serial = scan(dir, { outDir: join(tmpDir('fleet-local-serial'), 'o'), loops: 3, sentencesFile: m.sentences, sentenceCount: 64, batchSize: 16, epochs: 2, cacheDir: null });
    assert.equal(lines[i]!.verdict, serial.verdict);
    assert.ok(Math.abs(lines[i]!.score - serial.driver.score) < 1e-9);
    assert.match(lines[i]!.worker, /:\d+$/, 'host:pid');
    assert.equal(lines[i]!.attempts, 1);
  }
  // Run again with a directory that is no model: the scanned ones are known, the bad one fails (exit 2).
  const empty = join(tmpDir('fleet-local-bad'), 'empty');
  mkdirSync(empty);
  const again = runCli(['fleet', 'submit', m.dirs[0]!, empty, '--local', '--work-dir', workDir, ...scanArgs(m, 3), '--json'], env);
  assert.equal(again.status, 2, again.stderr);
  const second = JSON.parse(again.stdout) as { model: string; verdict: string; error?: string }[];
  assert.deepEqual(second.map((l) => [l.model, l.verdict]), [[m.dirs[0], 'clean'], [empty, 'error']]);
  assert.match(second[1]!.error!, /config\.json/);
  assert.doesNotMatch(again.stderr, new RegExp(`started ${m.dirs[0]}`), 'a scanned model is not scanned again');
  // The human form: one line per model.
  const results = runCli(['fleet', 'results', '--work-dir', workDir], env);
  assert.equal(results.status, 0, results.stderr);
  assert.equal(results.stdout.trim().split('\n').length, 4);
  assert.match(results.stdout, /^clean +\//);
  assert.match(results.stdout, /\nERROR +\/.*empty/);
});
