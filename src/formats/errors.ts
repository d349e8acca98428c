/**
 * Every problem with a model file surfaces as one FormatError whose message is
 * a single line starting with the file it concerns, so a CLI can print it as
 * is and a log line cannot be forged by a tensor name containing newlines.
 */
export class FormatError extends Error {
  readonly file: string;
  readonly problem: string;

  constructor(file: string, problem: string) {
    super(oneLine(`${file}: ${problem}`));
    this.name = 'FormatError';
    this.file = file;
    this.problem = oneLine(problem);
  }
}

/**
 * Quote a string that came from the file (tensor name, global, key) so it
 * stays on one line, shows invisible characters, and cannot flood the message.
 */
export function quote(s: string, max = 160): string {
  const cut = s.length > max ? `${s.slice(0, max)}...` : s;
  // JSON.stringify escapes \n but not these line breaks; show them the same way.
  return JSON.stringify(cut).replace(/[\u0085\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function oneLine(s: string): string {
  // JSON.stringify leaves U+2028/U+2029 and NEL alone; terminals break on them.
  return s.replace(/[\r\n\u0085\u2028\u2029]+/g, ' ');
}

/** `123456789` → `123,456,789`: sizes in messages are easier to compare. */
export function bytesText(n: number): string {
  return `${n.toLocaleString('en-US')} bytes`;
}

/**
 * What a JSON value from a file is, for "expected …" messages, without
 * echoing its text: numbers are shown (they carry no file bytes and are what
 * the reader needs), everything else by its kind. JSON.parse turns 1e400
 * into Infinity, which JSON.stringify would print as "null".
 */
export function describeJsonValue(v: unknown): string {
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : 'out of range (not a finite number)';
  if (v === null) return 'null';
  if (typeof v === 'boolean') return String(v);
  if (typeof v === 'string') return `a string (${v.length} characters)`;
  if (Array.isArray(v)) return `an array (${v.length} ${v.length === 1 ? 'entry' : 'entries'})`;
  return typeof v === 'object' ? 'an object' : typeof v;
}
