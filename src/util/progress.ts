/**
 * Progress for long jobs on stderr: a live bar (cli-progress) on a
 * terminal, a plain line every few seconds otherwise (logs, CI), nothing
 * when quiet. stdout stays free for --json output.
 *
 * The time left is computed here rather than by cli-progress: the jobs run
 * synchronously, so its timer-driven estimate sees bursts of identical
 * values (and prints an infinite estimate), and a resumed job must be timed
 * on the work done in this run only, not on the journaled part.
 */
import cliProgress from 'cli-progress';

export interface Progress {
  /** `done` may be fractional (a loop half-way through its epochs). */
  update(done: number, fields?: Record<string, string | number>): void;
  /** Clears the live bar and prints one closing line (unless quiet). */
  stop(): void;
}

export interface ProgressOptions {
  quiet?: boolean;
  fields?: string[];
  /** Units already done before this run (a resumed job): shown, but not timed. */
  start?: number;
  /** Word after the count in the closing line, e.g. "loops". */
  unit?: string;
}

/** "42s", "3m05s", "1h02m". */
export function duration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '—';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** Seconds left at this run's own rate, or null until there is a rate to speak of. */
export function secondsLeft(done: number, total: number, start: number, elapsedSeconds: number): number | null {
  const doneHere = done - start;
  if (doneHere <= 0 || elapsedSeconds < 1) return null;
  return (Math.max(0, total - done) * elapsedSeconds) / doneHere;
}

/** The live terminal bar, if any: one at a time, so notices can be printed around it. */
let liveBar: { pause(): void; resume(): void } | null = null;

/**
 * Prints one line on stderr without tearing a live bar: the bar is cleared,
 * the line printed, the bar redrawn below it. (cli-progress restores the
 * cursor to where the bar started, so a bare write would be overdrawn.)
 */
export function announce(line: string): void {
  liveBar?.pause();
  process.stderr.write(`${line}\n`);
  liveBar?.resume();
}

export function progress(label: string, total: number, opts: ProgressOptions = {}): Progress {
  if (opts.quiet) return { update() {}, stop() {} };
  const start = Math.min(opts.start ?? 0, total);
  const fieldNames = opts.fields ?? [];
  const started = Date.now();
  let done = start;
  let fields: Record<string, string | number> = Object.fromEntries(fieldNames.map((f) => [f, '-']));
  const elapsed = () => (Date.now() - started) / 1000;
  const eta = () => {
    const left = secondsLeft(done, total, start, elapsed());
    return left === null ? '—' : `~${duration(left)}`;
  };
  const count = () => `${Math.floor(done + 1e-9)}/${total}`;
  const fieldText = () => fieldNames.map((f) => `${f} ${fields[f]}`).join(' | ');
  const closing = () => {
    const resumed = start > 0 ? ` (${start} from the journal)` : '';
    process.stderr.write(`${label}: ${count()}${opts.unit ? ` ${opts.unit}` : ''}${resumed} in ${duration(elapsed())}\n`);
  };

  if (process.stderr.isTTY) {
    const bar = new cliProgress.SingleBar({
      format: `${label} [{bar}] {count} | {elapsed} | eta {etaText}${fieldNames.length ? ' | {fieldText}' : ''}`,
      stream: process.stderr,
      hideCursor: true,
      // Cleared on stop, so the next line (a summary, a Ctrl-C notice) starts clean.
      clearOnComplete: true,
    }, cliProgress.Presets.shades_classic);
    const payload = () => ({ count: count(), elapsed: duration(elapsed()), etaText: eta(), fieldText: fieldText() });
    bar.start(total, start, payload());
    const live = { pause: () => bar.stop(), resume: () => bar.start(total, done, payload()) };
    liveBar = live;
    return {
      update(d, f) {
        done = Math.min(d, total);
        if (f) fields = { ...fields, ...f };
        bar.update(done, payload());
      },
      stop() {
        bar.stop();
        if (liveBar === live) liveBar = null;
        closing();
      },
    };
  }
  let last = 0;
  return {
    update(d, f) {
      done = Math.min(d, total);
      if (f) fields = { ...fields, ...f };
      const now = Date.now();
      if (now - last < 5000 && done < total) return;
      last = now;
      const extra = fieldText();
      process.stderr.write(`${label}: ${count()} (${duration(elapsed())}, eta ${eta()})${extra ? ` | ${extra}` : ''}\n`);
    },
    stop: closing,
  };
}

/** Formats a number for progress fields. */
export function fmt(x: number, digits = 4): string {
  return Number.isFinite(x) ? x.toFixed(digits) : String(x);
}
