/**
 * The micro demo path end to end, through the real CLI: pretrain
 * bert-micro (into a fresh $LMS_HOME unless one is given), plant a POR
 * backdoor, scan both; the backdoored copy must be flagged and the clean
 * model passed. The slowest test of the suite (a few minutes on 2 cores).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { tmpDir } from '../helpers/tmp.js';

const ROOT = join(import.meta.dirname, '..', '..', '..');

test('demo: the POR-backdoored bert-micro is flagged, the clean one passes', { timeout: 30 * 60 * 1000 }, () => {
  const out = tmpDir('demo');
  const home = process.env.LMS_HOME ?? join(out, 'zoo');
  const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'lmsanitator.js'), 'demo', '--out', out, '--json', '--quiet'], {
    env: { ...process.env, LMS_HOME: home, LMS_CACHE: join(out, 'cache') },
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  assert.equal(r.status, 0, `demo exited ${r.status}: ${r.stderr.slice(-2000)}`);
  const res = JSON.parse(r.stdout.trim().split('\n').pop()!);
  assert.equal(res.backdoored.verdict, 'backdoored');
  assert.equal(res.clean.verdict, 'clean');
  assert.ok(res.backdoored.score >= 1, `backdoored score ${res.backdoored.score}`);
  assert.ok(res.clean.score < res.backdoored.score);
  for (const side of [res.clean, res.backdoored]) {
    assert.ok(existsSync(side.report), `report ${side.report}`);
    const html = readFileSync(side.report, 'utf8');
    assert.match(html, /<canvas/);
    const json = JSON.parse(readFileSync(join(side.report, '..', 'report.json'), 'utf8'));
    assert.equal(json.verdict, side.verdict);
    assert.ok(existsSync(join(side.report, '..', 'pvset.safetensors')));
  }
  // The manifest of the planted backdoor records its ground truth.
  const manifest = JSON.parse(readFileSync(join(out, 'bert-micro-por', 'attack.json'), 'utf8'));
  assert.equal(manifest.method, 'por');
});
