// Where the shared datasets live. The project is developed next to a shared/
// folder (../shared/data), but a user who clones it alone has none, so every
// reader takes an explicit directory and falls back to LMS_DATA_DIR, then to
// ../shared/data beside the package, and otherwise says how to fix it.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

let rootCache: string | undefined;

/** The directory holding this package's package.json (works from src/ and dist/src/). */
export function packageRoot(): string {
  if (rootCache) return rootCache;
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pj = path.join(dir, 'package.json');
    if (fs.existsSync(pj)) {
      try {
        if ((JSON.parse(fs.readFileSync(pj, 'utf8')) as { name?: unknown }).name === 'lmsanitator') return (rootCache = dir);
      } catch {
        // not our package.json; keep walking up
      }
    }
    const up = path.dirname(dir);
    if (up === dir) throw new Error('cannot find the lmsanitator package root');
    dir = up;
  }
}

const isDir = (p: string) => fs.existsSync(p) && fs.statSync(p).isDirectory();

/** The data directory, or undefined when none is configured or found. */
export function findDataDir(dataDir?: string): string | undefined {
  if (dataDir !== undefined) return path.resolve(dataDir);
  const env = process.env.LMS_DATA_DIR;
  if (env) return path.resolve(env);
  const beside = path.resolve(packageRoot(), '..', 'shared', 'data');
  return isDir(beside) ? beside : undefined;
}

export function resolveDataDir(dataDir?: string): string {
  const dir = findDataDir(dataDir);
  if (dir === undefined) {
    throw new Error(
      `no data directory: pass --data-dir DIR or set LMS_DATA_DIR (looked for ${path.resolve(packageRoot(), '..', 'shared', 'data')})`,
    );
  }
  if (!isDir(dir)) throw new Error(`data directory ${dir} does not exist (from ${dataDir !== undefined ? '--data-dir' : 'LMS_DATA_DIR'})`);
  return dir;
}
