/**
 * Turning a torch tensor description (storage, offset, size, stride) into a
 * dense row-major NamedTensor.
 *
 * Torch saves views as-is: a transposed weight or a slice of a bigger storage
 * keeps its strides. We check that every element the view addresses lies
 * inside the storage, then copy (gathering along strides when needed). A
 * contiguous float32 view whose storage no other tensor uses becomes a
 * zero-copy window on the file buffer; tensors that share a storage get their
 * own copies, so modifying one weight never silently changes another.
 */
import type { NamedTensor } from './state-dict.js';
import {
  DTYPE_BYTES, sourceView, convertRun, describeBadValue, canViewInPlace, viewInPlace, allocOutput, type Dtype,
} from './dtypes.js';

export interface StorageRef {
  key: string;
  dtype: Dtype;
  numel: number;
  bytes: Uint8Array;
}

export interface TensorSpec {
  storage: StorageRef;
  offset: number;
  size: number[];
  stride: number[];
  numel: number;
}

/**
 * Returns null when the view stays inside its storage, else the problem.
 * Also refuses views with more elements than the storage holds (stride-0
 * expansions): they never occur in saved weights and would let a tiny file
 * demand a huge allocation.
 */
export function checkView(t: TensorSpec): string | null {
  if (t.size.length !== t.stride.length) return `size has ${t.size.length} dimensions but stride has ${t.stride.length}`;
  if (t.numel === 0) return null;
  let last = t.offset;
  for (let d = 0; d < t.size.length; d++) last += (t.size[d]! - 1) * t.stride[d]!;
  if (!Number.isSafeInteger(last) || last >= t.storage.numel) {
    return `view (offset ${t.offset}, size [${t.size.join(', ')}], stride [${t.stride.join(', ')}]) reaches element ${last} of a storage with ${t.storage.numel}`;
  }
  if (t.numel > t.storage.numel) return `view has ${t.numel} elements, more than its storage's ${t.storage.numel}`;
  return null;
}

function isContiguous(size: number[], stride: number[]): boolean {
  let expected = 1;
  for (let d = size.length - 1; d >= 0; d--) {
    if (size[d] === 1) continue;
    if (stride[d] !== expected) return false;
    expected *= size[d]!;
  }
  return true;
}

/**
 * Materialise a checked TensorSpec. `shared` says whether another tensor uses
 * the same storage. Throws an Error (message without file name) when an
 * integer or F64 value has no faithful in-memory form.
 */
export function materialise(t: TensorSpec, shared: boolean): NamedTensor {
  const { storage, size, stride, numel, offset } = t;
  const dtype = storage.dtype;
  const shape = [...size];
  if (isContiguous(size, stride)) {
    const esz = DTYPE_BYTES[dtype];
    const bytes = storage.bytes.subarray(offset * esz, (offset + numel) * esz);
    if (!shared && canViewInPlace(bytes, dtype)) return { shape, data: viewInPlace(bytes, dtype), dtype };
    const src = sourceView(bytes, dtype);
    const out = allocOutput(dtype, numel);
    const bad = convertRun(src, dtype, 0, numel, out, 0);
    if (bad >= 0) throw new Error(describeBadValue(src, dtype, bad));
    return { shape, data: out, dtype };
  }
  const src = sourceView(storage.bytes, dtype);
  const out = allocOutput(dtype, numel);
  if (numel > 0) gather(src, dtype, t, out);
  return { shape, data: out, dtype };
}

/** Row-major walk over the view; runs along the last dimension when it is unit-stride. */
function gather(src: ReturnType<typeof sourceView>, dtype: Dtype, t: TensorSpec, out: Float32Array | Int32Array): void {
  const { size, stride } = t;
  const rank = size.length;
  const innerLen = size[rank - 1]!;
  const innerStride = stride[rank - 1]!;
  const idx = new Array<number>(rank - 1).fill(0);
  let base = t.offset;
  let o = 0;
  for (;;) {
    if (innerStride === 1) {
      const bad = convertRun(src, dtype, base, innerLen, out, o);
      if (bad >= 0) throw new Error(describeBadValue(src, dtype, bad));
      o += innerLen;
    } else {
      for (let i = 0, s = base; i < innerLen; i++, s += innerStride) {
        const bad = convertRun(src, dtype, s, 1, out, o++);
        if (bad >= 0) throw new Error(describeBadValue(src, dtype, bad));
      }
    }
    // Odometer over the outer dimensions.
    let d = rank - 2;
    for (; d >= 0; d--) {
      idx[d]!++;
      base += stride[d]!;
      if (idx[d]! < size[d]!) break;
      base -= stride[d]! * size[d]!;
      idx[d] = 0;
    }
    if (d < 0) return;
  }
}
