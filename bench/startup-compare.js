// node bench/startup-compare.js BEFORE [AFTER] [--trials N]: the start-up of two
// built checkouts side by side (AFTER: this one), for the before/after numbers of a
// start-up change (docs/startup.md). Each trial runs `node -e 0`, then `rewind record
// -- /bin/true` and `rewind replay --check` of each checkout, alternating, so that
// load from other work on the machine falls on both alike: compare their ratios, not
// the absolute times. Each checkout has its own trace directory and file store,
// filled by one record first. Run it under `chrt -f 10` to stand in for an idle
// machine. A checkout is built as usual (`npm install`, or `npm run build` and
// `npx node-gyp rebuild`), e.g. main's: `git archive main | tar -x -C DIR`, then
// `npm install` in DIR. Prints medians and minima; writes nothing.
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const trialsAt = args.indexOf('--trials');
const trials = trialsAt >= 0 ? Number(args.splice(trialsAt, 2)[1]) : 21;
if (args.length < 1 || args.length > 2 || !(trials > 0)) {
  process.stderr.write('usage: node bench/startup-compare.js BEFORE [AFTER] [--trials N]\n');
  process.exit(2);
}
const checkouts = [
  { name: 'before', cli: path.resolve(args[0], 'bin', 'rewind.js') },
  { name: 'after', cli: path.resolve(args[1] ?? path.join(here, '..'), 'bin', 'rewind.js') },
];
for (const c of checkouts) if (!fs.existsSync(c.cli)) throw new Error(`no ${c.cli}`);

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'rewind-bench-compare-'));

function timed(argv, env) {
  const t = process.hrtime.bigint();
  const r = spawnSync(process.execPath, argv, { env, stdio: ['ignore', 'ignore', 'pipe'] });
  if (r.status !== 0) throw new Error(`node ${argv.join(' ')} failed (${r.status}): ${r.stderr}`);
  return Number(process.hrtime.bigint() - t) / 1e6;
}

try {
  const rows = [{ name: '`node -e 0`', run: () => timed(['-e', '0'], process.env), times: [] }];
  for (const c of checkouts) {
    const env = { ...process.env, REWIND_TRACE_DIR: path.join(work, c.name, 'traces'), REWIND_FILE_STORE: path.join(work, c.name, 'store') };
    execFileSync(process.execPath, [c.cli, 'record', '--', '/bin/true'], { env, stdio: 'ignore' });
    rows.push({ name: `${c.name}: record -- /bin/true`, run: () => timed([c.cli, 'record', '--', '/bin/true'], env), times: [] });
    rows.push({ name: `${c.name}: replay --check`, run: () => timed([c.cli, 'replay', '--check'], env), times: [] });
  }
  // node, before's record, after's record, before's replay, after's replay
  const order = [rows[0], rows[1], rows[3], rows[2], rows[4]];
  for (let i = 0; i < trials; i++) for (const r of order) r.times.push(r.run());
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  process.stdout.write(`${trials} trials, load average ${os.loadavg()[0].toFixed(1)}\n`);
  for (const r of rows) {
    process.stdout.write(`  ${r.name.padEnd(32)} median ${median(r.times).toFixed(1).padStart(6)} ms  min ${Math.min(...r.times).toFixed(1).padStart(6)} ms\n`);
  }
  const ratio = (k) => (median(rows[k + 2].times) / median(rows[k].times)).toFixed(2);
  process.stdout.write(`  after/before: record ${ratio(1)}, replay --check ${ratio(2)}\n`);
} finally {
  fs.rmSync(work, { recursive: true, force: true });
}
