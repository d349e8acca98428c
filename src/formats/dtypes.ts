/**
 * Element types the readers accept and the conversions to the two in-memory
 * representations (float32 for floating point, int32 for integers).
 *
 * Everything assumes a little-endian host, as both file formats are
 * little-endian and typed arrays use host order.
 */
import * as os from 'node:os';

export type Dtype = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

export const DTYPE_BYTES: Readonly<Record<Dtype, number>> = {
  F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1,
};

/** Dtypes the safetensors format defines that an encoder checkpoint has no use for. */
export const UNSUPPORTED_DTYPES: ReadonlySet<string> = new Set([
  'U16', 'U32', 'U64', 'F8_E4M3', 'F8_E5M2', 'F8_E8M0', 'F6_E2M3', 'F6_E3M2', 'F4', 'C64', 'I4', 'U4',
]);

export function isDtype(s: unknown): s is Dtype {
  return typeof s === 'string' && Object.prototype.hasOwnProperty.call(DTYPE_BYTES, s);
}

export function isFloatDtype(d: Dtype): boolean {
  return d === 'F64' || d === 'F32' || d === 'F16' || d === 'BF16';
}

if (os.endianness() !== 'LE') {
  // Refuse at import time rather than silently byte-swap every weight.
  throw new Error('lmsanitator formats: big-endian hosts are not supported');
}

type SourceArray = Float64Array | Float32Array | Uint16Array | Int32Array | Int16Array | Int8Array | Uint8Array;

/**
 * A typed array over raw element bytes. Typed arrays need their offset aligned
 * to the element size; misaligned bytes (possible in safetensors, whose
 * offsets are arbitrary) are copied into a fresh, aligned buffer.
 * I64 is viewed as Int32Array pairs (low, high) to avoid BigInt per element.
 */
export function sourceView(bytes: Uint8Array, dtype: Dtype): SourceArray {
  const align = dtype === 'I64' ? 4 : DTYPE_BYTES[dtype];
  let b = bytes;
  if (b.byteOffset % align !== 0) {
    b = new Uint8Array(bytes.length);
    b.set(bytes);
  }
  const n = b.length;
  switch (dtype) {
    case 'F64': return new Float64Array(b.buffer, b.byteOffset, n / 8);
    case 'F32': return new Float32Array(b.buffer, b.byteOffset, n / 4);
    case 'F16': case 'BF16': return new Uint16Array(b.buffer, b.byteOffset, n / 2);
    case 'I64': case 'I32': return new Int32Array(b.buffer, b.byteOffset, n / 4);
    case 'I16': return new Int16Array(b.buffer, b.byteOffset, n / 2);
    case 'I8': return new Int8Array(b.buffer, b.byteOffset, n);
    case 'U8': case 'BOOL': return new Uint8Array(b.buffer, b.byteOffset, n);
  }
}

/** True when the bytes can be used in place as the in-memory representation. */
export function canViewInPlace(bytes: Uint8Array, dtype: Dtype): boolean {
  return (dtype === 'F32' || dtype === 'I32') && bytes.byteOffset % 4 === 0;
}

/** Zero-copy view; only valid when canViewInPlace() said so. */
export function viewInPlace(bytes: Uint8Array, dtype: Dtype): Float32Array | Int32Array {
  return dtype === 'F32'
    ? new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4)
    : new Int32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);
}

export function allocOutput(dtype: Dtype, numel: number): Float32Array | Int32Array {
  return isFloatDtype(dtype) ? new Float32Array(numel) : new Int32Array(numel);
}

let halfTable: Float32Array | undefined;

/** All 65536 fp16 values, built once: a table lookup beats bit twiddling per element. */
function halfToFloatTable(): Float32Array {
  if (halfTable) return halfTable;
  const t = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >> 10) & 0x1f;
    const frac = h & 0x3ff;
    if (exp === 0) t[h] = sign * frac * 2 ** -24;
    else if (exp === 31) t[h] = frac ? NaN : sign * Infinity;
    else t[h] = sign * (1 + frac / 1024) * 2 ** (exp - 15);
  }
  halfTable = t;
  return t;
}

/**
 * Convert `count` elements starting at element `srcStart` of `src` (made by
 * sourceView for `dtype`) into `out[outStart..]`. Returns -1, or the source
 * element index of the first value that has no faithful in-memory form
 * (integer beyond int32, BOOL other than 0/1, finite F64 beyond float32).
 */
export function convertRun(
  src: SourceArray, dtype: Dtype, srcStart: number, count: number,
  out: Float32Array | Int32Array, outStart: number,
): number {
  switch (dtype) {
    case 'F32': case 'I32': case 'I16': case 'I8': case 'U8':
      out.set(src.subarray(srcStart, srcStart + count) as ArrayLike<number>, outStart);
      return -1;
    case 'BOOL': {
      const s = src as Uint8Array;
      for (let i = 0; i < count; i++) {
        const v = s[srcStart + i]!;
        if (v > 1) return srcStart + i;
        out[outStart + i] = v;
      }
      return -1;
    }
    case 'F64': {
      const s = src as Float64Array;
      for (let i = 0; i < count; i++) {
        const v = s[srcStart + i]!;
        const f = Math.fround(v);
        if (f === Infinity || f === -Infinity) {
          if (Number.isFinite(v)) return srcStart + i;
        }
        out[outStart + i] = f;
      }
      return -1;
    }
    case 'F16': {
      const s = src as Uint16Array;
      const t = halfToFloatTable();
      for (let i = 0; i < count; i++) out[outStart + i] = t[s[srcStart + i]!]!;
      return -1;
    }
    case 'BF16': {
      const s = src as Uint16Array;
      // bf16 is the top half of a float32: shift the bits into place.
      const o = new Uint32Array(out.buffer, out.byteOffset, out.length);
      for (let i = 0; i < count; i++) o[outStart + i] = s[srcStart + i]! << 16;
      return -1;
    }
    case 'I64': {
      const s = src as Int32Array;
      for (let i = 0; i < count; i++) {
        const lo = s[2 * (srcStart + i)]!;
        const hi = s[2 * (srcStart + i) + 1]!;
        // Fits in int32 exactly when the high word is the low word's sign extension.
        if (hi !== lo >> 31) return srcStart + i;
        out[outStart + i] = lo;
      }
      return -1;
    }
  }
}

/** Describe the value convertRun rejected, for the error message. */
export function describeBadValue(src: SourceArray, dtype: Dtype, index: number): string {
  switch (dtype) {
    case 'I64': {
      const s = src as Int32Array;
      const v = (BigInt(s[2 * index + 1]!) << 32n) | BigInt(s[2 * index]! >>> 0);
      return `int64 value ${v} at element ${index} does not fit in int32`;
    }
    case 'BOOL':
      return `BOOL value ${src[index]} at element ${index} is neither 0 nor 1`;
    case 'F64':
      return `F64 value ${src[index]} at element ${index} overflows float32`;
    default:
      return `value at element ${index} cannot be converted`;
  }
}
