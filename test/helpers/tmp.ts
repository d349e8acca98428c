/** Temporary directories for tests, removed when the test process exits. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const made: string[] = [];
process.on('exit', () => {
  if (process.env.LMS_KEEP_TEST_FILES) return;
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

export function tmpDir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), `lms-${prefix}-`));
  made.push(d);
  return d;
}
