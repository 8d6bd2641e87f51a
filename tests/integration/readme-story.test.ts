// The README's own debugging story, run exactly as the README tells a new user to:
// `npm run example` (record examples/buggy.c until a run crashes), then the two
// commands it prints, then gdb's `continue`, `watch -l sensor.name` and
// `reverse-continue` typed at gdb's prompt. The answer must be the bad store in
// add_reading, on an idle machine and with two CPU hogs running: load may slow an
// answer, never change it.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../helpers.js';

const README = readFileSync(path.join(ROOT, 'README.md'), 'utf8');

/** The gdb commands of the README's story, as typed at the `(gdb)` prompt. */
function readmeGdbCommands(): string[] {
  const section = README.slice(README.indexOf('## Debugging a recording'));
  const block = section.slice(section.indexOf('```sh'), section.indexOf('```', section.indexOf('```sh') + 5));
  return block.split('\n').filter((l) => l.startsWith('(gdb) ')).map((l) => l.slice(6).replace(/\s+#.*$/, '').trim());
}

/** The line of buggy.c that writes past the ring buffer. */
const BAD_STORE = 'sensor.history[next_slot] = value;';
const badLine = readFileSync(path.join(ROOT, 'examples', 'buggy.c'), 'utf8').split('\n').findIndex((l) => l.includes(BAD_STORE)) + 1;

let replayCommand = '';
let gdbCommand = '';
let uiCommand = '';

beforeAll(() => {
  // The README's set-up: `npm install && npm run example`; .ci/run (and the
  // developer) ran `npm install` already, so the test runs the second half.
  const r = spawnSync('npm', ['run', 'example'], { cwd: ROOT, encoding: 'utf8', timeout: 240_000 });
  expect(r.status, `npm run example failed:\n${r.stdout}\n${r.stderr}`).toBe(0);
  expect(r.stdout).toMatch(/recording \d+ caught the bug \(exit status 139\)/);
  const lines = r.stdout.split('\n');
  const at = lines.findIndex((l) => l.startsWith('To debug that exact run in gdb:'));
  expect(at, r.stdout).toBeGreaterThan(0);
  replayCommand = lines[at + 1].trim();
  gdbCommand = lines[at + 2].trim();
  // the README shows the same two commands, with the trace directory as TRACE
  expect(README).toContain(replayCommand.replace(/replay .*/, 'replay TRACE'));
  expect(README).toContain(gdbCommand);
  // and last, the page of the same trace (docs/ui.md)
  const atUi = lines.findIndex((l) => l.startsWith('To see it on a timeline in the browser'));
  expect(atUi, r.stdout).toBeGreaterThan(at);
  uiCommand = lines[atUi + 1].trim();
  expect(uiCommand).toBe(replayCommand.replace(' replay ', ' ui '));
  // the README's `rewind ui` line is that command, with the trace directory as TRACE
  expect(README).toMatch(new RegExp(`^${uiCommand.replace(/ ui .*/, ' ui TRACE').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} +# prints: rewind: the timeline of TRACE is at`, 'm'));
}, 300_000);

/** Runs the printed server command, then gdb with the README's commands on its stdin. */
async function story(): Promise<string> {
  const server = spawn('sh', ['-c', `exec ${replayCommand}`], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let serverErr = '';
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the server did not start:\n${serverErr}`)), 30_000);
      server.stderr!.on('data', (d: Buffer) => {
        serverErr += d.toString();
        if (/serving .* on 127\.0\.0\.1:2345/.test(serverErr)) {
          clearTimeout(timer);
          resolve();
        }
      });
      server.on('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`the server exited (${code}):\n${serverErr}`));
      });
    });
    const typed = readmeGdbCommands().join('\n') + '\n';
    const gdb = spawnSync('sh', ['-c', gdbCommand], { cwd: ROOT, input: typed, encoding: 'utf8', timeout: 180_000 });
    expect(gdb.error, `gdb did not finish: ${gdb.error}`).toBeUndefined();
    expect(serverErr).not.toMatch(/internal error/);
    return gdb.stdout + gdb.stderr;
  } finally {
    server.kill('SIGTERM');
    await new Promise((r) => (server.exitCode !== null ? r(null) : server.on('exit', r)));
  }
}

function expectTheBadStore(raw: string): void {
  // gdb wraps a long frame line (a long checkout path) onto indented lines: join them
  const out = raw.replace(/\n {2,}/g, ' ');
  const crash = out.indexOf('Program received signal SIGSEGV');
  expect(crash, out).toBeGreaterThan(0);
  const back = out.slice(crash);
  expect(back).toContain('Hardware watchpoint 1: -location sensor.name');
  // going backwards, gdb's "Old value" is the value after the write (where the
  // command started), "New value" the one before it: the sensor's name
  expect(back).toMatch(/Old value = 0x[0-9a-f]+ <error: Cannot access memory at address 0x[0-9a-f]+>\nNew value = 0x[0-9a-f]+ "greenhouse thermometer"/);
  expect(back).toMatch(new RegExp(`add_reading \\(value=\\d+\\) at .*buggy\\.c:${badLine}\\n${badLine}\\t.*${BAD_STORE.replace(/[[\]]/g, '\\$&')}`));
  expect(back).not.toMatch(/Remote failure reply|Remote connection closed/);
}

describe('the page of the example', () => {
  it('`rewind ui` as printed serves the crash run, its readings on the timeline', async () => {
    const ui = spawn('sh', ['-c', `exec ${uiCommand}`], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
    const exited = new Promise<number | null>((resolve) => ui.on('exit', (code) => resolve(code)));
    let err = '';
    try {
      const url = await new Promise<string>((resolve, reject) => {
        ui.stderr!.on('data', (d: Buffer) => {
          err += d.toString();
          const m = /is at (http:\S+)/.exec(err);
          if (m) resolve(m[1]);
        });
        ui.on('exit', (code) => reject(new Error(`rewind ui exited (${code}):\n${err}`)));
      });
      const page = await fetch(url);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('app.js');
      const timeline = await (await fetch(url.replace('/?', '/api/timeline?'))).json() as { output: { text: string }[]; events: { kind: string; name: string }[] };
      expect(timeline.output.length).toBeGreaterThanOrEqual(9); // the bug needs 9 readings or more
      timeline.output.forEach((o, i) => expect(o.text).toMatch(new RegExp(`^reading ${i + 1}: \\d+ C$`)));
      expect(timeline.events.at(-1)).toMatchObject({ kind: 'exit', name: 'killed' });
    } finally {
      ui.kill('SIGINT');
    }
    expect(await exited, err).toBe(0);
  }, 120_000);
});

describe('the README story on the bundled example', () => {
  it('lists the story the test types', () => {
    expect(readmeGdbCommands()).toEqual(['continue', 'watch -l sensor.name', 'reverse-continue']);
    expect(badLine).toBeGreaterThan(0);
  });

  it('reverse-continue from the crash lands on the bad store', async () => {
    expectTheBadStore(await story());
  }, 240_000);

  describe('with two CPU hogs running', () => {
    const hogs: ChildProcess[] = [];
    beforeAll(() => {
      for (let i = 0; i < 2; i++) hogs.push(spawn('sh', ['-c', 'while :; do :; done'], { stdio: 'ignore' }));
    });
    afterAll(() => {
      for (const h of hogs) h.kill('SIGKILL');
    });
    it('gives the same answer', async () => {
      expectTheBadStore(await story());
    }, 300_000);
  });
});
