/**
 * The server's defaults and the prompt-name rule, apart from server.ts so
 * that the CLI can show them in --help without loading fastify (the HTTP
 * stack is imported only when `serve` runs).
 */
import type { PromptSpec } from './types.js';

export const SERVE_DEFAULTS = {
  host: '127.0.0.1',
  port: 8080,
  maxBatch: 32,
  maxWaitMs: 5,
  maxInputs: 64,
  maxBodyBytes: 1 << 20,
  maxTextChars: 10_000,
  maxQueue: 4096,
  /** How long close() waits for in-flight requests before cutting connections. */
  graceMs: 30_000,
};

/** Prompt names: what a directory name usually is, and safe in a log line, a metric label and a URL. */
export const PROMPT_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** Checks prompt names: well-formed and distinct. */
export function checkPromptSpecs(prompts: readonly PromptSpec[]): void {
  if (prompts.length === 0) throw new Error('give at least one --prompt');
  const seen = new Set<string>();
  for (const p of prompts) {
    if (!PROMPT_NAME_RE.test(p.name)) throw new Error(`prompt name "${p.name}" (${p.dir}) must be letters, digits, ".", "_" or "-" (at most 64, starting with a letter or digit); name it with --prompt NAME=DIR`);
    if (seen.has(p.name)) throw new Error(`two prompts are named "${p.name}"; name them apart with --prompt NAME=DIR`);
    seen.add(p.name);
  }
}
