/**
 * Progress for long jobs on stderr: a live bar (cli-progress) on a
 * terminal, a plain line every few seconds otherwise (logs, CI), nothing
 * when quiet. stdout stays free for --json output.
 */
import cliProgress from 'cli-progress';

export interface Progress {
  update(done: number, fields?: Record<string, string | number>): void;
  stop(): void;
}

export function progress(label: string, total: number, opts: { quiet?: boolean; fields?: string[] } = {}): Progress {
  if (opts.quiet) return { update() {}, stop() {} };
  const fieldsFmt = (opts.fields ?? []).map((f) => `${f} {${f}}`).join(' | ');
  if (process.stderr.isTTY) {
    const bar = new cliProgress.SingleBar({
      format: `${label} [{bar}] {value}/{total} | eta {eta_formatted}${fieldsFmt ? ` | ${fieldsFmt}` : ''}`,
      stream: process.stderr,
      hideCursor: true,
      etaBuffer: 50,
    }, cliProgress.Presets.shades_classic);
    bar.start(total, 0, Object.fromEntries((opts.fields ?? []).map((f) => [f, '-'])));
    return { update: (done, fields) => bar.update(done, fields), stop: () => bar.stop() };
  }
  let last = 0;
  const started = Date.now();
  return {
    update(done, fields) {
      const now = Date.now();
      if (now - last < 5000 && done < total) return;
      last = now;
      const extra = fields ? Object.entries(fields).map(([k, v]) => `${k} ${v}`).join(' | ') : '';
      const secs = ((now - started) / 1000).toFixed(0);
      process.stderr.write(`${label}: ${done}/${total} (${secs}s)${extra ? ` | ${extra}` : ''}\n`);
    },
    stop() {},
  };
}

/** Formats a number for progress fields. */
export function fmt(x: number, digits = 4): string {
  return Number.isFinite(x) ? x.toFixed(digits) : String(x);
}
