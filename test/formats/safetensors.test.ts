import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  readSafetensors, loadSafetensors, serializeSafetensors, saveSafetensors, readSafetensorsHeader, MAX_HEADER_BYTES,
} from '../../src/formats/safetensors.js';
import type { StateDict } from '../../src/formats/state-dict.js';
import { assertFormatError, fixture, tmpDir, f32Bytes } from './helpers.js';

interface Golden { shape: number[]; dtype: string; values: number[] }
const golden = JSON.parse(fs.readFileSync(fixture('golden.json'), 'utf8')) as Record<string, Golden>;

/** Raw safetensors bytes from a header (object or literal JSON text) and a data section. */
function raw(header: unknown, data: Uint8Array = Buffer.alloc(0), pad = true): Buffer {
  let h = Buffer.from(typeof header === 'string' ? header : JSON.stringify(header), 'utf8');
  if (pad && h.length % 8) h = Buffer.concat([h, Buffer.alloc(8 - (h.length % 8), 0x20)]);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(h.length));
  return Buffer.concat([len, h, data]);
}

const L = 'model.safetensors';
const err = (buf: Uint8Array, pattern: RegExp) => assertFormatError(() => readSafetensors(buf, L), L, pattern);

test('round trip keeps shapes, values, integer dtypes and metadata', () => {
  const sd: StateDict = new Map([
    ['b.weight', { shape: [2, 3], data: new Float32Array([1, -2, 3.5, 0, 1e-30, -Infinity]) }],
    ['a.bias', { shape: [3], data: new Float32Array([0.25, NaN, 7]) }],
    ['ids', { shape: [1, 4], data: new Int32Array([0, 1, -2, 2147483647]), dtype: 'I64' }],
    ['mask32', { shape: [2], data: new Int32Array([5, -6]) }],
    ['scalar', { shape: [], data: new Float32Array([42]) }],
    ['empty', { shape: [0, 3], data: new Float32Array(0) }],
    ['10', { shape: [1], data: new Float32Array([10]) }],
    ['2', { shape: [1], data: new Float32Array([2]) }],
    ['ünïcode.名前', { shape: [1], data: new Float32Array([3]) }],
  ]);
  const buf = serializeSafetensors(sd, { format: 'pt', note: 'x' });
  const { tensors, metadata } = readSafetensors(buf, L);
  assert.deepEqual(metadata, { format: 'pt', note: 'x' });
  assert.equal(tensors.size, sd.size);
  for (const [name, t] of sd) {
    const got = tensors.get(name)!;
    assert.deepEqual(got.shape, t.shape, name);
    assert.deepEqual([...got.data], [...t.data], name);
    assert.equal(got.data.constructor, t.data.constructor, name);
  }
  assert.equal(tensors.get('ids')!.dtype, 'I64');
  assert.equal(tensors.get('mask32')!.dtype, 'I32');
  assert.equal(tensors.get('b.weight')!.dtype, 'F32');
});

test('writer pads the header to 8 bytes, sorts keys and aligns every tensor', () => {
  const sd: StateDict = new Map([
    ['z', { shape: [3], data: new Float32Array([1, 2, 3]) }],
    ['m', { shape: [1], data: new Int32Array([9]), dtype: 'I64' }],
    ['a', { shape: [1], data: new Int32Array([4]) }],
  ]);
  const buf = serializeSafetensors(sd, { format: 'pt' });
  const n = Number(buf.readBigUInt64LE(0));
  assert.equal(n % 8, 0);
  const text = buf.subarray(8, 8 + n).toString('utf8');
  assert.match(text, /^\{"__metadata__":\{"format":"pt"\},"a":.*,"m":.*,"z":.*\} *$/);
  const h = readSafetensorsHeader(buf, L);
  for (const e of h.entries) assert.equal((h.dataStart + e.begin) % 4, 0, e.name);
  assert.equal(h.entries.find((e) => e.name === 'm')!.begin, 0, 'I64 first keeps 8-byte alignment');
});

test('saveSafetensors/loadSafetensors through a file, F32 loaded without a copy', () => {
  const dir = tmpDir();
  const file = path.join(dir, L);
  const w = new Float32Array(1000).map((_, i) => Math.sin(i));
  saveSafetensors(file, new Map([['w', { shape: [10, 100], data: w }]]));
  assert.deepEqual(fs.readdirSync(dir), [L], 'no temporary file left behind');
  const { tensors } = loadSafetensors(file);
  const t = tensors.get('w')!;
  assert.deepEqual([...t.data], [...w]);
  assert.equal(t.data.buffer.byteLength, fs.statSync(file).size, 'tensor is a view over the file buffer');
});

test('misaligned float data is copied and still correct', () => {
  const header = JSON.stringify({ b: { dtype: 'U8', shape: [1], data_offsets: [0, 1] }, w: { dtype: 'F32', shape: [2], data_offsets: [1, 9] } });
  const data = Buffer.concat([Buffer.from([7]), f32Bytes([1.5, -2.25])]);
  const { tensors } = readSafetensors(raw(header, data), L);
  assert.deepEqual([...tensors.get('w')!.data], [1.5, -2.25]);
  assert.deepEqual([...tensors.get('b')!.data], [7]);
});

test('reads a file from an independent writer and matches the golden values', () => {
  const { tensors, metadata } = loadSafetensors(fixture('reference.safetensors'));
  assert.deepEqual(metadata, { format: 'pt' });
  assert.ok(tensors.size >= 10);
  for (const [name, t] of tensors) {
    const g = golden[name]!;
    assert.ok(g, name);
    assert.deepEqual(t.shape, g.shape, name);
    assert.equal(t.dtype, g.dtype, name);
    assert.equal(t.data.length, g.values.length, name);
    g.values.forEach((v, i) => assert.equal(t.data[i], Math.fround(v), `${name}[${i}]`));
  }
});

test('converts F16, BF16, F64 to float32 and small ints to Int32Array', () => {
  const f16 = Buffer.from(new Uint16Array([0x3c00, 0xc000, 0x7c00, 0x0001, 0x8000]).buffer);
  const bf16 = Buffer.from(new Uint16Array([0x3f80, 0xc040]).buffer);
  const f64 = Buffer.from(new Float64Array([0.1, -3]).buffer);
  const i8 = Buffer.from(new Int8Array([-128, 127]).buffer);
  const i16 = Buffer.from(new Int16Array([-32768, 5]).buffer);
  const data = Buffer.concat([f64, f16, bf16, i16, i8]);
  let o = 0;
  const at = (n: number) => [o, (o += n)];
  const header = {
    f64: { dtype: 'F64', shape: [2], data_offsets: at(16) },
    f16: { dtype: 'F16', shape: [5], data_offsets: at(10) },
    bf16: { dtype: 'BF16', shape: [2], data_offsets: at(4) },
    i16: { dtype: 'I16', shape: [2], data_offsets: at(4) },
    i8: { dtype: 'I8', shape: [2], data_offsets: at(2) },
  };
  const { tensors } = readSafetensors(raw(header, data), L);
  assert.deepEqual([...tensors.get('f16')!.data], [1, -2, Infinity, 2 ** -24, -0]);
  assert.deepEqual([...tensors.get('bf16')!.data], [1, -3]);
  assert.deepEqual([...tensors.get('f64')!.data], [Math.fround(0.1), -3]);
  assert.ok(tensors.get('i16')!.data instanceof Int32Array);
  assert.deepEqual([...tensors.get('i16')!.data], [-32768, 5]);
  assert.deepEqual([...tensors.get('i8')!.data], [-128, 127]);
});

// ------------------------------------------------------------- rejections

test('rejects files too short for the length field', () => {
  err(Buffer.alloc(0), /too short for a safetensors header/);
  err(Buffer.alloc(5), /too short/);
});

test('rejects a header length larger than the file', () => {
  const b = raw({ w: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, f32Bytes([1]));
  b.writeBigUInt64LE(BigInt(b.length), 0);
  err(b, /header length \d+ is larger than the file allows/);
});

test('rejects a huge header length before allocating anything', () => {
  const b = Buffer.alloc(16);
  b.writeBigUInt64LE(0xffffffffffffffffn, 0);
  err(b, /header length 18446744073709551615 exceeds the 100,000,000 bytes limit/);
  b.writeBigUInt64LE(BigInt(MAX_HEADER_BYTES + 1), 0);
  err(b, /exceeds the 100,000,000 bytes limit/);
});

test('rejects a truncated file (data section shorter than the offsets)', () => {
  const full = raw({ w: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }, f32Bytes([1, 2, 3, 4]));
  err(full.subarray(0, full.length - 3), /tensor "w" data_offsets \[0, 16\] exceed the data section \(13 bytes\)/);
});

test('rejects offsets outside the data section', () => {
  const name = 'encoder.layer.0.attention.self.query.weight';
  const b = raw({ [name]: { dtype: 'F32', shape: [32, 32], data_offsets: [0, 4096] } }, Buffer.alloc(2048));
  const msg = err(b, /exceed the data section/);
  assert.equal(msg, `${L}: tensor "${name}" data_offsets [0, 4096] exceed the data section (2,048 bytes)`);
});

test('rejects overlapping tensors', () => {
  const b = raw({
    a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
    b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] },
  }, Buffer.alloc(12));
  err(b, /tensors "a" data_offsets \[0, 8\] and "b" data_offsets \[4, 12\] overlap/);
});

test('rejects gaps and trailing bytes in the data section', () => {
  err(raw({ a: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, Buffer.alloc(8)), /4 bytes not covered by any tensor at offset 0/);
  err(raw({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, Buffer.alloc(9)), /5 bytes after the last tensor/);
});

test('rejects a byte size that does not match shape × dtype', () => {
  err(raw({ a: { dtype: 'F32', shape: [2, 3], data_offsets: [0, 20] } }, Buffer.alloc(20)),
    /tensor "a": shape \[2, 3\] of F32 needs 24 bytes but data_offsets \[0, 20\] span 20 bytes/);
  err(raw({ a: { dtype: 'F32', shape: [2], data_offsets: [8, 0] } }, Buffer.alloc(8)), /begin after end/);
});

test('rejects unknown and unsupported dtypes', () => {
  err(raw({ a: { dtype: 'Q7', shape: [1], data_offsets: [0, 1] } }, Buffer.alloc(1)), /tensor "a": unknown dtype "Q7"/);
  err(raw({ a: { dtype: 'F8_E4M3', shape: [1], data_offsets: [0, 1] } }, Buffer.alloc(1)), /unsupported dtype "F8_E4M3" \(supported: F64, F32/);
  err(raw({ a: { dtype: 7, shape: [1], data_offsets: [0, 1] } }, Buffer.alloc(1)), /dtype is not a string/);
});

test('rejects invalid shapes and offsets', () => {
  const e = (entry: unknown, pattern: RegExp) => err(raw({ a: entry }, Buffer.alloc(4)), pattern);
  e({ dtype: 'F32', shape: [-1], data_offsets: [0, 4] }, /invalid shape: dimension -1 is not a non-negative integer/);
  e({ dtype: 'F32', shape: [1.5], data_offsets: [0, 4] }, /dimension 1.5/);
  e({ dtype: 'F32', shape: ['1'], data_offsets: [0, 4] }, /dimension "1"/);
  e({ dtype: 'F32', shape: [2 ** 53], data_offsets: [0, 4] }, /not a non-negative integer/);
  e({ dtype: 'F32', shape: [2 ** 30, 2 ** 30, 2 ** 30], data_offsets: [0, 4] }, /element count overflows/);
  e({ dtype: 'F32', shape: new Array(17).fill(1), data_offsets: [0, 4] }, /rank 17 exceeds the limit of 16/);
  e({ dtype: 'F32', shape: 4, data_offsets: [0, 4] }, /shape is not an array/);
  e({ dtype: 'F32', shape: [1], data_offsets: [0] }, /data_offsets must be \[begin, end\]/);
  e({ dtype: 'F32', shape: [1], data_offsets: [0, -4] }, /data_offsets must be/);
  e({ dtype: 'F32', shape: [1], data_offsets: [0, 4], extra: 1 }, /tensor "a": unknown key "extra"/);
  e({ dtype: 'F32', shape: [1] }, /tensor "a": missing "data_offsets"/);
  e([1, 2], /tensor "a": entry is not an object/);
});

test('rejects bad JSON, duplicate keys, deep nesting and non-UTF-8 headers', () => {
  err(raw('{"a": {"dtype": "F32",'), /header: invalid JSON/);
  err(raw('[1, 2]'), /header does not start with "\{"/);
  err(raw('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', Buffer.alloc(4)),
    /header: duplicate key "a"/);
  err(raw('{"a":{"dtype":"F32","dtype":"F16","shape":[1],"data_offsets":[0,4]}}', Buffer.alloc(4)), /duplicate key "dtype"/);
  err(raw(`{"a":{"shape":${'['.repeat(5000)}${']'.repeat(5000)}}}`), /nests deeper than 3 levels/);
  const bad = raw('{"a":1}      ');
  bad[10] = 0xc3; // lone UTF-8 lead byte inside the key
  err(bad, /header is not valid UTF-8/);
  err(raw('{}   '.padEnd(8) + '\u0000'), /invalid JSON/);
  err(raw('{}', Buffer.alloc(0)).subarray(0, 8 + 1), /header length 8 is larger than the file allows/);
});

test('rejects malformed __metadata__', () => {
  err(raw({ __metadata__: { a: 1 } }), /"__metadata__" value for "a" is not a string/);
  err(raw({ __metadata__: ['x'] }), /"__metadata__" is not an object of strings/);
  const { metadata } = readSafetensors(raw('{"__metadata__":{"__proto__":"x"}}'), L);
  assert.equal(Object.getPrototypeOf(metadata), Object.prototype, 'a "__proto__" key does not change the prototype');
  assert.equal(Object.getOwnPropertyDescriptor(metadata, '__proto__')?.value, 'x');
});

test('rejects integer values that do not fit and BOOL values other than 0/1', () => {
  const i64 = Buffer.from(new BigInt64Array([1n, 2n ** 40n]).buffer);
  err(raw({ ids: { dtype: 'I64', shape: [2], data_offsets: [0, 16] } }, i64), /tensor "ids": int64 value 1099511627776 at element 1 does not fit in int32/);
  const neg = Buffer.from(new BigInt64Array([-(2n ** 31n) - 1n]).buffer);
  err(raw({ ids: { dtype: 'I64', shape: [1], data_offsets: [0, 8] } }, neg), /int64 value -2147483649/);
  const ok = Buffer.from(new BigInt64Array([-(2n ** 31n), 2n ** 31n - 1n]).buffer);
  assert.deepEqual([...readSafetensors(raw({ ids: { dtype: 'I64', shape: [2], data_offsets: [0, 16] } }, ok), L).tensors.get('ids')!.data], [-(2 ** 31), 2 ** 31 - 1]);
  err(raw({ m: { dtype: 'BOOL', shape: [2], data_offsets: [0, 2] } }, Buffer.from([1, 2])), /BOOL value 2 at element 1 is neither 0 nor 1/);
  err(raw({ d: { dtype: 'F64', shape: [1], data_offsets: [0, 8] } }, Buffer.from(new Float64Array([1e300]).buffer)), /F64 value 1e\+300 at element 0 overflows float32/);
});

test('tensor names with newlines cannot break the one-line error', () => {
  const msg = err(raw({ 'evil\nname\u2028x': { dtype: 'Q', shape: [], data_offsets: [0, 0] } }), /unknown dtype/);
  assert.match(msg, /"evil\\nname/);
});

test('writer rejects inconsistent tensors, naming the file', () => {
  const dir = tmpDir();
  const file = path.join(dir, 'out.safetensors');
  assertFormatError(() => saveSafetensors(file, new Map([['a', { shape: [2, 2], data: new Float32Array(3) }]])), file,
    /tensor "a": shape \[2, 2\] has 4 elements but data has 3/);
  assertFormatError(() => saveSafetensors(file, new Map([['__metadata__', { shape: [1], data: new Float32Array(1) }]])), file, /reserved/);
  assertFormatError(() => saveSafetensors(file, new Map([['a', { shape: [-1], data: new Float32Array(1) }]])), file, /invalid shape/);
  assert.deepEqual(fs.readdirSync(dir), [], 'nothing written on failure');
});
