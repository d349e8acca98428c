/**
 * The JSON schemas of `lmsanitator serve`: fastify validates every request
 * body against them (ajv, with type coercion and silent removal of unknown
 * keys turned off, so a wrong type or an extra key is a 400), serialises
 * the responses through them, and /openapi.json is built from the very
 * same objects (see openapi.ts). The limits in them come from the server's
 * options, so the document states the limits the running server applies.
 */
import { GUARD_ACTIONS } from './types.js';

export interface SchemaLimits {
  maxInputs: number;
  maxTextChars: number;
}

export function classifyRequestSchema(l: SchemaLimits) {
  const text = (what: string) => ({ type: 'string', maxLength: l.maxTextChars, description: `${what} (at most ${l.maxTextChars} characters, and no longer than the model reads: 422)` });
  return {
    type: 'object',
    additionalProperties: false,
    required: ['inputs'],
    properties: {
      prompt: { type: 'string', minLength: 1, maxLength: 64, description: 'the prompt to classify with, by name (GET /v1/prompts); may be left out when the server holds one prompt' },
      inputs: {
        type: 'array',
        minItems: 1,
        maxItems: l.maxInputs,
        description: `1 to ${l.maxInputs} inputs`,
        items: {
          type: 'object',
          additionalProperties: false,
          required: ['text'],
          properties: {
            text: text('the input text'),
            text_pair: text('its second segment (RTE hypothesis, BoolQ question)'),
          },
        },
      },
    },
  } as const;
}

const nullable = (type: string) => ({ type: [type, 'null'] });

/** One guarded input: the keys of GuardResult (src/guard/guard.ts), the contract of `guard`'s JSONL. */
export const guardResultSchema = {
  type: 'object',
  // Any key the guard adds later travels too (the tests compare with the guard's own output).
  additionalProperties: true,
  required: ['label', 'probs', 'triggered', 'match_rate', 'pv', 'match_rates', 'action', 'removed', 'purified_text', 'purified_match_rate', 'candidates'],
  properties: {
    label: { ...nullable('string'), description: 'the label name; null when rejected (and for NER: see tags)' },
    probs: { type: ['array', 'null'], items: { type: 'number' }, description: 'label probabilities in label order; null when rejected' },
    words: { type: 'array', items: { type: 'string' }, description: 'NER: the (purified) input\'s words' },
    tags: { type: 'array', items: { type: 'string' }, description: 'NER: one tag per word' },
    triggered: { type: 'boolean', description: 'the monitor flagged the input: its best match rate is above η' },
    match_rate: { type: 'number', description: 'the original input\'s best match rate against the PVs' },
    pv: { ...nullable('integer'), description: 'the PV of that rate (null with an empty PV set)' },
    match_rates: { type: 'array', items: { type: 'number' }, description: 'the match rate against every PV, in PV order' },
    action: { type: 'string', enum: [...GUARD_ACTIONS], description: 'passed (not flagged), purified, rejected (still flagged), unpurified (still flagged, classified anyway)' },
    removed: { type: 'array', items: { type: 'string' }, description: 'the words deleted (every occurrence) when purified; [] otherwise' },
    purified_text: { ...nullable('string'), description: 'the text that was classified; null when rejected' },
    purified_text_pair: { ...nullable('string'), description: 'the same for text_pair (only when given)' },
    purified_match_rate: { ...nullable('number'), description: 'the purified input\'s match rate (null unless purified)' },
    candidates: { type: 'integer', description: 'purge candidate rows run for this input (0 when not flagged)' },
  },
} as const;

export const classifyResponseSchema = {
  type: 'object',
  required: ['results'],
  properties: { results: { type: 'array', items: guardResultSchema, description: 'one result per input, in input order' } },
} as const;

export const errorSchema = {
  type: 'object',
  required: ['error', 'message', 'request_id'],
  properties: {
    error: { type: 'string', description: 'a stable code: invalid_json, invalid_utf8, invalid_request, no_prompt, unknown_prompt, not_found, body_too_large, unsupported_media_type, text_too_long, not_ready, overloaded, inference_failed, internal' },
    message: { type: 'string', description: 'one line saying what was wrong' },
    request_id: { type: 'string', description: 'the x-request-id of the request' },
    index: { type: 'integer', description: 'text_too_long: the index of the first input that is too long' },
  },
} as const;

export const statusSchema = {
  type: 'object',
  required: ['status'],
  properties: { status: { type: 'string' }, message: { type: 'string' } },
} as const;

export const promptsSchema = {
  type: 'object',
  required: ['threshold', 'max_window', 'prompts'],
  properties: {
    threshold: { type: 'number', description: 'η: an input is flagged when its match rate is above it' },
    max_window: { type: 'integer', description: 'the longest run of words the trigger removal deletes' },
    on_unpurified: { type: 'string' },
    monitor: { type: 'string' },
    prompts: {
      type: 'array',
      items: {
        type: 'object',
        required: ['name', 'method', 'task', 'kind', 'labels', 'max_tokens', 'pair'],
        properties: {
          name: { type: 'string' },
          method: { type: 'string' },
          task: { type: 'string' },
          kind: { type: 'string' },
          labels: { type: 'array', items: { type: 'string' } },
          max_tokens: { type: 'integer', description: 'the longest token row the prompt model reads' },
          pair: { type: 'boolean', description: 'the task takes text_pair' },
          pvs: { type: 'integer', description: 'PVs the monitor holds' },
          self_check: {
            type: 'object',
            description: 'the monitor on neutral corpus sentences at start-up: prompt_is_trigger means the prompt alone drives the monitored output onto a PV, so most inputs will be flagged',
            properties: {
              sentences: { type: 'integer' }, flagged: { type: 'integer' }, flagged_share: { type: 'number' },
              pv: { type: ['integer', 'null'] }, median_match_rate: { type: 'number' }, prompt_is_trigger: { type: 'boolean' },
            },
          },
        },
      },
    },
  },
} as const;

/** The error responses each route may give, by status. */
export function errorResponses(...codes: number[]): Record<number, typeof errorSchema> {
  return Object.fromEntries(codes.map((c) => [c, errorSchema]));
}
