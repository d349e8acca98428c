/**
 * Loader for `pytorch_model.bin` as written by torch.save in torch >= 1.6: a
 * zip whose `<archive>/data.pkl` pickles the state dict, with each storage's
 * raw bytes in `<archive>/data/<key>`.
 *
 * The pickle runs through our data-only interpreter with the allow-list
 * below; nothing in the file is ever executed. Anything beyond a mapping from
 * names to tensors (optimizer state, arbitrary objects, TorchScript) is
 * refused with a message saying what was found.
 */
import { FormatError, quote, bytesText } from './errors.js';
import { shapeNumel, MAX_RANK, type StateDict } from './state-dict.js';
import { DTYPE_BYTES, type Dtype } from './dtypes.js';
import { readAt, readWholeFile, type OpenOptions, type ReadOptions } from './file-io.js';
import { END_RECORD_SEARCH, hasEndRecord, isZip, readZipEntries, readEntry, type ZipEntry } from './torch-zip.js';
import { unpickle, PickleError, PyDict, PyGlobal, PyHost, PyTuple, describe, type PyValue } from './pickle.js';
import { checkView, materialise, type StorageRef, type TensorSpec } from './torch-tensor.js';

/** data.pkl of a state dict is ~100 bytes per tensor; this is generous. */
export const MAX_PICKLE_BYTES = 64 << 20;

/** Legacy torch.save output starts with a protocol-2 pickle of this magic number. */
const LEGACY_MAGIC = Buffer.from([0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19]);

const STORAGE_DTYPES: Readonly<Record<string, Dtype>> = {
  FloatStorage: 'F32', HalfStorage: 'F16', BFloat16Storage: 'BF16', DoubleStorage: 'F64',
  LongStorage: 'I64', IntStorage: 'I32', ShortStorage: 'I16', CharStorage: 'I8',
  ByteStorage: 'U8', BoolStorage: 'BOOL',
};

export function loadTorchCheckpoint(file: string, opts: OpenOptions = {}): StateDict {
  return readTorchCheckpoint(readTorchCheckpointFile(file, opts), file);
}

/**
 * The bytes of a checkpoint file, read only once its first bytes and its
 * end-of-central-directory record (both at most 64 KiB away) show it can be
 * a torch zip: anything else is refused without reading the whole file.
 */
export function readTorchCheckpointFile(file: string, opts: OpenOptions & Pick<ReadOptions, 'alloc' | 'onRead'> = {}): Buffer {
  return readWholeFile(file, undefined, {
    ...opts,
    precheck: (f) => {
      const head = readAt(f, 0, Math.min(f.size, LEGACY_MAGIC.length));
      if (!isZip(head)) notZip(head, (p) => { throw new FormatError(file, p); });
      const tailLen = Math.min(f.size, END_RECORD_SEARCH);
      if (!hasEndRecord(readAt(f, f.size - tailLen, tailLen), f.size)) {
        throw new FormatError(file, 'zip archive: no end-of-central-directory record (truncated or not a zip file)');
      }
    },
  });
}

/** Why bytes that do not start like a zip are not a checkpoint we read. */
function notZip(head: Uint8Array, fail: (p: string) => never): never {
  if (head.length >= LEGACY_MAGIC.length && Buffer.compare(head.subarray(0, LEGACY_MAGIC.length), LEGACY_MAGIC) === 0) {
    fail('unsupported legacy PyTorch checkpoint format; convert it to safetensors');
  }
  if (head.length > 0 && head[0] === 0x80) {
    fail('a bare pickle, not a PyTorch zip checkpoint (unsupported legacy format?); convert it to safetensors');
  }
  return fail('not a PyTorch checkpoint (expected a zip archive written by torch.save)');
}

/** Parse a torch zip checkpoint already in memory; `label` names it in errors. */
export function readTorchCheckpoint(buf: Uint8Array, label = '<buffer>'): StateDict {
  const fail = (problem: string): never => {
    throw new FormatError(label, problem);
  };
  if (!isZip(buf)) notZip(buf.subarray(0, LEGACY_MAGIC.length), fail);
  const entries = readZipEntries(buf, label);
  const prefix = findArchivePrefix(entries, fail);
  checkRecords(buf, entries, prefix, label, fail);

  const pklEntry = entries.get(`${prefix}/data.pkl`)!;
  if (pklEntry.size > MAX_PICKLE_BYTES) fail(`${pklEntry.name} is ${bytesText(pklEntry.size)}, over the ${bytesText(MAX_PICKLE_BYTES)} limit`);
  const pkl = readEntry(buf, pklEntry, label);

  const storages = new Map<string, StorageRef & { entry: ZipEntry }>();
  const persistentLoad = (pid: PyValue): PyValue => {
    const ref = storageFromPid(pid, prefix, entries);
    const seen = storages.get(ref.key);
    if (seen) {
      if (seen.dtype !== ref.dtype || seen.numel !== ref.numel) {
        throw new Error(`storage ${quote(ref.key)} is declared twice with different types (${seen.dtype}×${seen.numel}, ${ref.dtype}×${ref.numel})`);
      }
      return new PyHost('storage', seen);
    }
    storages.set(ref.key, ref);
    return new PyHost('storage', ref);
  };

  let root: PyValue;
  try {
    root = unpickle(pkl, { findGlobal, persistentLoad });
  } catch (e) {
    if (e instanceof PickleError) {
      return fail(e.kind === 'forbidden-global' ? `refusing to load: ${e.message}` : `${pklEntry.name}: ${e.message}`);
    }
    throw e;
  }
  // Each storage record is read once, however many tensors view it.
  for (const ref of storages.values()) ref.bytes = readEntry(buf, ref.entry, label);
  return toStateDict(root, fail);
}

function findArchivePrefix(entries: Map<string, ZipEntry>, fail: (p: string) => never): string {
  const pkls = [...entries.keys()].filter((n) => /^[^/]+\/data\.pkl$/.test(n));
  if (pkls.length === 0) {
    const names = [...entries.keys()];
    if (names.some((n) => /^[^/]+\/(constants\.pkl|code\/)/.test(n))) {
      fail('a TorchScript archive, not a saved state dict; save the model with torch.save(model.state_dict())');
    }
    fail('zip archive has no <archive>/data.pkl record; not a PyTorch checkpoint');
  }
  if (pkls.length > 1) fail(`zip archive has ${pkls.length} data.pkl records; expected one`);
  return pkls[0]!.slice(0, -'/data.pkl'.length);
}

/** Checks that the archive is laid out as torch writes it and is little-endian. */
function checkRecords(buf: Uint8Array, entries: Map<string, ZipEntry>, prefix: string, label: string, fail: (p: string) => never): void {
  for (const name of entries.keys()) {
    if (!name.startsWith(`${prefix}/`)) fail(`zip entry ${quote(name)} is outside the archive folder ${quote(prefix)}`);
  }
  const small = (name: string): string | undefined => {
    const e = entries.get(`${prefix}/${name}`) ?? entries.get(`${prefix}/.data/${name}`);
    if (!e) return undefined;
    if (e.size > 64) fail(`${e.name} record is ${bytesText(e.size)}, expected a short text`);
    return Buffer.from(readEntry(buf, e, label)).toString('latin1').trim();
  };
  const byteorder = small('byteorder');
  if (byteorder !== undefined && byteorder !== 'little') {
    fail(`checkpoint byte order is ${quote(byteorder)}; only little-endian checkpoints are supported`);
  }
  const version = small('version');
  if (version !== undefined && !/^\d{1,3}$/.test(version)) fail(`version record ${quote(version)} is not a number`);
}

function storageFromPid(pid: PyValue, prefix: string, entries: Map<string, ZipEntry>): StorageRef & { entry: ZipEntry } {
  // ('storage', <torch.XStorage>, key, location, numel)
  if (!(pid instanceof PyTuple) || pid.items.length !== 5 || pid.items[0] !== 'storage') {
    throw new Error(`persistent id ${describe(pid)} is not a storage reference`);
  }
  const [, type, key, location, numel] = pid.items;
  if (!(type instanceof StorageClass)) throw new Error(`storage type ${describe(type)} is not a torch storage class`);
  if (typeof key !== 'string' || !/^[A-Za-z0-9_]{1,64}$/.test(key)) throw new Error(`storage key ${describe(key)} is invalid`);
  if (typeof location !== 'string') throw new Error(`storage location ${describe(location)} is not a string`);
  if (typeof numel !== 'number' || !Number.isSafeInteger(numel) || numel < 0) throw new Error(`storage size ${describe(numel)} is invalid`);
  const dtype = type.dtype;
  const name = `${prefix}/data/${key}`;
  const entry = entries.get(name);
  if (!entry) throw new Error(`storage ${quote(key)} has no record ${quote(name)} in the archive`);
  const bytes = numel * DTYPE_BYTES[dtype];
  if (entry.size !== bytes) {
    throw new Error(`storage ${quote(key)} should hold ${numel} ${dtype} elements (${bytesText(bytes)}) but its record has ${bytesText(entry.size)}`);
  }
  // The bytes are taken (and CRC-checked) once the pickle is done, outside its error handling.
  return { key, dtype, numel, bytes: new Uint8Array(0), entry };
}

// ------------------------------------------------------------ allow-list

const GLOBALS = new Map<string, PyGlobal>();
function allow(module: string, name: string, call?: (args: readonly PyValue[]) => PyValue): void {
  GLOBALS.set(`${module}\n${name}`, new PyGlobal(module, name, call));
}

/** Storage classes are never called (no `call`); they only tag persistent ids with a dtype. */
class StorageClass extends PyGlobal {
  constructor(name: string, readonly dtype: Dtype) {
    super('torch', name);
  }
}
for (const [cls, dtype] of Object.entries(STORAGE_DTYPES)) GLOBALS.set(`torch\n${cls}`, new StorageClass(cls, dtype));

allow('collections', 'OrderedDict', (args) => {
  if (args.length !== 0) throw new Error('only an empty OrderedDict() is supported');
  return new PyDict('OrderedDict');
});
allow('torch._utils', '_rebuild_tensor_v2', (args) => rebuildTensor(args));
allow('torch._utils', '_rebuild_parameter', (args) => rebuildParameter(args, 3));
allow('torch._utils', '_rebuild_parameter_with_state', (args) => rebuildParameter(args, 4));

function findGlobal(module: string, name: string): PyGlobal | undefined {
  return GLOBALS.get(`${module}\n${name}`);
}

// ---------------------------------------------------------- tensor stand-ins

function intTuple(v: PyValue | undefined, what: string): number[] {
  if (!(v instanceof PyTuple)) throw new Error(`${what} is ${describe(v)}, expected a tuple`);
  if (v.items.length > MAX_RANK) throw new Error(`${what} has ${v.items.length} dimensions, over the limit of ${MAX_RANK}`);
  return v.items.map((x) => {
    if (typeof x !== 'number' || !Number.isSafeInteger(x) || x < 0) throw new Error(`${what} contains ${describe(x)}`);
    return x;
  });
}

function checkHooks(v: PyValue | undefined): void {
  if (!(v instanceof PyDict) || v.map.size !== 0) throw new Error(`backward hooks must be an empty OrderedDict, got ${describe(v)}`);
}

/** _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata]) */
function rebuildTensor(args: readonly PyValue[]): PyValue {
  if (args.length !== 6 && args.length !== 7) throw new Error(`expected 6 or 7 arguments, got ${args.length}`);
  const [storage, offset, size, stride, requiresGrad, hooks, metadata] = args;
  if (!(storage instanceof PyHost) || storage.kind !== 'storage') throw new Error(`storage argument is ${describe(storage)}`);
  if (typeof offset !== 'number' || !Number.isSafeInteger(offset) || offset < 0) throw new Error(`storage offset ${describe(offset)} is invalid`);
  const sz = intTuple(size, 'size');
  const st = intTuple(stride, 'stride');
  if (typeof requiresGrad !== 'boolean') throw new Error(`requires_grad is ${describe(requiresGrad)}`);
  checkHooks(hooks);
  if (metadata !== undefined && metadata !== null && !(metadata instanceof PyDict)) throw new Error(`metadata is ${describe(metadata)}`);
  const numel = shapeNumel(sz);
  if (typeof numel === 'string') throw new Error(`size: ${numel}`);
  // Bounds are checked in toStateDict, where the tensor's name is known.
  const spec: TensorSpec = { storage: storage.value as StorageRef, offset, size: sz, stride: st, numel };
  return new PyHost('tensor', spec);
}

/** _rebuild_parameter(data, requires_grad, backward_hooks[, state]): the parameter is just its data here. */
function rebuildParameter(args: readonly PyValue[], arity: number): PyValue {
  if (args.length !== arity) throw new Error(`expected ${arity} arguments, got ${args.length}`);
  const [data, requiresGrad, hooks] = args;
  if (!(data instanceof PyHost) || data.kind !== 'tensor') throw new Error(`data is ${describe(data)}, expected a tensor`);
  if (typeof requiresGrad !== 'boolean') throw new Error(`requires_grad is ${describe(requiresGrad)}`);
  checkHooks(hooks);
  if (arity === 4 && args[3] !== null && !(args[3] instanceof PyDict)) throw new Error(`state is ${describe(args[3])}`);
  return data;
}

// ------------------------------------------------------------------ result

function toStateDict(root: PyValue, fail: (p: string) => never): StateDict {
  if (!(root instanceof PyDict)) return fail(`checkpoint holds ${describe(root)}, not a state dict`);
  const specs: [string, TensorSpec][] = [];
  const users = new Map<StorageRef, number>();
  for (const [key, value] of root.map) {
    if (typeof key !== 'string') return fail(`state dict key ${describe(key)} is not a string`);
    if (!(value instanceof PyHost) || value.kind !== 'tensor') {
      return fail(`state dict entry ${quote(key)} is ${describe(value)}, not a tensor (a training checkpoint? save model.state_dict() instead)`);
    }
    const spec = value.value as TensorSpec;
    const problem = checkView(spec);
    if (problem) return fail(`tensor ${quote(key)}: ${problem}`);
    specs.push([key, spec]);
    users.set(spec.storage, (users.get(spec.storage) ?? 0) + 1);
  }
  const out: StateDict = new Map();
  for (const [key, spec] of specs) {
    try {
      out.set(key, materialise(spec, users.get(spec.storage)! > 1));
    } catch (e) {
      fail(`tensor ${quote(key)}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  return out;
}
