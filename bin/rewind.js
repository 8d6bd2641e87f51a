#!/usr/bin/env node
// Runs the bundled CLI (dist/bundle/, scripts/bundle.mjs) when it is at least as
// new as tsc's output, else dist/ itself: a bare `npx tsc` makes rewind slower to
// start, never stale.
// inherited-stdio.js notes whether stdio is non-blocking before Node makes it so
// (see that module); main.js comes in by a dynamic import after it: a static one
// would load its graph first, and loading `assert` already touches process.stderr.
// process.getBuiltinModule (Node >= 20.16) gives fs without the ES module facade,
// which reads every lazy export of fs (all of streams, ~2 ms)
const { statSync } = process.getBuiltinModule?.('node:fs') ?? (await import('node:fs'));

const dist = new URL('../dist/', import.meta.url);
const mtime = (rel) => {
  try {
    return statSync(new URL(rel, dist)).mtimeMs;
  } catch {
    return -1;
  }
};
const from = mtime('bundle/main.js') >= mtime('cli/main.js') ? 'bundle' : 'cli';
await import(new URL(`${from}/inherited-stdio.js`, dist).href);
await import(new URL(`${from}/main.js`, dist).href);
