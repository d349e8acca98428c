/**
 * Which kernel set runs the arithmetic, and the counters that make the
 * engine's promises observable (how many GEMMs of which role ran; where the
 * time went when profiling).
 *
 * LMS_BACKEND=js|native selects; the default is native when the addon loads.
 * float64 buffers always run on the js set (the native set is float32-only);
 * that is how finite-difference gradient checks run in double precision.
 */
import { jsKernels } from './kernels/js.js';
import { nativeKernels, nativeLoadError } from './kernels/native.js';
import type { Buf, Kernels } from './kernels/types.js';

export type BackendName = 'js' | 'native';

let active: Kernels = pickDefault();
let profiled: Kernels | null = null;

function pickDefault(): Kernels {
  const wanted = process.env.LMS_BACKEND;
  if (wanted && wanted !== 'js' && wanted !== 'native') {
    throw new Error(`LMS_BACKEND must be "js" or "native", got "${wanted}"`);
  }
  if (wanted === 'js') return jsKernels;
  if (nativeKernels) return nativeKernels;
  if (wanted === 'native') {
    throw new Error(`LMS_BACKEND=native but the native addon did not load: ${nativeLoadError}`);
  }
  process.emitWarning(`lmsanitator: native kernels unavailable (${nativeLoadError}); using the slow js backend`);
  return jsKernels;
}

export function setBackend(name: BackendName): void {
  if (name === 'js') active = jsKernels;
  else if (nativeKernels) active = nativeKernels;
  else throw new Error(`native backend unavailable: ${nativeLoadError}`);
  profiled = null;
  if (profiling) enableProfiling();
}

export function backendName(): BackendName {
  return active.name;
}

export function nativeAvailable(): boolean {
  return nativeKernels !== null;
}

export function describeBackend(): string {
  return active.name === 'native' ? `native (${active.gemmImpl} GEMM)` : 'js (portable TypeScript)';
}

/** The kernel set for a buffer: float64 data always goes to the js set. */
export function kernelsFor(buf: Buf): Kernels {
  if (buf instanceof Float64Array) return jsKernels;
  return profiled ?? active;
}

/** Index of the first NaN or ±Infinity in `a`, or -1: every weight is checked on load, so this runs on the fastest kernel set. */
export function firstNonFinite(a: Float32Array): number {
  return kernelsFor(a).firstNonFinite(a, a.length);
}

// ---- GEMM counters -------------------------------------------------------
// Roles: 'forward' (activations out), 'gradInput' (gradients flowing to
// activations), 'gradWeight' (gradients of parameters). PV mining must show
// zero 'gradWeight' GEMMs: the tests read these.
export type GemmRole = 'forward' | 'gradInput' | 'gradWeight';
export const gemmCounters = { forward: 0, gradInput: 0, gradWeight: 0, flops: 0 };

export function countGemm(role: GemmRole, flops: number): void {
  gemmCounters[role]++;
  gemmCounters.flops += flops;
}

export function resetGemmCounters(): void {
  gemmCounters.forward = 0;
  gemmCounters.gradInput = 0;
  gemmCounters.gradWeight = 0;
  gemmCounters.flops = 0;
}

// ---- profiling -----------------------------------------------------------
let profiling = false;
export const kernelTimes = new Map<string, { calls: number; seconds: number }>();

/** Wraps every kernel of the active set with a timer (benchmarks only). */
export function enableProfiling(): void {
  profiling = true;
  const base = active;
  const wrapped: Record<string, unknown> = { name: base.name, gemmImpl: base.gemmImpl };
  for (const key of Object.keys(base) as (keyof Kernels)[]) {
    const fn = base[key];
    if (typeof fn !== 'function') continue;
    wrapped[key] = (...args: unknown[]) => {
      const t0 = process.hrtime.bigint();
      const r = (fn as (...a: unknown[]) => unknown).apply(base, args);
      const dt = Number(process.hrtime.bigint() - t0) / 1e9;
      const rec = kernelTimes.get(key) ?? { calls: 0, seconds: 0 };
      rec.calls++;
      rec.seconds += dt;
      kernelTimes.set(key, rec);
      return r;
    };
  }
  profiled = wrapped as unknown as Kernels;
}

export function disableProfiling(): void {
  profiling = false;
  profiled = null;
}

export function resetProfile(): void {
  kernelTimes.clear();
}

// ---- opt-in NaN/Inf check ------------------------------------------------
let checkFinite = process.env.LMS_CHECK_FINITE === '1';
export function setCheckFinite(on: boolean): void {
  checkFinite = on;
}
export function isCheckingFinite(): boolean {
  return checkFinite;
}
