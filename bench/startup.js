// node bench/startup.js [--cli PATH/bin/rewind.js] [--label TEXT]: how long rewind
// takes to start, beside what it cannot beat (`/bin/true` natively, `node -e 0`):
// `rewind record -- /bin/true` with the file store already holding its libraries
// and with an empty one, and `rewind replay --check` of that trace; then how big
// the trace is, what of it is its own and what is shared with the store, and its
// size after `rewind pack`. Trials are interleaved, so load that comes and goes
// falls on every command alike; wall-clock medians and minima go into
// docs/benchmarks.md. --cli measures another checkout (the "before" of a change)
// and prints its table without writing the docs.
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { measuredOn, writeSection } from './report.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const option = (name) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
const cli = path.resolve(option('--cli') ?? path.join(here, '..', 'bin', 'rewind.js'));
const TRIALS = Number(process.env.BENCH_TRIALS ?? 21);

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'rewind-bench-start-'));
const warmStore = path.join(work, 'store');
const traces = path.join(work, 'traces');
const env = { ...process.env, REWIND_TRACE_DIR: traces, REWIND_FILE_STORE: warmStore };

function timed(cmd, argv, extraEnv = {}) {
  const t = process.hrtime.bigint();
  const r = spawnSync(cmd, argv, { env: { ...env, ...extraEnv }, stdio: ['ignore', 'ignore', 'pipe'] });
  const s = Number(process.hrtime.bigint() - t) / 1e9;
  if (r.status !== 0) throw new Error(`${cmd} ${argv.join(' ')} failed (${r.status}): ${r.stderr}`);
  return s;
}

let cold = 0;
const commands = [
  { name: '`/bin/true` natively', run: () => timed('/bin/true', []) },
  { name: '`node -e 0`', run: () => timed(process.execPath, ['-e', '0']) },
  { name: '`rewind record -- /bin/true`, libraries in the store', run: () => timed(process.execPath, [cli, 'record', '--', '/bin/true']) },
  {
    name: '`rewind record -- /bin/true`, empty store',
    run: () => timed(process.execPath, [cli, 'record', '--', '/bin/true'], { REWIND_FILE_STORE: path.join(work, `cold-${cold++}`) }),
  },
  { name: '`rewind replay --check` of that trace', run: () => timed(process.execPath, [cli, 'replay', '--check']) },
];

try {
  execFileSync(process.execPath, [cli, 'record', '--', '/bin/true'], { env, stdio: 'ignore' });  // fills the store
  const times = commands.map(() => []);
  for (let i = 0; i < TRIALS; i++) commands.forEach((c, k) => times[k].push(c.run()));
  const load = os.loadavg()[0];
  // field 41 of /proc/self/stat: the scheduling policy (0 normal, 1 SCHED_FIFO, 2 SCHED_RR)
  const policy = Number(fs.readFileSync('/proc/self/stat', 'utf8').replace(/^.*\) /, '').split(' ')[38]);
  const realtime = policy === 1 || policy === 2
    ? ' The benchmark ran under a real-time policy (`chrt -f 10 node bench/startup.js`), its processes ahead of the other load, to stand in for an idle machine.'
    : '';
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const ms = (s) => `${(s * 1000).toFixed(0)} ms`;

  // the trace of one more record, as a user gets it
  execFileSync(process.execPath, [cli, 'record', '--', '/bin/true'], { env, stdio: 'ignore' });
  const trace = fs.realpathSync(path.join(traces, 'latest'));
  const sizes = () => {
    let own = 0;
    let shared = 0;
    for (const dir of [trace, path.join(trace, 'files')]) {
      for (const name of fs.readdirSync(dir)) {
        const st = fs.statSync(path.join(dir, name));
        if (!st.isFile()) continue;
        if (st.nlink > 1) shared += st.size;
        else own += st.size;
      }
    }
    return { own, shared };
  };
  const before = sizes();
  let packed;
  try {
    execFileSync(process.execPath, [cli, 'pack', trace], { env, stdio: 'ignore' });
    packed = sizes();
  } catch {
    // a checkout from before `rewind pack`
  }
  const kib = (n) => `${(n / 1024).toFixed(0)} KiB`;

  const lines = [
    '## Start-up',
    '',
    `${measuredOn()} `
      + `\`node bench/startup.js\`: ${TRIALS} trials of each command, interleaved; wall-clock median and minimum (the minimum is the run least disturbed by other load; the 1-minute load average was ${load.toFixed(1)} at the end).${realtime} `
      + 'The target of issue 10 is ≤ 0.1 s for `rewind record` and `rewind replay --check` of a trivial program.',
    '',
    '| command | median | min |',
    '| --- | ---: | ---: |',
    ...commands.map((c, k) => `| ${c.name} | ${ms(median(times[k]))} | ${ms(Math.min(...times[k]))} |`),
    '',
    `The trace of \`/bin/true\`: ${kib(before.own)} of its own, ${kib(before.shared)} hard-linked with the file store (the libraries, stored once per machine); `
      + (packed ? `after \`rewind pack\`, ${kib(packed.own)}, all its own${packed.shared ? ` (and ${kib(packed.shared)} still linked: a bug)` : ''}.` : 'this rewind has no `pack`.'),
  ];
  if (option('--cli')) {
    process.stdout.write(`${option('--label') ?? cli}\n${lines.join('\n')}\n`);
  } else {
    writeSection('bench/startup.js', 'startup', lines);
  }
} finally {
  fs.rmSync(work, { recursive: true, force: true });
}
