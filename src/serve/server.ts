/**
 * `lmsanitator serve`: an HTTP inference service with the guard
 * (src/guard/guard.ts) in front of every prediction. See README.md here
 * for how to run it and example requests.
 *
 * Routes
 *   POST /v1/classify  {"prompt"?: name, "inputs": [{"text", "text_pair"?}, …]}
 *                      → {"results": [GuardResult, …]}: per input exactly the
 *                      keys of `guard`'s JSONL (label, probs, triggered,
 *                      match_rate, pv, match_rates, action, removed,
 *                      purified_text, [purified_text_pair], purified_match_rate,
 *                      candidates). "prompt" may be left out when one prompt
 *                      is served.
 *   GET /v1/prompts    the prompts served (name, method, task, labels, …), η.
 *   GET /healthz       liveness: 200 while the process serves HTTP, even
 *                      during a batch (inference runs in a worker thread).
 *   GET /readyz        200 once the model is loaded, 503 before (or if it failed).
 *   GET /metrics       Prometheus text (prom-client): requests and latency by
 *                      route and status, batch sizes and times, queue length,
 *                      inputs by action, flagged / purified / rejected counts,
 *                      audit lines, process metrics.
 *   GET /openapi.json  OpenAPI 3.1, built from the schemas the routes validate with.
 *   GET /              a small page to try inputs by hand (page.ts).
 *
 * Untrusted input: the body must be application/json (else 415), at most
 * --max-body bytes (413), valid UTF-8 (400 invalid_utf8), JSON (400
 * invalid_json) nesting at most 3 levels with no duplicate keys, matching
 * the request schema exactly — no coercion, no unknown keys, 1 to
 * --max-inputs inputs — (400 invalid_request), texts of well-formed Unicode
 * (400) and at most --max-text-chars characters (422 text_too_long), and
 * text_pair only for a sentence-pair task (400: a single-text prompt would
 * ignore it or read it as a second segment, depending on its method). A text
 * the prompt model would truncate (longer than its positions) is refused
 * with 422 text_too_long naming the input, not truncated: the guard would
 * otherwise judge and purify a text other than the one sent. An unknown
 * prompt name is 404 unknown_prompt; no name with several prompts, 400
 * no_prompt. Before the model is loaded, classify answers 503 not_ready;
 * with more than --max-queue inputs waiting, 503 overloaded (Retry-After).
 * Every error body is {"error": code, "message": one line, "request_id"};
 * no response and no log line carries a stack trace. Unknown routes: 404.
 *
 * Request ids: a client's x-request-id ([A-Za-z0-9._:-], ≤ 128 characters)
 * is kept, any other is replaced by a fresh UUID; the id is echoed in the
 * x-request-id header of every response and written to the audit log.
 *
 * Batching: requests are queued and packed into one batch of at most
 * --max-batch inputs, sent once it is full or its oldest request has waited
 * --max-wait-ms (batcher.ts); one worker thread owns the native engine and
 * runs one batch at a time (worker.ts), each prompt's guard once per batch.
 *
 * Audit log (--audit-log FILE): one JSON line per flagged input — time,
 * request_id, prompt, input (its index in the request), match_rate, pv,
 * removed, action — appended and fsynced (one write per batch) before the
 * batch's responses are sent; a kill leaves at most one torn last line,
 * cut off when the server starts again; the file is only ever appended to.
 * If the append fails, that batch's requests fail with 500.
 *
 * Shutdown (close(), SIGTERM/SIGINT in the CLI): stop accepting connections,
 * answer "Connection: close" from then on, finish every request already
 * received (queued ones included), stop the worker.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { GUARD_DEFAULTS, type MonitorPlacement, type OnUnpurified } from '../guard/guard.js';
import { checkJsonStructure } from '../formats/json-guard.js';
import type { GuardInput } from '../sanitizer/purge.js';
import { Batcher } from './batcher.js';
import { Engine } from './engine.js';
import { ServeMetrics } from './metrics.js';
import { collectRoutes, type RouteDoc } from './openapi.js';
import { PAGE_CSP, PAGE_HTML } from './page.js';
import { checkPromptSpecs, SERVE_DEFAULTS } from './defaults.js';
import { classifyRequestSchema, classifyResponseSchema, errorResponses, promptsSchema, statusSchema } from './schemas.js';
import { type EngineConfig, type EngineInfo, oneLine, type PromptSpec, ServeError } from './types.js';

export { checkPromptSpecs, PROMPT_NAME_RE, SERVE_DEFAULTS } from './defaults.js';

/** {"inputs": [{"text": …}]} is three levels deep; nothing valid is deeper. */
const MAX_JSON_DEPTH = 3;
const REQUEST_ID_RE = /^[A-Za-z0-9._:-]{1,128}$/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

export interface ServeOptions {
  modelDir: string;
  prompts: PromptSpec[];
  pvs: string[];
  host?: string;
  port?: number;
  maxBatch?: number;
  maxWaitMs?: number;
  threshold?: number;
  maxWindow?: number;
  onUnpurified?: OnUnpurified;
  monitor?: MonitorPlacement;
  auditLog?: string | null;
  maxInputs?: number;
  maxBodyBytes?: number;
  maxTextChars?: number;
  maxQueue?: number;
  /** Status and error lines (default: stderr, prefixed "lmsanitator serve: "). */
  log?: (line: string) => void;
}

export interface Server {
  app: FastifyInstance;
  /** http://host:port, with the port actually bound (--port 0 picks one). */
  url: string;
  port: number;
  engine: Engine;
  batcher: Batcher;
  metrics: ServeMetrics;
  /** Resolves once the model is loaded; rejects with its load error (one line). */
  ready: Promise<EngineInfo>;
  /** Graceful stop: no new connections, in-flight requests finished, worker stopped. */
  close(): Promise<void>;
}

const pkgVersion = (): string => {
  try {
    return (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return '0.0.0';
  }
};

/** "inputs[0].text" from ajv's "/inputs/0/text". */
function fieldOf(instancePath: string): string {
  if (!instancePath) return 'the body';
  return instancePath.slice(1).split('/').map((p, i) => (/^\d+$/.test(p) ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}

interface AjvError {
  keyword: string;
  instancePath: string;
  message?: string;
  params: Record<string, unknown>;
}

/** A schema violation as one line that names the field and the rule. */
function validationError(errors: AjvError[], limits: { maxInputs: number; maxTextChars: number }): ServeError {
  const e = errors[0]!;
  const at = fieldOf(e.instancePath);
  const p = e.params;
  switch (e.keyword) {
    case 'required':
      return new ServeError(400, 'invalid_request', `${at} is missing "${String(p.missingProperty)}"`);
    case 'additionalProperties':
      return new ServeError(400, 'invalid_request', `${at} has an unknown field "${String(p.additionalProperty).slice(0, 64)}"`);
    case 'type':
      return new ServeError(400, 'invalid_request', `${at} must be ${/^[aeiou]/.test(String(p.type)) ? 'an' : 'a'} ${String(p.type)}`);
    case 'minItems':
      return new ServeError(400, 'invalid_request', `${at} is empty; give at least one input`);
    case 'maxItems':
      return new ServeError(400, 'invalid_request', `${at} has more than ${limits.maxInputs} inputs, the limit per request; split it`);
    case 'maxLength':
      if (/^\/inputs\/\d+\/text(_pair)?$/.test(e.instancePath)) {
        const index = Number(e.instancePath.split('/')[2]);
        return new ServeError(422, 'text_too_long', `${at} is longer than ${limits.maxTextChars} characters, the limit; shorten it or split it`, { index });
      }
      return new ServeError(400, 'invalid_request', `${at} ${e.message ?? 'is too long'}`);
    default:
      return new ServeError(400, 'invalid_request', `${at} ${e.message ?? 'is not valid'}`);
  }
}

const UTF8 = new TextDecoder('utf-8', { fatal: true });

export async function startServer(o: ServeOptions): Promise<Server> {
  const s = { ...SERVE_DEFAULTS, ...Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) } as typeof SERVE_DEFAULTS & ServeOptions;
  const log = o.log ?? ((line: string) => process.stderr.write(`lmsanitator serve: ${line}\n`));
  checkPromptSpecs(s.prompts);
  if (s.pvs.length === 0) throw new Error('give --pvs');
  const names = s.prompts.map((p) => p.name);
  const limits = { maxInputs: s.maxInputs, maxTextChars: s.maxTextChars };

  const config: EngineConfig = {
    modelDir: s.modelDir, prompts: s.prompts, pvs: s.pvs,
    threshold: s.threshold ?? GUARD_DEFAULTS.threshold, maxWindow: s.maxWindow ?? GUARD_DEFAULTS.maxWindow,
    onUnpurified: s.onUnpurified ?? GUARD_DEFAULTS.onUnpurified, monitor: s.monitor ?? GUARD_DEFAULTS.monitor,
    // The guard's forwards take a whole batch at once, and purge candidates by the guard's usual 64 even at --max-batch 1.
    forwardBatch: Math.max(s.maxBatch, GUARD_DEFAULTS.batchSize),
    auditLog: s.auditLog ?? null,
  };
  const engine = new Engine(config, { onLog: log });
  let closing = false;
  const metrics = new ServeMetrics({ maxBatch: s.maxBatch, queueRows: () => batcher.queuedRows, ready: () => engine.state === 'ready' });
  const batcher = new Batcher(async (groups) => {
    const done = await engine.run(groups);
    metrics.batchSeconds.observe(done.seconds);
    metrics.auditLines.inc(done.auditLines);
    return done;
  }, { maxBatch: s.maxBatch, maxWaitMs: s.maxWaitMs, maxQueue: s.maxQueue }, (rows) => metrics.batchRows.observe(rows));

  const app = Fastify({
    logger: false,
    bodyLimit: s.maxBodyBytes,
    genReqId: (req) => {
      const h = req.headers['x-request-id'];
      return typeof h === 'string' && REQUEST_ID_RE.test(h) ? h : randomUUID();
    },
    // Types are checked, never coerced ("text": 5 is a 400, not "5"); unknown keys are refused, not dropped.
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, useDefaults: false, allErrors: false } },
    return503OnClosing: true,
    forceCloseConnections: 'idle',
  });
  const openapi = collectRoutes(app, {
    title: 'lmsanitator serve',
    version: pkgVersion(),
    description: 'Guarded classification: every input goes through the PV sign monitor; flagged inputs have their trigger words removed (or are rejected) before the prompt model classifies them.',
  });

  // ---- bodies: JSON only, bounded, UTF-8, shallow, no duplicate keys
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'buffer', bodyLimit: s.maxBodyBytes }, (_req, body, done) => {
    let text: string;
    try {
      text = UTF8.decode(body as Buffer);
    } catch {
      done(new ServeError(400, 'invalid_utf8', 'the body is not valid UTF-8'), undefined);
      return;
    }
    if (text.trim() === '') {
      done(new ServeError(400, 'invalid_json', 'the body is empty; send a JSON object'), undefined);
      return;
    }
    const problem = checkJsonStructure(text, MAX_JSON_DEPTH);
    if (problem) {
      done(new ServeError(400, 'invalid_json', `the body is refused: ${problem}`), undefined);
      return;
    }
    // Plain JSON.parse: a "__proto__" key becomes an own property (no prototype is touched) and the
    // schema, which allows no unknown key at any level, refuses it by name.
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (e) {
      const at = /position (\d+)/.exec((e as Error).message);
      done(new ServeError(400, 'invalid_json', `the body is not valid JSON${at ? ` (at character ${at[1]})` : ''}`), undefined);
      return;
    }
    done(null, value);
  });

  // ---- every response: its request id, no sniffing, no caching; Connection: close once closing
  app.addHook('onRequest', async (req, reply) => {
    reply.header('x-request-id', req.id);
    reply.header('x-content-type-options', 'nosniff');
    reply.header('cache-control', 'no-store');
  });
  app.addHook('onSend', async (_req, reply) => {
    if (closing) reply.header('connection', 'close');
  });
  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unmatched';
    metrics.requests.inc({ method: req.method, route, status: String(reply.statusCode) });
    metrics.latency.observe({ method: req.method, route }, reply.elapsedTime / 1000);
  });

  const sendError = (reply: FastifyReply, req: FastifyRequest, e: ServeError) => {
    if (e.extra.retryAfter !== undefined) reply.header('retry-after', String(e.extra.retryAfter));
    return reply.code(e.status).type('application/json; charset=utf-8')
      .send({ error: e.code, message: oneLine(e.message), request_id: req.id, ...(e.extra.index !== undefined && { index: e.extra.index }) });
  };
  app.setErrorHandler((err: FastifyError | ServeError, req, reply) => {
    if (err instanceof ServeError) return sendError(reply, req, err);
    const fe = err as FastifyError & { validation?: AjvError[] };
    if (fe.validation?.length) return sendError(reply, req, validationError(fe.validation, limits));
    switch (fe.code) {
      case 'FST_ERR_CTP_BODY_TOO_LARGE':
        return sendError(reply, req, new ServeError(413, 'body_too_large', `the body is larger than ${s.maxBodyBytes} bytes, the limit; send fewer or shorter inputs`));
      case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
        return sendError(reply, req, new ServeError(415, 'unsupported_media_type', 'send the body as JSON with Content-Type: application/json'));
      default:
    }
    const status = typeof fe.statusCode === 'number' ? fe.statusCode : 500;
    if (status >= 400 && status < 500) return sendError(reply, req, new ServeError(status, 'bad_request', oneLine(fe.message)));
    log(`request ${req.id}: ${oneLine(fe.message)}`);
    return sendError(reply, req, new ServeError(500, 'internal', `internal error; the server logged it under request id ${req.id}`));
  });
  app.setNotFoundHandler((req, reply) => sendError(reply, req, new ServeError(404, 'not_found', `no route ${req.method} ${req.url.split('?')[0]!.slice(0, 200)}; see GET /openapi.json`)));

  const doc = (d: RouteDoc) => ({ doc: d });

  // ---- routes
  app.get('/', { config: doc({ summary: 'a page to try inputs by hand', produces: 'text/html' }) }, async (_req, reply) => {
    reply.header('content-security-policy', PAGE_CSP);
    reply.header('referrer-policy', 'no-referrer');
    return reply.type('text/html; charset=utf-8').send(PAGE_HTML);
  });

  app.get('/healthz', { schema: { response: { 200: statusSchema } }, config: doc({ summary: 'liveness: the process answers HTTP (also while a batch runs)' }) }, async () => ({ status: 'ok' }));

  app.get('/readyz', { schema: { response: { 200: statusSchema, 503: statusSchema } }, config: doc({ summary: 'readiness: 200 once the model is loaded' }) }, async (_req, reply) => {
    if (engine.state === 'ready' && !closing) return { status: 'ready' };
    const status = closing ? 'closing' : engine.state;
    return reply.code(503).send({ status, ...(engine.failure && { message: engine.failure }) });
  });

  app.get('/metrics', { config: doc({ summary: 'Prometheus metrics', produces: 'text/plain' }) }, async (_req, reply) => {
    const text = await metrics.registry.metrics();
    return reply.type(metrics.registry.contentType).send(text);
  });

  app.get('/openapi.json', { config: doc({ summary: 'this document' }) }, async (_req, reply) => reply.type('application/json; charset=utf-8').send(JSON.stringify(openapi())));

  const notReady = () => new ServeError(503, 'not_ready', engine.state === 'failed' ? `the model failed to load: ${engine.failure}` : 'the model is still loading; retry shortly (GET /readyz)', engine.state === 'failed' ? {} : { retryAfter: 1 });

  app.get('/v1/prompts', { schema: { response: { 200: promptsSchema, ...errorResponses(503) } }, config: doc({ summary: 'the prompts served, their labels, and η' }) }, async () => {
    if (engine.state !== 'ready' || !engine.info) throw notReady();
    return { threshold: config.threshold, max_window: config.maxWindow, on_unpurified: config.onUnpurified, monitor: config.monitor, prompts: engine.info.prompts };
  });

  app.post('/v1/classify', {
    schema: { body: classifyRequestSchema(limits), response: { 200: classifyResponseSchema, ...errorResponses(400, 404, 413, 415, 422, 500, 503) } },
    config: doc({ summary: 'classify inputs through the guard', description: 'Each input is monitored; flagged inputs are purified (trigger words deleted) or rejected. Results are in input order, with the keys of `lmsanitator guard`\'s JSONL.' }),
  }, async (req, reply) => {
    const body = req.body as { prompt?: string; inputs: GuardInput[] };
    let name = body.prompt;
    if (name === undefined) {
      if (names.length !== 1) throw new ServeError(400, 'no_prompt', `this server holds ${names.length} prompts; name one in "prompt" (${names.join(', ')})`);
      name = names[0]!;
    } else if (!names.includes(name)) {
      throw new ServeError(404, 'unknown_prompt', `no prompt named "${name.slice(0, 64)}"; this server holds ${names.join(', ')}`);
    }
    const inputs: GuardInput[] = body.inputs.map((x, i) => {
      for (const k of ['text', 'text_pair'] as const) {
        const v = x[k];
        if (v !== undefined && LONE_SURROGATE.test(v)) throw new ServeError(400, 'invalid_request', `inputs[${i}].${k} is not well-formed Unicode (a lone surrogate)`);
      }
      return x.text_pair === undefined ? { text: x.text } : { text: x.text, text_pair: x.text_pair };
    });
    if (engine.state !== 'ready' || !engine.info) throw notReady();
    const info = engine.info.prompts.find((p) => p.name === name)!;
    const paired = inputs.findIndex((x) => x.text_pair !== undefined);
    if (!info.pair && paired >= 0) {
      throw new ServeError(400, 'invalid_request', `inputs[${paired}].text_pair: prompt "${name}" (${info.task}) classifies one text; text_pair is for sentence-pair tasks (rte, boolq)`);
    }
    const results = await batcher.submit(req.id, name, inputs);
    metrics.countResults(name, results);
    // JSON.stringify, not the schema's serialiser: the keys exactly as the guard made them, in its order.
    return reply.type('application/json; charset=utf-8').send(JSON.stringify({ results }));
  });

  try {
    await app.listen({ host: s.host, port: s.port });
  } catch (e) {
    await engine.close();
    throw new Error(`cannot listen on ${s.host}:${s.port}: ${oneLine((e as Error).message)}`);
  }
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : s.port;
  const url = `http://${s.host.includes(':') ? `[${s.host}]` : s.host}:${port}`;

  let closed: Promise<void> | null = null;
  const close = () => (closed ??= (async () => {
    closing = true;
    const force = setTimeout(() => app.server.closeAllConnections(), s.graceMs);
    force.unref();
    try {
      await app.close();
      await batcher.drained();
    } finally {
      clearTimeout(force);
      await engine.close();
    }
  })());

  return { app, url, port, engine, batcher, metrics, ready: engine.ready, close };
}
