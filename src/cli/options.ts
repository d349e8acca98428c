/**
 * Option parsing through commander's own machinery: `argParser` for numbers
 * and `.choices()` for enumerations, so a bad value is a usage error (exit 2)
 * raised while the command line is parsed — before any model is loaded or
 * any training starts — and `--help` shows defaults as numbers and lists
 * the allowed values.
 */
import { type Command, InvalidArgumentError, Option } from 'commander';

/** Parser for an integer option ≥ min. */
export function integer(min = 1): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isInteger(n) || n < min) throw new InvalidArgumentError(`Expected an integer ≥ ${min}.`);
    return n;
  };
}

/** Parser for a finite number ≥ min (and, when `above`, strictly greater). */
export function number(min = -Infinity, above = false): (value: string) => number {
  return (value) => {
    const n = Number(value);
    const bad = value.trim() === '' || !Number.isFinite(n) || n < min || (above && n === min);
    if (bad) throw new InvalidArgumentError(min === -Infinity ? 'Expected a number.' : `Expected a number ${above ? '>' : '≥'} ${min}.`);
    return n;
  };
}

/** Parser for a comma-separated list whose items must come from `allowed`. */
export function listOf(allowed: readonly string[]): (value: string) => string[] {
  return (value) => {
    const items = value.split(',').map((s) => s.trim()).filter(Boolean);
    const bad = items.filter((s) => !allowed.includes(s));
    if (items.length === 0) throw new InvalidArgumentError(`Expected a comma-separated list of ${allowed.join(', ')}.`);
    if (bad.length) throw new InvalidArgumentError(`Not allowed: ${bad.join(', ')}; choose from ${allowed.join(', ')}.`);
    return items;
  };
}

export const intOpt = (flags: string, description: string, min: number, dflt?: number): Option => {
  const o = new Option(flags, description).argParser(integer(min));
  return dflt === undefined ? o : o.default(dflt);
};

export const numOpt = (flags: string, description: string, min = -Infinity, dflt?: number, above = false): Option => {
  const o = new Option(flags, description).argParser(number(min, above));
  return dflt === undefined ? o : o.default(dflt);
};

export const choiceOpt = (flags: string, description: string, choices: readonly string[], dflt?: string): Option => {
  const o = new Option(flags, description).choices(choices);
  return dflt === undefined ? o : o.default(dflt);
};

/** The exit codes every command's help lists (scan/search add their verdict codes). */
export const EXIT_OK = 0;
export const EXIT_ERROR = 2;
export const EXIT_INTERRUPTED = 130;

/** Appends the command's exit codes to its --help. */
export function exitCodes(cmd: Command, codes: [number, string][]): Command {
  const lines = codes.map(([c, what]) => `  ${String(c).padEnd(4)}${what}`);
  return cmd.addHelpText('after', `\nExit codes:\n${lines.join('\n')}`);
}

/** The usual codes of a command with no verdict. */
export const STANDARD_EXITS: [number, string][] = [
  [EXIT_OK, 'done'],
  [EXIT_ERROR, 'error: bad usage or input (one line on stderr)'],
];

export const JOB_EXITS: [number, string][] = [
  ...STANDARD_EXITS,
  [EXIT_INTERRUPTED, 'interrupted (Ctrl-C / SIGTERM); progress is saved, run the same command to resume'],
];
