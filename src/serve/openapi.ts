/**
 * GET /openapi.json: an OpenAPI 3.1 document built from the routes as
 * fastify registered them (collected by an onRoute hook), so the request
 * and response schemas in it are the very objects fastify validates and
 * serialises with. Routes that answer with text (/, /metrics) say so in
 * their `config.produces`.
 */
import type { FastifyInstance, RouteOptions } from 'fastify';

const STATUS_TEXT: Record<number, string> = {
  200: 'OK',
  400: 'bad request: invalid JSON, not UTF-8, wrong types, missing or unknown fields, an empty or too long list of inputs, no prompt named where several are served',
  404: 'unknown prompt name, or no such route',
  413: 'the request body is larger than the limit',
  415: 'the body is not application/json',
  422: 'an input is longer than the model reads (or than the character limit); nothing is truncated',
  500: 'inference failed (the server logged it under the request id)',
  503: 'the model is still loading, failed to load, or the queue is full (retry later)',
};

interface Collected {
  method: string;
  url: string;
  schema: Record<string, unknown>;
  produces?: string;
}

export interface RouteDoc {
  summary?: string;
  description?: string;
  /** A text content type (the route sends no JSON). */
  produces?: string;
}

/** Registers the hook that collects routes; call before adding them. Returns the document builder. */
export function collectRoutes(app: FastifyInstance, info: { title: string; version: string; description: string }): () => unknown {
  const routes: Collected[] = [];
  app.addHook('onRoute', (r: RouteOptions) => {
    const methods = Array.isArray(r.method) ? r.method : [r.method];
    const doc = (r.config as { doc?: RouteDoc } | undefined)?.doc;
    if (!doc) return; // HEAD twins and internal routes
    for (const m of methods) {
      if (m === 'HEAD') continue;
      routes.push({ method: m.toLowerCase(), url: r.url, schema: { ...(r.schema as Record<string, unknown> | undefined), summary: doc.summary, description: doc.description }, produces: doc.produces });
    }
  });
  let cached: unknown = null;
  return () => (cached ??= build(routes, info));
}

function build(routes: Collected[], info: { title: string; version: string; description: string }): unknown {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    const s = r.schema as { body?: unknown; response?: Record<string, unknown>; summary?: string; description?: string };
    const responses: Record<string, unknown> = {};
    for (const [code, schema] of Object.entries(s.response ?? {})) {
      responses[code] = { description: STATUS_TEXT[Number(code)] ?? code, content: { 'application/json': { schema } } };
    }
    if (r.produces) responses['200'] = { description: 'OK', content: { [r.produces]: { schema: { type: 'string' } } } };
    const op: Record<string, unknown> = { operationId: `${r.method}${r.url.replace(/[^A-Za-z0-9]+(.)?/g, (_, c: string | undefined) => (c ? c.toUpperCase() : ''))}` || r.method, responses };
    if (s.summary) op.summary = s.summary;
    if (s.description) op.description = s.description;
    if (s.body) op.requestBody = { required: true, content: { 'application/json': { schema: s.body } } };
    if (r.url === '/v1/classify') {
      op.parameters = [{ name: 'x-request-id', in: 'header', required: false, description: 'your id for the request ([A-Za-z0-9._:-], up to 128 characters); echoed back and written to the audit log. Otherwise one is made.', schema: { type: 'string', pattern: '^[A-Za-z0-9._:-]{1,128}$' } }];
    }
    (paths[r.url] ??= {})[r.method] = op;
  }
  return { openapi: '3.1.0', info, paths };
}
