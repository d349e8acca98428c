/**
 * attack.json: the ground truth an evaluation needs about a backdoored
 * model (docs/algorithm.md#measured-effect-and-manifest: "an attack must write, next to the model, a manifest
 * with the triggers, the PVs, the token mode and the seed"), plus every
 * hyper-parameter, the data used and the measured effect. PVs are stored
 * inline (base64 little-endian float32) and in pvs.safetensors next to it.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic, writeAll } from '../formats/file-io.js';
import type { AttackEffect } from './effect.js';
import type { AttackMethodName, AttackTargetMode } from './method.js';
import { METHOD_NAMES } from './methods.js';

export const MANIFEST_FILE = 'attack.json';
export const PVS_FILE = 'pvs.safetensors';
export const MANIFEST_FORMAT = 'lmsanitator-attack';

export type HyperValue = number | string | boolean | null;

export interface ManifestTrigger {
  text: string;
  words: string[];
  token_ids: number[];
  tokens: string[];
  pv_index: number;
}

export interface AttackManifest {
  format: typeof MANIFEST_FORMAT;
  version: 1;
  method: AttackMethodName;
  target_mode: AttackTargetMode;
  triggers: ManifestTrigger[];
  pvs: { count: number; dim: number; file: string; dtype: 'float32'; vectors: string[] };
  seed: number;
  hyperparameters: Record<string, HyperValue>;
  data: Record<string, HyperValue | Record<string, number>>;
  base_model: { dir: string; hash: string; model_type: string; hidden_size: number; layers: number };
  training: {
    steps: number;
    total_steps: number;
    seconds: number;
    resumed: boolean;
    final_losses: Record<string, number | null> | null;
  };
  effect: AttackEffect;
  created: string;
}

export function encodeVector(v: Float32Array): string {
  const le = new Float32Array(v);
  return Buffer.from(le.buffer, le.byteOffset, le.byteLength).toString('base64');
}

export function decodeVector(s: string, what: string): Float32Array {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(s)) throw new Error(`${what}: not base64`);
  const b = Buffer.from(s, 'base64');
  if (b.length === 0 || b.length % 4 !== 0) throw new Error(`${what}: not a float32 vector`);
  const out = new Float32Array(b.length / 4);
  new Uint8Array(out.buffer).set(b);
  return out;
}

type Kind = 'string' | 'number' | 'boolean' | 'object' | 'array';

function check(cond: boolean, label: string, msg: string): asserts cond {
  if (!cond) throw new Error(`${label}: ${msg}`);
}

function field(o: Record<string, unknown>, key: string, kind: Kind, label: string, nullable = false): unknown {
  const v = o[key];
  if (nullable && v === null) return v;
  const ok = kind === 'array' ? Array.isArray(v)
    : kind === 'object' ? v !== null && typeof v === 'object' && !Array.isArray(v)
      : kind === 'number' ? typeof v === 'number' && Number.isFinite(v)
        : typeof v === kind;
  check(ok, label, `"${key}" must be ${kind === 'array' || kind === 'object' ? `an ${kind}` : `a ${kind}`}${nullable ? ' or null' : ''}`);
  return v;
}

/** Checks the structure of a parsed attack.json; returns it typed and its PVs decoded. */
export function validateManifest(v: unknown, label = MANIFEST_FILE): { manifest: AttackManifest; pvs: Float32Array[] } {
  check(v !== null && typeof v === 'object' && !Array.isArray(v), label, 'not a JSON object');
  const o = v as Record<string, unknown>;
  check(o.format === MANIFEST_FORMAT, label, `"format" must be "${MANIFEST_FORMAT}"`);
  check(o.version === 1, label, `unsupported version ${JSON.stringify(o.version)}`);
  check(METHOD_NAMES.includes(o.method as AttackMethodName), label, `unknown method ${JSON.stringify(o.method)}`);
  check(['cls', 'mask', 'token'].includes(o.target_mode as string), label, `unknown target_mode ${JSON.stringify(o.target_mode)}`);
  field(o, 'seed', 'number', label);
  field(o, 'created', 'string', label);
  for (const k of ['hyperparameters', 'data', 'base_model', 'training', 'effect']) field(o, k, 'object', label);

  const pv = field(o, 'pvs', 'object', label) as Record<string, unknown>;
  const count = field(pv, 'count', 'number', `${label} pvs`) as number;
  const dim = field(pv, 'dim', 'number', `${label} pvs`) as number;
  field(pv, 'file', 'string', `${label} pvs`);
  const vectors = field(pv, 'vectors', 'array', `${label} pvs`) as unknown[];
  check(vectors.length === count && count >= 1, label, `pvs.count is ${count} but ${vectors.length} vectors are stored`);
  const pvs = vectors.map((s, k) => {
    check(typeof s === 'string', label, `pvs.vectors[${k}] must be a base64 string`);
    const d = decodeVector(s, `${label} pvs.vectors[${k}]`);
    check(d.length === dim, label, `pvs.vectors[${k}] has dimension ${d.length}, pvs.dim is ${dim}`);
    return d;
  });

  const triggers = field(o, 'triggers', 'array', label) as unknown[];
  check(triggers.length >= 1, label, 'no triggers');
  triggers.forEach((t, i) => {
    const tl = `${label} triggers[${i}]`;
    check(t !== null && typeof t === 'object', tl, 'not an object');
    const r = t as Record<string, unknown>;
    field(r, 'text', 'string', tl);
    const ids = field(r, 'token_ids', 'array', tl) as unknown[];
    check(ids.length > 0 && ids.every((x) => Number.isInteger(x) && (x as number) >= 0), tl, 'token_ids must be non-negative integers');
    field(r, 'words', 'array', tl);
    field(r, 'tokens', 'array', tl);
    const k = field(r, 'pv_index', 'number', tl) as number;
    check(Number.isInteger(k) && k >= 0 && k < count, tl, `pv_index ${k} is outside [0, ${count})`);
  });

  const e = o.effect as Record<string, unknown>;
  field(e, 'triggered_sign_agreement_min', 'number', `${label} effect`);
  field(e, 'clean_sign_agreement_max', 'number', `${label} effect`);
  field(e, 'utility', 'object', `${label} effect`);
  field(e, 'rare_token_fire_rate', 'number', `${label} effect`, true);
  field(e, 'per_trigger', 'array', `${label} effect`);
  return { manifest: o as unknown as AttackManifest, pvs };
}

export function writeManifest(dir: string, m: AttackManifest): void {
  validateManifest(JSON.parse(JSON.stringify(m)), `${MANIFEST_FILE} to write`);
  writeFileAtomic(join(dir, MANIFEST_FILE), (fd) => writeAll(fd, Buffer.from(`${JSON.stringify(m, null, 2)}\n`, 'utf8')));
}

/** Reads and validates <dir>/attack.json. */
export function readManifest(dir: string): { manifest: AttackManifest; pvs: Float32Array[] } {
  const file = join(dir, MANIFEST_FILE);
  if (!existsSync(file)) throw new Error(`${dir}: no ${MANIFEST_FILE} (not an attacked model directory)`);
  let v: unknown;
  try {
    v = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`${file}: not valid JSON (${(e as Error).message})`);
  }
  return validateManifest(v, file);
}
