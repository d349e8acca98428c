/**
 * Sentence files from users (a pretraining corpus, the scanner's clean
 * sentences): one sentence per line, UTF-8. They come from strangers, so
 * the file is checked before any work starts: it must exist, be a regular
 * file, not be empty, stay under a size limit, and be text rather than
 * binary. Each failure names the file and the problem.
 */
import { FormatError } from '../formats/errors.js';
import { readWholeFile } from '../formats/file-io.js';

export interface SentenceFileOptions {
  /** Refuse larger files (default 500 MiB: under V8's longest string, and tokenised they would not fit in memory). */
  maxBytes?: number;
  /** Refuse files with fewer non-empty lines. */
  minSentences?: number;
}

export const DEFAULT_MAX_SENTENCE_FILE_BYTES = 500 * 1024 * 1024;

/** Bytes checked for NUL and invalid UTF-8; enough to tell text from binary. */
const SNIFF_BYTES = 1 << 16;

export function readSentenceFile(file: string, o: SentenceFileOptions = {}): string[] {
  const buf = readWholeFile(file, o.maxBytes ?? DEFAULT_MAX_SENTENCE_FILE_BYTES);
  if (buf.length === 0) throw new FormatError(file, 'the file is empty; expected UTF-8 text, one sentence per line');
  const head = buf.subarray(0, SNIFF_BYTES);
  const nul = head.indexOf(0);
  if (nul >= 0) throw new FormatError(file, `binary data (a NUL byte at offset ${nul}); expected UTF-8 text, one sentence per line`);
  const text = buf.toString('utf8');
  const bad = countReplacementChars(text.slice(0, SNIFF_BYTES));
  if (bad > 0 && bad * 100 > Math.min(text.length, SNIFF_BYTES)) {
    throw new FormatError(file, `not UTF-8 text (${bad} invalid byte sequences in its first ${Math.min(text.length, SNIFF_BYTES)} characters)`);
  }
  const lines = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l.length > 0);
  const min = o.minSentences ?? 1;
  if (lines.length < min) throw new FormatError(file, `${lines.length} non-empty lines; at least ${min} needed`);
  return lines;
}

function countReplacementChars(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) === 0xfffd) n++;
  return n;
}
