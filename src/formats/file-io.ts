/**
 * File access for model files. Every read of a model file in the project goes
 * through openRegularFile/readWholeFile here, so the same rules hold for
 * config.json, tokenizer files and weights alike:
 *
 *  - Only regular files are read. The open is non-blocking, so a FIFO planted
 *    under a model file's name cannot stall it; devices, FIFOs, sockets and
 *    directories are then refused by fstat.
 *  - With `within`, the file's real path (symlinks resolved) must lie inside
 *    one of the given real directories, and the resolved path is opened with
 *    O_NOFOLLOW. Hugging Face cache snapshots are symlinks, so links are
 *    followed, but a link out of the model directory (to /proc/self/environ,
 *    /proc/self/pagemap, ~/.ssh/…) is refused before anything is read.
 *  - Every read has a hard byte cap that holds even when fstat lies (procfs
 *    reports size 0 for files with unbounded content, a file can grow while
 *    being read): the buffer is sized from fstat, capped, and the read must
 *    then find end-of-file exactly there.
 *
 * Writes are atomic (temporary file + rename) so an interrupted save never
 * leaves a half-written file under the real name.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { constants as bufferConstants } from 'node:buffer';
import { FormatError, bytesText, quote } from './errors.js';

const CHUNK = 1 << 30; // readSync takes at most ~2 GiB per call
/** Chunk size when a reader follows the read (onRead): small enough that it trails by little. */
const READ_STEP = 16 << 20;
// Absent on Windows; there the non-blocking open and the fstat check remain.
const O_NOFOLLOW = fs.constants.O_NOFOLLOW ?? 0;
const O_NONBLOCK = fs.constants.O_NONBLOCK ?? 0;

export interface OpenOptions {
  /**
   * Real paths (fs.realpathSync) of the directories the file must resolve
   * into. Without it any regular file is accepted (files the user named).
   */
  within?: readonly string[];
}

/** An open regular file. `size` is what fstat said; reads never trust it further than the cap. */
export interface OpenFile {
  readonly fd: number;
  readonly size: number;
  /** The path as the caller spelled it, for messages. */
  readonly path: string;
}

export interface ReadOptions extends OpenOptions {
  /**
   * Runs on the open file before the whole-file buffer is allocated, so a
   * format can reject a file from its first bytes (readAt) without paying
   * for the rest of it.
   */
  precheck?: (f: OpenFile) => void;
  /** Allocates the whole-file buffer (default: a private one, see readWholeFile); background-hash.ts passes shared memory. */
  alloc?: (size: number) => Buffer;
  /** Told the number of bytes in place after each chunk (READ_STEP bytes apart), so a hash can follow the read. */
  onRead?: (bytesInPlace: number) => void;
}

/** True when `p` is `root` or lies below it (both real, absolute paths). */
export function isInside(p: string, root: string): boolean {
  const rel = path.relative(root, p);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

/** Opens a regular file for reading; errors name the file. The caller closes the fd (closeFile). */
export function openRegularFile(file: string, opts: OpenOptions = {}): OpenFile {
  let target = file;
  let flags = fs.constants.O_RDONLY | O_NONBLOCK;
  if (opts.within) {
    let real: string;
    try {
      real = fs.realpathSync(file);
    } catch (e) {
      throw new FormatError(file, `cannot open: ${errText(e)}`);
    }
    if (!opts.within.some((root) => isInside(real, root))) {
      throw new FormatError(file, `resolves to ${quote(real)}, outside the model directory; refusing to follow the link`);
    }
    // Open what was checked, and fail rather than follow a link swapped in since.
    target = real;
    flags |= O_NOFOLLOW;
  }
  let fd: number;
  try {
    fd = fs.openSync(target, flags);
  } catch (e) {
    throw new FormatError(file, `cannot open: ${errText(e)}`);
  }
  const st = fs.fstatSync(fd);
  if (!st.isFile()) {
    fs.closeSync(fd);
    throw new FormatError(file, `not a regular file (${fileKind(st)})`);
  }
  return { fd, size: st.size, path: file };
}

export function closeFile(f: OpenFile): void {
  fs.closeSync(f.fd);
}

/** Read exactly `length` bytes at `position` into a fresh buffer; a short read is an error. */
export function readAt(f: OpenFile, position: number, length: number): Buffer {
  const buf = Buffer.allocUnsafeSlow(length);
  readInto(f, buf, 0, position, length);
  return buf;
}

/** fs.readSync with errors (EIO, EINVAL from a procfs file) as a FormatError naming the file. */
function readSome(f: OpenFile, buf: Buffer, offset: number, length: number, position: number): number {
  try {
    return fs.readSync(f.fd, buf, offset, length, position);
  } catch (e) {
    throw new FormatError(f.path, `cannot read: ${errText(e)}`);
  }
}

function readInto(f: OpenFile, buf: Buffer, offset: number, position: number, length: number, onRead?: (bytesInPlace: number) => void): void {
  const step = onRead ? READ_STEP : CHUNK;
  let done = 0;
  while (done < length) {
    const n = readSome(f, buf, offset + done, Math.min(step, length - done), position + done);
    if (n === 0) throw new FormatError(f.path, `file shrank while being read (${bytesText(position + done)} of ${bytesText(f.size)})`);
    done += n;
    onRead?.(offset + done);
  }
}

/**
 * Read a whole regular file into one Buffer (one allocation, no
 * concatenation). readFileSync refuses files over 2 GiB and trusts the size
 * it is told; this goes up to `maxBytes` (default: the Buffer limit) and no
 * further, whatever fstat says.
 */
export function readWholeFile(file: string, maxBytes: number = bufferConstants.MAX_LENGTH, opts: ReadOptions = {}): Buffer {
  const f = openRegularFile(file, opts);
  try {
    if (f.size > maxBytes) {
      throw new FormatError(file, `file is ${bytesText(f.size)}, over the ${bytesText(maxBytes)} limit`);
    }
    opts.precheck?.(f);
    // allocUnsafeSlow: small files would otherwise land in the shared Buffer pool,
    // and tensors viewing the buffer would expose unrelated pooled bytes.
    const buf = opts.alloc ? opts.alloc(f.size) : Buffer.allocUnsafeSlow(f.size);
    if (buf.length !== f.size) throw new Error(`readWholeFile: alloc gave ${buf.length} bytes for ${f.size}`);
    readInto(f, buf, 0, 0, f.size, opts.onRead);
    // End-of-file must be where fstat put it: procfs files say 0 and go on.
    // (8 bytes, not 1: some procfs files only answer 8-byte reads.)
    if (readSome(f, Buffer.alloc(8), 0, 8, f.size) !== 0) {
      throw new FormatError(file, `holds more than the ${bytesText(f.size)} its size says (a special file, or one still being written); refusing it`);
    }
    return buf;
  } finally {
    closeFile(f);
  }
}

/**
 * A small text file (config, vocabulary) as a string, strict UTF-8. A BOM is
 * kept, so offsets into the text stay offsets into the file; JSON parsing
 * skips it, line-based readers use stripBom.
 */
export function readTextFile(file: string, maxBytes: number, opts: OpenOptions = {}): string {
  const buf = readWholeFile(file, maxBytes, opts);
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(buf);
  } catch {
    throw new FormatError(file, 'is not valid UTF-8 text');
  }
}

export function stripBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/** sha256 (hex) of a file, streamed in chunks so huge checkpoints need no big buffer. */
export function sha256File(file: string, opts: OpenOptions = {}): string {
  const hash = createHash('sha256');
  const f = openRegularFile(file, opts);
  try {
    const chunk = Buffer.allocUnsafe(16 << 20);
    for (;;) {
      const n = readSome(f, chunk, 0, chunk.length, -1);
      if (n === 0) break;
      hash.update(chunk.subarray(0, n));
    }
  } finally {
    closeFile(f);
  }
  return hash.digest('hex');
}

/**
 * Write through a temporary file in the same directory, then rename over the
 * target: readers see either the old file or the complete new one.
 */
export function writeFileAtomic(file: string, write: (fd: number) => void): void {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  let fd: number;
  try {
    fd = fs.openSync(tmp, 'wx', 0o644);
  } catch (e) {
    throw new FormatError(file, `cannot create: ${errText(e)}`);
  }
  let ok = false;
  try {
    write(fd);
    fs.fsyncSync(fd);
    ok = true;
  } finally {
    fs.closeSync(fd);
    if (!ok) fs.rmSync(tmp, { force: true });
  }
  try {
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw new FormatError(file, `cannot write: ${errText(e)}`);
  }
}

/** Write all of `data` at the fd's current position (writeSync may write less). */
export function writeAll(fd: number, data: Uint8Array): void {
  let done = 0;
  while (done < data.length) {
    done += fs.writeSync(fd, data, done, Math.min(CHUNK, data.length - done));
  }
}

/** Atomically write a text file (UTF-8). */
export function writeTextFileAtomic(file: string, text: string): void {
  writeFileAtomic(file, (fd) => writeAll(fd, Buffer.from(text, 'utf8')));
}

/** Atomically write a JSON record (two-space indent, trailing newline). */
export function writeJsonAtomic(file: string, value: unknown): void {
  writeTextFileAtomic(file, `${JSON.stringify(value, null, 2)}\n`);
}

function fileKind(st: fs.Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'not a plain file';
}

const ERRNO_TEXT: Record<string, string> = {
  ENOENT: 'no such file or directory',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EISDIR: 'is a directory',
  ENOTDIR: 'a path component is not a directory',
  EEXIST: 'already exists',
  ENOSPC: 'no space left on device',
  ELOOP: 'too many symbolic links',
  ENXIO: 'no such device',
};

/** A short reason for a file-system error, without repeating the path. */
export function errText(e: unknown): string {
  if (e instanceof Error) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code) return ERRNO_TEXT[code] ? `${ERRNO_TEXT[code]} (${code})` : code;
    return e.message;
  }
  return String(e);
}
