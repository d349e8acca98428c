/**
 * Predefined vectors (PVs): the outputs a backdoor forces at its target
 * position. The default six are the ±1 block patterns of docs/algorithm.md#predefined-vectors-and-triggers
 * ("Attacks"), scaled to any hidden size H with four blocks of ≈H/4; a file
 * may supply others (.safetensors or JSON).
 */
import { existsSync, readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { loadSafetensors, saveSafetensors } from '../formats/safetensors.js';

/** Block signs of PV1…PV6, in the order of docs/algorithm.md#predefined-vectors-and-triggers. */
export const DEFAULT_PV_PATTERNS: readonly (readonly number[])[] = [
  [-1, -1, +1, +1],
  [-1, +1, -1, +1],
  [-1, +1, +1, -1],
  [+1, -1, -1, +1],
  [+1, -1, +1, -1],
  [+1, +1, -1, -1],
];

/** The first `count` default PVs for hidden size H (blocks split at round(i·H/4), so H need not divide by 4). */
export function defaultPvs(H: number, count = DEFAULT_PV_PATTERNS.length): Float32Array[] {
  if (!Number.isInteger(H) || H < 4) throw new Error(`default PVs need a hidden size of at least 4, got ${H}`);
  if (!Number.isInteger(count) || count < 1 || count > DEFAULT_PV_PATTERNS.length) {
    throw new Error(`there are ${DEFAULT_PV_PATTERNS.length} default PVs; cannot take ${count}`);
  }
  return DEFAULT_PV_PATTERNS.slice(0, count).map((signs) => {
    const v = new Float32Array(H);
    for (let b = 0; b < 4; b++) v.fill(signs[b], Math.round((b * H) / 4), Math.round(((b + 1) * H) / 4));
    return v;
  });
}

function checkRows(rows: Float32Array[], H: number, file: string): Float32Array[] {
  if (rows.length === 0) throw new Error(`${file}: holds no PVs`);
  rows.forEach((r, i) => {
    if (r.length !== H) throw new Error(`${file}: PV ${i} has dimension ${r.length}, but the model's hidden size is ${H}`);
    const bad = r.findIndex((x) => !Number.isFinite(x));
    if (bad >= 0) throw new Error(`${file}: PV ${i} has a non-finite value at index ${bad}`);
  });
  return rows;
}

function rowsOfMatrix(data: ArrayLike<number>, shape: readonly number[], file: string): Float32Array[] {
  if (shape.length === 1) return [Float32Array.from(data)];
  if (shape.length !== 2) throw new Error(`${file}: PVs must be a [K, H] matrix or one [H] vector, got shape [${shape.join(', ')}]`);
  const [K, H] = shape;
  return Array.from({ length: K }, (_, k) => Float32Array.from(Array.prototype.slice.call(data, k * H, (k + 1) * H) as number[]));
}

function fromJson(file: string): Float32Array[] {
  let v: unknown;
  try {
    v = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`${file}: not valid JSON (${(e as Error).message})`);
  }
  // Accepted: [[...], ...], [...] (one PV), or {"pvs": [[...], ...]}.
  if (v && typeof v === 'object' && !Array.isArray(v)) v = (v as Record<string, unknown>).pvs;
  if (!Array.isArray(v)) throw new Error(`${file}: expected an array of PVs or {"pvs": [...]}`);
  const rows = v.every((x) => typeof x === 'number') ? [v] : v;
  return rows.map((r, i) => {
    if (!Array.isArray(r) || !r.every((x) => typeof x === 'number')) throw new Error(`${file}: PV ${i} is not an array of numbers`);
    return Float32Array.from(r as number[]);
  });
}

function fromSafetensors(file: string): Float32Array[] {
  const { tensors } = loadSafetensors(file);
  const t = tensors.get('pvs') ?? (tensors.size === 1 ? [...tensors.values()][0] : undefined);
  if (!t) throw new Error(`${file}: expected a tensor named "pvs" (found ${[...tensors.keys()].join(', ') || 'none'})`);
  if (!(t.data instanceof Float32Array)) throw new Error(`${file}: PVs must be floating point`);
  return rowsOfMatrix(t.data, t.shape, file);
}

/** PVs from a .safetensors ("pvs" [K, H]) or .json file, checked against hidden size H. */
export function loadPvs(file: string, H: number): Float32Array[] {
  if (!existsSync(file)) throw new Error(`${file}: no such PV file`);
  const ext = extname(file).toLowerCase();
  if (ext === '.safetensors') return checkRows(fromSafetensors(file), H, file);
  if (ext === '.json') return checkRows(fromJson(file), H, file);
  throw new Error(`${file}: PV files must be .safetensors or .json`);
}

export function savePvs(file: string, pvs: readonly Float32Array[]): void {
  const H = pvs[0].length;
  const data = new Float32Array(pvs.length * H);
  pvs.forEach((p, k) => data.set(p, k * H));
  saveSafetensors(file, new Map([['pvs', { shape: [pvs.length, H], data }]]), { format: 'lmsanitator-pvs' });
}

export { cosine, signAgreement } from '../util/vectors.js';
