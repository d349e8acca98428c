/**
 * What a scan's journal says about its progress, read from outside the
 * scan (the worker's main thread reports progress from it; the scan
 * thread decides whether to resume). The journal format is the
 * sanitizer's (sanitizer/journal.ts); this only counts.
 */
import { existsSync, readFileSync } from 'node:fs';

/** Loops already in a journal, and whether it can be resumed (a kill before its header was written leaves nothing to resume). */
export function journalState(file: string): { resumable: boolean; loops: number } {
  if (!existsSync(file)) return { resumable: false, loops: 0 };
  const lines = readFileSync(file, 'utf8').split('\n');
  let loops = 0;
  let header = false;
  lines.forEach((line, i) => {
    if (!line.trim()) return;
    try {
      const e = JSON.parse(line) as { type?: string };
      if (i === 0) header = e.type === 'header';
      else if (e.type === 'loop') loops++;
    } catch {
      // A torn last line: the scan's resume drops it too.
    }
  });
  return { resumable: header, loops };
}

