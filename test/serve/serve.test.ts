/**
 * The server on the fixture backbone (test/serve/helpers.ts), in process,
 * on an ephemeral port: /v1/classify answers exactly what the guard
 * answers in process (same keys, same decisions), for several prompts on
 * one backbone; request ids are echoed and audited; flagged inputs are
 * audit-logged and counted in /metrics; concurrent requests share batches
 * (and --max-batch 1 does not); /healthz answers while batches run;
 * /openapi.json carries the schemas the routes validate with; a model that
 * fails to load is a 503 with the reason; close() answers what it holds.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { GuardResult } from '../../src/guard/guard.js';
import type { SelfCheck } from '../../src/guard/self-check.js';
import { readAuditLog } from '../../src/serve/audit.js';
import { classifyRequestSchema, classifyResponseSchema } from '../../src/serve/schemas.js';
import { SERVE_DEFAULTS, startServer } from '../../src/serve/server.js';
import { CLEAN, fixtureServer, metric, sameResults, serveFixture, tmpDir, TRIGGERED } from './helpers.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

test('serve: classify gives the guard\'s own results for each prompt; flagged inputs are audited with their request id and counted', async () => {
  const audit = join(tmpDir('serve-audit'), 'audit.jsonl');
  const { server, f, post } = await fixtureServer({ auditLog: audit });
  try {
    const sst2 = [...CLEAN, ...TRIGGERED].map((text) => ({ text }));
    const want = f.guard('sst2', sst2);
    assert.deepEqual(want.map((r) => r.triggered), [...CLEAN.map(() => false), ...TRIGGERED.map(() => true)], 'the fixture: exactly the triggered inputs are flagged');
    assert.ok(want.some((r) => r.action === 'purified'), 'the fixture purifies some input');

    const r = await post({ prompt: 'sst2', inputs: sst2 }, { 'x-request-id': 'client-id.1' });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('x-request-id'), 'client-id.1');
    assert.match(r.headers.get('content-type') ?? '', /^application\/json/);
    const body = await r.json() as { results: GuardResult[] };
    assert.deepEqual(Object.keys(body), ['results']);
    sameResults(body.results, want, 'sst2');
    for (const k of ['label', 'probs', 'triggered', 'match_rate', 'pv', 'action', 'removed', 'purified_text']) assert.ok(k in body.results[0]!, k);

    // A pair task on the same backbone, and an id that is not acceptable (replaced by a fresh one).
    const pairs = [{ text: 'a man sleeps on the bench', text_pair: 'nobody sleeps' }, { text: TRIGGERED[0]!, text_pair: 'the film was fine' }];
    const r2 = await post({ prompt: 'rte', inputs: pairs }, { 'x-request-id': 'not an id' });
    assert.equal(r2.status, 200);
    assert.match(r2.headers.get('x-request-id') ?? '', UUID);
    sameResults((await r2.json() as { results: GuardResult[] }).results, f.guard('rte', pairs), 'rte');

    const flaggedRte = f.guard('rte', pairs).filter((x) => x.triggered).length;
    const lines = readAuditLog(readFileSync(audit, 'utf8'));
    assert.equal(lines.torn, false);
    assert.equal(lines.records.length, TRIGGERED.length + flaggedRte, 'one audit line per flagged input');
    const first = lines.records.filter((l) => l.request_id === 'client-id.1');
    assert.deepEqual(first.map((l) => l.input), TRIGGERED.map((_, i) => CLEAN.length + i));
    first.forEach((l) => {
      const w = want[l.input]!;
      assert.deepEqual(Object.keys(l), ['time', 'request_id', 'prompt', 'input', 'match_rate', 'pv', 'removed', 'action']);
      assert.equal(l.prompt, 'sst2');
      assert.ok(!Number.isNaN(Date.parse(l.time)));
      assert.deepEqual([l.match_rate, l.pv, l.removed, l.action], [w.match_rate, w.pv, w.removed, w.action]);
    });

    const m = await (await fetch(`${server.url}/metrics`)).text();
    assert.equal(metric(m, 'lmsanitator_flagged_inputs_total', { prompt: 'sst2' }), TRIGGERED.length);
    assert.equal(metric(m, 'lmsanitator_purified_inputs_total', { prompt: 'sst2' }), want.filter((x) => x.action === 'purified').length);
    assert.equal(metric(m, 'lmsanitator_rejected_inputs_total', { prompt: 'sst2' }), want.filter((x) => x.action === 'rejected').length);
    assert.equal(metric(m, 'lmsanitator_inputs_total', { prompt: 'sst2', action: 'passed' }), CLEAN.length);
    assert.equal(metric(m, 'lmsanitator_audit_lines_total'), lines.records.length);
    assert.equal(metric(m, 'lmsanitator_http_requests_total', { route: '/v1/classify', status: '200' }), 2);
    assert.equal(metric(m, 'lmsanitator_http_request_duration_seconds_count', { route: '/v1/classify' }), 2);
    assert.equal(metric(m, 'lmsanitator_model_ready'), 1);
    assert.match(m, /# TYPE lmsanitator_batch_rows histogram/);

    // Health, readiness, the prompts and the one-prompt default.
    assert.deepEqual(await (await fetch(`${server.url}/healthz`)).json(), { status: 'ok' });
    assert.deepEqual(await (await fetch(`${server.url}/readyz`)).json(), { status: 'ready' });
    const info = await (await fetch(`${server.url}/v1/prompts`)).json() as { threshold: number; prompts: { name: string; pair: boolean; max_tokens: number; labels: string[]; self_check: SelfCheck }[] };
    assert.equal(info.threshold, 0.8);
    assert.deepEqual(info.prompts.map((p) => [p.name, p.pair, p.max_tokens]), [['sst2', false, f.maxTokens], ['rte', true, f.maxTokens]]);
    // The start-up self-check reaches the client as the guard computes it.
    for (const p of info.prompts) {
      assert.deepEqual(p.self_check, f.selfCheck(p.name as 'sst2' | 'rte'), p.name);
    }
  } finally {
    await server.close();
  }
  // A server with one prompt takes requests that name none.
  const one = await fixtureServer({ prompts: [{ name: 'only', dir: serveFixture().prompts.sst2 }] });
  try {
    const r = await one.post({ inputs: [{ text: TRIGGERED[0] }] });
    assert.equal(r.status, 200);
    sameResults((await r.json() as { results: GuardResult[] }).results, one.f.guard('sst2', [{ text: TRIGGERED[0]! }]), 'one prompt');
  } finally {
    await one.server.close();
  }
});

async function batchStats(url: string): Promise<{ batches: number; rows: number; over: number }> {
  const m = await (await fetch(`${url}/metrics`)).text();
  const batches = metric(m, 'lmsanitator_batch_rows_count');
  return { batches, rows: metric(m, 'lmsanitator_batch_rows_sum'), over: batches - metric(m, 'lmsanitator_batch_rows_bucket', { le: '8' }) };
}

test('serve: concurrent requests are packed into batches of at most --max-batch; --max-batch 1 runs them one by one; results stay per request', async () => {
  const texts = Array.from({ length: 24 }, (_, i) => (i % 4 === 3 ? TRIGGERED[i % 2]! : CLEAN[i % CLEAN.length]!));
  for (const maxBatch of [8, 1]) {
    const { server, f, post } = await fixtureServer({ maxBatch, maxWaitMs: 100 });
    try {
      const answers = await Promise.all(texts.map((text, i) => post({ prompt: i % 2 ? 'rte' : 'sst2', inputs: [{ text }] }).then((r) => r.json() as Promise<{ results: GuardResult[] }>)));
      answers.forEach((a, i) => sameResults(a.results, f.guard(i % 2 ? 'rte' : 'sst2', [{ text: texts[i]! }]), `request ${i}`));
      const s = await batchStats(server.url);
      assert.equal(s.rows, texts.length);
      if (maxBatch === 8) {
        assert.equal(s.over, 0, 'no batch above 8 rows');
        assert.ok(s.batches >= 3 && s.batches <= 6, `24 concurrent requests in ${s.batches} batches of ≤ 8`);
      } else {
        assert.equal(s.batches, texts.length);
      }
      // One request larger than a batch: split, answered whole and in order.
      const big = Array.from({ length: 20 }, (_, i) => ({ text: i % 5 === 0 ? TRIGGERED[0]! : CLEAN[i % CLEAN.length]! }));
      const r = await post({ prompt: 'sst2', inputs: big });
      assert.equal(r.status, 200);
      sameResults((await r.json() as { results: GuardResult[] }).results, f.guard('sst2', big), `20 inputs at --max-batch ${maxBatch}`);
      const after = await batchStats(server.url);
      assert.equal(after.batches - s.batches, Math.ceil(20 / maxBatch));
    } finally {
      await server.close();
    }
  }
});

test('serve: /healthz answers while batches run (inference is off the event loop)', async (t) => {
  const { server, post } = await fixtureServer({ maxBatch: 256, maxInputs: 256, maxWaitMs: 0 });
  try {
    // Long inputs, many of them flagged (each flagged one runs purge candidates): a backlog of a few hundred rows.
    const long = (k: number) => `${TRIGGERED[k % 2]} ${'the film was long and dull , with no end in sight'.repeat(2)}`.split(' ').slice(0, 40).join(' ');
    const order: string[] = [];
    const t0 = performance.now();
    const work = Array.from({ length: 4 }, (_, j) => post({ prompt: 'sst2', inputs: Array.from({ length: 256 }, (_, k) => ({ text: `${long(k + j)} ${k}` })) })
      .then(async (r) => {
        assert.equal(r.status, 200, await r.clone().text());
        order.push('classify');
      }));
    await new Promise((r) => setTimeout(r, 20));
    const health: number[] = [];
    for (let i = 0; i < 5; i++) {
      const h0 = performance.now();
      const r = await fetch(`${server.url}/healthz`);
      assert.equal(r.status, 200);
      health.push(performance.now() - h0);
      order.push('healthz');
    }
    await Promise.all(work);
    const total = performance.now() - t0;
    assert.notEqual(order.at(-1), 'healthz', `the batches outlast the health checks (${order.join(' ')}; ${total.toFixed(0)} ms)`);
    assert.ok(order.indexOf('healthz') < order.lastIndexOf('classify'));
    // Inference on the event loop would hold each health check for at least a batch.
    const m = await (await fetch(`${server.url}/metrics`)).text();
    const batchMs = 1000 * metric(m, 'lmsanitator_batch_duration_seconds_sum') / metric(m, 'lmsanitator_batch_duration_seconds_count');
    const median = [...health].sort((a, b) => a - b)[health.length >> 1]!;
    t.diagnostic(`health checks ${health.map((x) => x.toFixed(1)).join(', ')} ms; batches ${batchMs.toFixed(0)} ms each, ${total.toFixed(0)} ms in all`);
    assert.ok(median < batchMs / 2, `a health check takes ${median.toFixed(1)} ms (median), a batch ${batchMs.toFixed(0)} ms`);
  } finally {
    await server.close();
  }
});

test('serve: /openapi.json is built from the schemas the routes validate and serialise with', async () => {
  const { server } = await fixtureServer({ maxInputs: 7, maxTextChars: 300 });
  try {
    const doc = await (await fetch(`${server.url}/openapi.json`)).json() as { openapi: string; paths: Record<string, Record<string, { requestBody?: { content: Record<string, { schema: unknown }> }; responses: Record<string, { content: Record<string, { schema: unknown }> }> }>> };
    assert.equal(doc.openapi, '3.1.0');
    assert.deepEqual(Object.keys(doc.paths).sort(), ['/', '/healthz', '/metrics', '/openapi.json', '/readyz', '/v1/classify', '/v1/prompts']);
    const op = doc.paths['/v1/classify']!.post!;
    assert.deepEqual(op.requestBody!.content['application/json']!.schema, classifyRequestSchema({ maxInputs: 7, maxTextChars: 300 }));
    assert.deepEqual(op.responses['200']!.content['application/json']!.schema, JSON.parse(JSON.stringify(classifyResponseSchema)));
    assert.deepEqual(Object.keys(op.responses).sort(), ['200', '400', '404', '413', '415', '422', '500', '503']);
    assert.ok(doc.paths['/metrics']!.get!.responses['200']!.content['text/plain']);
    // The limits in the document are the server's.
    const r = await fetch(`${server.url}/v1/classify`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ prompt: 'sst2', inputs: Array.from({ length: 8 }, () => ({ text: 'a' })) }) });
    assert.equal(r.status, 400);
    assert.match((await r.json() as { message: string }).message, /more than 7 inputs/);
  } finally {
    await server.close();
  }
});

test('serve: a model that fails to load leaves the server answering: /readyz and classify say 503 with the reason', async () => {
  const f = serveFixture();
  const bad = join(tmpDir('serve-bad'), 'bad.safetensors');
  const { writeFileSync } = await import('node:fs');
  writeFileSync(bad, 'not a safetensors file');
  const logs: string[] = [];
  const server = await startServer({ modelDir: f.modelDir, prompts: [{ name: 'sst2', dir: f.prompts.sst2 }], pvs: [bad], port: 0, log: (l) => logs.push(l) });
  try {
    await assert.rejects(server.ready, (e: Error) => /bad\.safetensors/.test(e.message) && !e.message.includes('\n'));
    const r = await fetch(`${server.url}/readyz`);
    assert.equal(r.status, 503);
    const body = await r.json() as { status: string; message: string };
    assert.equal(body.status, 'failed');
    assert.match(body.message, /bad\.safetensors/);
    const c = await fetch(`${server.url}/v1/classify`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"inputs": [{"text": "a"}]}' });
    assert.equal(c.status, 503);
    const cb = await c.json() as { error: string; message: string };
    assert.equal(cb.error, 'not_ready');
    assert.match(cb.message, /failed to load: .*bad\.safetensors/);
    assert.equal((await fetch(`${server.url}/healthz`)).status, 200);
  } finally {
    await server.close();
  }
  assert.equal(SERVE_DEFAULTS.host, '127.0.0.1', 'loopback unless told otherwise');
});

test('serve: close() answers every request it already has, then refuses connections', async () => {
  // A long wait: every request is still queued, not yet in a batch, when close() is called.
  const { server, f, post } = await fixtureServer({ maxBatch: 16, maxWaitMs: 400 });
  const inputs = [...CLEAN, ...TRIGGERED].map((text) => ({ text }));
  const sent = inputs.map((x) => post({ prompt: 'sst2', inputs: [x] }));
  // Every request received (queued or in a batch), then close.
  const t0 = performance.now();
  while (server.batcher.pendingRequests < inputs.length) {
    assert.ok(performance.now() - t0 < 5000, `only ${server.batcher.pendingRequests} of ${inputs.length} requests arrived`);
    await new Promise((r) => setTimeout(r, 1));
  }
  assert.equal(server.batcher.queuedRows, inputs.length);
  const closed = server.close();
  const answers = await Promise.all(sent);
  await closed;
  for (const [i, r] of answers.entries()) {
    assert.equal(r.status, 200);
    sameResults((await r.json() as { results: GuardResult[] }).results, f.guard('sst2', [inputs[i]!]), `in flight ${i}`);
  }
  await assert.rejects(fetch(`${server.url}/healthz`), 'closed: the port no longer answers');
});
