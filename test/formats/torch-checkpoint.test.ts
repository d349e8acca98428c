import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadTorchCheckpoint, readTorchCheckpoint } from '../../src/formats/torch-checkpoint.js';
import { assertFormatError, fixture, torchZip, f32Bytes, PickleBuilder, buildZip, tmpDir } from './helpers.js';

interface Golden { shape: number[]; dtype: string; values: number[] }
const golden = JSON.parse(fs.readFileSync(fixture('golden.json'), 'utf8')) as Record<string, Golden>;
const L = 'pytorch_model.bin';
const err = (buf: Uint8Array, pattern: RegExp) => assertFormatError(() => readTorchCheckpoint(buf, L), L, pattern);

test('loads a real torch.save state dict and matches the golden values', () => {
  const sd = loadTorchCheckpoint(fixture('torch_state_dict.bin'));
  assert.deepEqual([...sd.keys()], Object.keys(golden), 'same names, same order');
  for (const [name, g] of Object.entries(golden)) {
    const t = sd.get(name)!;
    assert.deepEqual(t.shape, g.shape, name);
    assert.equal(t.dtype, g.dtype, name);
    const isFloat = ['F32', 'F16', 'BF16', 'F64'].includes(g.dtype);
    assert.ok(isFloat ? t.data instanceof Float32Array : t.data instanceof Int32Array, name);
    assert.equal(t.data.length, g.values.length, name);
    g.values.forEach((v, i) => assert.equal(t.data[i], Math.fround(v), `${name}[${i}]`));
  }
});

test('materialises the transposed view row-major', () => {
  const sd = loadTorchCheckpoint(fixture('torch_state_dict.bin'));
  const t = sd.get('encoder.transposed.weight')!;
  assert.deepEqual(t.shape, [3, 4]);
  assert.deepEqual([...t.data], golden['encoder.transposed.weight']!.values.map(Math.fround));
});

test('tensors sharing a storage are separate copies with the right offsets', () => {
  const sd = loadTorchCheckpoint(fixture('torch_state_dict.bin'));
  const emb = sd.get('embeddings.word_embeddings.weight')!;
  const dec = sd.get('cls.predictions.decoder.weight')!;
  const row = sd.get('shared.row2')!;
  assert.deepEqual([...dec.data], [...emb.data]);
  assert.deepEqual([...row.data], [...emb.data.subarray(8, 12)]);
  assert.notEqual(emb.data.buffer, dec.data.buffer);
  emb.data[0] = 12345;
  assert.notEqual(dec.data[0], 12345, 'writing one tied weight does not change the other');
});

test('a contiguous float32 tensor with its own storage is a view over the file buffer', () => {
  const buf = fs.readFileSync(fixture('torch_state_dict.bin'));
  const sd = readTorchCheckpoint(buf, L);
  assert.equal(sd.get('encoder.dense.weight')!.data.buffer, buf.buffer);
});

test('refuses the malicious checkpoints, naming the global', () => {
  for (const f of ['malicious.bin', 'malicious_reduce.bin']) {
    const file = fixture(f);
    const msg = assertFormatError(() => loadTorchCheckpoint(file), file, /refusing to load: pickle references forbidden global "posix system"/);
    assert.ok(!msg.includes('pwned'));
  }
});

test('refuses forbidden globals hidden inside tensor arguments', () => {
  const p = new PickleBuilder().proto().global('collections', 'OrderedDict').emptyTuple().reduce().mark().str('w')
    .global('torch._utils', '_rebuild_tensor_v2').mark()
    .global('builtins', 'eval').str('1').tuple1().reduce()
    .tuple().reduce().setitems().stop().toBuffer();
  err(buildZip([{ name: 'archive/data.pkl', data: p }]), /refusing to load: pickle references forbidden global "builtins eval"/);
  const q = new PickleBuilder().proto().global('torch', 'load').stop().toBuffer();
  err(buildZip([{ name: 'archive/data.pkl', data: q }]), /forbidden global "torch load"/);
});

test('legacy and non-zip files get a clear error', () => {
  const legacy = fixture('legacy.bin');
  assertFormatError(() => loadTorchCheckpoint(legacy), legacy, /unsupported legacy PyTorch checkpoint format; convert it to safetensors/);
  err(new PickleBuilder().proto().int(1).stop().toBuffer(), /bare pickle.*convert it to safetensors/);
  err(Buffer.from('hello world'), /not a PyTorch checkpoint \(expected a zip archive/);
  err(Buffer.alloc(0), /not a PyTorch checkpoint/);
});

test('truncated checkpoints fail cleanly', () => {
  const buf = fs.readFileSync(fixture('torch_state_dict.bin'));
  for (const n of [10, 100, buf.length / 2, buf.length - 1]) err(buf.subarray(0, Math.floor(n)), /zip archive: /);
});

test('a corrupted pickle fails its CRC check', () => {
  const buf = Buffer.from(fs.readFileSync(fixture('torch_state_dict.bin')));
  const at = buf.indexOf('_rebuild_tensor_v2');
  buf[at] = 0x41;
  err(buf, /entry "[^"]*data\.pkl" fails its CRC-32 check/);
});

const f32 = (name: string, size: number[], extra: object = {}) => ({ name, storageClass: 'FloatStorage', key: '0', numel: 6, size, ...extra });

test('loads hand-built checkpoints: offsets, strides, fp16 and int64 storages', () => {
  const storages = { '0': f32Bytes([0, 1, 2, 3, 4, 5]) };
  const sd = readTorchCheckpoint(torchZip([
    f32('col', [2], { offset: 1, stride: [3] }),
    f32('t', [3, 2], { stride: [1, 3] }),
  ], storages), L);
  assert.deepEqual([...sd.get('col')!.data], [1, 4]);
  assert.deepEqual([...sd.get('t')!.data], [0, 3, 1, 4, 2, 5]);

  const half = Buffer.from(new Uint16Array([0x3c00, 0x4000, 0xbc00]).buffer);
  const longs = Buffer.from(new BigInt64Array([0n, 511n, -1n]).buffer);
  const sd2 = readTorchCheckpoint(torchZip([
    { name: 'h', storageClass: 'HalfStorage', key: 'a', numel: 3, size: [3] },
    { name: 'ids', storageClass: 'LongStorage', key: 'b', numel: 3, size: [1, 3] },
  ], { a: half, b: longs }), L);
  assert.deepEqual([...sd2.get('h')!.data], [1, 2, -1]);
  assert.deepEqual([...sd2.get('ids')!.data], [0, 511, -1]);
  assert.equal(sd2.get('ids')!.dtype, 'I64');
});

test('rejects views that reach outside their storage or expand it', () => {
  const s = { '0': f32Bytes([0, 1, 2, 3, 4, 5]) };
  err(torchZip([f32('w', [2, 3], { offset: 1 })], s), /tensor "w": view \(offset 1, size \[2, 3\], stride \[3, 1\]\) reaches element 6 of a storage with 6/);
  err(torchZip([f32('w', [3, 3])], s), /reaches element 8/);
  err(torchZip([f32('w', [4], { stride: [2] })], s), /reaches element 6/);
  err(torchZip([f32('w', [6, 6], { stride: [0, 1] })], s), /view has 36 elements, more than its storage's 6/);
  err(torchZip([f32('w', [2], { stride: [1, 1] })], s), /size has 1 dimensions but stride has 2/);
});

test('rejects storages that are missing or the wrong size', () => {
  err(torchZip([f32('w', [6])], {}), /storage "0" has no record "archive\/data\/0"/);
  err(torchZip([f32('w', [6])], { '0': f32Bytes([1, 2, 3]) }), /storage "0" should hold 6 F32 elements \(24 bytes\) but its record has 12 bytes/);
  err(torchZip([{ ...f32('w', [6]), key: '../../etc/passwd' }], {}), /storage key string "..\/..\/etc\/passwd" is invalid/);
  err(torchZip([{ ...f32('w', [6]), storageClass: 'ComplexFloatStorage' }], {}), /forbidden global "torch ComplexFloatStorage"/);
  err(torchZip([f32('a', [6]), { ...f32('b', [3]), storageClass: 'HalfStorage', numel: 12 }], { '0': f32Bytes([0, 1, 2, 3, 4, 5]) }),
    /storage "0" is declared twice with different types/);
});

test('rejects int64 values beyond int32 and non-tensor entries', () => {
  const longs = Buffer.from(new BigInt64Array([1n, 2n ** 33n]).buffer);
  err(torchZip([{ name: 'position_ids', storageClass: 'LongStorage', key: '0', numel: 2, size: [2] }], { '0': longs }),
    /tensor "position_ids": int64 value 8589934592 at element 1 does not fit in int32/);
  const p = new PickleBuilder().proto().emptyDict().str('epoch').int(3).setitem().stop().toBuffer();
  err(buildZip([{ name: 'archive/data.pkl', data: p }]), /state dict entry "epoch" is number 3, not a tensor/);
  const list = new PickleBuilder().proto().emptyList().stop().toBuffer();
  err(buildZip([{ name: 'archive/data.pkl', data: list }]), /checkpoint holds list of 0, not a state dict/);
});

test('rejects archives torch would not write', () => {
  const pkl = new PickleBuilder().proto().emptyDict().stop().toBuffer();
  err(buildZip([{ name: 'archive/constants.pkl', data: pkl }, { name: 'archive/code/x.py', data: pkl }]), /TorchScript archive/);
  err(buildZip([{ name: 'data.pkl', data: pkl }]), /no <archive>\/data.pkl record/);
  err(buildZip([{ name: 'a/data.pkl', data: pkl }, { name: 'b/data.pkl', data: pkl }]), /2 data.pkl records/);
  err(buildZip([{ name: 'a/data.pkl', data: pkl }, { name: 'other/x', data: pkl }]), /entry "other\/x" is outside the archive folder "a"/);
  err(buildZip([{ name: 'a/data.pkl', data: pkl }, { name: 'a/byteorder', data: Buffer.from('big') }]), /byte order is "big"; only little-endian/);
  assert.equal(readTorchCheckpoint(buildZip([{ name: 'a/data.pkl', data: pkl }, { name: 'a/byteorder', data: Buffer.from('little') }]), L).size, 0);
  err(buildZip([{ name: 'a/data.pkl', data: Buffer.from([0x80, 0x02, 0x7d]) }]), /a\/data\.pkl: pickle ended without STOP/);
});

test('loading a missing file names it', () => {
  const file = path.join(tmpDir(), 'pytorch_model.bin');
  assertFormatError(() => loadTorchCheckpoint(file), file, /cannot open: no such file or directory \(ENOENT\)/);
});
