/**
 * Finding and loading the weights of a Hugging Face model directory:
 * model.safetensors (preferred), pytorch_model.bin, or either one sharded
 * with an `*.index.json` naming the shard of every tensor.
 *
 * Shard names come from the (untrusted) index, so each must be a plain file
 * name inside the directory; the index and the shards must agree exactly on
 * which tensor lives where. Every file is read through the directory's
 * ModelDir, so a weight file that is a symlink out of the model directory is
 * refused, and each format checks its header before the file is read whole.
 */
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { FormatError, quote } from './errors.js';
import type { StateDict } from './state-dict.js';
import { sha256File } from './file-io.js';
import { type PendingSha256, sha256WhileReading } from './background-hash.js';
import { readSafetensors, readSafetensorsFile } from './safetensors.js';
import { readTorchCheckpoint, readTorchCheckpointFile } from './torch-checkpoint.js';
import { parseGuardedJson, isPlainObject } from './json-guard.js';
import { openModelDir, type ModelDir } from './model-dir.js';

export type CheckpointFormat = 'safetensors' | 'pytorch';

/** In order of preference. */
export const WEIGHT_FILES = [
  'model.safetensors',
  'model.safetensors.index.json',
  'pytorch_model.bin',
  'pytorch_model.bin.index.json',
] as const;

const MAX_INDEX_BYTES = 64 << 20;
const MAX_SHARDS = 100_000;

export interface CheckpointFiles {
  dir: string;
  format: CheckpointFormat;
  /** Path of the shard index (under `dir`), when the checkpoint is sharded. */
  index?: string;
  /** Paths of the weight files (under `dir`), sorted by name. */
  weights: string[];
  /** For sharded checkpoints: tensor name → shard file name, from the index. */
  weightMap?: Map<string, string>;
  /** sha256 of the index bytes that were parsed. */
  indexSha256?: string;
}

export interface LoadedCheckpoint {
  stateDict: StateDict;
  format: CheckpointFormat;
  files: CheckpointFiles;
  /** safetensors `__metadata__` (merged across shards); empty for PyTorch files. */
  metadata: Record<string, string>;
  /** The weight file each tensor came from (a path under `files.dir`), for messages. */
  sources: Map<string, string>;
  /** modelHash() of exactly the bytes loaded, when requested (`hash: true`). */
  sha256?: string;
  /** The same, still being computed on a worker (`hash: 'background'`): blocks until it is there. */
  sha256Later?: () => string;
}

/** Which files hold the weights of the model in `dir`; throws naming what was expected. */
export function resolveCheckpointFiles(dir: string | ModelDir): CheckpointFiles {
  const md = openModelDir(dir);
  for (const name of WEIGHT_FILES) {
    // Paths keep the caller's spelling so error messages show what they typed.
    if (!md.has(name)) continue;
    const format: CheckpointFormat = name.startsWith('model.safetensors') ? 'safetensors' : 'pytorch';
    if (!name.endsWith('.index.json')) return { dir: md.dir, format, weights: [md.file(name)] };
    return { dir: md.dir, format, index: md.file(name), ...readShardIndex(md, name, format) };
  }
  throw new FormatError(md.dir, `no model weights found; expected one of ${WEIGHT_FILES.join(', ')}`);
}

function readShardIndex(md: ModelDir, name: string, format: CheckpointFormat): Pick<CheckpointFiles, 'weights' | 'weightMap' | 'indexSha256'> {
  const file = md.file(name);
  const fail = (problem: string): never => {
    throw new FormatError(file, problem);
  };
  const bytes = md.read(name, MAX_INDEX_BYTES);
  const indexSha256 = createHash('sha256').update(bytes).digest('hex');
  const text = bytes.toString('utf8');
  const parsed = parseGuardedJson(text, 8);
  if ('error' in parsed) return fail(parsed.error);
  const top = parsed.value;
  if (!isPlainObject(top)) return fail('index is not a JSON object');
  const map = top['weight_map'];
  if (!isPlainObject(map)) return fail('missing "weight_map" object');
  const ext = format === 'safetensors' ? '.safetensors' : '.bin';
  const weightMap = new Map<string, string>();
  const shards = new Set<string>();
  for (const [tensor, shard] of Object.entries(map)) {
    if (typeof shard !== 'string') return fail(`weight_map entry ${quote(tensor)} is not a file name`);
    if (!shards.has(shard)) {
      checkShardName(shard, ext, fail);
      shards.add(shard);
      if (shards.size > MAX_SHARDS) fail(`index names more than ${MAX_SHARDS} shards`);
    }
    weightMap.set(tensor, shard);
  }
  if (weightMap.size === 0) fail('"weight_map" is empty');
  const weights = [...shards].sort().map((s) => {
    if (!md.has(s)) fail(`shard ${quote(s)} listed in the index does not exist`);
    return md.file(s);
  });
  return { weights, weightMap, indexSha256 };
}

function checkShardName(name: string, ext: string, fail: (p: string) => never): void {
  const plain = name.length > 0 && name.length <= 255 && name !== '.' && name !== '..' &&
    !/[/\\\u0000-\u001f:]/.test(name) && path.basename(name) === name && !path.isAbsolute(name);
  if (!plain) fail(`shard name ${quote(name)} is not a plain file name inside the model directory`);
  if (!name.endsWith(ext) || name.length === ext.length) fail(`shard name ${quote(name)} does not end in ${ext}`);
}

/** Load the state dict of the model in `dir` (see resolveCheckpointFiles for which files). */
export function loadStateDict(dir: string | ModelDir): StateDict {
  return loadCheckpoint(dir).stateDict;
}

/**
 * Load weights, optionally hashing the very bytes that were parsed (no
 * second read, so the hash cannot describe a file swapped in between).
 * `hash: 'background'` hashes big files on a worker thread while the
 * caller goes on (background-hash.ts) and returns `sha256Later`.
 */
export function loadCheckpoint(dir: string | ModelDir, opts: { hash?: boolean | 'background' } = {}): LoadedCheckpoint {
  const md = openModelDir(dir);
  const files = resolveCheckpointFiles(md);
  const stateDict: StateDict = new Map();
  const sources = new Map<string, string>();
  const metadataEntries: [string, string][] = [];
  const fileHashes: PendingSha256[] = [];
  for (const file of files.weights) {
    const hash = opts.hash ? sha256WhileReading() : null;
    const read = { within: md.roots, ...(hash && { alloc: hash.alloc, onRead: hash.onRead }) };
    let buf: Buffer;
    try {
      buf = files.format === 'safetensors' ? readSafetensorsFile(file, read) : readTorchCheckpointFile(file, read);
    } catch (e) {
      hash?.abort();
      throw e;
    }
    if (hash) fileHashes.push(hash.finish(buf));
    let part: StateDict;
    if (files.format === 'safetensors') {
      const st = readSafetensors(buf, file);
      part = st.tensors;
      metadataEntries.push(...Object.entries(st.metadata));
    } else {
      part = readTorchCheckpoint(buf, file);
    }
    if (files.weightMap) checkShard(file, part, files.weightMap);
    for (const [name, t] of part) {
      if (stateDict.has(name)) throw new FormatError(file, `tensor ${quote(name)} also appears in another shard`);
      stateDict.set(name, t);
      sources.set(name, file);
    }
  }
  if (files.weightMap) {
    for (const name of files.weightMap.keys()) {
      if (!stateDict.has(name)) throw new FormatError(files.index!, `tensor ${quote(name)} is listed in the index but missing from its shard`);
    }
  }
  // fromEntries, not Object.assign: a "__proto__" key must stay a key.
  const metadata = Object.fromEntries(metadataEntries) as Record<string, string>;
  const result: LoadedCheckpoint = { stateDict, format: files.format, files, metadata, sources };
  if (opts.hash) {
    let digest: string | null = null;
    const later = () => (digest ??= combineHashes(files, fileHashes.map((h) => h.wait())));
    if (opts.hash === 'background') result.sha256Later = later;
    else result.sha256 = later();
  }
  return result;
}

function checkShard(file: string, part: StateDict, weightMap: Map<string, string>): void {
  const shard = path.basename(file);
  for (const name of part.keys()) {
    const listed = weightMap.get(name);
    if (listed === undefined) throw new FormatError(file, `tensor ${quote(name)} is not listed in the shard index`);
    if (listed !== shard) throw new FormatError(file, `tensor ${quote(name)} is listed in the index under shard ${quote(listed)}`);
  }
}

/**
 * Identity of a model's weights, for cache keys. A single weight file hashes
 * to the plain sha256 of its bytes (what `sha256sum` prints); a sharded
 * checkpoint hashes the index and each shard by name, so renaming, reordering
 * or editing any of them changes the result.
 */
export function modelHash(dir: string | ModelDir): string {
  const md = openModelDir(dir);
  const files = resolveCheckpointFiles(md);
  return combineHashes(files, files.weights.map((f) => sha256File(f, { within: md.roots })));
}

function combineHashes(files: CheckpointFiles, weightHashes: string[]): string {
  if (!files.index) return weightHashes[0]!;
  const h = createHash('sha256').update('lmsanitator-sharded-checkpoint-v1\n');
  h.update(`${path.basename(files.index)}\0${files.indexSha256}\n`);
  files.weights.forEach((f, i) => h.update(`${path.basename(f)}\0${weightHashes[i]}\n`));
  return h.digest('hex');
}
