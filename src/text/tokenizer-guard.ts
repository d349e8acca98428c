// Every call into @huggingface/tokenizers goes through a LibraryGuard, which
// gives two guarantees the library does not:
//
//  - Its exceptions become one TokenizerFileError naming the tokenizer file.
//    The library's own message is not repeated: it is an internal one
//    ("type is not iterable") and may quote the file (a regex's source).
//  - Regular expressions that came from the file (Split, Replace) run under a
//    time budget. JavaScript regexes backtrack, so a pattern such as
//    `(.?.?.?.?.?.?.?.?.?.?){10}#` takes exponential time on a short sentence.
//    A linear-time engine (RE2) would reject the lookaheads real tokenizer
//    patterns use, and a static "safe regex" check misses polynomial cases,
//    so the calls that can run such a regex (encode, decode) are run through
//    node:vm with a timeout: V8 can interrupt a running regex, and vm's
//    timeout does so. This costs about 50 µs a call, so it applies only to
//    tokenizers whose file brings regexes; built-in patterns (ByteLevel's)
//    and plain BERT/RoBERTa tokenizers call the library directly.

import * as vm from 'node:vm';
import { TokenizerFileError } from './tokenizer-spec.js';

/**
 * Per call, wall-clock (vm's timeout): a real tokenizer encodes a sentence in
 * microseconds, but on a starved machine (two cores, a test suite beside a
 * training job) an honest first encode was seen past 1 s, the old budget.
 * A catastrophic regex needs far longer than 5 s, and pays it once: the
 * tokenizer is unusable afterwards.
 */
export const DEFAULT_TIME_BUDGET_MS = 5000;

let context: vm.Context | undefined;
let script: vm.Script | undefined;
const slot: { fn: (() => unknown) | null } = { fn: null };

function runWithTimeout<T>(fn: () => T, ms: number): T {
  if (!context || !script) {
    // One context for the process: creating one costs about a millisecond.
    context = vm.createContext({ slot });
    script = new vm.Script('slot.fn()');
  }
  slot.fn = fn;
  try {
    return script.runInContext(context, { timeout: ms }) as T;
  } finally {
    slot.fn = null;
  }
}

export class LibraryGuard {
  private broken: TokenizerFileError | null = null;

  /** @param budgetMs time limit per timed call; null calls the library directly */
  constructor(readonly source: string, readonly budgetMs: number | null) {}

  /**
   * Run `fn` (a call into the library). `phase` completes "the tokenizer
   * library failed …" in messages. Timed calls are those that can run the
   * file's regexes.
   */
  call<T>(phase: string, fn: () => T, timed = false): T {
    if (this.broken) throw this.broken;
    try {
      return timed && this.budgetMs !== null ? runWithTimeout(fn, this.budgetMs) : fn();
    } catch (e) {
      if (e instanceof TokenizerFileError) throw e;
      if ((e as { code?: unknown } | null)?.code === 'ERR_SCRIPT_EXECUTION_TIMEOUT') {
        // The library may have been stopped halfway through; do not use it again.
        this.broken = new TokenizerFileError(this.source,
          `the tokenizer ran past its ${this.budgetMs} ms time budget ${phase}; a regular expression in the file backtracks catastrophically`);
        throw this.broken;
      }
      throw new TokenizerFileError(this.source, `the tokenizer library failed ${phase} (${describeFailure(e)}); the file has a malformed or unsupported component`);
    }
  }
}

function describeFailure(e: unknown): string {
  if (e instanceof RangeError && /call stack/i.test(e.message)) return 'nesting too deep';
  if (e instanceof SyntaxError) return 'a regular expression does not compile';
  return e instanceof Error ? e.name : typeof e;
}
