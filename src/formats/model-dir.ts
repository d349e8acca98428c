/**
 * The one entry check every loader starts with (loadModel, loadEncoderConfig,
 * loadCheckpoint, TextTokenizer.fromDir), so every command words a missing
 * path, a file given instead of a directory, and a directory without
 * config.json the same way.
 *
 * A ModelDir also fixes where its files may come from: its own real path,
 * plus `<repo>/blobs` when it is a Hugging Face cache snapshot
 * (`<repo>/snapshots/<revision>/`, whose files are symlinks into blobs/).
 * Reads through it refuse symlinks that lead anywhere else (see file-io.ts).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { FormatError } from './errors.js';
import { errText, readTextFile, readWholeFile, type ReadOptions } from './file-io.js';

export const CONFIG_FILE = 'config.json';

export class ModelDir {
  /** @param dir the path as the user gave it (messages show it); @param roots real directories files may resolve into */
  constructor(readonly dir: string, readonly roots: readonly string[]) {}

  /** Path of a file in the directory, in the caller's spelling. */
  file(name: string): string {
    return path.join(this.dir, name);
  }

  /**
   * Whether the directory has an entry `name` (of any kind, a dangling link
   * included): a FIFO or a directory under a model file's name is then
   * refused by read(), naming it, instead of being silently skipped.
   */
  has(name: string): boolean {
    try {
      fs.lstatSync(this.file(name));
      return true;
    } catch {
      return false;
    }
  }

  /** The whole file, capped at `maxBytes`, only if it resolves inside the directory. */
  read(name: string, maxBytes: number, opts: Omit<ReadOptions, 'within'> = {}): Buffer {
    return readWholeFile(this.file(name), maxBytes, { ...opts, within: this.roots });
  }

  /** A UTF-8 text file (a BOM is kept; see readTextFile), with the same rules as read(). */
  readText(name: string, maxBytes: number): string {
    return readTextFile(this.file(name), maxBytes, { within: this.roots });
  }
}

/**
 * Check that `dir` is a directory (and, with requireConfig, that it holds
 * config.json); errors are one line naming `dir` and what it should be
 * (`what`, default "model": "no such prompt directory"). A ModelDir passes through.
 */
export function openModelDir(dir: string | ModelDir, o: { requireConfig?: boolean; what?: string } = {}): ModelDir {
  const md = dir instanceof ModelDir ? dir : open(dir, o.what ?? 'model');
  if (o.requireConfig && !md.has(CONFIG_FILE)) {
    throw new FormatError(md.dir, `not a model directory (no ${CONFIG_FILE})`);
  }
  return md;
}

function open(dir: string, what: string): ModelDir {
  let st: fs.Stats;
  try {
    st = fs.statSync(dir);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new FormatError(dir, code === 'ENOENT' ? `no such ${what} directory` : `cannot open ${what} directory: ${errText(e)}`);
  }
  if (!st.isDirectory()) throw new FormatError(dir, `not a ${what} directory (it is ${st.isFile() ? 'a file' : 'not a directory'})`);
  const real = fs.realpathSync(dir);
  const roots = [real];
  // HF cache: models--org--name/snapshots/<rev>/config.json -> ../../blobs/<sha256>
  if (path.basename(path.dirname(real)) === 'snapshots') {
    const blobs = path.join(path.dirname(path.dirname(real)), 'blobs');
    try {
      if (fs.statSync(blobs).isDirectory()) roots.push(fs.realpathSync(blobs));
    } catch {
      // no blobs/ beside snapshots/: only the snapshot itself
    }
  }
  return new ModelDir(dir, roots);
}
