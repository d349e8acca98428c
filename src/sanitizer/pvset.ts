/**
 * `pvset.safetensors`: the PVs a scan or search found, with their soft
 * prompts, in a file the guard (docs/algorithm.md#guard) loads to build its
 * sign set. Plain safetensors, so Python tools can read it too:
 *   pvs     F32 [N, H]      the predefined vectors
 *   prompts F32 [N, L, E]   the soft prompts that produced them
 *   seeds   I32 [N]         the fuzz-loop seed of each
 * and string metadata naming the model, target mode and hyper-parameters.
 * An empty set (N = 0, a clean verdict) is a valid file with zero-sized
 * tensors; the shapes still carry H, L and E.
 */
import { loadSafetensors, saveSafetensors } from '../formats/safetensors.js';
import { FormatError, quote } from '../formats/errors.js';
import type { StateDict } from '../formats/state-dict.js';
import { TARGET_MODES, type TargetMode } from './target.js';

export const PVSET_FORMAT = 'lmsanitator-pvset';
export const PVSET_FORMAT_VERSION = '1';

export interface PvSet {
  /** sha256 of the scanned model's weights; the guard refuses other models. */
  modelHash: string;
  modelDir: string;
  mode: TargetMode;
  /** H: length of every PV. */
  hidden: number;
  /** L: rows of every prompt. */
  promptLen: number;
  /** E: width of every prompt row (word-embedding size). */
  embedDim: number;
  /** Mining and filtering settings of the run that found the set. */
  hyperParameters: Record<string, unknown>;
  command: 'scan' | 'search';
  /** ISO 8601 time the file was written. */
  created: string;
  /** lmsanitator version that wrote the file. */
  toolVersion: string;
  /** N vectors of length H. */
  pvs: Float32Array[];
  /** N prompts, each L·E row-major. */
  prompts: Float32Array[];
  seeds: number[];
}

const META = {
  format: 'format',
  formatVersion: 'format_version',
  modelHash: 'model_hash',
  modelDir: 'model_dir',
  mode: 'mode',
  hidden: 'hidden_size',
  promptLen: 'prompt_length',
  embedDim: 'embedding_size',
  hyperParameters: 'hyper_parameters',
  command: 'command',
  created: 'created',
  toolVersion: 'lmsanitator_version',
} as const;

const TENSORS = ['pvs', 'prompts', 'seeds'] as const;

export function savePvSet(file: string, set: PvSet): void {
  const fail = (problem: string): never => {
    throw new FormatError(file, problem);
  };
  const { hidden: H, promptLen: L, embedDim: E } = set;
  for (const [k, v] of [['hidden', H], ['promptLen', L], ['embedDim', E]] as const) {
    if (!Number.isSafeInteger(v) || v < 1) fail(`cannot write PV set: ${k} ${v} is not a positive integer`);
  }
  // The reader enforces the same rules: never write a file that cannot be loaded back.
  if (!/^[0-9a-f]{8,128}$/i.test(set.modelHash)) fail(`cannot write PV set: model hash ${quote(set.modelHash)} is not a hex digest`);
  if (Number.isNaN(Date.parse(set.created))) fail(`cannot write PV set: created ${quote(set.created)} is not a date`);
  if (!TARGET_MODES.includes(set.mode)) fail(`cannot write PV set: unknown mode ${quote(String(set.mode))}`);
  const N = set.pvs.length;
  if (set.prompts.length !== N || set.seeds.length !== N) {
    fail(`cannot write PV set: ${N} PVs but ${set.prompts.length} prompts and ${set.seeds.length} seeds`);
  }
  const pvs = new Float32Array(N * H);
  const prompts = new Float32Array(N * L * E);
  const seeds = new Int32Array(N);
  for (let i = 0; i < N; i++) {
    if (set.pvs[i].length !== H) fail(`cannot write PV set: PV ${i} has ${set.pvs[i].length} values, hidden size is ${H}`);
    if (set.prompts[i].length !== L * E) fail(`cannot write PV set: prompt ${i} has ${set.prompts[i].length} values, expected ${L}×${E}`);
    if (!Number.isSafeInteger(set.seeds[i]) || set.seeds[i] !== (set.seeds[i] | 0)) fail(`cannot write PV set: seed ${set.seeds[i]} is not a 32-bit integer`);
    pvs.set(set.pvs[i], i * H);
    prompts.set(set.prompts[i], i * L * E);
    seeds[i] = set.seeds[i];
  }
  const tensors: StateDict = new Map([
    ['pvs', { shape: [N, H], data: pvs }],
    ['prompts', { shape: [N, L, E], data: prompts }],
    ['seeds', { shape: [N], data: seeds, dtype: 'I32' }],
  ]);
  const metadata: Record<string, string> = {
    [META.format]: PVSET_FORMAT,
    [META.formatVersion]: PVSET_FORMAT_VERSION,
    [META.modelHash]: set.modelHash,
    [META.modelDir]: set.modelDir,
    [META.mode]: set.mode,
    [META.hidden]: String(H),
    [META.promptLen]: String(L),
    [META.embedDim]: String(E),
    [META.hyperParameters]: JSON.stringify(set.hyperParameters),
    [META.command]: set.command,
    [META.created]: set.created,
    [META.toolVersion]: set.toolVersion,
  };
  saveSafetensors(file, tensors, metadata);
}

/**
 * Loads and validates a PV set; every problem is one FormatError line
 * starting with the file name. The returned arrays are copies, not views
 * over the file buffer.
 */
export function loadPvSet(file: string): PvSet {
  const fail = (problem: string): never => {
    throw new FormatError(file, problem);
  };
  const { tensors, metadata } = loadSafetensors(file);

  const get = (key: string): string => {
    if (!Object.prototype.hasOwnProperty.call(metadata, key)) fail(`not a PV set: metadata has no ${quote(key)}`);
    return metadata[key];
  };
  if (metadata[META.format] !== PVSET_FORMAT) {
    fail(metadata[META.format] === undefined
      ? `not a PV set: no ${quote(META.format)} in the metadata`
      : `not a PV set: format is ${quote(metadata[META.format])}, expected ${quote(PVSET_FORMAT)}`);
  }
  const version = get(META.formatVersion);
  if (version !== PVSET_FORMAT_VERSION) fail(`PV set format version ${quote(version)} is not supported (this build reads ${PVSET_FORMAT_VERSION})`);

  const positive = (key: string): number => {
    const s = get(key);
    if (!/^[1-9][0-9]{0,8}$/.test(s)) fail(`metadata ${quote(key)} is ${quote(s)}, not a positive integer`);
    return Number(s);
  };
  const H = positive(META.hidden);
  const L = positive(META.promptLen);
  const E = positive(META.embedDim);

  const mode = get(META.mode);
  if (!(TARGET_MODES as readonly string[]).includes(mode)) fail(`metadata mode ${quote(mode)} is not one of ${TARGET_MODES.join(', ')}`);
  const command = get(META.command);
  if (command !== 'scan' && command !== 'search') fail(`metadata command ${quote(command)} is neither scan nor search`);
  const modelHash = get(META.modelHash);
  if (!/^[0-9a-f]{8,128}$/i.test(modelHash)) fail(`metadata model_hash ${quote(modelHash)} is not a hex digest`);
  const created = get(META.created);
  if (Number.isNaN(Date.parse(created))) fail(`metadata created ${quote(created)} is not a date`);
  let hyperParameters: unknown;
  try {
    hyperParameters = JSON.parse(get(META.hyperParameters));
  } catch {
    fail('metadata hyper_parameters is not valid JSON');
  }
  if (typeof hyperParameters !== 'object' || hyperParameters === null || Array.isArray(hyperParameters)) {
    fail('metadata hyper_parameters is not a JSON object');
  }

  for (const name of tensors.keys()) {
    if (!(TENSORS as readonly string[]).includes(name)) fail(`unexpected tensor ${quote(name)} (a PV set holds ${TENSORS.join(', ')})`);
  }
  const tensor = (name: (typeof TENSORS)[number], dtype: string) => {
    const t = tensors.get(name);
    if (!t) return fail(`missing tensor ${quote(name)}`);
    if (t.dtype !== dtype) fail(`tensor ${quote(name)} is ${t.dtype}, expected ${dtype}`);
    return t;
  };
  const pvT = tensor('pvs', 'F32');
  const promptT = tensor('prompts', 'F32');
  const seedT = tensor('seeds', 'I32');
  const shapeText = (s: number[]) => `[${s.join(', ')}]`;
  if (pvT.shape.length !== 2 || pvT.shape[1] !== H) fail(`tensor "pvs" has shape ${shapeText(pvT.shape)}, expected [N, ${H}] (hidden_size ${H})`);
  const N = pvT.shape[0];
  if (promptT.shape.length !== 3 || promptT.shape[0] !== N || promptT.shape[1] !== L || promptT.shape[2] !== E) {
    fail(`tensor "prompts" has shape ${shapeText(promptT.shape)}, expected [${N}, ${L}, ${E}] (N PVs, prompt_length, embedding_size)`);
  }
  if (seedT.shape.length !== 1 || seedT.shape[0] !== N) fail(`tensor "seeds" has shape ${shapeText(seedT.shape)}, expected [${N}]`);
  const pvData = pvT.data as Float32Array;
  const promptData = promptT.data as Float32Array;
  for (const [name, d] of [['pvs', pvData], ['prompts', promptData]] as const) {
    for (let i = 0; i < d.length; i++) if (!Number.isFinite(d[i])) fail(`tensor ${quote(name)} has a non-finite value at element ${i}`);
  }

  return {
    modelHash,
    modelDir: get(META.modelDir),
    mode: mode as TargetMode,
    hidden: H,
    promptLen: L,
    embedDim: E,
    hyperParameters: hyperParameters as Record<string, unknown>,
    command: command as 'scan' | 'search',
    created,
    toolVersion: get(META.toolVersion),
    pvs: Array.from({ length: N }, (_, i) => pvData.slice(i * H, (i + 1) * H)),
    prompts: Array.from({ length: N }, (_, i) => promptData.slice(i * L * E, (i + 1) * L * E)),
    seeds: Array.from(seedT.data as Int32Array),
  };
}
