/**
 * The child side of isolated.ts: loads the model directories it is sent on
 * stdin (one JSON job per line), one after another, and answers each with one
 * JSON line on stdout. A hang or a memory blow-up then kills a child, not the
 * test runner.
 *
 * The test runner executes every file under dist/test/, this one included, so
 * it does nothing unless LMS_SECURITY_CHILD is set.
 */
import * as readline from 'node:readline';
import { FormatError } from '../../src/formats/errors.js';
import { loadModel, type LoadModelOptions } from '../../src/models/model.js';

export interface Job {
  id: number;
  dir: string;
  /** Text to encode after a successful load. */
  encode?: string;
  options?: LoadModelOptions;
}

export interface Answer {
  id: number;
  ok: boolean;
  /** The error message, or '' on success. */
  message: string;
  /** Error class name ('' on success). */
  name: string;
  formatError: boolean;
  /** Warnings of a successful load. */
  warnings: string[];
  ms: number;
  /** Peak resident memory of the child so far. */
  maxRssMb: number;
}

function run(job: Job): Answer {
  const t0 = performance.now();
  let ok = true;
  let message = '';
  let name = '';
  let formatError = false;
  let warnings: string[] = [];
  try {
    const model = loadModel(job.dir, job.options);
    warnings = model.warnings ?? [];
    if (job.encode !== undefined) model.tokenizer?.encode(job.encode, job.encode);
  } catch (e) {
    ok = false;
    message = e instanceof Error ? e.message : String(e);
    name = e instanceof Error ? e.name : typeof e;
    formatError = e instanceof FormatError;
  }
  const maxRssMb = process.resourceUsage().maxRSS / 1024;
  return { id: job.id, ok, message, name, formatError, warnings, ms: performance.now() - t0, maxRssMb };
}

if (process.env.LMS_SECURITY_CHILD) {
  const rl = readline.createInterface({ input: process.stdin });
  rl.on('line', (line) => {
    if (line.trim() === '') return;
    process.stdout.write(`${JSON.stringify(run(JSON.parse(line) as Job))}\n`);
  });
}
