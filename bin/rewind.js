#!/usr/bin/env node
// Starts the CLI: the bundles (dist/bundle/*.cjs, scripts/bundle.mjs) when they are at
// least as new as tsc's output, else dist/ itself: a bare `npx tsc` makes rewind
// slower to start, never stale.
//
// This file and the bundles are CommonJS (bin/package.json): an ES module entry
// makes Node start its ES module loader, ~3 ms of a start (docs/startup.md). Each
// bundle is compiled here, with V8's code cache: Node 20 has no
// module.enableCompileCache, and compiling a command's bundle (and the functions a
// run calls) was ~6 ms of each start. The cache of a bundle is written, next to it,
// by the first run that loads the bundle without a usable cache (none yet, another
// Node, other V8 flags); a bundle rebuilt removes its caches (scripts/bundle.mjs),
// and a cache names the bundle's inode, size and mtime, so a stale one is never
// used. Where dist/ is read-only, each start compiles, as Node would.
// (v8-compile-cache does this for every CommonJS module, by patching Node's module
// loader, with its caches under the temporary directory; three files of our own need
// neither.)
//
// inherited-stdio notes whether stdio is non-blocking before Node makes it so (see
// that module): it is loaded before main, which loads the rest when it runs.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const dist = path.join(__dirname, '..', 'dist');
const mtime = (rel) => {
  try {
    return fs.statSync(path.join(dist, rel)).mtimeMs;
  } catch {
    return -1;
  }
};

if (mtime('bundle/main.cjs') >= mtime('cli/main.js')) {
  const bundle = path.join(dist, 'bundle');
  const load = bundleLoader();
  load(path.join(bundle, 'inherited-stdio.cjs'));
  load(path.join(bundle, 'main.cjs'));
} else {
  const { pathToFileURL } = require('node:url');
  (async () => {
    await import(pathToFileURL(path.join(dist, 'cli', 'inherited-stdio.js')).href);
    await import(pathToFileURL(path.join(dist, 'cli', 'main.js')).href);
  })().catch((e) => {
    process.stderr.write(`rewind: ${e.stack ?? e}\n`);
    process.exitCode = 2;
  });
}

/**
 * A require() for the bundles: a bundle requires another by './NAME.cjs', which
 * loads it through the code cache, once; anything else (builtins, iced-x86, the DAP
 * library) is Node's require from that bundle's directory.
 */
function bundleLoader() {
  const vm = require('node:vm');
  const Module = require('node:module');
  const modules = new Map();
  const uncached = [];
  process.on('exit', () => uncached.forEach(writeCache));

  function load(file) {
    const known = modules.get(file);
    if (known) return known.exports;
    const module = { exports: {} };
    modules.set(file, module);
    const fd = fs.openSync(file, 'r');
    let source;
    let stamp;
    try {
      const st = fs.fstatSync(fd);
      stamp = `${st.ino} ${st.size} ${st.mtimeMs}\n`;
      source = fs.readFileSync(fd, 'utf8');
    } finally {
      fs.closeSync(fd);
    }
    const cacheFile = `${file}.v8-cache`;
    const cachedData = readCache(cacheFile, stamp);
    const script = new vm.Script(Module.wrap(source), { filename: file, cachedData });
    if (!cachedData || script.cachedDataRejected) uncached.push({ script, cacheFile, stamp });
    const nodeRequire = Module.createRequire(file);
    const dir = path.dirname(file);
    const bundleRequire = (id) => (id.startsWith('./') && id.endsWith('.cjs') ? load(path.join(dir, id)) : nodeRequire(id));
    script.runInThisContext().call(module.exports, module.exports, bundleRequire, module, file, dir);
    return module.exports;
  }
  return load;
}

/** The code cache in cacheFile if it was made from the bundle `stamp` names. */
function readCache(cacheFile, stamp) {
  let data;
  try {
    data = fs.readFileSync(cacheFile);
  } catch {
    return undefined;
  }
  const head = Buffer.from(stamp);
  return data.subarray(0, head.length).equals(head) ? data.subarray(head.length) : undefined;
}

/**
 * At exit, so that the functions this run compiled are in it. Written aside and
 * renamed, as runs in parallel may write it at once; a read-only dist/ is left as it is.
 */
function writeCache({ script, cacheFile, stamp }) {
  const temp = `${cacheFile}.${process.pid}`;
  try {
    fs.accessSync(path.dirname(cacheFile), fs.constants.W_OK);
    fs.writeFileSync(temp, Buffer.concat([Buffer.from(stamp), script.createCachedData()]));
    fs.renameSync(temp, cacheFile);
  } catch {
    fs.rmSync(temp, { force: true });
  }
}
