/**
 * Shared helpers for the format tests: fixture paths, temp dirs, an error
 * assertion, and tiny builders for crafting hostile zips and pickles.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { FormatError } from '../../src/formats/errors.js';
import { crc32 } from '../../src/formats/torch-zip.js';

function repoRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error('package.json not found above the test file');
    dir = up;
  }
  return dir;
}

export const FIXTURES = path.join(repoRoot(), 'test', 'fixtures', 'formats');

export function fixture(...parts: string[]): string {
  return path.join(FIXTURES, ...parts);
}

const tmpDirs: string[] = [];
process.on('exit', () => {
  for (const d of tmpDirs) fs.rmSync(d, { recursive: true, force: true });
});

/** A fresh temporary directory, removed when the test process exits. */
export function tmpDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'lmsanitator-formats-'));
  tmpDirs.push(d);
  return d;
}

/**
 * Asserts `fn` throws a FormatError whose message is one line, starts with
 * `file`, and matches `pattern`. Returns the message.
 */
export function assertFormatError(fn: () => unknown, file: string, pattern: RegExp): string {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught !== undefined, `expected an error matching ${pattern}`);
  assert.ok(caught instanceof FormatError, `expected FormatError, got ${String(caught)}`);
  const msg = caught.message;
  assert.ok(!/[\r\n\u2028\u2029]/.test(msg), `error is not one line: ${JSON.stringify(msg)}`);
  assert.ok(msg.startsWith(`${file}: `), `error does not start with the file name ${file}: ${msg}`);
  assert.match(msg, pattern);
  return msg;
}

// ------------------------------------------------------------ zip builder

export interface ZipSpec {
  name: string;
  data: Uint8Array;
  method?: number;
  flags?: number;
  /** Name written in the local header, if different. */
  localName?: string;
}

/**
 * A minimal stored-entry zip writer, with an option to emit ZIP64 records
 * (saturated 32-bit fields plus the 64-bit extra field and end records).
 */
export function buildZip(entries: ZipSpec[], opts: { zip64?: boolean; align?: number } = {}): Buffer {
  const parts: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = Buffer.from(e.name, 'utf8');
    const localName = Buffer.from(e.localName ?? e.name, 'utf8');
    let pad = 0;
    if (opts.align) pad = (opts.align - ((offset + 30 + localName.length + 4) % opts.align)) % opts.align;
    const extra = Buffer.alloc(opts.align ? 4 + pad : 0);
    if (opts.align) {
      extra.writeUInt16LE(0x4246, 0); // 'FB', torch's padding field
      extra.writeUInt16LE(pad, 2);
    }
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(e.flags ?? 0, 6);
    local.writeUInt16LE(e.method ?? 0, 8);
    local.writeUInt32LE(crc32(e.data), 14);
    local.writeUInt32LE(e.data.length, 18);
    local.writeUInt32LE(e.data.length, 22);
    local.writeUInt16LE(localName.length, 26);
    local.writeUInt16LE(extra.length, 28);
    parts.push(local, localName, extra, Buffer.from(e.data));

    const z64 = Buffer.alloc(opts.zip64 ? 4 + 24 : 0);
    if (opts.zip64) {
      z64.writeUInt16LE(0x0001, 0);
      z64.writeUInt16LE(24, 2);
      z64.writeBigUInt64LE(BigInt(e.data.length), 4);
      z64.writeBigUInt64LE(BigInt(e.data.length), 12);
      z64.writeBigUInt64LE(BigInt(offset), 20);
    }
    const c = Buffer.alloc(46);
    c.writeUInt32LE(0x02014b50, 0);
    c.writeUInt16LE(45, 4);
    c.writeUInt16LE(45, 6);
    c.writeUInt16LE(e.flags ?? 0, 8);
    c.writeUInt16LE(e.method ?? 0, 10);
    c.writeUInt32LE(crc32(e.data), 16);
    c.writeUInt32LE(opts.zip64 ? 0xffffffff : e.data.length, 20);
    c.writeUInt32LE(opts.zip64 ? 0xffffffff : e.data.length, 24);
    c.writeUInt16LE(name.length, 28);
    c.writeUInt16LE(z64.length, 30);
    c.writeUInt32LE(opts.zip64 ? 0xffffffff : offset, 42);
    central.push(c, name, z64);
    offset += 30 + localName.length + extra.length + e.data.length;
  }
  const cd = Buffer.concat(central);
  const cdOffset = offset;
  const tail: Buffer[] = [];
  if (opts.zip64) {
    const rec = Buffer.alloc(56);
    rec.writeUInt32LE(0x06064b50, 0);
    rec.writeBigUInt64LE(44n, 4);
    rec.writeUInt16LE(45, 12);
    rec.writeUInt16LE(45, 14);
    rec.writeBigUInt64LE(BigInt(entries.length), 24);
    rec.writeBigUInt64LE(BigInt(entries.length), 32);
    rec.writeBigUInt64LE(BigInt(cd.length), 40);
    rec.writeBigUInt64LE(BigInt(cdOffset), 48);
    const loc = Buffer.alloc(20);
    loc.writeUInt32LE(0x07064b50, 0);
    loc.writeBigUInt64LE(BigInt(cdOffset + cd.length), 8);
    loc.writeUInt32LE(1, 16);
    tail.push(rec, loc);
  }
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(opts.zip64 ? 0xffff : entries.length, 8);
  eocd.writeUInt16LE(opts.zip64 ? 0xffff : entries.length, 10);
  eocd.writeUInt32LE(opts.zip64 ? 0xffffffff : cd.length, 12);
  eocd.writeUInt32LE(opts.zip64 ? 0xffffffff : cdOffset, 16);
  return Buffer.concat([...parts, cd, ...tail, eocd]);
}

// --------------------------------------------------------- pickle builder

/** Emits pickle opcodes; method names follow pickletools. */
export class PickleBuilder {
  private readonly out: number[] = [];

  bytes(...b: number[]): this {
    this.out.push(...b);
    return this;
  }
  proto(n = 2): this { return this.bytes(0x80, n); }
  mark(): this { return this.bytes(0x28); }
  stop(): this { return this.bytes(0x2e); }
  emptyDict(): this { return this.bytes(0x7d); }
  emptyList(): this { return this.bytes(0x5d); }
  emptyTuple(): this { return this.bytes(0x29); }
  tuple(): this { return this.bytes(0x74); }
  tuple1(): this { return this.bytes(0x85); }
  tuple2(): this { return this.bytes(0x86); }
  tuple3(): this { return this.bytes(0x87); }
  none(): this { return this.bytes(0x4e); }
  bool(v: boolean): this { return this.bytes(v ? 0x88 : 0x89); }
  reduce(): this { return this.bytes(0x52); }
  build(): this { return this.bytes(0x62); }
  setitem(): this { return this.bytes(0x73); }
  setitems(): this { return this.bytes(0x75); }
  append(): this { return this.bytes(0x61); }
  appends(): this { return this.bytes(0x65); }
  binpersid(): this { return this.bytes(0x51); }
  put(i: number): this { return this.bytes(0x71, i); }
  get(i: number): this { return this.bytes(0x68, i); }
  longPut(i: number): this {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(i);
    return this.bytes(0x72, ...b);
  }
  memoize(): this { return this.bytes(0x94); }
  int(n: number): this {
    if (n >= 0 && n < 256) return this.bytes(0x4b, n);
    if (n >= 0 && n < 65536) return this.bytes(0x4d, n & 0xff, n >> 8);
    if (n >= -(2 ** 31) && n < 2 ** 31) {
      const b = Buffer.alloc(4);
      b.writeInt32LE(n);
      return this.bytes(0x4a, ...b);
    }
    return this.long(BigInt(n));
  }
  long(v: bigint): this {
    const b: number[] = [];
    let x = v;
    // Minimal two's complement, little-endian, as LONG1 encodes.
    for (;;) {
      b.push(Number(x & 0xffn));
      x >>= 8n;
      const signBit = (b[b.length - 1]! & 0x80) !== 0;
      if ((x === 0n && !signBit) || (x === -1n && signBit)) break;
    }
    return this.bytes(0x8a, b.length, ...b);
  }
  float(v: number): this {
    const b = Buffer.alloc(8);
    b.writeDoubleBE(v);
    return this.bytes(0x47, ...b);
  }
  str(s: string): this {
    const b = Buffer.from(s, 'utf8');
    const len = Buffer.alloc(4);
    len.writeUInt32LE(b.length);
    return this.bytes(0x58, ...len, ...b);
  }
  shortStr(s: string): this {
    const b = Buffer.from(s, 'utf8');
    return this.bytes(0x8c, b.length, ...b);
  }
  global(module: string, name: string): this {
    return this.bytes(0x63, ...Buffer.from(`${module}\n${name}\n`, 'latin1'));
  }
  stackGlobal(): this { return this.bytes(0x93); }

  /**
   * One `_rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict())`
   * call as torch writes it, with the persistent id inline.
   */
  tensor(t: { storageClass: string; key: string; numel: number; offset: number; size: number[]; stride: number[] }): this {
    this.global('torch._utils', '_rebuild_tensor_v2');
    this.mark();
    this.mark().str('storage').global('torch', t.storageClass).str(t.key).str('cpu').int(t.numel).tuple().binpersid();
    this.int(t.offset);
    this.mark();
    for (const s of t.size) this.int(s);
    this.tuple();
    this.mark();
    for (const s of t.stride) this.int(s);
    this.tuple();
    this.bool(false);
    this.global('collections', 'OrderedDict').emptyTuple().reduce();
    this.tuple();
    return this.reduce();
  }

  toBuffer(): Buffer {
    return Buffer.from(this.out);
  }
}

/**
 * A torch-style checkpoint zip: `archive/data.pkl` with an OrderedDict of the
 * given tensors and `archive/data/<key>` for each storage.
 */
export function torchZip(
  tensors: { name: string; storageClass: string; key: string; numel: number; offset?: number; size: number[]; stride?: number[] }[],
  storages: Record<string, Uint8Array>,
  extra: ZipSpec[] = [],
): Buffer {
  const p = new PickleBuilder().proto().global('collections', 'OrderedDict').emptyTuple().reduce().mark();
  for (const t of tensors) {
    const stride = t.stride ?? contiguousStride(t.size);
    p.str(t.name).tensor({ ...t, offset: t.offset ?? 0, stride });
  }
  p.setitems().stop();
  const entries: ZipSpec[] = [{ name: 'archive/data.pkl', data: p.toBuffer() }];
  for (const [k, v] of Object.entries(storages)) entries.push({ name: `archive/data/${k}`, data: v });
  entries.push({ name: 'archive/version', data: Buffer.from('3\n') }, ...extra);
  return buildZip(entries, { align: 64 });
}

export function contiguousStride(size: number[]): number[] {
  const s = new Array<number>(size.length);
  let acc = 1;
  for (let i = size.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= size[i]!;
  }
  return s;
}

export function f32Bytes(values: number[]): Buffer {
  return Buffer.from(new Float32Array(values).buffer);
}
