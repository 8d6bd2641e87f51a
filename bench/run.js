// npm run bench: record and replay overhead as ratios to native. Each trial runs
// in a fresh process (trial.js) that times the workload natively, recorded and
// replayed side by side; the medians go into docs/benchmarks.md with the date
// and the machine, between this script's markers (other sections are kept).
// `node bench/run.js NAME...` runs only the named workloads and suites: a section
// it did not run stays as it is, and the record-replay table keeps the rows of the
// workloads it did not run.
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { WORKLOADS } from './workloads.js';
import { measuredOn, readSection, writeSection } from './report.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const TRIALS = Number(process.env.BENCH_TRIALS ?? 3);
const SUITES = ['rsp.js', 'reverse.js', 'reverse-threads.js', 'reverse-maps.js', 'hit-costs.js', 'startup.js'];
const only = process.argv.slice(2);
const known = [...Object.keys(WORKLOADS), ...SUITES.map((s) => s.replace('.js', ''))];
const unknown = only.filter((n) => !known.includes(n));
if (unknown.length) {
  process.stderr.write(`bench/run.js: no workload or suite named ${unknown.join(', ')} (known: ${known.join(', ')})\n`);
  process.exit(2);
}

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
    const pinned = t.nativePinned === undefined ? '' : ` (on one CPU ${f2(t.nativePinned)} s)`;
    process.stderr.write(`${name} trial ${i + 1}: native ${f2(t.native)} s${pinned}, record ${f2(t.record)} s, replay ${f2(t.replay)} s\n`);
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
    // threads that hand over: the native run with every thread on one CPU too, and
    // record against the faster of the two (per trial, then the median)
    nativePinned: trials[0].nativePinned === undefined ? undefined : median(trials.map((t) => t.nativePinned)),
    nativeIpis: trials[0].nativeIpis === undefined ? undefined : median(trials.map((t) => t.nativeIpis)),
    nativePinnedIpis: trials[0].nativePinnedIpis === undefined ? undefined : median(trials.map((t) => t.nativePinnedIpis)),
    recordToFaster: trials[0].nativePinned === undefined ? undefined
      : median(trials.map((t) => t.record / Math.min(t.native, t.nativePinned))),
    events: trials[0].events,
    traceBytes: trials[0].traceBytes,
  });
}

const row = (r) => `| ${r.title} | ${f2(r.native)} s | ${f2(r.record)} s | **${f2(r.recordRatio)}x** | ${f2(r.replay)} s | ${f2(r.replayRatio)}x | ${r.events} | ${(r.traceBytes / 2 ** 20).toFixed(1)} MiB |`;
// Threads run one at a time when recorded: what a recording can match is the native run's CPU time, not its wall time.
const cpuLine = (r) => `${r.title}: the native run used ${f2(r.nativeCpu)} s of CPU in all (its threads in parallel); record / native CPU = **${f2(r.recordToCpu)}x** (issue 9's target: ≤ 1.2x).`;
const ipisNote = (n) => n === undefined ? '' : `, ${n} rescheduling IPIs per run`;
const pinnedLine = (r) => `${r.title}: natively with its threads on one CPU (the recorder's placement) ${f2(r.nativePinned)} s${ipisNote(r.nativePinnedIpis)}; `
  + `on any CPU ${f2(r.native)} s${ipisNote(r.nativeIpis)} (each the median of the trials' medians of ${process.env.BENCH_NATIVE_RUNS ?? 3} runs); `
  + `record / the faster native = **${f2(r.recordToFaster)}x** (issue 9's target: ≤ 5x).`;
// A run that measured no workload leaves the section as it is; one that measured some
// keeps the rows (and CPU lines) of the others as an earlier run wrote them, and says so.
if (rows.length) {
  const earlier = readSection('bench/run.js', 'record-replay');
  const measured = (w) => rows.find((x) => x.title === w.title);
  const lines = Object.values(WORKLOADS).flatMap((w) => {
    const r = measured(w);
    return r ? [row(r)] : earlier.filter((line) => line.startsWith(`| ${w.title} |`));
  });
  const cpuLines = Object.values(WORKLOADS).flatMap((w) => {
    const r = measured(w);
    if (r) return [...(r.recordToCpu !== undefined ? [cpuLine(r)] : []), ...(r.recordToFaster !== undefined ? [pinnedLine(r)] : [])];
    return earlier.filter((line) => line.startsWith(`${w.title}: the native run used`) || line.startsWith(`${w.title}: natively with its threads`));
  });
  const partial = rows.length < Object.keys(WORKLOADS).length
    ? ` This run measured ${rows.map((r) => r.name).join(', ')} only; the other rows are from an earlier run.` : '';
  writeSection('bench/run.js', 'record-replay', [
    '## Record and replay overhead',
    '',
    `${measuredOn()} `
      + `Median of ${TRIALS} trials; each trial is a fresh process that runs the workload natively (the median of ${process.env.BENCH_NATIVE_RUNS ?? 3} runs), records it and replays it (\`replay\` = headless replay to the end), side by side. `
      + 'Times are wall-clock and include starting the program and, for record and replay, capturing or rebuilding its address space.' + partial,
    '',
    '| workload | native | record | record / native | replay | replay / native | events | trace size |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...lines,
    ...cpuLines.flatMap((line) => ['', line]),
  ]);
}

// The gdb server's latencies, reverse execution, the cost of a hit and start-up, each suite in a fresh process of its own.
for (const suite of SUITES) {
  if (only.length && !only.includes(suite.replace('.js', ''))) continue;
  execFileSync(process.execPath, [path.join(here, suite)], { stdio: 'inherit' });
}
