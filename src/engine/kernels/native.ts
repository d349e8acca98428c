/**
 * The native kernel set: C++ behind N-API (native/*.cc, built by node-gyp
 * into build/Release/lms_kernels.node), float32 only, GEMMs through
 * OpenBLAS or, where the build found none, a portable blocked GEMM.
 *
 * The addon checks every call itself (buffer types, non-negative integer
 * sizes, each index range against the buffer lengths, embedding ids against
 * the table) and throws a TypeError / RangeError naming the kernel and the
 * sizes, so nothing reachable from JS can crash the process. This module
 * only finds and loads it: `nativeKernels` is null when it cannot be loaded
 * (not built, wrong platform), with the reason in `nativeLoadError`.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Kernels } from './types.js';

const ADDON = 'lms_kernels.node';

/** What the addon exports beyond the kernels (see native/addon.cc). */
interface Addon extends Omit<Kernels, 'name' | 'gemmImpl'> {
  readonly gemmImpl: 'openblas' | 'portable';
  /** Micro-kernel the portable GEMM picked for this CPU. */
  readonly portableIsa: string;
  /** Threads the addon's own pool uses (batched GEMM, large row loops). */
  readonly threads: number;
  /** 0 = automatic, 1 = serial loop of GEMMs, 2 = GEMMs spread over the pool. */
  setBatchedMode(mode: 0 | 1 | 2): void;
  hash32(seed: number, i: number): number;
  /** SIGINT/SIGTERM set a flag that synchronous jobs poll (see signals.ts). */
  installInterruptHandler(): void;
  removeInterruptHandler(): void;
  interrupted(): boolean;
}

// The compiled file sits at dist/src/engine/kernels/native.js and the
// source at src/engine/kernels/native.ts, so walk up to the package root
// (the first directory with a package.json) rather than counting levels.
function findAddon(): string[] {
  const tried: string[] = [];
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(path.join(dir, 'package.json'))) {
      for (const kind of ['Release', 'Debug']) tried.push(path.join(dir, 'build', kind, ADDON));
      break;
    }
    const up = path.dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return tried;
}

function load(): { addon: Addon | null; error: string | null } {
  const candidates = findAddon();
  const found = candidates.find((p) => existsSync(p));
  if (!found) {
    return {
      addon: null,
      error: `native addon not built (looked for ${candidates.join(', ') || ADDON}); run \`npm run install\` or \`npx node-gyp rebuild\``,
    };
  }
  try {
    const require = createRequire(import.meta.url);
    return { addon: require(found) as Addon, error: null };
  } catch (e) {
    return { addon: null, error: `loading ${found} failed: ${(e as Error).message}` };
  }
}

const loaded = load();

/** Why the native set is unavailable, or null when it loaded. */
export const nativeLoadError: string | null = loaded.error;

/** The raw addon, for benchmarks and tests (batched-GEMM mode, thread count). */
export const nativeAddon: Addon | null = loaded.addon;

function makeKernels(a: Addon): Kernels {
  return {
    name: 'native',
    gemmImpl: a.gemmImpl,
    sgemm: a.sgemm,
    sgemmBatched: a.sgemmBatched,
    biasAdd: a.biasAdd,
    biasBackward: a.biasBackward,
    geluForward: a.geluForward,
    geluBackward: a.geluBackward,
    tanhForward: a.tanhForward,
    tanhBackward: a.tanhBackward,
    layerNormForward: a.layerNormForward,
    layerNormBackward: a.layerNormBackward,
    softmaxForward: a.softmaxForward,
    softmaxBackward: a.softmaxBackward,
    logSoftmaxForward: a.logSoftmaxForward,
    logSoftmaxBackward: a.logSoftmaxBackward,
    embeddingForward: a.embeddingForward,
    embeddingBackward: a.embeddingBackward,
    dropoutForward: a.dropoutForward,
    dropoutBackward: a.dropoutBackward,
    add: a.add,
    axpy: a.axpy,
    scale: a.scale,
    sum: a.sum,
    sumSquaredDiff: a.sumSquaredDiff,
    maxAbs: a.maxAbs,
    firstNonFinite: a.firstNonFinite,
    adamStep: a.adamStep,
    crossEntropyForward: a.crossEntropyForward,
    crossEntropyBackward: a.crossEntropyBackward,
    addLayerNormForward: a.addLayerNormForward,
    addLayerNormBackward: a.addLayerNormBackward,
    biasGeluForward: a.biasGeluForward,
    biasGeluBackward: a.biasGeluBackward,
    adamStepMany: a.adamStepMany,
    sumSquaresMany: a.sumSquaresMany,
  };
}

/** The native kernel set, or null when the addon could not be loaded. */
export const nativeKernels: Kernels | null = loaded.addon ? makeKernels(loaded.addon) : null;

if (loaded.addon && loaded.addon.gemmImpl === 'portable') {
  process.stderr.write(
    'lmsanitator: warning: native kernels were built without OpenBLAS and use the portable C++ GEMM ' +
      `(${loaded.addon.portableIsa}), which is slower; install OpenBLAS (libopenblas-dev) and run \`npm rebuild\`.\n`,
  );
}

