/**
 * What the server's main thread and its inference worker say to each other
 * (worker_threads messages, structured-cloned), and the error a request
 * ends with. Type-only imports: the main thread never loads the engine.
 */
import type { GuardAction, GuardResult, MonitorPlacement, OnUnpurified } from '../guard/guard.js';
import type { SelfCheck } from '../guard/self-check.js';
import type { GuardInput } from '../sanitizer/purge.js';

export const GUARD_ACTIONS = ['passed', 'purified', 'rejected', 'unpurified'] as const satisfies readonly GuardAction[];

/** A named prompt directory. */
export interface PromptSpec {
  name: string;
  dir: string;
}

/** What the worker loads (directories and settings, never tensors: the worker reads the files itself). */
export interface EngineConfig {
  modelDir: string;
  prompts: PromptSpec[];
  /** PV set files; each prompt takes the one in the mode it is monitored in. */
  pvs: string[];
  threshold: number;
  maxWindow: number;
  onUnpurified: OnUnpurified;
  monitor: MonitorPlacement;
  /** Rows per forward (the guard's batch size; purge candidates too). */
  forwardBatch: number;
  /** The audit log (JSON lines), or null for none. */
  auditLog: string | null;
}

export interface PromptInfo {
  name: string;
  method: string;
  task: string;
  kind: string;
  labels: string[];
  max_tokens: number;
  pair: boolean;
  pvs: number;
  /** The guard's self-check on neutral sentences (guard/self-check.ts). */
  self_check: SelfCheck;
}

export interface EngineInfo {
  prompts: PromptInfo[];
  modelHash: string;
  threshold: number;
}

/** A request's share of a batch: some consecutive inputs of one request. */
export interface BatchGroup {
  requestId: string;
  prompt: string;
  /** The index of inputs[0] in the request (audit lines name the input). */
  offset: number;
  inputs: GuardInput[];
}

export interface RequestError {
  status: number;
  code: string;
  message: string;
  index?: number;
}

export type GroupOutcome = { results: GuardResult[] } | { error: RequestError };

export type ToWorker = { type: 'batch'; id: number; groups: BatchGroup[] };

export type FromWorker =
  | { type: 'ready'; info: EngineInfo }
  | { type: 'fatal'; message: string }
  | { type: 'done'; id: number; outcomes: GroupOutcome[]; seconds: number; rows: number; auditLines: number }
  | { type: 'failed'; id: number; message: string };

/** A request that ends with an HTTP error: its status, a stable code and one line of message. */
export class ServeError extends Error {
  constructor(readonly status: number, readonly code: string, message: string, readonly extra: { index?: number; retryAfter?: number } = {}) {
    super(message);
  }

  static from(e: RequestError): ServeError {
    return new ServeError(e.status, e.code, e.message, e.index === undefined ? {} : { index: e.index });
  }
}

/** One line: no stack, no newlines. */
export function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, ' ').trim();
}
