import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { readZipEntries, readEntry, crc32 } from '../../src/formats/torch-zip.js';
import { assertFormatError, buildZip, fixture } from './helpers.js';

const L = 'pytorch_model.bin';
const err = (buf: Uint8Array, pattern: RegExp) => assertFormatError(() => readZipEntries(buf, L), L, pattern);
const entries = [
  { name: 'archive/data.pkl', data: Buffer.from('pickle') },
  { name: 'archive/data/0', data: Buffer.alloc(100, 1) },
];

test('reads a real torch.save archive: stored entries, 64-byte aligned data', () => {
  const buf = fs.readFileSync(fixture('torch_state_dict.bin'));
  const zip = readZipEntries(buf, L);
  const pkl = zip.get('torch_state_dict/data.pkl');
  assert.ok(pkl);
  assert.equal(crc32(readEntry(buf, pkl, L)), pkl.crc32);
  for (const e of zip.values()) {
    if (e.name.includes('/data/')) assert.equal(e.dataStart % 64, 0, e.name);
  }
});

test('reads plain and ZIP64 directories alike', () => {
  for (const zip64 of [false, true]) {
    const buf = buildZip(entries, { zip64, align: 64 });
    const zip = readZipEntries(buf, L);
    assert.deepEqual([...zip.keys()], entries.map((e) => e.name));
    assert.deepEqual(readEntry(buf, zip.get('archive/data/0')!, L), entries[1]!.data);
  }
});

test('tolerates an archive comment', () => {
  const buf = buildZip(entries);
  const comment = Buffer.from('hello');
  buf.writeUInt16LE(comment.length, buf.length - 2);
  assert.equal(readZipEntries(Buffer.concat([buf, comment]), L).size, 2);
});

test('rejects truncated archives and non-zips', () => {
  const buf = buildZip(entries);
  err(buf.subarray(0, buf.length - 10), /no end-of-central-directory record/);
  err(buf.subarray(0, 60), /no end-of-central-directory record/);
  err(Buffer.alloc(3), /no end-of-central-directory/);
  // Central directory offset pointing past its end record.
  const bad = Buffer.from(buf);
  bad.writeUInt32LE(bad.length, bad.length - 6);
  err(bad, /central directory .* extends past its end record/);
});

test('rejects entries whose data lies outside the archive contents', () => {
  const buf = buildZip(entries);
  const cd = buf.readUInt32LE(buf.length - 6);
  const second = cd + 46 + 'archive/data.pkl'.length;
  const big = Buffer.from(buf);
  big.writeUInt32LE(1e6, second + 20);
  big.writeUInt32LE(1e6, second + 24);
  err(big, /entry "archive\/data\/0" data \(1,000,000 bytes at offset \d+\) runs past the archive contents/);
  const moved = Buffer.from(buf);
  moved.writeUInt32LE(cd + 100, second + 42);
  err(moved, /entry "archive\/data\/0" has no local header/);
});

test('rejects overlapping, duplicate, compressed, encrypted and mismatched entries', () => {
  const buf = buildZip(entries);
  const cd = buf.readUInt32LE(buf.length - 6);
  const second = cd + 46 + 'archive/data.pkl'.length;
  const overlap = Buffer.from(buf);
  overlap.writeUInt32LE(0, second + 42); // second entry claims the first one's local header
  err(overlap, /has a different name in its local header|overlap/);

  err(buildZip([entries[0]!, { ...entries[0]!, data: Buffer.from('other') }]), /duplicate entry "archive\/data.pkl"/);
  err(buildZip([{ ...entries[0]!, method: 8 }]), /entry "archive\/data.pkl" is compressed \(method 8\)/);
  err(buildZip([{ ...entries[0]!, flags: 1 }]), /is encrypted/);
  err(buildZip([{ ...entries[0]!, localName: 'archive/data.pkX' }]), /different name in its local header/);
  err(buildZip([{ name: 'a\nb', data: Buffer.alloc(1) }]), /invalid name "a\\nb"/);
});

test('rejects a ZIP64 end record that points nowhere', () => {
  const buf = buildZip(entries, { zip64: true });
  const loc = buf.length - 22 - 20;
  const bad = Buffer.from(buf);
  bad.writeBigUInt64LE(BigInt(buf.length + 1000), loc + 8);
  err(bad, /ZIP64 end-of-central-directory record missing or out of bounds/);
  const noLocator = Buffer.from(buf);
  noLocator.writeUInt32LE(0, loc);
  err(noLocator, /ZIP64 end-of-central-directory locator missing/);
});

test('crc32 matches the standard check value', () => {
  assert.equal(crc32(Buffer.from('123456789')), 0xcbf43926);
});
