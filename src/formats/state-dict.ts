/**
 * The in-memory form every checkpoint reader produces and every writer takes.
 *
 * Tensors are dense and row-major. Floating-point weights are always float32
 * here whatever the file stored (fp16/bf16/fp64 are widened or narrowed on
 * load); integer tensors (token ids, position ids, masks) are Int32Array and
 * loading fails rather than wrap when a stored value does not fit.
 */
export interface NamedTensor {
  shape: number[];
  data: Float32Array | Int32Array;
  /**
   * The dtype the file stored, in safetensors spelling ('F32', 'F16', 'BF16',
   * 'F64', 'I64', 'I32', 'I16', 'I8', 'U8', 'BOOL'). Writers use it only to
   * keep integer tensors 64-bit ('I64') where they were.
   */
  dtype?: string;
}

export type StateDict = Map<string, NamedTensor>;

/** Largest tensor rank any reader accepts; encoders use at most 2. */
export const MAX_RANK = 16;

/**
 * Element count of `shape`, or a string saying why it is not a valid shape.
 * Products are checked step by step so a hostile shape cannot overflow into a
 * small (or non-integer) count that would pass later size checks.
 */
export function shapeNumel(shape: readonly unknown[]): number | string {
  if (shape.length > MAX_RANK) return `rank ${shape.length} exceeds the limit of ${MAX_RANK}`;
  let n = 1;
  for (const d of shape) {
    if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) {
      return `dimension ${formatDim(d)} is not a non-negative integer`;
    }
    if (d !== 0 && n > Number.MAX_SAFE_INTEGER / d) return 'element count overflows';
    n *= d;
  }
  return n;
}

function formatDim(d: unknown): string {
  const s = typeof d === 'string' ? JSON.stringify(d) : String(d);
  return s.length > 40 ? `${s.slice(0, 40)}...` : s;
}
