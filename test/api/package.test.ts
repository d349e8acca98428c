/**
 * The library as another project sees it: imported by the package's name
 * (through package.json "exports", not a relative path), typed, and the
 * README's example is the committed examples/ file and runs.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { attackSuccess, evaluateVictims, loadModel, loadPrompt, loadPvSet, predictBatch, promptTune, scan, SCAN_DEFAULTS, search, TARGET_MODES, type ScanResult } from 'lmsanitator';
import { packageRoot } from '../../src/text/data-dir.js';
import { readFixture } from '../text/helpers.js';
import { fixtureModelDir, tmpDir } from '../train/helpers.js';

const model = fixtureModelDir({ seed: 4 });

function sentences(): string {
  const file = join(tmpDir('api-sent'), 's.txt');
  writeFileSync(file, readFixture('sst2-dev-head.tsv').split('\n').slice(1).map((l) => l.split('\t')[0]).filter((l) => l.length > 10).join('\n'));
  return file;
}

test('import { scan, search, loadModel, loadPvSet } from "lmsanitator" resolves to the built package', () => {
  const pkg = JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8'));
  assert.equal(pkg.exports['.'].types, './dist/src/index.d.ts');
  assert.ok(existsSync(join(packageRoot(), pkg.exports['.'].types)), 'declarations are built');
  for (const f of [scan, search, loadModel, loadPvSet, promptTune, loadPrompt, predictBatch, attackSuccess, evaluateVictims]) assert.equal(typeof f, 'function');
  assert.deepEqual([...TARGET_MODES], ['cls', 'mask', 'token', 'pooler']);
  assert.equal(SCAN_DEFAULTS.loops.scan, 30);
});

test('scan() runs a detection with library defaults and writes the same outputs as the CLI', () => {
  const outDir = join(tmpDir('api-scan'), 'out');
  const r: ScanResult = scan(model, { sentencesFile: sentences(), batchSize: 8, loops: 1, outDir });
  assert.equal(r.verdict, 'clean');
  assert.equal(r.driver.loops.length, 1);
  for (const f of [r.outputs.pvset, r.outputs.reportJson, r.outputs.reportHtml, join(outDir, 'journal.jsonl')]) assert.ok(existsSync(f), f);
  assert.equal(loadPvSet(r.outputs.pvset).pvs.length, 0);
  assert.equal(r.outputs.report.verdict, 'clean');
  assert.throws(() => scan(model, { sentencesFile: sentences(), batchSize: 8, loops: 1, outDir }), /already holds a run/);
  assert.equal(loadModel(model).config.hiddenSize, 32);
});

test("the README's API example is examples/scan-a-model.ts, and it runs", () => {
  const readme = readFileSync(join(packageRoot(), 'README.md'), 'utf8');
  const block = /<!-- example: examples\/scan-a-model\.ts -->\n```ts\n([\s\S]*?)```/.exec(readme);
  assert.ok(block, 'README marks its example');
  assert.equal(block[1], readFileSync(join(packageRoot(), 'examples', 'scan-a-model.ts'), 'utf8'));
  const r = spawnSync(process.execPath, [join(packageRoot(), 'dist', 'examples', 'scan-a-model.js'), model], {
    encoding: 'utf8', env: { ...process.env, LMS_CACHE: tmpDir('api-cache') },
  });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^(clean|backdoored), score \d+\.\d{3} after \d+ loops\nreport: .*report\.html\n/);
});
