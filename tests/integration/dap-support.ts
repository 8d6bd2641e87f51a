// Helpers for the DAP tests: `rewind dap` driven by @vscode/debugadapter-testsupport's
// DebugClient the way VS Code drives an adapter, and where the real gdb stands after
// a list of commands (the reference the adapter's stops are compared with).
import { DebugClient } from '@vscode/debugadapter-testsupport';
import type { DebugProtocol } from '@vscode/debugprotocol';
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { CLI } from '../helpers.js';
import { debugReplay } from './gdb-support.js';

/** gdb prints the line and pc of the selected frame (mid-line pcs included). */
export const LOC = 'python f = gdb.selected_frame(); print("@loc %d %#x" % (f.find_sal().line, f.pc()))';

export interface Loc { line: number; pc: bigint }

/** `rewind dap` as a child process with a DebugClient on its stdin/stdout. */
export class AdapterClient extends DebugClient {
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  private err = '';

  constructor() {
    super(process.execPath, CLI, 'rewind');
    // a hang guard only: every wait is for something that must come
    this.defaultTimeout = 60_000;
    this.child = spawn(process.execPath, [CLI, 'dap'], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stderr!.on('data', (d: Buffer) => (this.err += d.toString()));
    this.exited = new Promise((resolve) => this.child.on('exit', (code) => resolve(code)));
    this.connect(this.child.stdout!, this.child.stdin!);
  }

  get stderr(): string {
    return this.err;
  }

  /** Sends a request and waits for the event it causes (subscribed first, so it cannot be missed). */
  async causes<T>(event: string, request: () => Promise<T>): Promise<{ response: T; event: DebugProtocol.Event }> {
    const waiting = this.waitForEvent(event);
    const response = await request();
    return { response, event: await waiting };
  }

  /** Where thread 1 stands: the top frame's line and pc. */
  async top(): Promise<{ frame: DebugProtocol.StackFrame; loc: Loc }> {
    const frame = (await this.stackTraceRequest({ threadId: 1, startFrame: 0, levels: 1 })).body.stackFrames[0];
    return { frame, loc: { line: frame.line, pc: BigInt(frame.instructionPointerReference!) } };
  }

  async value(expression: string, frameId?: number): Promise<string> {
    return (await this.evaluateRequest({ expression, frameId, context: 'watch' })).body.result;
  }

  kill(): void {
    if (this.child.exitCode === null) this.child.kill('SIGKILL');
  }
}

/** The processes whose parent is PID (gdb and the replay server, for the adapter). */
export function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** Runs gdb on the trace (served once); returns each LOC it printed and each `print` value. */
export async function gdbReference(trace: string, commands: string[]): Promise<{ locs: Loc[]; values: string[]; text: string }> {
  const { gdb, server } = await debugReplay(trace, commands, { breakMain: false });
  const text = gdb.stdout.toString() + gdb.stderr.toString();
  const locs = [...text.matchAll(/^@loc (\d+) (0x[0-9a-f]+)$/gm)].map((m) => ({ line: Number(m[1]), pc: BigInt(m[2]) }));
  const values = [...text.matchAll(/^\$\d+ = (.*)$/gm)].map((m) => m[1]);
  if (/Remote connection closed|internal error/i.test(text)) throw new Error(`gdb failed:\n${text}\nserver:\n${server}`);
  return { locs, values, text };
}
