/**
 * File access for model files: whole-file reads that size the buffer from the
 * file system rather than from anything the file claims, and atomic writes so
 * an interrupted save never leaves a half-written checkpoint under the real
 * name.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { constants as bufferConstants } from 'node:buffer';
import { FormatError, bytesText } from './errors.js';

const CHUNK = 1 << 30; // readSync takes at most ~2 GiB per call

/**
 * Read a whole regular file into one Buffer (one allocation, no concatenation).
 * readFileSync refuses files over 2 GiB; this goes up to the Buffer limit.
 */
/** Opens a regular file for reading; errors name the file. The caller closes the fd. */
function openRegularFile(file: string): { fd: number; size: number } {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch (e) {
    throw new FormatError(file, `cannot open: ${errText(e)}`);
  }
  const st = fs.fstatSync(fd);
  if (!st.isFile()) {
    fs.closeSync(fd);
    throw new FormatError(file, 'not a regular file');
  }
  return { fd, size: st.size };
}

export function readWholeFile(file: string, maxBytes = bufferConstants.MAX_LENGTH): Buffer {
  const { fd, size } = openRegularFile(file);
  try {
    if (size > maxBytes) {
      throw new FormatError(file, `file is ${bytesText(size)}, over the ${bytesText(maxBytes)} limit`);
    }
    // allocUnsafeSlow: small files would otherwise land in the shared Buffer pool,
    // and tensors viewing the buffer would expose unrelated pooled bytes.
    const buf = Buffer.allocUnsafeSlow(size);
    let done = 0;
    while (done < size) {
      const n = fs.readSync(fd, buf, done, Math.min(CHUNK, size - done), done);
      if (n === 0) throw new FormatError(file, `file shrank while being read (${bytesText(done)} of ${bytesText(size)})`);
      done += n;
    }
    return buf;
  } finally {
    fs.closeSync(fd);
  }
}

/** sha256 (hex) of a file, streamed in chunks so huge checkpoints need no big buffer. */
export function sha256File(file: string): string {
  const hash = createHash('sha256');
  const { fd } = openRegularFile(file);
  try {
    const chunk = Buffer.allocUnsafe(16 << 20);
    for (;;) {
      const n = fs.readSync(fd, chunk, 0, chunk.length, null);
      if (n === 0) break;
      hash.update(chunk.subarray(0, n));
    }
  } finally {
    fs.closeSync(fd);
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

const ERRNO_TEXT: Record<string, string> = {
  ENOENT: 'no such file or directory',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EISDIR: 'is a directory',
  ENOTDIR: 'a path component is not a directory',
  EEXIST: 'already exists',
  ENOSPC: 'no space left on device',
  ELOOP: 'too many symbolic links',
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
