/**
 * Append-only journal of a scan or search: a header line naming the model
 * and settings, then one line per finished fuzz loop and one per kept PV,
 * written (and fsynced) as soon as it exists. A crash or SIGKILL loses at
 * most the loop in flight; `--resume` replays the file, and a torn last
 * line (killed mid-write) is ignored.
 */
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, truncateSync, writeSync } from 'node:fs';

export interface JournalHeader {
  type: 'header';
  version: 1;
  command: 'scan' | 'search';
  modelHash: string;
  modelDir: string;
  sentencesHash: string;
  mode: string;
  settings: Record<string, unknown>;
  started: string;
}

export interface JournalLoop {
  type: 'loop';
  seed: number;
  epochs: { distance: number; diversity: number; path: number | null; lr: number }[];
  initialDistance: number;
  initialMaxGrad: number;
  crossed: boolean;
  abandoned: boolean;
  /** Ended early at an epoch whose candidate passed every rule (absent in older journals: false). */
  settled?: boolean;
  kept: boolean;
  reasons: string[];
  rangeViolations: number;
  seconds: number;
  /** Score contribution of this loop (see score.ts). */
  score: number;
  /** Share of clean outputs within distanceTh of the candidate (null: not checked; absent in older journals). */
  cleanShare?: number | null;
  distanceCurve: number[];
}

export interface JournalPv {
  type: 'pv';
  index: number;
  seed: number;
  /** float32 little-endian, base64. */
  vector: string;
  prompt: string;
  promptShape: [number, number];
}

export type JournalEntry = JournalHeader | JournalLoop | JournalPv;

export function encodeF32(a: Float32Array): string {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64');
}

export function decodeF32(s: string, what: string): Float32Array {
  const b = Buffer.from(s, 'base64');
  if (b.length % 4 !== 0) throw new Error(`journal: ${what} is not a float32 array`);
  const out = new Float32Array(b.length / 4);
  new Uint8Array(out.buffer).set(b);
  return out;
}

/**
 * Cuts a line-per-record file back to its last complete line. A kill
 * mid-write leaves a torn line; a record appended after it would share
 * that line and be lost with it.
 */
export function cutTornTail(path: string): void {
  const text = readFileSync(path);
  const end = text.lastIndexOf(0x0a) + 1;
  if (end < text.length) truncateSync(path, end);
}

/**
 * A results journal of one JSON record per line (eval victims, eval
 * guard): the records that pass `accept`, keyed by `keyOf` (a later line
 * replaces an earlier one). A torn last line is cut off first, so its cell
 * is redone; any other bad line is an error naming the file and line.
 */
export function readRecords<T>(path: string, accept: (v: unknown) => v is T, keyOf: (r: T) => string, what: string): Map<string, T> {
  const done = new Map<string, T>();
  if (!existsSync(path)) return done;
  cutTornTail(path);
  readFileSync(path, 'utf8').split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch {
      throw new Error(`${path}: line ${i + 1} is not valid JSON; remove that line to redo its cell`);
    }
    if (!accept(v)) throw new Error(`${path}: line ${i + 1} is not ${what}; remove that line to redo its cell`);
    done.set(keyOf(v), v);
  });
  return done;
}

/** Appends one record as a line and syncs it to disk before returning. */
export function appendRecord(path: string, record: unknown): void {
  appendRecords(path, [record]);
}

/** Appends records as lines in one write and syncs them to disk before returning (a kill mid-write tears at most the last line). */
export function appendRecords(path: string, records: readonly unknown[]): void {
  if (records.length === 0) return;
  const fd = openSync(path, 'a');
  try {
    writeSync(fd, records.map((r) => `${JSON.stringify(r)}\n`).join(''));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export class Journal {
  private fd: number;

  private constructor(readonly path: string, fd: number) {
    this.fd = fd;
  }

  /** Starts a new journal (truncating any old one). */
  static create(path: string, header: JournalHeader): Journal {
    const j = new Journal(path, openSync(path, 'w'));
    j.append(header);
    return j;
  }

  /** Reopens for appending after `read`, without its torn last line (see cutTornTail). */
  static reopen(path: string): Journal {
    cutTornTail(path);
    return new Journal(path, openSync(path, 'a'));
  }

  /** Parses a journal; the last line may be torn by a kill and is then dropped. */
  static read(path: string): { header: JournalHeader; entries: (JournalLoop | JournalPv)[] } {
    if (!existsSync(path)) throw new Error(`${path}: no journal to resume from`);
    const lines = readFileSync(path, 'utf8').split('\n');
    const entries: (JournalLoop | JournalPv)[] = [];
    let header: JournalHeader | null = null;
    lines.forEach((line, i) => {
      if (!line.trim()) return;
      let e: JournalEntry;
      try {
        e = JSON.parse(line) as JournalEntry;
      } catch {
        if (i >= lines.length - 2) return; // torn final line
        throw new Error(`${path}: line ${i + 1} is not valid JSON`);
      }
      if (i === 0) {
        if (e.type !== 'header') throw new Error(`${path}: first line is not a journal header`);
        header = e;
      } else if (e.type === 'loop' || e.type === 'pv') {
        entries.push(e);
      } else {
        throw new Error(`${path}: line ${i + 1} has unknown type`);
      }
    });
    if (!header) throw new Error(`${path}: empty journal`);
    return { header, entries };
  }

  append(e: JournalEntry): void {
    writeSync(this.fd, `${JSON.stringify(e)}\n`);
    fsyncSync(this.fd);
  }

  close(): void {
    closeSync(this.fd);
  }
}
