#!/usr/bin/env node
// Decides, for binding.gyp, whether the native addon links OpenBLAS (cblas)
// or compiles its portable C++ GEMM. Usage:
//   node scripts/detect-blas.cjs defines|include_dirs|libraries|report
// Prints gyp list items separated by spaces; nothing at all for the portable
// build, so binding.gyp needs no conditionals.
//
// Finding a header is not enough (a header without the library, or a cblas.h
// from another vendor, would break the link), so the candidate is confirmed
// by compiling and linking a one-line program that calls cblas_sgemm and
// openblas_set_num_threads. Any failure means portable: the build must never
// fail because of BLAS.
//
// Environment:
//   LMS_NO_BLAS=1            force the portable GEMM
//   LMS_BLAS_INCLUDE=dir     directory holding cblas.h (OpenBLAS's)
//   LMS_BLAS_LIB=dir         directory holding libopenblas
//   OPENBLAS_HOME=prefix     prefix/include + prefix/lib
'use strict';

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

function multiarch() {
  for (const cc of [process.env.CC, 'gcc', 'cc']) {
    if (!cc) continue;
    const r = spawnSync(cc, ['-print-multiarch'], { encoding: 'utf8' });
    const out = r.status === 0 ? r.stdout.trim() : '';
    if (out) return out;
  }
  if (process.arch === 'x64') return 'x86_64-linux-gnu';
  if (process.arch === 'arm64') return 'aarch64-linux-gnu';
  return '';
}

function candidates() {
  const ma = multiarch();
  const inc = [];
  const lib = [];
  const push = (prefix) => {
    inc.push(path.join(prefix, 'include', 'openblas'), path.join(prefix, 'include'));
    // Debian: the multiarch dir holds the alternatives-managed libopenblas.so,
    // openblas-pthread/ one specific flavour; prefer the former (no rpath).
    if (ma) inc.push(path.join(prefix, 'include', ma), path.join(prefix, 'include', ma, 'openblas-pthread'));
    if (ma) lib.push(path.join(prefix, 'lib', ma), path.join(prefix, 'lib', ma, 'openblas-pthread'));
    lib.push(path.join(prefix, 'lib'), path.join(prefix, 'lib64'));
  };
  if (process.env.LMS_BLAS_INCLUDE) inc.push(process.env.LMS_BLAS_INCLUDE);
  if (process.env.LMS_BLAS_LIB) lib.push(process.env.LMS_BLAS_LIB);
  if (process.env.OPENBLAS_HOME) push(process.env.OPENBLAS_HOME);
  for (const prefix of ['/usr', '/usr/local', '/opt/homebrew/opt/openblas', '/usr/local/opt/openblas', '/opt/OpenBLAS']) {
    push(prefix);
  }
  return { inc, lib };
}

function firstWith(dirs, names) {
  for (const d of dirs) {
    for (const n of names) {
      if (fs.existsSync(path.join(d, n))) return d;
    }
  }
  return null;
}

const PROBE = `#include <cblas.h>
int main(void) {
  float a = 1.0f, b = 2.0f, c = 0.0f;
  openblas_set_num_threads(1);
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, 1, 1, 1, 1.0f, &a, 1, &b, 1, 0.0f, &c, 1);
  return c == 2.0f ? 0 : 1;
}
`;

function probe(incDir, libDir) {
  const cxx = process.env.CXX || 'c++';
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lms-blas-'));
  try {
    const src = path.join(tmp, 'probe.cc');
    const exe = path.join(tmp, 'probe');
    fs.writeFileSync(src, PROBE);
    const args = [src, '-o', exe, `-I${incDir}`, `-L${libDir}`, '-lopenblas', `-Wl,-rpath,${libDir}`];
    const r = spawnSync(cxx, args, { encoding: 'utf8', timeout: 60000 });
    if (r.status !== 0) return false;
    const run = spawnSync(exe, [], { timeout: 60000, env: { ...process.env, OPENBLAS_NUM_THREADS: '1' } });
    return run.status === 0;
  } catch {
    return false;
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

function detect() {
  if (process.env.LMS_NO_BLAS && process.env.LMS_NO_BLAS !== '0') {
    return { found: false, why: 'LMS_NO_BLAS is set' };
  }
  if (process.platform === 'win32') return { found: false, why: 'no OpenBLAS detection on Windows' };
  const { inc, lib } = candidates();
  // Prefer the include dir that sits next to openblas_config.h: on Debian
  // /usr/include/x86_64-linux-gnu/cblas.h is OpenBLAS's, /usr/include/cblas.h may not be.
  const incDir = firstWith(inc.filter((d) => fs.existsSync(path.join(d, 'openblas_config.h'))), ['cblas.h'])
    ?? firstWith(inc, ['cblas.h']);
  if (!incDir) return { found: false, why: 'cblas.h not found' };
  const libDir = firstWith(lib, ['libopenblas.so', 'libopenblas.dylib', 'libopenblas.a']);
  if (!libDir) return { found: false, why: 'libopenblas not found' };
  if (!probe(incDir, libDir)) return { found: false, why: `test link against ${libDir}/libopenblas failed` };
  return { found: true, incDir, libDir };
}

// binding.gyp asks three times; the three answers must agree (a define
// without its -lopenblas would fail only at load time), so the first answer is
// kept in build/ for the rest of this configure run. `node-gyp rebuild`
// cleans build/ first, so a new build always detects afresh.
function cachedDetect() {
  const key = JSON.stringify(['LMS_NO_BLAS', 'LMS_BLAS_INCLUDE', 'LMS_BLAS_LIB', 'OPENBLAS_HOME', 'CXX']
    .map((k) => process.env[k] ?? null));
  const buildDir = path.join(__dirname, '..', 'build');
  const file = path.join(buildDir, 'lms-blas.json');
  try {
    const c = JSON.parse(fs.readFileSync(file, 'utf8'));
    if (c.key === key) return { ...c.result, cached: true };
  } catch { /* no cache yet */ }
  const result = detect();
  try {
    if (fs.existsSync(buildDir)) fs.writeFileSync(file, JSON.stringify({ key, result }));
  } catch { /* caching is only an optimisation */ }
  return result;
}

const what = process.argv[2] ?? 'report';
const r = what === 'report' ? detect() : cachedDetect();
const SYSTEM_LIB_DIRS = new Set(['/usr/lib', '/lib', '/usr/lib64', `/usr/lib/${multiarch()}`]);
switch (what) {
  case 'defines':
    process.stdout.write(r.found ? 'LMS_HAVE_CBLAS=1' : '');
    break;
  case 'include_dirs':
    process.stdout.write(r.found ? r.incDir : '');
    break;
  case 'libraries': {
    if (!r.found) break;
    const parts = [];
    if (!SYSTEM_LIB_DIRS.has(r.libDir)) parts.push(`-L${r.libDir}`, `-Wl,-rpath,${r.libDir}`);
    parts.push('-lopenblas');
    process.stdout.write(parts.join(' '));
    break;
  }
  case 'report':
    console.log(r.found ? `openblas: ${r.incDir}/cblas.h, ${r.libDir}` : `portable GEMM (${r.why})`);
    break;
  default:
    console.error(`detect-blas: unknown query ${what}`);
    process.exit(2);
}
if (what !== 'report' && !r.cached) {
  // gyp swallows stdout; tell the person watching npm install which GEMM they get.
  process.stderr.write(`lmsanitator native build: ${r.found ? 'OpenBLAS cblas' : `portable GEMM (${r.why})`}\n`);
}
