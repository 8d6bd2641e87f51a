// npm run example: builds examples/buggy.c, records it until a run hits its
// intermittent bug (at most 100 tries: it shows in about one run in four,
// so 100 tries miss it about once in 10^12), replays that trace, and shows how to
// debug it with gdb.
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const cli = path.join(here, '..', 'bin', 'rewind.js');
const work = path.join(here, '.build');
const exe = path.join(work, 'buggy');
fs.mkdirSync(work, { recursive: true });
execFileSync('cc', ['-g', '-O0', '-o', exe, path.join(here, 'buggy.c')], { stdio: 'inherit' });
const env = { ...process.env, REWIND_TRACE_DIR: process.env.REWIND_TRACE_DIR ?? path.join(work, 'traces') };

const rewind = (...args) => spawnSync(process.execPath, [cli, ...args], { env, stdio: 'inherit' });

let trace;
for (let attempt = 1; attempt <= 100; attempt++) {
  const dir = path.join(env.REWIND_TRACE_DIR, `buggy-example-${Date.now()}-${attempt}`);
  fs.mkdirSync(env.REWIND_TRACE_DIR, { recursive: true });
  console.log(`\n$ rewind record -o ${dir} -- ${exe}`);
  const r = rewind('record', '-o', dir, '--', exe);
  trace = dir;
  if (r.status !== 0) {
    console.log(`\nrecording ${attempt} caught the bug (exit status ${r.status})`);
    break;
  }
  console.log(`recording ${attempt} ran fine; the bug shows in about one run in four, trying again`);
}

console.log(`\n$ rewind replay --check ${trace}    # the same run again, from the trace alone`);
const check = rewind('replay', '--check', trace);
console.log(`(replay exit status ${check.status})`);
console.log(`\n$ rewind dump ${trace} | tail -5`);
const dump = spawnSync(process.execPath, [cli, 'dump', trace], { env, encoding: 'utf8' });
console.log(dump.stdout.trimEnd().split('\n').slice(-5).join('\n'));
console.log(`\nTo debug that exact run in gdb:\n  node ${path.relative(process.cwd(), cli)} replay ${trace}\n  gdb ${path.relative(process.cwd(), exe)} -ex 'target remote :2345'`);
console.log(`\nTo see it on a timeline in the browser (prints the page's URL):\n  node ${path.relative(process.cwd(), cli)} ui ${trace}`);
