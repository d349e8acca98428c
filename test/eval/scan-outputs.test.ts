import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeScanOutputs } from '../../src/eval/scan-outputs.js';
import { loadPvSet } from '../../src/sanitizer/pvset.js';
import type { ScanReport } from '../../src/eval/report.js';
import { EVIL_TOKEN, fakeInput, fakePv, MODEL_HASH, H, E, L } from '../eval/fake-run.js';
import { tmpDir as makeTmpDir } from '../helpers/tmp.js';

const tmpDir = (): string => makeTmpDir('outputs');

test('writes pvset.safetensors, report.json and report.html, and nothing else', () => {
  const dir = path.join(tmpDir(), 'out', 'nested');
  const out = writeScanOutputs(dir, fakeInput());
  assert.deepEqual(out.pvset, path.join(dir, 'pvset.safetensors'));
  assert.deepEqual(out.reportJson, path.join(dir, 'report.json'));
  assert.deepEqual(out.reportHtml, path.join(dir, 'report.html'));
  assert.deepEqual(fs.readdirSync(dir).sort(), ['pvset.safetensors', 'report.html', 'report.json'], 'no temp files left');

  const report = JSON.parse(fs.readFileSync(out.reportJson, 'utf8')) as ScanReport;
  for (const k of ['reportVersion', 'tool', 'command', 'created', 'model', 'verdict', 'score', 'scoreDefinition', 'interrupted',
    'stoppedBy', 'thresholds', 'settings', 'timings', 'loops', 'pvs', 'pca']) {
    assert.ok(k in report, `report.json has ${k}`);
  }
  assert.deepEqual(report, out.report);
  assert.equal(report.verdict, 'backdoored');
  assert.equal(report.pvs[0].nearest[0][0].token, EVIL_TOKEN);
  assert.equal(report.pca!.pvs.length, 1);

  const html = fs.readFileSync(out.reportHtml, 'utf8');
  assert.match(html, /Chart\.js v4/);
  assert.equal(html.match(/<canvas /g)!.length, 3);
  assert.match(html, /BACKDOORED/);
  assert.ok(!html.includes(EVIL_TOKEN));
  assert.ok(html.includes('&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;'));

  const set = loadPvSet(out.pvset);
  const pv = fakePv();
  assert.equal(set.modelHash, MODEL_HASH);
  assert.equal(set.mode, 'cls');
  assert.equal(set.command, 'scan');
  assert.equal(set.hidden, H);
  assert.equal(set.embedDim, E);
  assert.equal(set.promptLen, L);
  assert.equal(set.created, report.created);
  assert.equal(set.toolVersion, report.tool.version);
  assert.deepEqual(set.pvs, [pv.vector]);
  assert.deepEqual(set.prompts, [pv.prompt]);
  assert.deepEqual(set.seeds, [1]);
  assert.equal(set.hyperParameters['distanceTh'], 0.2);
  assert.equal(set.hyperParameters['divTh'], -3.446);
  assert.deepEqual(set.hyperParameters['data'], report.settings.data);
});

test('clean run: empty PV set, clean verdict', () => {
  const out = writeScanOutputs(tmpDir(), fakeInput(false));
  assert.equal(out.report.verdict, 'clean');
  assert.equal(loadPvSet(out.pvset).pvs.length, 0);
  assert.match(fs.readFileSync(out.reportHtml, 'utf8'), /<div class="word">CLEAN<\/div>/);
});

test('rewriting replaces the previous outputs', () => {
  const dir = tmpDir();
  writeScanOutputs(dir, fakeInput());
  const out = writeScanOutputs(dir, fakeInput(false));
  assert.equal(loadPvSet(out.pvset).pvs.length, 0);
  assert.equal((JSON.parse(fs.readFileSync(out.reportJson, 'utf8')) as ScanReport).verdict, 'clean');
  assert.equal(fs.readdirSync(dir).length, 3);
});

test('an unwritable output directory fails with one line naming it', () => {
  const base = tmpDir();
  const file = path.join(base, 'a-file');
  fs.writeFileSync(file, 'x');
  for (const dir of [file, path.join(file, 'sub')]) {
    assert.throws(() => writeScanOutputs(dir, fakeInput()), (e: Error) => {
      assert.ok(e.message.startsWith(`cannot write to output directory ${dir}: `), e.message);
      assert.ok(!e.message.includes('\n'));
      return true;
    });
  }
  if (process.getuid?.() !== 0) {
    // Permission bits do not stop root, so this part only runs as a normal user.
    const ro = path.join(base, 'ro');
    fs.mkdirSync(ro, { mode: 0o555 });
    assert.throws(() => writeScanOutputs(ro, fakeInput()), new RegExp(`cannot write to output directory ${ro}: permission denied`));
  }
});

test('interrupted before any loop finished: valid outputs, inconclusive verdict', () => {
  const input = fakeInput(false);
  input.driverResult = { pvs: [], loops: [], score: 0, interrupted: true, stoppedBy: 'interrupt', seconds: 0.2 };
  const out = writeScanOutputs(tmpDir(), input);
  assert.equal(out.report.verdict, 'clean');
  assert.equal(out.report.interrupted, true);
  assert.deepEqual(out.report.loops, []);
  const html = fs.readFileSync(out.reportHtml, 'utf8');
  assert.match(html, /<div class="verdict warn" id="verdict">\s*<div class="word">CLEAN \(INCOMPLETE\)<\/div>/);
  assert.match(html, /The run was interrupted/);
  assert.equal(loadPvSet(out.pvset).pvs.length, 0);
});

test('clean outputs of another width than the PVs: no scatter, the rest is written', () => {
  const input = fakeInput();
  input.data.batches = input.data.batches.map((b) => ({ ...b, aux: new Float32Array(b.B * (H + 1)) }));
  const out = writeScanOutputs(tmpDir(), input);
  assert.equal(out.report.pca, null);
  assert.match(fs.readFileSync(out.reportHtml, 'utf8'), /No clean outputs were available for the PCA plot/);
});
