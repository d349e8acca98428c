/**
 * The dynamic batcher on a fake engine (no model): concurrent requests are
 * packed up to maxBatch rows, a lone request waits at most maxWaitMs, a
 * request larger than a batch is split and reassembled in order, one batch
 * is in flight at a time, a full queue refuses at once (503), a request's
 * error (422) fails that request only, an engine failure fails the batch's
 * requests, and drained() waits for everything in flight.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { GuardResult } from '../../src/guard/guard.js';
import { Batcher } from '../../src/serve/batcher.js';
import { type BatchGroup, type GroupOutcome, ServeError } from '../../src/serve/types.js';

const result = (text: string): GuardResult => ({
  label: text, probs: [1], triggered: false, match_rate: 0, pv: null, match_rates: [], action: 'passed', removed: [], purified_text: text, purified_match_rate: null, candidates: 0,
});

/** A fake engine: records each batch, answers after `ms` (texts starting with "long" get a 422). */
function fakeEngine(ms = 5) {
  const batches: BatchGroup[][] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const run = async (groups: BatchGroup[]) => {
    batches.push(groups);
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    await new Promise((r) => setTimeout(r, ms));
    inFlight--;
    const outcomes: GroupOutcome[] = groups.map((g) => {
      const bad = g.inputs.findIndex((x) => x.text.startsWith('long'));
      if (bad >= 0) return { error: { status: 422, code: 'text_too_long', message: `inputs[${g.offset + bad}] is too long`, index: g.offset + bad } };
      return { results: g.inputs.map((x) => result(x.text)) };
    });
    return { outcomes };
  };
  return { run, batches, maxInFlight: () => maxInFlight };
}

const inputs = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => ({ text: `${prefix}${i}` }));
const rows = (b: BatchGroup[]) => b.reduce((n, g) => n + g.inputs.length, 0);

test('batcher: concurrent requests share batches of at most maxBatch rows, one batch in flight', async () => {
  const e = fakeEngine(20);
  const sizes: number[] = [];
  const b = new Batcher(e.run, { maxBatch: 8, maxWaitMs: 50, maxQueue: 1000 }, (n) => sizes.push(n));
  const got = await Promise.all(Array.from({ length: 20 }, (_, i) => b.submit(`r${i}`, 'p', [{ text: `x${i}` }])));
  got.forEach((r, i) => assert.deepEqual(r.map((x) => x.label), [`x${i}`]));
  assert.deepEqual(sizes, e.batches.map(rows));
  assert.equal(sizes.reduce((a, c) => a + c, 0), 20);
  assert.ok(sizes.every((n) => n <= 8), `batch sizes ${sizes}`);
  assert.ok(e.batches.length <= 4, `20 requests in ${e.batches.length} batches (8 + 8 + 4 expected)`);
  assert.equal(e.maxInFlight(), 1);
  assert.equal(b.queuedRows, 0);
  assert.equal(b.pendingRequests, 0);
});

test('batcher: maxBatch 1 sends every input alone; a lone request waits about maxWaitMs, not more', async () => {
  const e = fakeEngine(1);
  const b = new Batcher(e.run, { maxBatch: 1, maxWaitMs: 0, maxQueue: 1000 });
  await Promise.all(Array.from({ length: 6 }, (_, i) => b.submit(`r${i}`, 'p', [{ text: `x${i}` }])));
  assert.equal(e.batches.length, 6);

  const e2 = fakeEngine(1);
  const b2 = new Batcher(e2.run, { maxBatch: 32, maxWaitMs: 60, maxQueue: 1000 });
  const t0 = performance.now();
  await b2.submit('solo', 'p', [{ text: 'a' }]);
  const waited = performance.now() - t0;
  assert.ok(waited >= 55, `waited ${waited.toFixed(1)} ms for company (max wait 60)`);
  assert.ok(waited < 1000, `but not much longer: ${waited.toFixed(1)} ms`);
});

test('batcher: a request larger than a batch is split over batches and answered in input order', async () => {
  const e = fakeEngine(2);
  const b = new Batcher(e.run, { maxBatch: 8, maxWaitMs: 0, maxQueue: 1000 });
  const [big, small] = await Promise.all([b.submit('big', 'p', inputs('b', 20)), b.submit('small', 'q', inputs('s', 3))]);
  assert.deepEqual(big.map((r) => r.label), inputs('b', 20).map((x) => x.text));
  assert.deepEqual(small.map((r) => r.label), ['s0', 's1', 's2']);
  assert.deepEqual(e.batches.map(rows), [8, 8, 7]);
  // The groups carry each part's offset in its request.
  assert.deepEqual(e.batches.flat().filter((g) => g.requestId === 'big').map((g) => [g.offset, g.inputs.length]), [[0, 8], [8, 8], [16, 4]]);
  assert.deepEqual(e.batches[2]!.map((g) => [g.requestId, g.prompt]), [['big', 'p'], ['small', 'q']]);
});

test('batcher: a full queue refuses at once with 503; a request error fails that request only; an engine failure fails its batch', async () => {
  const e = fakeEngine(30);
  const b = new Batcher(e.run, { maxBatch: 4, maxWaitMs: 0, maxQueue: 6 });
  const first = b.submit('a', 'p', inputs('a', 4)); // sent at once
  const second = b.submit('b', 'p', inputs('b', 6)); // queued: 6 rows
  await assert.rejects(b.submit('c', 'p', [{ text: 'c' }]), (err: ServeError) => err instanceof ServeError && err.status === 503 && err.code === 'overloaded' && err.extra.retryAfter === 1);
  await Promise.all([first, second]);

  const bad = b.submit('bad', 'p', [{ text: 'ok' }, { text: 'long one' }]);
  const good = b.submit('good', 'p', [{ text: 'fine' }]);
  await assert.rejects(bad, (err: ServeError) => err.status === 422 && err.extra.index === 1);
  assert.deepEqual((await good).map((r) => r.label), ['fine']);

  let calls = 0;
  const failing = new Batcher(async () => {
    calls++;
    throw new Error('the inference worker exited (code 1)');
  }, { maxBatch: 4, maxWaitMs: 0, maxQueue: 100 });
  await assert.rejects(failing.submit('x', 'p', inputs('x', 6)), (err: ServeError) => err.status === 500 && err.code === 'inference_failed' && /worker exited/.test(err.message));
  // Its second part was dropped, not sent to a failed engine.
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(calls, 1);
  assert.equal(failing.queuedRows, 0);
  await failing.drained();
});

test('batcher: drained() waits for queued and in-flight requests', async () => {
  const e = fakeEngine(25);
  const b = new Batcher(e.run, { maxBatch: 2, maxWaitMs: 0, maxQueue: 100 });
  let answered = 0;
  for (let i = 0; i < 5; i++) void b.submit(`r${i}`, 'p', [{ text: `x${i}` }]).then(() => answered++);
  await b.drained();
  assert.equal(answered, 5);
  assert.equal(e.batches.length, 3);
});
