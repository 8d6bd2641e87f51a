// node bench/trial-compare.js BEFORE [AFTER] WORKLOAD [--trials N]: one workload's
// native, record and replay times (bench/trial.js) in two built checkouts side by
// side (AFTER: this one), for the before/after numbers of a speed change
// (docs/replay-speed.md). The checkouts' trials alternate, so that load from other
// work on the machine falls on both alike: compare their ratios, not the absolute
// times. Run it under `chrt -f 10` to stand in for an idle machine. A checkout is
// built as usual, or is a copy of this one's bin/, dist/, build/, bench/ and
// package.json taken before the change (node_modules linked). Prints each trial, the
// medians and the minima; writes nothing.
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const trialsAt = args.indexOf('--trials');
const trials = trialsAt >= 0 ? Number(args.splice(trialsAt, 2)[1]) : 7;
if (args.length < 2 || args.length > 3 || !(trials > 0)) {
  process.stderr.write('usage: node bench/trial-compare.js BEFORE [AFTER] WORKLOAD [--trials N]\n');
  process.exit(2);
}
const workload = args.pop();
const checkouts = { before: path.resolve(args[0]), after: path.resolve(args[1] ?? path.join(here, '..')) };

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const f2 = (x) => x.toFixed(3);
const runs = { before: [], after: [] };
for (let i = 0; i < trials; i++) {
  for (const [name, dir] of Object.entries(checkouts)) {
    const out = execFileSync(process.execPath, [path.join(dir, 'bench', 'trial.js'), workload],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
    const t = JSON.parse(out.trim().split('\n').pop());
    runs[name].push(t);
    process.stdout.write(`${name.padEnd(6)} trial ${i + 1}: native ${f2(t.native)} s, record ${f2(t.record)} s, replay ${f2(t.replay)} s\n`);
  }
}
for (const [name, ts] of Object.entries(runs)) {
  const m = (k) => median(ts.map((t) => t[k]));
  const min = (k) => Math.min(...ts.map((t) => t[k]));
  const ratio = (k) => median(ts.map((t) => t[k] / t.native));
  const rr = median(ts.map((t) => t.replay / t.record));
  process.stdout.write(`${name.padEnd(6)} median: native ${f2(m('native'))} s, record ${f2(m('record'))} s (${ratio('record').toFixed(2)}x), `
    + `replay ${f2(m('replay'))} s (${ratio('replay').toFixed(2)}x), replay/record ${rr.toFixed(2)}; `
    + `minima: native ${f2(min('native'))}, record ${f2(min('record'))}, replay ${f2(min('replay'))} s\n`);
}
