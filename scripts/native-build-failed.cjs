#!/usr/bin/env node
// Runs when `node-gyp rebuild` fails during `npm install` (see package.json's
// "install" script). The package still works: the engine falls back to the
// portable TypeScript kernels. Say so loudly, then let the install succeed.
'use strict';

const lines = [
  '',
  '========================================================================',
  ' lmsanitator: WARNING: the native kernel addon (node-gyp) failed to build.',
  ' Falling back to the js kernels: everything works, but model runs are',
  ' one to two orders of magnitude slower.',
  '',
  ' To get the fast path, install a C++ toolchain (g++, make, python3) and,',
  ' for fast GEMMs, OpenBLAS (Debian/Ubuntu: apt-get install libopenblas-dev),',
  ' then rebuild with:  npm rebuild lmsanitator   (or: npx node-gyp rebuild)',
  ' The node-gyp error output above says what went wrong.',
  '========================================================================',
  '',
];
process.stderr.write(lines.join('\n') + '\n');
process.exit(0);
