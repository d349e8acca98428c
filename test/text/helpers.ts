// Shared paths for the text tests: fixtures live in the source tree (tests run
// from dist/), and the shared datasets may be absent for a standalone clone.
import * as path from 'node:path';
import { locateDataDir, packageRoot } from '../../src/text/data-dir.js';
import * as fs from 'node:fs';

export const FIXTURES = path.join(packageRoot(), 'test', 'fixtures', 'text');

export function fixture(name: string): string {
  return path.join(FIXTURES, name);
}

export function readFixture(name: string): string {
  return fs.readFileSync(fixture(name), 'utf8');
}

const found = locateDataDir();
const dir = found && found.source !== 'bundled slices' ? found.dir : undefined;
/** The full data directory when present (not the bundled slices); tests needing it skip with this message otherwise. */
export const DATA_DIR: string | undefined = dir !== undefined && fs.existsSync(dir) ? dir : undefined;
export const NO_DATA = DATA_DIR === undefined ? 'shared data directory absent (set LMS_DATA_DIR to run)' : false;

export { tmpDir } from '../helpers/tmp.js';
