// node bench/startup-phases.js [N] [-- rewind arguments]: where the start-up of a
// rewind command goes (docs/startup.md), median of N runs (default 21) of each
// phase the code marks (globalThis.__rewindMark, src/phase-marks.d.ts), from the
// process's start to its end as the parent sees it. Default: `record -- /bin/true`
// and `replay --check` of that trace, beside `node -e 0`. Run it under `chrt -f 10`
// to stand in for an idle machine. Prints a table; writes nothing.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const cli = path.join(here, '..', 'bin', 'rewind.js');
const argv = process.argv.slice(2);
const dash = argv.indexOf('--');
const runs = Number((dash < 0 ? argv : argv.slice(0, dash))[0] ?? 21);
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'rewind-bench-phases-'));
const env = { ...process.env, REWIND_TRACE_DIR: path.join(work, 'traces'), REWIND_FILE_STORE: path.join(work, 'store') };

// The preloaded module: marks with wall-clock times, printed at exit.
const marker = path.join(work, 'marks.mjs');
fs.writeFileSync(marker, [
  'const marks = [["node started", performance.timeOrigin], ["first module", performance.timeOrigin + performance.now()]];',
  'globalThis.__rewindMark = (p) => marks.push([p, performance.timeOrigin + performance.now()]);',
  "process.on('exit', () => { marks.push(['exit', performance.timeOrigin + performance.now()]); process.stderr.write('\\nREWIND-MARKS ' + JSON.stringify(marks) + '\\n'); });",
].join('\n'));

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Median milliseconds of each phase of `args` (node arguments), over `runs` runs. */
function phases(args) {
  const rows = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.timeOrigin + performance.now();
    const r = spawnSync(process.execPath, ['--import', marker, ...args], { env, stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
    const t1 = performance.timeOrigin + performance.now();
    const line = r.stderr.split('\n').find((l) => l.startsWith('REWIND-MARKS '));
    if (r.status !== 0 || !line) throw new Error(`node ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
    const marks = JSON.parse(line.slice('REWIND-MARKS '.length));
    const row = [['(spawn)', marks[0][1] - t0]];
    for (let k = 1; k < marks.length; k++) row.push([marks[k][0], marks[k][1] - marks[k - 1][1]]);
    row.push(['(exit to parent)', t1 - marks[marks.length - 1][1]]);
    rows.push(row);
  }
  const names = rows[0].map(([n]) => n);
  const out = names.map((n, k) => [n, median(rows.map((r) => (r[k]?.[0] === n ? r[k][1] : NaN)).filter((x) => !Number.isNaN(x)))]);
  out.push(['total', median(rows.map((r) => r.reduce((s, [, v]) => s + v, 0)))]);
  return out;
}

function print(title, table) {
  process.stdout.write(`\n${title}\n`);
  for (const [n, v] of table) process.stdout.write(`  ${n.padEnd(24)} ${v.toFixed(1).padStart(6)} ms\n`);
}

try {
  const empty = path.join(work, 'empty.mjs');
  fs.writeFileSync(empty, '');
  print('node (an empty module)', phases([empty]));
  // fills the store, and leaves a trace for replay --check
  spawnSync(process.execPath, [cli, 'record', '--', '/bin/true'], { env, stdio: 'ignore' });
  if (dash >= 0) {
    print(`rewind ${argv.slice(dash + 1).join(' ')}`, phases([cli, ...argv.slice(dash + 1)]));
  } else {
    print('rewind record -- /bin/true', phases([cli, 'record', '--', '/bin/true']));
    print('rewind replay --check', phases([cli, 'replay', '--check']));
  }
} finally {
  fs.rmSync(work, { recursive: true, force: true });
}
