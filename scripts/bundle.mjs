// Bundles the compiled CLI (dist/) into a few files under dist/bundle/, for start-up:
// Node's ES module loader spends ~1 ms of CPU per file it resolves and loads, and
// `rewind record` loaded about 40 of them before recording anything
// (docs/benchmarks.md, start-up). Code splitting keeps each command's modules in
// chunks of their own, loaded when that command runs. bin/rewind.js runs the
// bundle when it is at least as new as tsc's output, else dist/ itself, so a bare
// `npx tsc` never runs stale code, only slower code.
//
// Two entries: inherited-stdio.js must run before anything touches stdio (see that
// file), and as one module shared with main.js, which the split keeps it. Kept
// outside: iced-x86 (finds its wasm next to itself) and the DAP library (CommonJS
// with its own requires); the addon is loaded by path at run time.
import * as esbuild from 'esbuild';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

// chunk names carry a hash of their content: the old ones would pile up
fs.rmSync(path.join(root, 'dist', 'bundle'), { recursive: true, force: true });
await esbuild.build({
  absWorkingDir: root,
  entryPoints: ['dist/cli/inherited-stdio.js', 'dist/cli/main.js'],
  outdir: 'dist/bundle',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external: ['iced-x86', '@vscode/*'],
  // dist/bundle/ is as deep as dist/<room>/: paths built from import.meta.url stay right
  sourcemap: 'linked',
  logLevel: 'warning',
  // less for V8 to scan at every start (~10% of a record's CPU under load); names are
  // kept, so stack traces still read
  minifyWhitespace: true,
  minifySyntax: true,
  // CommonJS packages bundled into ES modules call require() for builtins
  banner: { js: "import { createRequire as __rewindRequire } from 'node:module'; const require = __rewindRequire(import.meta.url);" },
});
