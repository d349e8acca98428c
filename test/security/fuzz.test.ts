/**
 * Fuzzing the loaders with seeded, format-aware mutations of small valid
 * model directories (fuzz-cases.ts). Every case must either load (and encode
 * a sentence) or fail with one line naming a file of the case: a FormatError,
 * no stack trace, no JavaScript-internal message, within a time limit and a
 * memory cap (loads run in child processes, isolated.ts).
 *
 * LMS_FUZZ_CASES and LMS_FUZZ_SEED run a longer or different campaign; a
 * failure prints each failing case's seed and mutation, and
 * LMS_KEEP_TEST_FILES=1 keeps the directories for a look.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CaseFactory, type FuzzCase } from './fuzz-cases.js';
import { loadIsolated, type Result } from './isolated.js';
import { tmpDir } from './model-files.js';

const CASES = Number(process.env.LMS_FUZZ_CASES ?? 2000);
const FIRST_SEED = Number(process.env.LMS_FUZZ_SEED ?? 1);
/** Per load; a tiny model loads in milliseconds, a regex over budget stops at 100 ms. */
const TIMEOUT_MS = 10_000;
const HEAP_MB = 256;
/** Peak resident memory of a child (Node itself takes ~60 MB). */
const MAX_RSS_MB = 768;
/** Messages of JavaScript's own errors: none of them names a file or says what is wrong with it. */
const INTERNAL = /is not iterable|Invalid typed array length|Invalid array length|Invalid string length|Maximum call stack|Cannot read propert|Cannot set propert|is not a function|is not defined|is not a constructor|Unexpected token|Unexpected end of JSON|\[object Object\]|\bat \S+:\d+:\d+/;

function problem(c: FuzzCase, r: Result): string | null {
  if (r.hung) return `no answer within ${TIMEOUT_MS} ms`;
  if (r.crashed) return `the child died: ${r.crashed}`;
  if ((r.maxRssMb ?? 0) > MAX_RSS_MB) return `peak RSS ${Math.round(r.maxRssMb!)} MB`;
  if (r.ok) return null;
  const msg = r.message ?? '';
  if (!r.formatError) return `${r.name}, not a FormatError: ${msg}`;
  if (/[\r\n\u2028\u2029]/.test(msg)) return `not one line: ${JSON.stringify(msg)}`;
  if (!msg.startsWith(c.dir)) return `does not name a file of the case: ${msg}`;
  if (INTERNAL.test(msg)) return `internal message: ${msg}`;
  return null;
}

test(`fuzz: ${CASES} mutated model directories load or fail with one line naming the file`, { timeout: 180_000 }, async () => {
  const root = tmpDir('fuzz');
  const factory = new CaseFactory(root);
  const cases: FuzzCase[] = [];
  for (let i = 0; i < CASES; i++) cases.push(factory.make(FIRST_SEED + i));
  const jobs = cases.map((c) => ({ dir: c.dir, encode: 'the quick brown fox jumps over the lazy dog .', options: { tokenizerTimeBudgetMs: 100 } }));
  // Two children at a time: loads are single-threaded, and machines have at least two cores.
  const half = Math.ceil(jobs.length / 2);
  const limits = { timeoutMs: TIMEOUT_MS, heapMb: HEAP_MB };
  const results = (await Promise.all([loadIsolated(jobs.slice(0, half), limits), loadIsolated(jobs.slice(half), limits)])).flat();

  const failures = cases.flatMap((c, i) => {
    const p = problem(c, results[i]!);
    return p ? [`seed ${c.seed} (${c.target}: ${c.mutation}): ${p.replace(c.dir, '<case>')}`] : [];
  });
  const loaded = results.filter((r) => r.ok).length;
  // Both outcomes must be exercised, or the mutations are too weak (or too strong) to mean much.
  assert.ok(loaded > CASES * 0.05 && loaded < CASES * 0.95, `${loaded} of ${CASES} cases loaded`);
  assert.deepEqual(failures, [], `${failures.length} of ${CASES} cases failed:\n${failures.join('\n')}`);
  const slowest = Math.max(...results.map((r) => r.ms ?? 0));
  assert.ok(slowest < TIMEOUT_MS, `slowest load ${slowest} ms`);
});
