/**
 * The audit log of `lmsanitator serve --audit-log FILE`: one JSON line per
 * flagged input, through the journals' append mechanism
 * (src/sanitizer/journal.ts): each batch's lines go out in one write and
 * one fsync before the batch's responses are sent, so a SIGKILL or a crash
 * leaves at most one torn last line; on start the file is cut back to its
 * last complete line (cutTornTail) and appended to, never truncated.
 */
import { closeSync, existsSync, openSync } from 'node:fs';
import type { GuardAction, GuardResult } from '../guard/guard.js';
import { appendRecords, cutTornTail } from '../sanitizer/journal.js';

/** One flagged input. */
export interface AuditRecord {
  /** ISO 8601, when its batch ran. */
  time: string;
  request_id: string;
  prompt: string;
  /** Its index among the request's inputs. */
  input: number;
  match_rate: number;
  pv: number | null;
  removed: string[];
  action: GuardAction;
}

export function auditRecord(time: string, requestId: string, prompt: string, input: number, r: GuardResult): AuditRecord {
  return { time, request_id: requestId, prompt, input, match_rate: r.match_rate, pv: r.pv, removed: r.removed, action: r.action };
}

/** Makes the log ready to append to: its torn last line (a kill mid-write) cut off; created if absent; an unwritable path fails here, at start. */
export function openAuditLog(path: string): void {
  if (existsSync(path)) cutTornTail(path);
  closeSync(openSync(path, 'a'));
}

export function appendAudit(path: string, records: readonly AuditRecord[]): void {
  appendRecords(path, records);
}

/** Reads an audit log back: its records, and whether its last line was torn (not parsed). Any other bad line is an error naming it. */
export function readAuditLog(text: string): { records: AuditRecord[]; torn: boolean } {
  const lines = text.split('\n');
  const last = lines.pop()!; // '' after a final newline; otherwise an unterminated (torn) line
  const records = lines.map((line, i) => {
    try {
      return JSON.parse(line) as AuditRecord;
    } catch {
      throw new Error(`audit log line ${i + 1} is not valid JSON`);
    }
  });
  return { records, torn: last !== '' };
}
