// The other front ends of docs/ide.md, tried for real where this machine can: Emacs's
// M-x gdb (gud over gdb-mi) run in batch Emacs with the exact command line the doc
// gives, and the MI command sequence VS Code's cppdbg (MIEngine) sends for a launch
// with miDebuggerServerAddress. Each stop is compared with gdb's own on the trace.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { GdbMi } from '../../src/mi/gdb-mi.js';
import { toStop, type MiStop } from '../../src/mi/mi-records.js';
import { PROGRAMS_DIR, programPath, runNative } from '../helpers.js';
import { record, startServer, type Server } from './gdb-support.js';
import { gdbReference, LOC } from './dap-support.js';

const SOURCE = path.join(PROGRAMS_DIR, 'gdbdemo.c');
const LOOP_LINE = readFileSync(SOURCE, 'utf8').split('\n').findIndex((l) => l.includes('sum += add_squares')) + 1;

let trace: string;
let server: Server | undefined;
let gdb: GdbMi | undefined;

beforeAll(() => {
  trace = record(programPath('gdbdemo'));
});

// every server here logs its engine runs (stderr), shown when a test fails: a run that
// once hung under load (CI) or stopped a line late left nothing else to go on
process.env.REWIND_TRACE_RUNS = '1';

afterEach(async (ctx) => {
  if (ctx.task.result?.state === 'fail') console.log(`server stderr:\n${server?.stderr()}`);
  gdb?.kill();
  server?.kill();
  gdb = server = undefined;
});

function onPath(tool: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;
}

/** emacs, installed through apt (emacs-nox) when missing: the test fails loudly if it cannot be. */
function requireEmacs(): void {
  if (onPath('emacs')) return;
  const apt = spawnSync('sh', ['-c', 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq emacs-nox'], { encoding: 'utf8', timeout: 600_000 });
  if (!onPath('emacs')) throw new Error(`emacs is not on PATH and apt-get install emacs-nox failed (exit ${apt.status}): ${(apt.stderr || apt.stdout || '').slice(-500)}`);
}

describe('Emacs M-x gdb (gud, gdb-mi)', () => {
  it('follows the replay forwards and backwards where gdb does', async () => {
    requireEmacs();
    const steps = ['continue', 'continue', 'next', 'reverse-next', 'reverse-continue'];
    const ref = await gdbReference(trace, [`break gdbdemo.c:${LOOP_LINE}`, ...steps.flatMap((s) => [s, LOC])]);
    expect(ref.locs.length, ref.text).toBe(steps.length);

    server = await startServer(trace);
    // the exact command line docs/ide.md gives for M-x gdb (Emacs splits it honouring double quotes only)
    const command = `gdb -i=mi ${programPath('gdbdemo')} -ex "target remote 127.0.0.1:${server.port}"`;
    const emacs = runNative(['emacs', '--batch', '-Q', '-l', path.join(import.meta.dirname, 'emacs-gud.el')], {
      env: { RW_GDB_COMMAND: command, RW_BREAK: `gdbdemo.c:${LOOP_LINE}`, RW_COMMANDS: steps.join(';') },
      timeoutMs: 120_000,
    });
    const out = emacs.stdout.toString() + emacs.stderr.toString();
    const shown = [...out.matchAll(/^@emacs (.+?) (\S+) (\d+) (0x[0-9a-f]+)$/gm)].map((m) => ({ command: m[1], file: m[2], line: Number(m[3]), pc: BigInt(m[4]) }));
    expect(shown.map((s) => s.command), out).toEqual(steps);
    shown.forEach((s, k) => {
      expect(s.file).toBe(SOURCE);
      expect({ line: s.line, pc: s.pc }, s.command).toEqual(ref.locs[k]);
    });
  });
});

describe("VS Code cppdbg's MI sequence (miDebuggerServerAddress)", () => {
  /**
   * What MIEngine (cppdbg's engine) sends gdb --interpreter=mi before its launch-complete
   * command, for a launch with miDebuggerServerAddress and no setupCommands.
   */
  function cppdbgLaunch(program: string, mode: 'remote' | 'extended-remote', port: number): string[] {
    return [
      '-gdb-set mi-async on',
      '-interpreter-exec console "set pagination off"',
      '-interpreter-exec console "set debuginfod enabled off"',
      '-gdb-set auto-solib-add on',
      `-file-exec-and-symbols ${program}`,
      '-interpreter-exec console "show architecture"',
      '-break-insert -f main',
      `-target-select ${mode} 127.0.0.1:${port}`,
    ];
  }

  async function stopAfter(g: GdbMi, command: string): Promise<MiStop> {
    const stopped = new Promise<MiStop>((resolve) => g.once('exec', function onExec(cls, data) {
      if (cls === 'stopped') resolve(toStop(data));
      else g.once('exec', onExec);
    }));
    await g.send(command);
    return stopped;
  }

  it('gdb accepts every command; launchCompleteCommand exec-continue stops at main; -exec reverse-next goes back', async () => {
    const ref = await gdbReference(trace, ['break main', 'continue', LOC, 'next', 'next', LOC, 'reverse-next', LOC]);
    server = await startServer(trace);
    gdb = await GdbMi.start({ interpreter: 'mi' });
    for (const c of cppdbgLaunch(programPath('gdbdemo'), 'remote', server.port)) await gdb.send(c);
    // the default launch-complete command, -exec-run, is refused by a plain remote target
    await expect(gdb.send('-exec-run')).rejects.toThrow(/does not support "run"/);
    const atMain = await stopAfter(gdb, '-exec-continue');
    expect(atMain.reason).toBe('breakpoint-hit');
    expect({ line: atMain.frame!.line, pc: BigInt(atMain.frame!.addr) }).toEqual(ref.locs[0]);
    await stopAfter(gdb, '-exec-next --thread 1');
    const ahead = await stopAfter(gdb, '-exec-next --thread 1');
    expect({ line: ahead.frame!.line, pc: BigInt(ahead.frame!.addr) }).toEqual(ref.locs[1]);
    // what the Debug Console's "-exec reverse-next" sends
    const back = await stopAfter(gdb, '-interpreter-exec console "reverse-next"');
    expect({ line: back.frame!.line, pc: BigInt(back.frame!.addr) }).toEqual(ref.locs[2]);
  });

  it('with useExtendedRemote the default -exec-run restarts the replay and stops at main', async () => {
    const ref = await gdbReference(trace, ['break main', 'continue', LOC]);
    server = await startServer(trace);
    gdb = await GdbMi.start({ interpreter: 'mi' });
    for (const c of cppdbgLaunch(programPath('gdbdemo'), 'extended-remote', server.port)) await gdb.send(c);
    const atMain = await stopAfter(gdb, '-exec-run');
    expect(atMain.reason).toBe('breakpoint-hit');
    expect({ line: atMain.frame!.line, pc: BigInt(atMain.frame!.addr) }).toEqual(ref.locs[0]);
    // the end of the recording is a stop (gdb 13's MI gives it no reason), then the exit
    expect((await stopAfter(gdb, '-exec-continue')).reason).toBeUndefined();
    const exited = await stopAfter(gdb, '-exec-continue');
    expect(exited).toMatchObject({ reason: 'exited', exitCode: runNative([programPath('gdbdemo')]).status });
  });
});
