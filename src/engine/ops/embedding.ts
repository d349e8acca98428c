/**
 * Row gathers with scatter-add backward.
 * embedding: ids (N of them, laid out as `shape`) pick rows of table [V, C] → [...shape, C].
 * gatherRows: the same on an activation [R, C] (target positions of a batch).
 */
import { assertSameDtype, shapeStr, sizeOf, Tensor } from '../tensor.js';
import { expectRank, fail, finish, kernelsOf } from './common.js';

function checkIds(op: string, ids: Int32Array, rows: number, shape: readonly number[]): void {
  if (ids.length !== sizeOf(shape)) {
    throw new Error(`${op}: ${ids.length} ids do not fill shape ${shapeStr(shape)}`);
  }
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i];
    if (id < 0 || id >= rows) throw new Error(`${op}: id ${id} at position ${i} is outside [0, ${rows})`);
  }
}

export function embedding(ids: Int32Array, shape: readonly number[], table: Tensor): Tensor {
  const op = 'embedding';
  expectRank(op, table, 2, 'table');
  const [V, C] = table.shape;
  checkIds(op, ids, V, shape);
  const k = kernelsOf(table);
  const out = Tensor.output([...shape, C], table.dtype, [table]);
  k.embeddingForward(out.data, ids, table.data, ids.length, C);
  return finish(op, out, (dout) => k.embeddingBackward(table.ensureGrad(), dout, ids, ids.length, C));
}

/** x: [R, C], rows: indices into R → [rows.length, C]. */
export function gatherRows(x: Tensor, rows: Int32Array): Tensor {
  if (x.shape.length !== 2) fail('gatherRows', 'input must be [R, C]', x);
  return embedding(rows, [rows.length], x);
}

/**
 * Writes rows of `src` over rows of `base` (soft prompts spliced into an
 * embedding sequence). base: [R, C]; out[dstRows[i]] = src[srcRows[i]].
 * The overwritten rows of base get no gradient.
 */
export function spliceRows(base: Tensor, dstRows: Int32Array, src: Tensor, srcRows: Int32Array): Tensor {
  const op = 'spliceRows';
  expectRank(op, base, 2, 'base');
  expectRank(op, src, 2, 'src');
  const [R, C] = base.shape;
  if (src.shape[1] !== C) fail(op, 'base and src must have the same width', base, src);
  if (dstRows.length !== srcRows.length) throw new Error(`${op}: ${dstRows.length} destination rows but ${srcRows.length} source rows`);
  checkIds(op, dstRows, R, [dstRows.length]);
  checkIds(op, srcRows, src.shape[0], [srcRows.length]);
  const dtype = assertSameDtype(op, base, src);
  const k = kernelsOf(base);
  const out = Tensor.output(base.shape, dtype, [base, src]);
  out.data.set(base.data);
  for (let i = 0; i < dstRows.length; i++) {
    out.data.set(src.data.subarray(srcRows[i] * C, srcRows[i] * C + C), dstRows[i] * C);
  }
  return finish(op, out, (dout) => {
    if (base.requiresGrad) {
      const g = base.ensureGrad();
      const overwritten = new Uint8Array(R);
      for (const r of dstRows) overwritten[r] = 1;
      for (let r = 0; r < R; r++) if (!overwritten[r]) k.axpy(C, 1, dout, r * C, g, r * C);
    }
    if (src.requiresGrad) {
      const g = src.ensureGrad();
      for (let i = 0; i < dstRows.length; i++) k.axpy(C, 1, dout, dstRows[i] * C, g, srcRows[i] * C);
    }
  });
}
