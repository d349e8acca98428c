/**
 * Bounded, validated reads for the prompt artefacts (ours and PEFT's): a
 * small JSON file with a depth limit and typed fields, and a safetensors
 * file whose size is capped from the shapes it must hold, whose tensor
 * names and shapes must be exactly the expected ones, and whose values
 * must be finite floats. Every refusal is one FormatError line naming the
 * file.
 */
import { firstNonFinite, Tensor } from '../engine/index.js';
import { describeJsonValue, FormatError, quote } from '../formats/errors.js';
import { isPlainObject, parseGuardedJson } from '../formats/json-guard.js';
import type { ModelDir } from '../formats/model-dir.js';
import { readSafetensors } from '../formats/safetensors.js';
import type { StateDict } from '../formats/state-dict.js';

export const MAX_JSON_BYTES = 1 << 20;
/** prompt.json nests {training: {dev: …}} and arrays of objects at most; nothing legitimate is deeper. */
export const MAX_JSON_DEPTH = 6;
/** Header slack allowed beyond the tensor bytes (names, shapes, metadata). */
const HEADER_SLACK = 1 << 20;

export function readJsonObject(md: ModelDir, name: string): Record<string, unknown> {
  const file = md.file(name);
  if (!md.has(name)) throw new FormatError(file, 'missing');
  const parsed = parseGuardedJson(md.readText(name, MAX_JSON_BYTES), MAX_JSON_DEPTH);
  if ('error' in parsed) throw new FormatError(file, parsed.error);
  if (!isPlainObject(parsed.value)) throw new FormatError(file, `expected a JSON object, got ${describeJsonValue(parsed.value)}`);
  return parsed.value;
}

/** Typed field access that names the file and key in every refusal. */
export class Fields {
  constructor(readonly file: string, readonly o: Record<string, unknown>) {}

  private fail(key: string, expected: string): never {
    throw new FormatError(this.file, `${quote(key)} must be ${expected}, got ${describeJsonValue(this.o[key])}`);
  }

  has(key: string): boolean {
    return Object.prototype.hasOwnProperty.call(this.o, key) && this.o[key] !== null && this.o[key] !== undefined;
  }

  str(key: string, max = 10_000): string {
    const v = this.o[key];
    if (typeof v !== 'string' || v.length > max) this.fail(key, `a string of at most ${max} characters`);
    return v;
  }

  oneOf<T extends string>(key: string, allowed: readonly T[]): T {
    const v = this.o[key];
    if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) this.fail(key, `one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}`);
    return v as T;
  }

  int(key: string, min: number, max: number): number {
    const v = this.o[key];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) this.fail(key, `an integer in [${min}, ${max}]`);
    return v;
  }

  bool(key: string): boolean {
    const v = this.o[key];
    if (typeof v !== 'boolean') this.fail(key, 'true or false');
    return v;
  }

  strings(key: string, maxItems = 1024, maxLen = 1000): string[] {
    const v = this.o[key];
    if (!Array.isArray(v) || v.length > maxItems || !v.every((x) => typeof x === 'string' && x.length <= maxLen)) this.fail(key, `an array of at most ${maxItems} strings`);
    return v as string[];
  }

  ints(key: string, min: number, max: number, maxItems = 1024): number[] {
    const v = this.o[key];
    if (!Array.isArray(v) || v.length > maxItems || !v.every((x) => typeof x === 'number' && Number.isInteger(x) && x >= min && x <= max)) {
      this.fail(key, `an array of integers in [${min}, ${max}]`);
    }
    return v as number[];
  }

  object(key: string): Fields {
    const v = this.o[key];
    if (!isPlainObject(v)) this.fail(key, 'an object');
    return new Fields(this.file, v);
  }
}

/**
 * Reads a safetensors file that must hold exactly `expected` (name →
 * shape). The file may not exceed what those shapes need in float64 plus
 * header slack, so a huge file is refused from its size alone.
 */
export function readTensors(md: ModelDir, name: string, expected: ReadonlyMap<string, readonly number[]>): Map<string, Tensor> {
  return checkTensors(md.file(name), readSafetensors(readCapped(md, name, expected), md.file(name)).tensors, expected);
}

/** The file's bytes, refused when larger than `expected` needs in float64 plus header slack. */
export function readCapped(md: ModelDir, name: string, expected: ReadonlyMap<string, readonly number[]>): Buffer {
  if (!md.has(name)) throw new FormatError(md.file(name), 'missing');
  let elements = 0;
  for (const s of expected.values()) elements += s.reduce((a, b) => a * b, 1);
  return md.read(name, elements * 8 + HEADER_SLACK);
}

/** Exactly the expected names and shapes, finite floats; copies out. */
export function checkTensors(file: string, tensors: StateDict, expected: ReadonlyMap<string, readonly number[]>): Map<string, Tensor> {
  const show = (s: readonly number[]) => `[${s.join(', ')}]`;
  for (const n of tensors.keys()) if (!expected.has(n)) throw new FormatError(file, `unexpected tensor ${quote(n)} (expected ${[...expected.keys()].map((k) => quote(k)).join(', ')})`);
  const out = new Map<string, Tensor>();
  for (const [n, shape] of expected) {
    const t = tensors.get(n);
    if (!t) throw new FormatError(file, `no tensor ${quote(n)} (shape ${show(shape)})`);
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) throw new FormatError(file, `tensor ${quote(n)} has shape ${show(t.shape)}, expected ${show(shape)}`);
    if (!(t.data instanceof Float32Array)) throw new FormatError(file, `tensor ${quote(n)} holds integers (${t.dtype ?? 'I32'}); expected floating point`);
    const bad = firstNonFinite(t.data);
    if (bad >= 0) throw new FormatError(file, `tensor ${quote(n)} holds ${t.data[bad]} at element ${bad}; values must be finite`);
    // A copy: the file's buffer is not kept alive by views, and the tensors may be trained further.
    out.set(n, new Tensor(Float32Array.from(t.data), t.shape, { name: n }));
  }
  return out;
}
