// Bundles the compiled CLI (dist/) into a few files under dist/bundle/, for start-up:
// Node's ES module loader spends ~1 ms of CPU per file it resolves and loads, and
// `rewind record` loaded about 40 of them before recording anything
// (docs/benchmarks.md, start-up). Each command is a bundle loaded when it runs, a
// CommonJS file (.cjs) that bin/rewind.js compiles with V8's code cache (see there).
// bin/rewind.js runs the bundles when they are at least as new as tsc's output, else
// dist/ itself, so a bare `npx tsc` never runs stale code, only slower code.
// Rebuilding removes dist/bundle/ with the code caches of the old bundles.
//
// Two entries: inherited-stdio.cjs must run before anything touches stdio (see that
// file), and as one module shared with main.cjs, which the split keeps it. Kept
// outside: iced-x86 (finds its wasm next to itself) and the DAP library (CommonJS
// with its own requires); the addon is loaded by path at run time.
import * as esbuild from 'esbuild';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

// Node's builtins through require(), not import: an ES module's import of a builtin
// builds a facade of all its exports, which reads every lazy getter (node:fs loads
// all of streams for fs.ReadStream, node:crypto the whole of webcrypto). ~8 ms of a
// record's start. The module standing for a builtin is an ES module of its own
// whose exports are the builtin's plain properties (a CommonJS one made esbuild copy
// every property, ~100 for fs, into a namespace object for each module importing it:
// ~3 ms); a lazy getter that yields a function is exported as a function calling it,
// the other lazy getters (fs.promises, crypto.webcrypto, classes) not at all, and a
// use of one fails the build (import-is-undefined is an error below).
const requireHere = createRequire(import.meta.url);
const builtinsByRequire = {
  name: 'builtins-by-require',
  setup(build) {
    build.onResolve({ filter: /^node:/ }, (args) => (args.kind === 'import-statement' && args.path !== 'node:module'
      ? { path: args.path, namespace: 'builtin-require' } : undefined));
    build.onLoad({ filter: /.*/, namespace: 'builtin-require' }, (args) => {
      const m = requireHere(args.path);
      const lines = [`const m = require(${JSON.stringify(args.path)});`, 'export default m;'];
      Object.entries(Object.getOwnPropertyDescriptors(m)).forEach(([name, d], i) => {
        if (!/^[A-Za-z_$][\w$]*$/.test(name) || name === 'default') return;
        const key = JSON.stringify(name);
        if (!d.get) lines.push(`const v${i} = m[${key}]; export { v${i} as ${name} };`);
        else if (typeof m[name] === 'function' && !/^class\b/.test(Function.prototype.toString.call(m[name])) && !/^[A-Z]/.test(name)) {
          lines.push(`function f${i}(...a) { return m[${key}](...a); } export { f${i} as ${name} };`);
        }
      });
      return { contents: lines.join('\n'), loader: 'js' };
    });
  },
};

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

// Each command is a bundle of its own, without shared chunks: a record loaded 13
// chunks (ESM resolution and loading ~0.7 ms each); now main.cjs and one file. The
// modules that must be one instance (inherited-stdio, read by bin/rewind.js and
// a command), the commands main.js imports when they run, and the x86 decoder's
// wrapper (loaded only when CPUID sites are patched; inlined, its static import of
// iced-x86 would load it at every start) stay separate files, imported by path.
const separate = /^\.\/(inherited-stdio|[a-z-]+-command|code-sites)\.js$/;
// The asynchronous signals' points (src/points) load iced-x86 too, and are needed only
// by a trace that has points: bundles of their own, loaded when one comes. Their error
// class and the replay's count of points (point-counts) are files that every bundle and
// they load by that path.
const points = /^(\.\.\/points|\.)\/(record-point|record-switch|replay-point|point-not-found|point-counts)\.js$/;
const pointEntries = ['record-point', 'record-switch', 'replay-point', 'point-not-found', 'point-counts'].map((n) => `dist/points/${n}.js`);
// The separate files are CommonJS bundles too (.cjs, beside this one): a path to one
// is rewritten to it.
const keepSeparate = {
  name: 'keep-separate',
  setup(build) {
    build.onResolve({ filter: separate }, (args) => (args.kind === 'entry-point' ? undefined
      : { path: args.path.replace(/\.js$/, '.cjs'), external: true }));
    build.onResolve({ filter: points }, (args) => (args.kind === 'entry-point' ? undefined
      : { path: `./${points.exec(args.path)[2]}.cjs`, external: true }));
  },
};

fs.rmSync(path.join(root, 'dist', 'bundle'), { recursive: true, force: true });
const commands = fs.readdirSync(path.join(root, 'dist', 'cli')).filter((f) => /^[a-z-]+-command\.js$/.test(f)).map((f) => `dist/cli/${f}`);
await esbuild.build({
  absWorkingDir: root,
  entryPoints: ['dist/cli/inherited-stdio.js', 'dist/cli/main.js', 'dist/cpuid/code-sites.js', ...commands, ...pointEntries],
  outdir: 'dist/bundle',
  entryNames: '[name]',
  outExtension: { '.js': '.cjs' },
  bundle: true,
  // CommonJS, not ES modules: bin/rewind.js compiles each bundle itself, with V8's code
  // cache (vm.Script cachedData; Node 20 has no module.enableCompileCache), and an ES
  // module entry makes Node start its ES module loader (~3 ms)
  format: 'cjs',
  // import() of the separate bundles becomes require(): an import() inside a vm.Script
  // needs a loader callback, and the bundles are CommonJS
  supported: { 'dynamic-import': false },
  // import.meta has no meaning in CommonJS: the bundle's own URL, as the ES module had
  define: { 'import.meta.url': 'importMetaUrl' },
  platform: 'node',
  target: 'node20',
  external: ['iced-x86', '@vscode/*'],
  // dist/bundle/ is as deep as dist/<room>/: paths built from import.meta.url stay right
  sourcemap: 'linked',
  logLevel: 'warning',
  logOverride: { 'import-is-undefined': 'error' },
  plugins: [keepSeparate, builtinsByRequire],
  // less for V8 to scan at every start (~10% of a record's CPU under load); names are
  // kept, so stack traces still read
  minifyWhitespace: true,
  minifySyntax: true,
  banner: { js: "\"use strict\";const importMetaUrl = require('node:url').pathToFileURL(__filename).href;" },
});
