// npm run bench: record and replay overhead as ratios to native. Each trial runs
// in a fresh process (trial.js) that times the workload natively, recorded and
// replayed side by side; the medians go into docs/benchmarks.md with the date
// and the machine, between this script's markers (other sections are kept).
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { WORKLOADS } from './workloads.js';
import { measuredOn, writeSection } from './report.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const TRIALS = Number(process.env.BENCH_TRIALS ?? 3);
const only = process.argv.slice(2);

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const f2 = (x) => x.toFixed(2);

const rows = [];
for (const [name, w] of Object.entries(WORKLOADS)) {
  if (only.length && !only.includes(name)) continue;
  const trials = [];
  for (let i = 0; i < TRIALS; i++) {
    const out = execFileSync(process.execPath, [path.join(here, 'trial.js'), name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
    const t = JSON.parse(out.trim().split('\n').pop());
    trials.push(t);
    process.stderr.write(`${name} trial ${i + 1}: native ${f2(t.native)} s, record ${f2(t.record)} s, replay ${f2(t.replay)} s\n`);
  }
  rows.push({
    name, title: w.title,
    native: median(trials.map((t) => t.native)),
    record: median(trials.map((t) => t.record)),
    replay: median(trials.map((t) => t.replay)),
    recordRatio: median(trials.map((t) => t.record / t.native)),
    replayRatio: median(trials.map((t) => t.replay / t.native)),
    recordToCpu: trials[0].nativeCpu === undefined ? undefined : median(trials.map((t) => t.record / t.nativeCpu)),
    nativeCpu: trials[0].nativeCpu === undefined ? undefined : median(trials.map((t) => t.nativeCpu)),
    events: trials[0].events,
    traceBytes: trials[0].traceBytes,
  });
}

writeSection('bench/run.js', 'record-replay', [
  '## Record and replay overhead',
  '',
  `${measuredOn()} `
    + `Median of ${TRIALS} trials; each trial is a fresh process that runs the workload natively, records it and replays it (\`replay\` = headless replay to the end), side by side. `
    + 'Times are wall-clock and include starting the program and, for record and replay, capturing or rebuilding its address space.',
  '',
  '| workload | native | record | record / native | replay | replay / native | events | trace size |',
  '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ...rows.map((r) => `| ${r.title} | ${f2(r.native)} s | ${f2(r.record)} s | **${f2(r.recordRatio)}x** | ${f2(r.replay)} s | ${f2(r.replayRatio)}x | ${r.events} | ${(r.traceBytes / 2 ** 20).toFixed(1)} MiB |`),
  // Threads run one at a time when recorded: what a recording can match is the native run's CPU time, not its wall time.
  ...rows.filter((r) => r.recordToCpu !== undefined).flatMap((r) => [
    '',
    `${r.title}: the native run used ${f2(r.nativeCpu)} s of CPU in all (its threads in parallel); record / native CPU = **${f2(r.recordToCpu)}x** (issue 9's target: ≤ 1.2x).`,
  ]),
]);

// The gdb server's latencies, reverse execution, the cost of a hit and start-up, each suite in a fresh process of its own.
for (const suite of ['rsp.js', 'reverse.js', 'hit-costs.js', 'startup.js']) {
  if (only.length && !only.includes(suite.replace('.js', ''))) continue;
  execFileSync(process.execPath, [path.join(here, suite)], { stdio: 'inherit' });
}
