// vitest globalSetup: builds the C test programs before any test file runs.
//
// Every tests/programs/NAME.c is compiled twice:
//   cc -g -O0 -o tests/.build/NAME NAME.c                 (dynamically linked)
//   cc -g -O0 -static -o tests/.build/NAME.static NAME.c  (statically linked)
// The edge corpus tests/programs/edge/NAME.c (tests/integration/edge.test.ts) and
// the helpers in tests/programs/tools/NAME.c and the multi-process programs in
// tests/programs/procs/NAME.c and the threaded programs in tests/programs/threads/NAME.c
// are compiled dynamically only, into
// tests/.build/<dir>/NAME.
// A build whose output is newer than its source is skipped. A program that
// fails to build dynamically fails the run; one that cannot be linked
// statically loses only its static variant, which is recorded in
// tests/.build/build-report.json (the tests skip variants whose binary is
// missing). A missing `cc` or `gdb` fails the run: both are required.

import { execFile, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const PROGRAMS_DIR = path.join(ROOT, 'tests', 'programs');
const BUILD_DIR = path.join(ROOT, 'tests', '.build');
/** Subdirectories of tests/programs built dynamically only, into tests/.build/<dir>. */
const DYNAMIC_ONLY_DIRS = ['edge', 'tools', 'procs', 'threads'];
const REPORT = path.join(BUILD_DIR, 'build-report.json');

interface BuildJob {
  name: string;
  variant: 'dynamic' | 'static';
  /** relative to tests/programs */
  source: string;
  output: string;
  args: string[];
}

interface BuildReport {
  built: string[];
  upToDate: string[];
  staticSkipped: Record<string, string>;
}

function requireTool(tool: string, why: string): void {
  const r = spawnSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' });
  if (r.status !== 0 || !r.stdout.trim()) {
    throw new Error(
      `rewind tests: \`${tool}\` was not found on PATH. ${why} ` +
        `Install it (Debian: apt-get install ${tool === 'cc' ? 'gcc libc6-dev' : tool}) and run the tests again.`,
    );
  }
}

function isUpToDate(source: string, output: string): boolean {
  if (!existsSync(output)) return false;
  // A program that includes a header of its directory (edge/edge.h, threads/thread_state.h) is as old as it.
  const dir = path.dirname(source);
  const headers = readdirSync(dir).filter((f) => f.endsWith('.h')).map((f) => statSync(path.join(dir, f)).mtimeMs);
  const newest = Math.max(statSync(source).mtimeMs, ...headers);
  return statSync(output).mtimeMs > newest;
}

function compile(job: BuildJob): Promise<{ ok: boolean; log: string }> {
  return new Promise((resolve) => {
    execFile(
      'cc',
      job.args,
      { cwd: PROGRAMS_DIR, timeout: 120_000, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const log = `${stdout}${stderr}`.trim();
        resolve({ ok: !err, log: err && !log ? String(err) : log });
      },
    );
  });
}

async function runPool<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, async () => {
    while (next < items.length) {
      const item = items[next++];
      await fn(item);
    }
  });
  await Promise.all(workers);
}

export default async function setup(): Promise<void> {
  requireTool('cc', 'A C compiler is needed to build the test programs in tests/programs.');
  requireTool('gdb', 'gdb is required by the replay tests (rewind serves replays to stock gdb).');

  mkdirSync(BUILD_DIR, { recursive: true });
  const sources = readdirSync(PROGRAMS_DIR)
    .filter((f) => f.endsWith('.c'))
    .sort();
  if (sources.length === 0) throw new Error(`rewind tests: no C programs found in ${PROGRAMS_DIR}`);

  const jobs: BuildJob[] = [];
  for (const file of sources) {
    const name = file.slice(0, -2);
    const dyn = path.join(BUILD_DIR, name);
    const stat = path.join(BUILD_DIR, `${name}.static`);
    jobs.push({ name, variant: 'dynamic', source: file, output: dyn, args: ['-g', '-O0', '-o', dyn, file] });
    jobs.push({
      name,
      variant: 'static',
      source: file,
      output: stat,
      args: ['-g', '-O0', '-static', '-o', stat, file],
    });
  }
  for (const dir of DYNAMIC_ONLY_DIRS) {
    mkdirSync(path.join(BUILD_DIR, dir), { recursive: true });
    for (const file of readdirSync(path.join(PROGRAMS_DIR, dir)).filter((f) => f.endsWith('.c')).sort()) {
      const name = `${dir}/${file.slice(0, -2)}`;
      const output = path.join(BUILD_DIR, name);
      const source = `${dir}/${file}`;
      jobs.push({ name, variant: 'dynamic', source, output, args: ['-g', '-O0', '-Wall', '-o', output, source] });
    }
  }

  const report: BuildReport = { built: [], upToDate: [], staticSkipped: {} };
  const failures: string[] = [];

  await runPool(jobs, Math.max(2, cpus().length), async (job) => {
    const label = job.variant === 'static' ? `${job.name}.static` : job.name;
    if (isUpToDate(path.join(PROGRAMS_DIR, job.source), job.output)) {
      report.upToDate.push(label);
      return;
    }
    const { ok, log } = await compile(job);
    if (ok && existsSync(job.output)) {
      report.built.push(label);
      return;
    }
    // never leave a stale binary from an older source behind
    rmSync(job.output, { force: true });
    if (job.variant === 'static') {
      report.staticSkipped[job.name] = log || 'static link failed';
      console.warn(`rewind tests: ${job.name}: static build failed, its static variant is skipped:\n${log}`);
    } else {
      failures.push(`cc ${job.args.join(' ')}\n${log}`);
    }
  });

  report.built.sort();
  report.upToDate.sort();
  writeFileSync(REPORT, `${JSON.stringify(report, null, 2)}\n`);

  if (failures.length > 0) {
    throw new Error(`rewind tests: building the test programs failed:\n\n${failures.join('\n\n')}`);
  }
}
