/**
 * Mining, the driver and its journal on a tiny random BERT built in memory:
 * parallel loops equal serial ones, a killed search resumes without losing
 * or duplicating work, and bad inputs fail with clear errors.
 */
import assert from 'node:assert/strict';
import { appendFileSync, chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { gemmCounters, resetGemmCounters } from '../../src/engine/index.js';
import { loadModel } from '../../src/models/model.js';
import { DEFAULT_DATA_OPTIONS, prepareMiningData } from '../../src/sanitizer/data.js';
import { defaultDivTh } from '../../src/sanitizer/filter.js';
import { encodeF32 } from '../../src/sanitizer/journal.js';
import { DEFAULT_MINING_OPTIONS, initialPromptRows, runFuzzLoops } from '../../src/sanitizer/mining.js';
import { scanTargetOf } from '../../src/sanitizer/model-target.js';
import { runScan } from '../../src/sanitizer/run.js';
import { type DriverOptions, hashSentences, runDriver } from '../../src/sanitizer/scan.js';
import { buildMicroModel, tmpDir } from '../attacks/helpers.js';

const micro = buildMicroModel({ hidden: 32, sentences: 160 });
const model = loadModel(micro.dir);
const target = scanTargetOf(model);
const sentences = micro.sentences.slice(0, 96);
const data = prepareMiningData(target, sentences, { ...DEFAULT_DATA_OPTIONS, mode: 'cls', batchSize: 16 });
const mining = { ...DEFAULT_MINING_OPTIONS, lr: 1e-3, epochs: 2 };

function driverOpts(outDir: string, over: Partial<DriverOptions> = {}): DriverOptions {
  return {
    command: 'search', loops: 3, patience: 100, firstSeed: 0, parallel: 1, mining, divTh: defaultDivTh(16),
    outDir, resume: false, modelDir: micro.dir, sentencesHash: hashSentences(sentences), ...over,
  };
}

test('mining data: prompts placed in every row, target rows and aux outputs of the right size', () => {
  assert.equal(data.batches.length, 6);
  for (const b of data.batches) {
    assert.equal(b.promptRows.length, b.B * 7);
    assert.equal(b.aux.length, b.B * target.hidden);
    for (let i = 0; i < b.promptRows.length; i++) {
      const row = b.promptRows[i];
      assert.equal(b.ids[row], target.specialIds.unk, 'placeholders carry [UNK]');
      assert.ok(row % b.T >= 2, 'the prompt goes after the first word');
    }
  }
});


test('length-ordered batches: every kept sentence once, little padding, aux outputs match input order', () => {
  const byInput = prepareMiningData(target, sentences, { ...DEFAULT_DATA_OPTIONS, mode: 'cls', batchSize: 16, batchOrder: 'input' });
  const realTokens = (d: typeof data) => d.batches.reduce((s, b) => s + b.mask.reduce((a, m) => a + m, 0), 0);
  const padded = (d: typeof data) => d.batches.reduce((s, b) => s + b.B * b.T, 0);
  assert.equal(realTokens(data), realTokens(byInput), 'the same sentences are kept');
  assert.ok(padded(data) < padded(byInput), `length order pads less (${padded(data)} vs ${padded(byInput)})`);
  // Each sentence's clean output is the same whichever batch it lands in.
  const auxByRow = (d: typeof data) => {
    const m = new Map<string, Float32Array>();
    for (const b of d.batches) {
      for (let r = 0; r < b.B; r++) {
        const key = Array.from(b.ids.subarray(r * b.T, (r + 1) * b.T)).filter((_, t) => b.mask[r * b.T + t] > 0).join(',');
        m.set(key, b.aux.subarray(r * target.hidden, (r + 1) * target.hidden));
      }
    }
    return m;
  };
  const a = auxByRow(data);
  const b = auxByRow(byInput);
  assert.equal(a.size, b.size);
  for (const [key, v] of a) {
    const w = b.get(key);
    assert.ok(w, 'same rows in both orders');
    for (let i = 0; i < v.length; i++) assert.ok(Math.abs(v[i] - w[i]) < 1e-4);
  }
  const lengths = data.batches.map((x) => x.T);
  assert.notDeepEqual(lengths, [...lengths].sort((x, y) => x - y), 'batches come in a shuffled order, not shortest first');
});
test('prompt initialisation skips special and unused rows and differs between seeds', () => {
  const a = initialPromptRows(target, 0, 7);
  const b = initialPromptRows(target, 1, 7);
  assert.notDeepEqual(a, b);
  for (const r of [...a, ...b]) assert.equal(target.isSpecialOrUnused(r), false);
});

test('mining back-propagates to the prompt only: no weight-gradient GEMMs', () => {
  resetGemmCounters();
  runFuzzLoops(target, { ...data, batches: data.batches.slice(0, 1) }, [0], [], { ...mining, epochs: 1 });
  assert.equal(gemmCounters.gradWeight, 0);
  assert.ok(gemmCounters.gradInput > 0);
  for (const t of model.encoder.params.values()) assert.equal(t.grad, null);
});

test('ablation switches: lrBoost sets the start rate (1 = no adaptive rate), pathCoeff 0 = no path loss', () => {
  const small = { ...data, batches: data.batches.slice(0, 2) };
  // converGrad out of reach: the loop keeps its start rate for every epoch.
  const never = { ...mining, converGrad: 1e9, abandonAfterEpoch: 5 };
  for (const boost of [1, 7]) {
    const [r] = runFuzzLoops(target, small, [2], [], { ...never, lrBoost: boost });
    for (const e of r!.epochs) assert.equal(e.lr, mining.lr * boost, `lrBoost ${boost}`);
  }
  const [adaptive] = runFuzzLoops(target, small, [2], [], { ...mining, converGrad: 0, abandonAfterEpoch: 5 });
  assert.equal(adaptive!.epochs.at(-1)!.lr, mining.lr, 'a passed converGrad drops to the base rate');
  // A known PV steers the loop only through the path loss.
  const pv = Float32Array.from({ length: target.hidden }, (_, i) => (i % 3 ? 0.5 : -0.5));
  const opts = { ...mining, abandonAfterEpoch: 5 };
  const [none] = runFuzzLoops(target, small, [2], [], opts);
  const [off] = runFuzzLoops(target, small, [2], [pv], { ...opts, pathCoeff: 0 });
  const [on] = runFuzzLoops(target, small, [2], [pv], { ...opts, pathCoeff: 0.5 });
  assert.deepEqual(off!.distanceCurve, none!.distanceCurve, 'pathCoeff 0: the same trajectory as with no PV known');
  assert.notDeepEqual(on!.distanceCurve, none!.distanceCurve, 'pathCoeff 0.5 moves it');
});

test('k loops in one batch give the same result as k serial loops', () => {
  const small = { ...data, batches: data.batches.slice(0, 3) };
  const together = runFuzzLoops(target, small, [3, 4], [], mining);
  const alone = [3, 4].map((s) => runFuzzLoops(target, small, [s], [], mining)[0]);
  together.forEach((r, i) => {
    assert.equal(r.seed, alone[i].seed);
    assert.equal(r.epochs.length, alone[i].epochs.length);
    r.distanceCurve.forEach((d, j) => assert.ok(Math.abs(d - alone[i].distanceCurve[j]) < 1e-4 * Math.max(1, Math.abs(d)), `step ${j}: ${d} vs ${alone[i].distanceCurve[j]}`));
    // Adam divides by √v, so float roundoff on near-zero gradient entries is
    // amplified up to ~lr per step: compare with how far the prompt moved.
    // Cross-talk between loops would differ by the order of the movement.
    const init = new Float32Array(alone[i].prompt.length);
    const W = target.wordEmbeddings.data as Float32Array;
    const E = target.wordEmbeddings.shape[1];
    alone[i].initRows.forEach((row, k) => init.set(W.subarray(row * E, (row + 1) * E), k * E));
    let maxDiff = 0;
    let moved = 0;
    r.prompt.forEach((p, j) => {
      maxDiff = Math.max(maxDiff, Math.abs(p - alone[i].prompt[j]));
      moved = Math.max(moved, Math.abs(alone[i].prompt[j] - init[j]));
    });
    assert.ok(moved > 0.05, `the prompt moved (${moved})`);
    assert.ok(maxDiff < 1e-3 * moved, `prompt differs by ${maxDiff} after moving ${moved}`);
  });
});

test('a killed search resumes: finished loops are not re-run, PVs are neither lost nor duplicated', () => {
  const out = tmpDir('search-resume');
  runDriver(target, data, driverOpts(out, { loops: 2 }));
  const journal = join(out, 'journal.jsonl');
  const lines = readFileSync(journal, 'utf8').trim().split('\n');
  assert.equal(lines.length, 3, 'header + two loops');
  // Simulate a kill: seed 2 found a PV and was killed before its loop line; the last write is torn.
  const pv = new Float32Array(target.hidden).fill(0.5);
  appendFileSync(journal, `${JSON.stringify({ type: 'pv', index: 0, seed: 2, vector: encodeF32(pv), prompt: encodeF32(new Float32Array(7 * 32)), promptShape: [7, 32] })}\n{"type":"loop","se`);
  const r = runDriver(target, data, driverOpts(out, { loops: 4, resume: true }));
  const seeds = r.loops.map((l) => l.seed).sort();
  assert.deepEqual(seeds, [0, 1, 3], 'seed 2 counted as done through its PV; only seed 3 is new');
  assert.equal(r.pvs.length, 1);
  assert.equal(r.pvs[0].seed, 2);
  const after = readFileSync(journal, 'utf8').trim().split('\n').filter((l) => l.startsWith('{"type":"loop","seed"'));
  assert.equal(new Set(after.map((l) => JSON.parse(l).seed)).size, after.length, 'no loop journaled twice');
  // The torn fragment was cut off, so every line parses and seed 3's loop survives a second resume.
  for (const line of readFileSync(journal, 'utf8').trim().split('\n')) assert.doesNotThrow(() => JSON.parse(line), line.slice(0, 40));
  const before = readFileSync(journal, 'utf8');
  const again = runDriver(target, data, driverOpts(out, { loops: 4, resume: true }));
  assert.deepEqual(again.loops.map((l) => l.seed).sort(), [0, 1, 3]);
  assert.equal(readFileSync(journal, 'utf8'), before, 'nothing left to redo');
});

test('resuming with a journal from a different model fails clearly', () => {
  const out = tmpDir('search-other');
  runDriver(target, data, driverOpts(out, { loops: 1 }));
  const other = { ...target, modelHash: 'f'.repeat(64) };
  assert.throws(() => runDriver(other, data, driverOpts(out, { loops: 2, resume: true })), /belongs to a different model/);
});

test('bad input: too few sentences, empty lines, no [MASK] in mask mode, unwritable output', () => {
  const few = join(tmpDir('few'), 's.txt');
  writeFileSync(few, `${micro.sentences.slice(0, 10).join('\n\n')}\n\n`);
  const base = { command: 'scan' as const, modelDir: micro.dir, mode: 'cls' as const, sentenceCount: 2000, loops: 1, patience: 1, seed: 0, parallel: 1, resume: false, quiet: true, cacheDir: null };
  assert.throws(() => runScan({ ...base, outDir: tmpDir('o1'), sentencesFile: few }), /10 non-empty sentences; at least one batch of 32/);

  const blocked = join(tmpDir('blocked'), 'file');
  writeFileSync(blocked, 'not a directory');
  const file = join(tmpDir('s'), 's.txt');
  writeFileSync(file, micro.sentences.slice(0, 40).join('\n'));
  assert.throws(() => runScan({ ...base, outDir: join(blocked, 'out'), sentencesFile: file }), /cannot create output directory/);

  const noMask = buildMicroModel({ hidden: 16, sentences: 40 });
  const tokPath = join(noMask.dir, 'tokenizer.json');
  const tok = JSON.parse(readFileSync(tokPath, 'utf8'));
  tok.added_tokens = tok.added_tokens.filter((t: { content: string }) => t.content !== '[MASK]');
  delete tok.model.vocab['[MASK]'];
  writeFileSync(tokPath, JSON.stringify(tok));
  chmodSync(tokPath, 0o644);
  assert.throws(() => runScan({ ...base, modelDir: noMask.dir, mode: 'mask', outDir: tmpDir('o2'), sentencesFile: file }), /mask mode needs a \[MASK\] token/);
});

test('acceptAt first-pass: a loop ends at the first epoch its judge accepts, with that epoch\'s candidate; final-epoch runs on', () => {
  const small = { ...data, batches: data.batches.slice(0, 3) };
  const three = { ...mining, epochs: 3, distanceTh: -1e9 }; // every loop "crosses": the judge alone decides
  const asked: number[] = [];
  const accept = (r: { epochs: unknown[]; candidate: Float32Array | null }) => {
    asked.push(r.epochs.length);
    assert.ok(r.candidate, 'the judge sees the candidate of the epoch just finished');
    return r.epochs.length === 2;
  };
  const [settled] = runFuzzLoops(target, small, [5], [], { ...three, acceptAt: 'first-pass' }, { accept });
  assert.deepEqual(asked, [1, 2], 'asked after epochs 1 and 2, never after the last');
  assert.equal(settled.settled, true);
  assert.equal(settled.epochs.length, 2);
  assert.equal(settled.distanceCurve.length, 2 * small.batches.length, 'no step after the accepted epoch');

  asked.length = 0;
  const [full] = runFuzzLoops(target, small, [5], [], { ...three, acceptAt: 'final-epoch' }, { accept });
  assert.deepEqual(asked, [], 'final-epoch never asks');
  assert.equal(full.settled, false);
  assert.equal(full.epochs.length, 3);
  // Stopping does not change the optimisation up to the stop.
  settled.distanceCurve.forEach((d, j) => assert.ok(Math.abs(d - full.distanceCurve[j]) < 1e-5 * Math.max(1, Math.abs(d)), `step ${j}`));

  // The candidate is the batch mean of the accepted epoch's last batch: the same batch, one epoch on, differs.
  assert.ok(settled.candidate && full.candidate);
  let diff = 0;
  settled.candidate.forEach((x, i) => (diff = Math.max(diff, Math.abs(x - full.candidate![i]))));
  assert.ok(diff > 1e-6, 'the kept candidate is the one from epoch 2, not the final one');
});

test('acceptAt first-pass: the judge is only asked about loops that crossed the distance threshold', () => {
  const small = { ...data, batches: data.batches.slice(0, 2) };
  let asked = 0;
  const [r] = runFuzzLoops(target, small, [6], [], { ...mining, epochs: 3, distanceTh: 1e9, abandonAfterEpoch: 5 }, { accept: () => (asked++, true) });
  assert.equal(asked, 0);
  assert.equal(r.crossed, false);
  assert.equal(r.settled, false);
  assert.equal(r.epochs.length, 3);
});
