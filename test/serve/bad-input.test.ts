/**
 * Bad input to POST /v1/classify: every case is a 4xx with a stable code,
 * one line of message (no stack, nothing echoed but field names), the
 * request id in both the header and the body; nothing is logged as a
 * server error; and afterwards the server still answers a good request
 * exactly as the guard does.
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { test } from 'node:test';
import type { GuardResult } from '../../src/guard/guard.js';
import { CLEAN, fixtureServer, sameResults, TRIGGERED } from './helpers.js';

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A raw request (fetch refuses some of what an attacker may send). */
function raw(url: string, o: { method?: string; path?: string; headers?: Record<string, string>; body?: Buffer | string; chunks?: Buffer[] }): Promise<Reply> {
  const u = new URL(o.path ?? '/v1/classify', url);
  return new Promise((resolve, reject) => {
    const req = request(u, { method: o.method ?? 'POST', headers: o.headers }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(parts).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    if (o.chunks) {
      for (const c of o.chunks) req.write(c);
      req.end();
    } else {
      req.end(o.body);
    }
  });
}

const JSON_CT = { 'content-type': 'application/json' };
const big = (n: number) => Array.from({ length: n }, (_, i) => ['the', 'film', 'was', 'long'][i % 4]).join(' ');

test('bad input: each case is a clear 4xx, and the server keeps serving', async () => {
  const { server, f, logs } = await fixtureServer({ maxInputs: 8, maxBodyBytes: 8192, maxTextChars: 2000 });
  const tooManyTokens = big(f.maxTokens + 10); // words of the vocabulary, one token each: past the positions, under the character limit
  // [what, request, status, error code, message pattern]
  const cases: [string, Parameters<typeof raw>[1], number, string, RegExp][] = [
    ['invalid JSON', { headers: JSON_CT, body: '{"inputs": [{"text": "a"}' }, 400, 'invalid_json', /not valid JSON/],
    ['trailing garbage', { headers: JSON_CT, body: '{"inputs": [{"text": "a"}]} x' }, 400, 'invalid_json', /not valid JSON/],
    ['an empty body', { headers: JSON_CT, body: '' }, 400, 'invalid_json', /empty/],
    ['not an object', { headers: JSON_CT, body: '[{"text": "a"}]' }, 400, 'invalid_request', /^the body must be an object$/],
    ['null', { headers: JSON_CT, body: 'null' }, 400, 'invalid_request', /^the body must be an object$/],
    ['inputs not a list', { headers: JSON_CT, body: '{"prompt": "sst2", "inputs": "a film"}' }, 400, 'invalid_request', /^inputs must be an array$/],
    ['an input not an object', { headers: JSON_CT, body: '{"prompt": "sst2", "inputs": ["a film"]}' }, 400, 'invalid_request', /^inputs\[0\] must be an object$/],
    ['text a number (not coerced)', { headers: JSON_CT, body: '{"prompt": "sst2", "inputs": [{"text": 5}]}' }, 400, 'invalid_request', /^inputs\[0\]\.text must be a string$/],
    ['text_pair a boolean', { headers: JSON_CT, body: '{"prompt": "rte", "inputs": [{"text": "a", "text_pair": true}]}' }, 400, 'invalid_request', /^inputs\[0\]\.text_pair must be a string$/],
    ['text_pair for a single-text task', { headers: JSON_CT, body: '{"prompt": "sst2", "inputs": [{"text": "a"}, {"text": "b", "text_pair": "c"}]}' }, 400, 'invalid_request', /^inputs\[1\]\.text_pair: prompt "sst2" \(sst2\) classifies one text/],
    ['prompt a number', { headers: JSON_CT, body: '{"prompt": 2, "inputs": [{"text": "a"}]}' }, 400, 'invalid_request', /^prompt must be a string$/],
    ['inputs missing', { headers: JSON_CT, body: '{"prompt": "sst2"}' }, 400, 'invalid_request', /^the body is missing "inputs"$/],
    ['text missing', { headers: JSON_CT, body: '{"prompt": "sst2", "inputs": [{"text": "a"}, {"text_pair": "b"}]}' }, 400, 'invalid_request', /^inputs\[1\] is missing "text"$/],
    ['an unknown field (not dropped)', { headers: JSON_CT, body: '{"prompt": "sst2", "inputs": [{"text": "a", "label": "positive"}]}' }, 400, 'invalid_request', /^inputs\[0\] has an unknown field "label"$/],
    ['an unknown top-level field', { headers: JSON_CT, body: '{"prompt": "sst2", "inputs": [{"text": "a"}], "threshold": 0.99}' }, 400, 'invalid_request', /unknown field "threshold"/],
    ['an empty list', { headers: JSON_CT, body: '{"prompt": "sst2", "inputs": []}' }, 400, 'invalid_request', /^inputs is empty/],
    ['too many inputs', { headers: JSON_CT, body: JSON.stringify({ prompt: 'sst2', inputs: Array.from({ length: 9 }, () => ({ text: 'a' })) }) }, 400, 'invalid_request', /more than 8 inputs, the limit per request/],
    ['nested too deep', { headers: JSON_CT, body: '{"prompt": "sst2", "inputs": [{"text": ["a", ["b"]]}]}' }, 400, 'invalid_json', /nests deeper than 3 levels/],
    ['a constructor.prototype key', { headers: JSON_CT, body: '{"prompt": "sst2", "inputs": [{"text": "a"}], "constructor": {"prototype": 1}}' }, 400, 'invalid_request', /unknown field "constructor"/],
    ['a duplicate key', { headers: JSON_CT, body: '{"prompt": "sst2", "prompt": "rte", "inputs": [{"text": "a"}]}' }, 400, 'invalid_json', /duplicate key/],
    ['a __proto__ key', { headers: JSON_CT, body: '{"prompt": "sst2", "inputs": [{"text": "a", "__proto__": 1}]}' }, 400, 'invalid_request', /^inputs\[0\] has an unknown field "__proto__"$/],
    ['non-UTF-8 bytes', { headers: JSON_CT, body: Buffer.concat([Buffer.from('{"prompt": "sst2", "inputs": [{"text": "caf'), Buffer.from([0xe9]), Buffer.from('"}]}')]) }, 400, 'invalid_utf8', /not valid UTF-8/],
    ['a lone surrogate', { headers: JSON_CT, body: '{"prompt": "sst2", "inputs": [{"text": "a \\ud800 b"}]}' }, 400, 'invalid_request', /inputs\[0\]\.text is not well-formed Unicode/],
    ['an oversized body', { headers: JSON_CT, body: JSON.stringify({ prompt: 'sst2', inputs: [{ text: 'a'.repeat(9000) }] }) }, 413, 'body_too_large', /larger than 8192 bytes/],
    ['an oversized chunked body (no Content-Length)', { headers: JSON_CT, chunks: Array.from({ length: 20 }, () => Buffer.alloc(1000, 0x20)) }, 413, 'body_too_large', /larger than 8192 bytes/],
    ['text longer than the model reads', { headers: JSON_CT, body: JSON.stringify({ prompt: 'sst2', inputs: [{ text: 'fine' }, { text: tooManyTokens }] }) }, 422, 'text_too_long', new RegExp(`^inputs\\[1\\] is longer than the ${f.maxTokens} tokens this prompt model reads`)],
    ['text and text_pair together too long', { headers: JSON_CT, body: JSON.stringify({ prompt: 'rte', inputs: [{ text: big(40), text_pair: big(40) }] }) }, 422, 'text_too_long', /\(text and text_pair together\)/],
    ['text over the character limit', { headers: JSON_CT, body: JSON.stringify({ prompt: 'sst2', inputs: [{ text: 'a'.repeat(2001) }] }) }, 422, 'text_too_long', /^inputs\[0\]\.text is longer than 2000 characters/],
    ['an unknown prompt', { headers: JSON_CT, body: '{"prompt": "imdb", "inputs": [{"text": "a"}]}' }, 404, 'unknown_prompt', /^no prompt named "imdb"; this server holds sst2, rte$/],
    ['no prompt with two served', { headers: JSON_CT, body: '{"inputs": [{"text": "a"}]}' }, 400, 'no_prompt', /name one in "prompt" \(sst2, rte\)/],
    ['text/plain', { headers: { 'content-type': 'text/plain' }, body: 'a gorgeous film' }, 415, 'unsupported_media_type', /Content-Type: application\/json/],
    ['no content type', { body: '{"inputs": [{"text": "a"}]}' }, 415, 'unsupported_media_type', /Content-Type: application\/json/],
    ['GET on the classify route', { method: 'GET' }, 404, 'not_found', /^no route GET \/v1\/classify/],
    ['an unknown route', { method: 'GET', path: '/v1/../admin?x=1' }, 404, 'not_found', /^no route GET/],
  ];
  try {
    for (const [what, req, status, code, re] of cases) {
      const r = await raw(server.url, req);
      assert.equal(r.status, status, `${what}: ${r.body}`);
      assert.match(String(r.headers['content-type']), /^application\/json/, what);
      const body = JSON.parse(r.body) as { error: string; message: string; request_id: string; index?: number };
      assert.equal(body.error, code, `${what}: ${r.body}`);
      assert.match(body.message, re, what);
      assert.ok(!/\n|\bat \S+:\d+|node:internal|\.js:\d+/.test(body.message), `${what}: one line, no stack: ${body.message}`);
      assert.equal(body.request_id, r.headers['x-request-id'], `${what}: the request id in the body is the header's`);
      if (code === 'text_too_long' && what !== 'text and text_pair together too long') assert.equal(typeof body.index, 'number', what);
    }
    assert.deepEqual(logs, [], 'no client error is logged as a server error');

    // Still serving, and correctly.
    const inputs = [...CLEAN, ...TRIGGERED].map((text) => ({ text }));
    const ok = await raw(server.url, { headers: JSON_CT, body: JSON.stringify({ prompt: 'sst2', inputs: inputs.slice(0, 6) }) });
    assert.equal(ok.status, 200, ok.body);
    sameResults((JSON.parse(ok.body) as { results: GuardResult[] }).results, f.guard('sst2', inputs.slice(0, 6)), 'after the bad requests');
    const m = await (await fetch(`${server.url}/metrics`)).text();
    for (const s of ['400', '404', '413', '415', '422']) assert.match(m, new RegExp(`lmsanitator_http_requests_total\\{method="POST",route="/v1/classify",status="${s}"\\}`), `4xx ${s} counted`);
    assert.match(m, /route="unmatched"/, 'unknown routes count under one label');
  } finally {
    await server.close();
  }
});
