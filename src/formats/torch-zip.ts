/**
 * Reader for the zip container of torch >= 1.6 checkpoints.
 *
 * Why not yauzl or fflate: both would work as zip readers, but we hold the
 * whole file in one Buffer already and want each storage as a zero-copy
 * subarray of it, synchronously. yauzl is asynchronous and hands out entry
 * streams (a copy per storage); fflate's unzipSync copies every entry and
 * does not read ZIP64, which torch uses once an archive passes 4 GiB. Torch
 * writes every entry STORED (uncompressed), so no inflater is needed and the
 * reader reduces to walking the central directory, which is done here with
 * every offset and length checked against the buffer.
 *
 * Every entry's bytes are checked against the CRC-32 the central directory
 * records when they are taken (readEntry), so a flipped byte in a weight
 * record is an error rather than a silently different model.
 */
import * as zlib from 'node:zlib';
import { FormatError, quote, bytesText } from './errors.js';

export interface ZipEntry {
  name: string;
  /** Offset of the entry's bytes in the archive buffer. */
  dataStart: number;
  size: number;
  crc32: number;
}

const SIG_EOCD = 0x06054b50;
const SIG_ZIP64_LOCATOR = 0x07064b50;
const SIG_ZIP64_EOCD = 0x06064b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_LOCAL = 0x04034b50;
const EOCD_SIZE = 22;
const MAX_COMMENT = 0xffff;
const CENTRAL_SIZE = 46;
const LOCAL_SIZE = 30;
/** A state dict has a few entries per tensor; this bounds bookkeeping for hostile directories. */
export const MAX_ZIP_ENTRIES = 1_000_000;

export function isZip(buf: Uint8Array): boolean {
  return buf.length >= 4 && buf[0] === 0x50 && buf[1] === 0x4b && buf[2] === 0x03 && buf[3] === 0x04;
}

/** Parse the central directory; returns entries by name, each checked to lie inside the buffer. */
export function readZipEntries(buf: Uint8Array, label: string): Map<string, ZipEntry> {
  const fail = (problem: string): never => {
    throw new FormatError(label, `zip archive: ${problem}`);
  };
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const u16 = (o: number) => view.getUint16(o, true);
  const u32 = (o: number) => view.getUint32(o, true);
  const u64 = (o: number): number => {
    const v = view.getBigUint64(o, true);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) fail(`64-bit field at offset ${o} is out of range`);
    return Number(v);
  };

  // End of central directory: the last signature whose comment runs exactly to the end.
  let eocd = -1;
  for (let p = buf.length - EOCD_SIZE; p >= Math.max(0, buf.length - EOCD_SIZE - MAX_COMMENT); p--) {
    if (u32(p) === SIG_EOCD && p + EOCD_SIZE + u16(p + 20) === buf.length) {
      eocd = p;
      break;
    }
  }
  if (eocd < 0) fail('no end-of-central-directory record (truncated or not a zip file)');
  if (u16(eocd + 4) !== 0 || u16(eocd + 6) !== 0) fail('multi-disk archives are not supported');
  let count = u16(eocd + 10);
  let cdSize = u32(eocd + 12);
  let cdOffset = u32(eocd + 16);
  let cdLimit = eocd; // the central directory must end before this
  if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
    const loc = eocd - 20;
    if (loc < 0 || u32(loc) !== SIG_ZIP64_LOCATOR) fail('ZIP64 end-of-central-directory locator missing');
    const rec = u64(loc + 8);
    if (rec + 56 > loc || u32(rec) !== SIG_ZIP64_EOCD) fail('ZIP64 end-of-central-directory record missing or out of bounds');
    count = u64(rec + 32);
    cdSize = u64(rec + 40);
    cdOffset = u64(rec + 48);
    cdLimit = rec;
  }
  if (cdOffset + cdSize > cdLimit) fail(`central directory (offset ${cdOffset}, ${bytesText(cdSize)}) extends past its end record`);
  if (count > MAX_ZIP_ENTRIES) fail(`${count} entries, over the limit of ${MAX_ZIP_ENTRIES}`);
  if (count * CENTRAL_SIZE > cdSize) fail(`central directory of ${bytesText(cdSize)} cannot hold ${count} entries`);

  const utf8 = new TextDecoder('utf-8', { fatal: true });
  const entries = new Map<string, ZipEntry>();
  const spans: { start: number; end: number; name: string }[] = [];
  let p = cdOffset;
  const cdEnd = cdOffset + cdSize;
  for (let i = 0; i < count; i++) {
    if (p + CENTRAL_SIZE > cdEnd || u32(p) !== SIG_CENTRAL) fail(`central directory entry ${i} is malformed`);
    const flags = u16(p + 8);
    const method = u16(p + 10);
    const crc32 = u32(p + 16);
    let compSize = u32(p + 20);
    let size = u32(p + 24);
    const nameLen = u16(p + 28);
    const extraLen = u16(p + 30);
    const commentLen = u16(p + 32);
    let localOffset = u32(p + 42);
    const next = p + CENTRAL_SIZE + nameLen + extraLen + commentLen;
    if (next > cdEnd) fail(`central directory entry ${i} runs past the directory`);
    let name: string;
    try {
      name = utf8.decode(buf.subarray(p + CENTRAL_SIZE, p + CENTRAL_SIZE + nameLen));
    } catch {
      return fail(`entry ${i} has a name that is not valid UTF-8`);
    }
    // eslint-disable-next-line no-control-regex
    if (name.length === 0 || /[\u0000-\u001f\u007f]/.test(name)) fail(`entry ${i} has an invalid name ${quote(name)}`);
    const e = `entry ${quote(name)}`;

    // ZIP64 extra field: 64-bit values for whichever 32-bit fields are saturated, in this order.
    let x = p + CENTRAL_SIZE + nameLen;
    const xEnd = x + extraLen;
    while (x + 4 <= xEnd) {
      const id = u16(x);
      const len = u16(x + 2);
      if (x + 4 + len > xEnd) fail(`${e} has a malformed extra field`);
      if (id === 0x0001) {
        let q = x + 4;
        const take = (): number => {
          if (q + 8 > x + 4 + len) fail(`${e} has a short ZIP64 extra field`);
          const v = u64(q);
          q += 8;
          return v;
        };
        if (size === 0xffffffff) size = take();
        if (compSize === 0xffffffff) compSize = take();
        if (localOffset === 0xffffffff) localOffset = take();
      }
      x += 4 + len;
    }

    if (flags & 0x1) fail(`${e} is encrypted`);
    if (method !== 0) fail(`${e} is compressed (method ${method}); PyTorch checkpoints store entries uncompressed`);
    if (compSize !== size) fail(`${e} is stored but its compressed and uncompressed sizes differ`);
    if (entries.has(name)) fail(`duplicate ${e}`);

    if (localOffset + LOCAL_SIZE > cdOffset || u32(localOffset) !== SIG_LOCAL) fail(`${e} has no local header at offset ${localOffset}`);
    const localNameLen = u16(localOffset + 26);
    const localExtraLen = u16(localOffset + 28);
    const dataStart = localOffset + LOCAL_SIZE + localNameLen + localExtraLen;
    if (dataStart + size > cdOffset) fail(`${e} data (${bytesText(size)} at offset ${dataStart}) runs past the archive contents`);
    // The local name must agree, or two readers could see different files.
    if (localNameLen !== nameLen ||
        Buffer.compare(buf.subarray(localOffset + LOCAL_SIZE, localOffset + LOCAL_SIZE + nameLen), buf.subarray(p + CENTRAL_SIZE, p + CENTRAL_SIZE + nameLen)) !== 0) {
      fail(`${e} has a different name in its local header`);
    }
    entries.set(name, { name, dataStart, size, crc32 });
    spans.push({ start: localOffset, end: dataStart + size, name });
    p = next;
  }

  spans.sort((a, b) => a.start - b.start);
  for (let i = 1; i < spans.length; i++) {
    if (spans[i]!.start < spans[i - 1]!.end) fail(`entries ${quote(spans[i - 1]!.name)} and ${quote(spans[i]!.name)} overlap`);
  }
  return entries;
}

/** The entry's bytes (a view into `buf`), after checking them against its CRC-32. */
export function readEntry(buf: Uint8Array, e: ZipEntry, label: string): Uint8Array {
  const bytes = buf.subarray(e.dataStart, e.dataStart + e.size);
  if (crc32(bytes) !== e.crc32) throw new FormatError(label, `zip archive: entry ${quote(e.name)} fails its CRC-32 check (corrupted or altered file)`);
  return bytes;
}

/** Whether the last 64 KiB of a file (or all of a shorter one) hold an end-of-central-directory record. */
export function hasEndRecord(tail: Uint8Array, fileLen: number): boolean {
  const view = new DataView(tail.buffer, tail.byteOffset, tail.byteLength);
  const start = fileLen - tail.length; // file offset of tail[0]
  for (let p = tail.length - EOCD_SIZE; p >= 0; p--) {
    if (view.getUint32(p, true) === SIG_EOCD && start + p + EOCD_SIZE + view.getUint16(p + 20, true) === fileLen) return true;
  }
  return false;
}

/** How many bytes at the end of a file hasEndRecord needs. */
export const END_RECORD_SEARCH = EOCD_SIZE + MAX_COMMENT;

// zlib.crc32 (Node >= 20.15) runs at several GB/s; the table loop is the fallback.
const nativeCrc32 = (zlib as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;
let crcTable: Int32Array | undefined;

/** CRC-32 as zip uses it. */
export function crc32(bytes: Uint8Array): number {
  if (nativeCrc32) return nativeCrc32(bytes) >>> 0;
  if (!crcTable) {
    crcTable = new Int32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c;
    }
  }
  let c = -1;
  for (let i = 0; i < bytes.length; i++) c = crcTable[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ -1) >>> 0;
}
