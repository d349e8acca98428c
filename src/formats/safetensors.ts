/**
 * safetensors reader and writer (https://github.com/huggingface/safetensors):
 * an 8-byte little-endian header length, a JSON header mapping tensor names to
 * {dtype, shape, data_offsets}, then the raw little-endian tensor bytes.
 *
 * Reading validates the whole header before touching tensor data, with the
 * same strictness as the reference implementation (tensors must tile the data
 * section exactly: no overlaps, no gaps, no trailing bytes), and every size
 * used for an allocation has been checked against the actual byte count. From
 * a file, the 8-byte length and the header are read and checked first, so a
 * multi-gigabyte file of garbage costs a few bytes of reading, not its size in
 * memory.
 * Float32 tensors whose bytes are 4-byte aligned are views over the file
 * buffer; everything else is converted into fresh arrays.
 */
import { FormatError, quote, bytesText } from './errors.js';
import { shapeNumel, type NamedTensor, type StateDict } from './state-dict.js';
import {
  DTYPE_BYTES, UNSUPPORTED_DTYPES, isDtype, sourceView, convertRun, describeBadValue,
  canViewInPlace, viewInPlace, allocOutput, type Dtype,
} from './dtypes.js';
import { parseGuardedJson, isPlainObject } from './json-guard.js';
import { readAt, readWholeFile, writeFileAtomic, writeAll, type OpenOptions, type ReadOptions } from './file-io.js';

/** Header size limit, as in the reference implementation. */
export const MAX_HEADER_BYTES = 100_000_000;
/** No real checkpoint comes near this; it bounds per-entry bookkeeping. */
export const MAX_TENSORS = 1_000_000;
/** {name: {shape: [..]}} is three containers deep; nothing legitimate is deeper. */
const HEADER_DEPTH = 3;
const METADATA_KEY = '__metadata__';
const ENTRY_KEYS: ReadonlySet<string> = new Set(['dtype', 'shape', 'data_offsets']);

export interface SafetensorsContents {
  tensors: StateDict;
  /** The header's `__metadata__` (string to string), empty when absent. */
  metadata: Record<string, string>;
}

export interface SafetensorsEntry {
  name: string;
  dtype: Dtype;
  shape: number[];
  numel: number;
  /** Byte range relative to the start of the data section. */
  begin: number;
  end: number;
}

export interface SafetensorsHeader {
  entries: SafetensorsEntry[];
  metadata: Record<string, string>;
  /** File offset of the data section (8 + header length). */
  dataStart: number;
}

export function loadSafetensors(file: string, opts: OpenOptions = {}): SafetensorsContents {
  return readSafetensors(readSafetensorsFile(file, opts), file);
}

/**
 * The bytes of a safetensors file, read only after its header has been read
 * from the file and validated against the file's size.
 */
export function readSafetensorsFile(file: string, opts: OpenOptions & Pick<ReadOptions, 'alloc' | 'onRead'> = {}): Buffer {
  return readWholeFile(file, undefined, {
    ...opts,
    precheck: (f) => {
      const fail = (problem: string): never => {
        throw new FormatError(file, problem);
      };
      if (f.size < 8) fail(`file is ${bytesText(f.size)}, too short for a safetensors header`);
      const headerLen = checkHeaderLength(readAt(f, 0, 8), f.size, fail);
      parseHeader(readAt(f, 0, 8 + headerLen), f.size, file);
    },
  });
}

/** Parse safetensors bytes already in memory; `label` names the source in errors. */
export function readSafetensors(buf: Uint8Array, label = '<buffer>'): SafetensorsContents {
  const header = readSafetensorsHeader(buf, label);
  const tensors: StateDict = new Map();
  for (const e of [...header.entries].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    const bytes = buf.subarray(header.dataStart + e.begin, header.dataStart + e.end);
    tensors.set(e.name, { shape: e.shape, data: decodeTensor(bytes, e, label), dtype: e.dtype });
  }
  return { tensors, metadata: header.metadata };
}

function decodeTensor(bytes: Uint8Array, e: SafetensorsEntry, label: string): Float32Array | Int32Array {
  if (canViewInPlace(bytes, e.dtype)) return viewInPlace(bytes, e.dtype);
  const src = sourceView(bytes, e.dtype);
  const out = allocOutput(e.dtype, e.numel);
  const bad = convertRun(src, e.dtype, 0, e.numel, out, 0);
  if (bad >= 0) throw new FormatError(label, `tensor ${quote(e.name)}: ${describeBadValue(src, e.dtype, bad)}`);
  return out;
}

/** Validate the header and the data layout without decoding any tensor. */
export function readSafetensorsHeader(buf: Uint8Array, label = '<buffer>'): SafetensorsHeader {
  return parseHeader(buf, buf.length, label);
}

/** The header length field, checked against the limit and the file size. */
function checkHeaderLength(buf: Uint8Array, fileLen: number, fail: (p: string) => never): number {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const claimed = view.getBigUint64(0, true);
  if (claimed > BigInt(MAX_HEADER_BYTES)) {
    fail(`header length ${claimed} exceeds the ${bytesText(MAX_HEADER_BYTES)} limit`);
  }
  const headerLen = Number(claimed);
  if (headerLen > fileLen - 8) {
    fail(`header length ${headerLen} is larger than the file allows (${bytesText(fileLen)} in all, ${bytesText(fileLen - 8)} after the length field)`);
  }
  if (headerLen < 2) fail(`header length ${headerLen} is too small to hold a JSON object`);
  return headerLen;
}

/**
 * `prefix` holds at least the length field and the header; `fileLen` is the
 * size of the whole file, which the data layout must match.
 */
function parseHeader(prefix: Uint8Array, fileLen: number, label: string): SafetensorsHeader {
  const fail = (problem: string): never => {
    throw new FormatError(label, problem);
  };
  if (fileLen < 8) fail(`file is ${bytesText(fileLen)}, too short for a safetensors header`);
  const headerLen = checkHeaderLength(prefix, fileLen, fail);

  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(prefix.subarray(8, 8 + headerLen));
  } catch {
    return fail('header is not valid UTF-8');
  }
  if (text.charCodeAt(0) !== 0x7b) fail('header does not start with "{"');
  const parsed = parseGuardedJson(text, HEADER_DEPTH);
  if ('error' in parsed) return fail(`header: ${parsed.error}`);
  const top = parsed.value;
  if (!isPlainObject(top)) return fail('header is not a JSON object');

  const names = Object.keys(top);
  if (names.length > MAX_TENSORS) fail(`header lists ${names.length} entries, over the limit of ${MAX_TENSORS}`);

  const dataStart = 8 + headerLen;
  const dataLen = fileLen - dataStart;
  let metadata: Record<string, string> = {};
  const entries: SafetensorsEntry[] = [];
  for (const name of names) {
    const raw = top[name];
    if (name === METADATA_KEY) {
      metadata = parseMetadata(raw, fail);
      continue;
    }
    entries.push(parseEntry(name, raw, dataLen, fail));
  }
  checkLayout(entries, dataLen, fail);
  return { entries, metadata, dataStart };
}

function parseMetadata(raw: unknown, fail: (p: string) => never): Record<string, string> {
  if (raw === null) return {};
  if (!isPlainObject(raw)) return fail(`"${METADATA_KEY}" is not an object of strings`);
  for (const [k, v] of Object.entries(raw)) {
    if (typeof v !== 'string') fail(`"${METADATA_KEY}" value for ${quote(k)} is not a string`);
  }
  // fromEntries defines own properties, so a "__proto__" key stays a key.
  return Object.fromEntries(Object.entries(raw)) as Record<string, string>;
}

function parseEntry(name: string, raw: unknown, dataLen: number, fail: (p: string) => never): SafetensorsEntry {
  const t = `tensor ${quote(name)}`;
  if (!isPlainObject(raw)) return fail(`${t}: entry is not an object`);
  for (const k of Object.keys(raw)) {
    if (!ENTRY_KEYS.has(k)) fail(`${t}: unknown key ${quote(k)} (expected dtype, shape, data_offsets)`);
  }
  for (const k of ENTRY_KEYS) {
    if (!(k in raw)) fail(`${t}: missing "${k}"`);
  }
  const dtype = raw['dtype'];
  if (typeof dtype !== 'string') return fail(`${t}: dtype is not a string`);
  if (!isDtype(dtype)) {
    return fail(UNSUPPORTED_DTYPES.has(dtype)
      ? `${t}: unsupported dtype ${quote(dtype)} (supported: ${Object.keys(DTYPE_BYTES).join(', ')})`
      : `${t}: unknown dtype ${quote(dtype)}`);
  }
  const shape = raw['shape'];
  if (!Array.isArray(shape)) return fail(`${t}: shape is not an array`);
  const numel = shapeNumel(shape);
  if (typeof numel === 'string') return fail(`${t}: invalid shape: ${numel}`);
  const offsets = raw['data_offsets'];
  if (!Array.isArray(offsets) || offsets.length !== 2 ||
      !offsets.every((o) => typeof o === 'number' && Number.isSafeInteger(o) && o >= 0)) {
    return fail(`${t}: data_offsets must be [begin, end] with non-negative integers`);
  }
  const [begin, end] = offsets as [number, number];
  const range = `data_offsets [${begin}, ${end}]`;
  if (begin > end) fail(`${t}: ${range} has begin after end`);
  if (end > dataLen) fail(`${t} ${range} exceed the data section (${bytesText(dataLen)})`);
  const need = numel * DTYPE_BYTES[dtype];
  if (end - begin !== need) {
    fail(`${t}: shape [${(shape as number[]).join(', ')}] of ${dtype} needs ${bytesText(need)} but ${range} span ${bytesText(end - begin)}`);
  }
  return { name, dtype, shape: [...(shape as number[])], numel, begin, end };
}

/** Tensors must cover the data section exactly once, as the reference reader requires. */
function checkLayout(entries: SafetensorsEntry[], dataLen: number, fail: (p: string) => never): void {
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let pos = 0;
  let prev: SafetensorsEntry | undefined;
  for (const e of sorted) {
    if (e.begin < pos && prev) {
      fail(`tensors ${quote(prev.name)} data_offsets [${prev.begin}, ${prev.end}] and ${quote(e.name)} data_offsets [${e.begin}, ${e.end}] overlap`);
    }
    if (e.begin > pos) fail(`data section has ${bytesText(e.begin - pos)} not covered by any tensor at offset ${pos} (before tensor ${quote(e.name)})`);
    pos = e.end;
    prev = e;
  }
  if (pos !== dataLen) {
    fail(`data section has ${bytesText(dataLen - pos)} after the last tensor (tensors cover ${bytesText(pos)} of ${bytesText(dataLen)})`);
  }
}

// ---------------------------------------------------------------- writing

interface PlannedTensor {
  name: string;
  tensor: NamedTensor;
  dtype: 'F32' | 'I32' | 'I64';
  begin: number;
  end: number;
}

interface Plan {
  header: Buffer;
  tensors: PlannedTensor[];
  dataLen: number;
}

/**
 * Float32Array data is written as F32; Int32Array as I64 when the tensor's
 * dtype says it was I64 (position_ids buffers, which torch expects 64-bit),
 * otherwise as I32.
 */
function plan(tensors: StateDict, metadata: Record<string, string> | undefined, label: string): Plan {
  const fail = (problem: string): never => {
    throw new FormatError(label, problem);
  };
  const planned: PlannedTensor[] = [];
  for (const [name, tensor] of tensors) {
    const t = `tensor ${quote(name)}`;
    if (typeof name !== 'string') fail('tensor names must be strings');
    if (name === METADATA_KEY) fail(`${t}: the name is reserved for metadata`);
    const numel = shapeNumel(tensor.shape);
    if (typeof numel === 'string') fail(`${t}: invalid shape: ${numel}`);
    let dtype: PlannedTensor['dtype'];
    if (tensor.data instanceof Float32Array) dtype = 'F32';
    else if (tensor.data instanceof Int32Array) dtype = tensor.dtype === 'I64' ? 'I64' : 'I32';
    else return fail(`${t}: data must be a Float32Array or Int32Array`);
    if (tensor.data.length !== numel) {
      fail(`${t}: shape [${tensor.shape.join(', ')}] has ${numel} elements but data has ${tensor.data.length}`);
    }
    planned.push({ name, tensor, dtype, begin: 0, end: 0 });
  }
  // 8-byte elements first keep every tensor naturally aligned (the header is
  // padded to 8), which is what makes zero-copy loading possible.
  const byName = (a: PlannedTensor, b: PlannedTensor) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  const layout = [...planned].sort((a, b) => DTYPE_BYTES[b.dtype] - DTYPE_BYTES[a.dtype] || byName(a, b));
  let pos = 0;
  for (const p of layout) {
    p.begin = pos;
    pos += p.tensor.data.length * DTYPE_BYTES[p.dtype];
    p.end = pos;
  }

  const parts: string[] = [];
  if (metadata && Object.keys(metadata).length > 0) {
    const keys = Object.keys(metadata).sort();
    for (const k of keys) {
      if (typeof metadata[k] !== 'string') fail(`metadata value for ${quote(k)} is not a string`);
    }
    parts.push(`${JSON.stringify(METADATA_KEY)}:{${keys.map((k) => `${JSON.stringify(k)}:${JSON.stringify(metadata[k])}`).join(',')}}`);
  }
  for (const p of [...planned].sort(byName)) {
    parts.push(`${JSON.stringify(p.name)}:${JSON.stringify({ dtype: p.dtype, shape: p.tensor.shape, data_offsets: [p.begin, p.end] })}`);
  }
  // Keys are emitted by hand: a JS object would reorder integer-like names.
  const json = `{${parts.join(',')}}`;
  const jsonLen = Buffer.byteLength(json, 'utf8');
  const padded = Math.ceil(jsonLen / 8) * 8;
  if (padded > MAX_HEADER_BYTES) fail(`header would be ${bytesText(padded)}, over the ${bytesText(MAX_HEADER_BYTES)} limit`);
  const header = Buffer.alloc(8 + padded, 0x20);
  header.writeBigUInt64LE(BigInt(padded), 0);
  header.write(json, 8, 'utf8');
  return { header, tensors: layout, dataLen: pos };
}

function tensorBytes(p: PlannedTensor): Uint8Array {
  const d = p.tensor.data;
  if (p.dtype !== 'I64') return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
  const wide = new Int32Array(d.length * 2);
  for (let i = 0; i < d.length; i++) {
    const v = d[i]!;
    wide[2 * i] = v;
    wide[2 * i + 1] = v >> 31;
  }
  return new Uint8Array(wide.buffer);
}

/** The complete file contents in one Buffer (convenient for tests and small models). */
export function serializeSafetensors(tensors: StateDict, metadata?: Record<string, string>): Buffer {
  const p = plan(tensors, metadata, '<buffer>');
  const out = Buffer.allocUnsafe(p.header.length + p.dataLen);
  p.header.copy(out, 0);
  for (const t of p.tensors) out.set(tensorBytes(t), p.header.length + t.begin);
  return out;
}

/** Write a safetensors file atomically, streaming tensors without one big buffer. */
export function saveSafetensors(file: string, tensors: StateDict, metadata?: Record<string, string>): void {
  const p = plan(tensors, metadata, file);
  writeFileAtomic(file, (fd) => {
    writeAll(fd, p.header);
    for (const t of p.tensors) writeAll(fd, tensorBytes(t));
  });
}
