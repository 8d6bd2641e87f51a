// gdb driven through MI with typed commands: the debugger core that front ends
// (the DAP adapter, later the browser timeline) share. Each method is one MI command
// and returns what gdb answered as a typed record; execution commands return once gdb
// says ^running, and the stop arrives as a `stopped` event. Nothing here knows about
// DAP: frames are (thread, level), variables are gdb variable objects.
import { EventEmitter } from 'node:events';
import { GdbMi, type GdbMiOptions, type MiResult } from './gdb-mi.js';
import { miQuote, type MiTuple } from './mi-parser.js';
import {
  int, list, str, toBreakpoint, toFrame, toInstructions, toStop, toThread, toVarObj, toVariable, tuple,
  type MiBreakpoint, type MiFrame, type MiInstruction, type MiStop, type MiThread, type MiVarObj, type MiVariable, type MiWatchpoint,
} from './mi-records.js';

/** Where an expression is evaluated: a thread and a frame level in it. */
export interface FrameRef { thread: number; level: number }

export type ResumeAction = 'continue' | 'next' | 'step' | 'finish' | 'nexti' | 'stepi';

export interface GdbEvents {
  running: [];
  stopped: [stop: MiStop];
  /** an execution command gdb started (^running) and then gave up with this message: no stop follows */
  aborted: [message: string];
  /** a breakpoint gdb changed by itself: resolved when a library loaded, hit counts */
  breakpointModified: [bp: MiBreakpoint];
  /** console text no command waits for: what gdb prints about stops, warnings */
  output: [category: 'console' | 'log', text: string];
  exit: [];
}

export class Gdb extends EventEmitter<GdbEvents> {
  private constructor(readonly mi: GdbMi) {
    super();
    // gdb 13's MI gives a stop at either end of the reverse history no reason; only its
    // console says "No more reverse-execution history." just before the *stopped record
    let noHistory = false;
    mi.on('exec', (cls, data) => {
      if (cls === 'running') {
        noHistory = false;
        this.emit('running');
      } else if (cls === 'stopped') {
        const stop = toStop(data);
        if (stop.reason === undefined && noHistory) stop.reason = 'no-history';
        noHistory = false;
        this.emit('stopped', stop);
      }
    });
    mi.on('notify', (cls, data) => {
      const bkpt = tuple(data.bkpt);
      if (cls === 'breakpoint-modified' && bkpt) this.emit('breakpointModified', toBreakpoint(bkpt));
    });
    mi.on('stream', (type, text, claimed) => {
      if (type === 'console' && text.includes('No more reverse-execution history.')) noHistory = true;
      if (!claimed) this.emit('output', type === 'log' ? 'log' : 'console', text);
    });
    mi.on('lateResult', (cls, data) => {
      if (cls === 'error') this.emit('aborted', typeof data.msg === 'string' ? data.msg : 'gdb gave up the command');
    });
    mi.on('exit', () => this.emit('exit'));
  }

  /** Starts gdb in MI mode, asynchronous (so a running target can be interrupted). */
  static async start(opts: GdbMiOptions = {}): Promise<Gdb> {
    const mi = await GdbMi.start(opts);
    const gdb = new Gdb(mi);
    try {
      await mi.send('-gdb-set mi-async on');
      await mi.send('-gdb-set pagination off');
      await mi.send('-gdb-set confirm off');
      // a replay has no threads to create or exit: keep gdb's console quiet about them
      await mi.send('-gdb-set print thread-events off');
    } catch (e) {
      mi.kill();
      throw e;
    }
    return gdb;
  }

  get alive(): boolean {
    return this.mi.alive;
  }

  send(command: string): Promise<MiResult> {
    return this.mi.send(command);
  }

  close(): Promise<void> {
    return this.mi.close();
  }

  /** `target extended-remote HOST:PORT` (extended, so `run` restarts the replay). */
  async connect(host: string, port: number): Promise<void> {
    await this.send(`-target-select extended-remote ${host}:${port}`);
  }

  /** gdb's own CLI command; returns what it printed. */
  async console(command: string): Promise<string> {
    return (await this.send(`-interpreter-exec console ${miQuote(command)}`)).output;
  }

  /** A monitor command of the replay server (`monitor when`, `monitor seek N`). */
  monitor(command: string): Promise<string> {
    return this.console(`monitor ${command}`);
  }

  /** Resumes forwards or backwards; the stop comes as a `stopped` event. */
  async resume(action: ResumeAction, opts: { reverse?: boolean; thread?: number } = {}): Promise<void> {
    const command = {
      continue: '-exec-continue', next: '-exec-next', step: '-exec-step', finish: '-exec-finish',
      nexti: '-exec-next-instruction', stepi: '-exec-step-instruction',
    }[action];
    // MI's global options (--thread) come before a command's own (--reverse)
    await this.send(`${command}${opts.thread !== undefined ? ` --thread ${opts.thread}` : ''}${opts.reverse ? ' --reverse' : ''}`);
  }

  async interrupt(): Promise<void> {
    await this.send('-exec-interrupt');
  }

  /** Restarts the replay from its start (extended-remote `run`), running on to a breakpoint. */
  async run(): Promise<void> {
    await this.send('-exec-run');
  }

  /** Restarts the replay and stops at its first instruction (`starti`). */
  async starti(): Promise<void> {
    await this.console('starti');
  }

  async insertBreakpoint(location: string, opts: { condition?: string; temporary?: boolean } = {}): Promise<MiBreakpoint> {
    const flags = ['-f', opts.temporary ? '-t' : '', opts.condition ? `-c ${miQuote(opts.condition)}` : ''].filter(Boolean).join(' ');
    const r = await this.send(`-break-insert ${flags} ${miQuote(location)}`);
    return toBreakpoint(tuple(r.data.bkpt) ?? {});
  }

  /** A watchpoint on EXPR, evaluated in FRAME (a local's watchpoint ends with its frame). */
  async insertWatchpoint(expr: string, kind: 'write' | 'read' | 'access', frame?: FrameRef, condition?: string): Promise<MiWatchpoint> {
    const flag = { write: '', read: ' -r', access: ' -a' }[kind];
    const r = await this.send(`-break-watch${frameArgs(frame)}${flag} ${miQuote(expr)}`);
    const w = tuple(r.data.wpt) ?? tuple(r.data.hw_rwpt) ?? tuple(r.data.hw_awpt) ?? {};
    const bp = { number: str(w.number) ?? '', exp: str(w.exp) ?? expr };
    if (condition) await this.send(`-break-condition ${bp.number} ${miQuote(condition)}`);
    return bp;
  }

  async deleteBreakpoints(numbers: string[]): Promise<void> {
    if (numbers.length) await this.send(`-break-delete ${numbers.join(' ')}`);
  }

  async threads(): Promise<MiThread[]> {
    const r = await this.send('-thread-info');
    return list(r.data.threads).map(tuple).filter((t): t is MiTuple => !!t).map(toThread);
  }

  async stackDepth(thread: number): Promise<number> {
    const r = await this.send(`-stack-info-depth --thread ${thread}`);
    return int(r.data.depth) ?? 0;
  }

  /** Frames LOW..HIGH (inclusive) of THREAD. */
  async frames(thread: number, low: number, high: number): Promise<MiFrame[]> {
    const r = await this.send(`-stack-list-frames --thread ${thread} ${low} ${high}`);
    return list(r.data.stack).map(tuple).map(toFrame).filter((f): f is MiFrame => !!f);
  }

  /** Arguments and locals of a frame, scalars with their values. */
  async variables(frame: FrameRef): Promise<MiVariable[]> {
    const r = await this.send(`-stack-list-variables${frameArgs(frame)} --simple-values`);
    return list(r.data.variables).map(tuple).filter((t): t is MiTuple => !!t).map(toVariable);
  }

  /** A variable object for EXPR in FRAME (its children are listed by varChildren). */
  async varCreate(expr: string, frame?: FrameRef): Promise<MiVarObj> {
    const r = await this.send(`-var-create${frameArgs(frame)} - * ${miQuote(expr)}`);
    return toVarObj({ ...r.data, exp: expr });
  }

  async varChildren(name: string): Promise<MiVarObj[]> {
    const r = await this.send(`-var-list-children --all-values ${miQuote(name)}`);
    return list(r.data.children).map(tuple).filter((t): t is MiTuple => !!t).map(toVarObj);
  }

  /** The full expression a child variable object stands for (`p->x`). */
  async varPath(name: string): Promise<string> {
    const r = await this.send(`-var-info-path-expression ${miQuote(name)}`);
    return str(r.data.path_expr) ?? name;
  }

  async varDelete(name: string): Promise<void> {
    await this.send(`-var-delete ${miQuote(name)}`);
  }

  async evaluate(expr: string, frame?: FrameRef): Promise<string> {
    const r = await this.send(`-data-evaluate-expression${frameArgs(frame)} ${miQuote(expr)}`);
    return str(r.data.value) ?? '';
  }

  async registerNames(): Promise<string[]> {
    const r = await this.send('-data-list-register-names');
    return list(r.data['register-names']).map((v) => str(v) ?? '');
  }

  /** Register values of a frame in hex, by register number. */
  async registerValues(frame: FrameRef): Promise<{ number: number; value: string }[]> {
    const r = await this.send(`-data-list-register-values${frameArgs(frame)} --skip-unavailable x`);
    return list(r.data['register-values']).map(tuple).filter((t): t is MiTuple => !!t)
      .map((t) => ({ number: int(t.number) ?? -1, value: str(t.value) ?? '' }));
  }

  /** The process id of the inferior gdb is connected to, if it has one. */
  async inferiorPid(): Promise<number | undefined> {
    const r = await this.send('-list-thread-groups');
    for (const g of list(r.data.groups).map(tuple)) {
      const pid = int(g?.pid);
      if (pid !== undefined) return pid;
    }
    return undefined;
  }

  /** The instructions in [START, END), with raw bytes and source lines where known. */
  async disassemble(start: bigint, end: bigint): Promise<MiInstruction[]> {
    const r = await this.send(`-data-disassemble -s 0x${start.toString(16)} -e 0x${end.toString(16)} -- 5`);
    return toInstructions(r.data.asm_insns);
  }
}

function frameArgs(frame?: FrameRef): string {
  return frame ? ` --thread ${frame.thread} --frame ${frame.level}` : '';
}
