// Where the datasets live (layout: docs/data.md). Every reader takes an
// explicit directory and falls back to LMS_DATA_DIR, then to ../shared/data
// beside the package (where the project is developed), then to the small
// slices committed in data/slices, so that a fresh clone can fine-tune and
// evaluate at a small scale with no download.

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

/** The committed slices (data/slices; scripts/make-data-slices rebuilds them). */
export function bundledDataDir(): string {
  return path.join(packageRoot(), 'data', 'slices');
}

export type DataDirSource = '--data-dir' | 'LMS_DATA_DIR' | '../shared/data' | 'bundled slices';

/** The data directory and where it came from, or undefined when none is configured or found. */
export function locateDataDir(dataDir?: string): { dir: string; source: DataDirSource } | undefined {
  if (dataDir !== undefined) return { dir: path.resolve(dataDir), source: '--data-dir' };
  const env = process.env.LMS_DATA_DIR;
  if (env) return { dir: path.resolve(env), source: 'LMS_DATA_DIR' };
  const beside = path.resolve(packageRoot(), '..', 'shared', 'data');
  if (isDir(beside)) return { dir: beside, source: '../shared/data' };
  const bundled = bundledDataDir();
  return isDir(bundled) ? { dir: bundled, source: 'bundled slices' } : undefined;
}

/** The data directory, or undefined when none is configured or found. */
export function findDataDir(dataDir?: string): string | undefined {
  return locateDataDir(dataDir)?.dir;
}

export function resolveDataDir(dataDir?: string): string {
  const found = locateDataDir(dataDir);
  if (found === undefined) {
    throw new Error(`no data directory: pass --data-dir DIR or set LMS_DATA_DIR (see docs/data.md; the bundled ${bundledDataDir()} is missing too)`);
  }
  if (!isDir(found.dir)) throw new Error(`data directory ${found.dir} does not exist (from ${found.source})`);
  return found.dir;
}
