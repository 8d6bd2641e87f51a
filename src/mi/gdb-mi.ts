// A gdb process driven over gdb/MI (`gdb --interpreter=mi3`): commands go out with a
// token and come back as a promise of their result record; async records (`*stopped`,
// `=breakpoint-modified`, ...) and stream text are events. This is the transport of
// the MI layer; typed commands are in gdb.ts. gdb runs commands one at a time, so the
// stream text that arrives while a command is the oldest one pending is its output
// (what `-interpreter-exec console` prints).
import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import * as readline from 'node:readline';
import { parseMiLine, type MiTuple } from './mi-parser.js';

/** gdb's remotetimeout for the replays it debugs, in seconds (see start) */
export const REMOTE_TIMEOUT_S = 10_000;

export interface MiResult {
  /** done, running, connected or exit (error results reject instead) */
  cls: string;
  data: MiTuple;
  /** console and target stream text printed while the command ran */
  output: string;
}

/** gdb answered a command with ^error. */
export class MiCommandError extends Error {
  constructor(readonly command: string, readonly gdbMessage: string) {
    super(gdbMessage);
  }
}

export interface GdbMiEvents {
  /** `*running` / `*stopped` */
  exec: [cls: string, data: MiTuple];
  /** `=thread-created`, `=breakpoint-modified`, ... */
  notify: [cls: string, data: MiTuple];
  /** console (~), target (@) and log (&) text; `claimed` when it is a pending command's output */
  stream: [type: 'console' | 'target' | 'log', text: string, claimed: boolean];
  /**
   * a result record whose command was already answered: an execution command answers
   * ^running, and gdb may still fail it afterwards (`^error,msg="Command aborted."`
   * when it cannot insert a breakpoint), with no *stopped to follow
   */
  lateResult: [cls: string, data: MiTuple];
  /** gdb is gone */
  exit: [code: number | null, signal: NodeJS.Signals | null];
}

export interface GdbMiOptions {
  gdbPath?: string;
  /** the MI version: mi3 (gdb 9 and later) unless a front end that speaks another is imitated */
  interpreter?: 'mi' | 'mi2' | 'mi3';
  /** more arguments for gdb, after --interpreter=mi3 -nx -q */
  args?: string[];
  /** every line to and from gdb, for debugging the adapter */
  trace?: (line: string) => void;
}

interface Pending {
  command: string;
  output: string[];
  resolve: (r: MiResult) => void;
  reject: (e: Error) => void;
}

export class GdbMi extends EventEmitter<GdbMiEvents> {
  private nextToken = 1;
  private readonly pending = new Map<number, Pending>();
  private exited = false;
  private readonly exitPromise: Promise<void>;

  private constructor(private readonly child: ChildProcess, private readonly trace?: (line: string) => void) {
    super();
    this.exitPromise = new Promise((resolve) => child.on('exit', () => resolve()));
  }

  /** Starts gdb and waits for its first prompt; a gdb that cannot start is a clear error. */
  static async start(opts: GdbMiOptions = {}): Promise<GdbMi> {
    const gdbPath = opts.gdbPath ?? 'gdb';
    // -l: gdb gives up on a remote reply after 2 s by default and then takes the next
    // reply for the wrong packet; a replay server on a loaded machine may take longer
    // (rr starts its gdb the same way, for the same reason)
    const child = spawn(gdbPath, [`--interpreter=${opts.interpreter ?? 'mi3'}`, '-nx', '-q', '-l', String(REMOTE_TIMEOUT_S), ...(opts.args ?? [])], { stdio: ['pipe', 'pipe', 'pipe'] });
    const gdb = new GdbMi(child, opts.trace);
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const ready = new Promise<void>((resolve, reject) => {
      child.once('error', (e) => reject(new Error(`cannot start ${gdbPath}: ${e.message}`)));
      child.once('exit', (code) => reject(new Error(`${gdbPath} exited (status ${code}) before its first prompt${stderr ? `: ${stderr.trim()}` : ''}`)));
      const lines = readline.createInterface({ input: child.stdout!, crlfDelay: Infinity });
      let prompted = false;
      lines.on('line', (line) => {
        gdb.trace?.(`<- ${line}`);
        const isPrompt = gdb.onLine(line);
        if (isPrompt && !prompted) {
          prompted = true;
          resolve();
        }
      });
    });
    child.on('exit', (code, signal) => gdb.onExit(code, signal));
    child.stdin!.on('error', () => undefined); // a gdb that died is reported by 'exit'
    await ready;
    return gdb;
  }

  get alive(): boolean {
    return !this.exited;
  }

  /** Sends one MI command (without a token); resolves with its result, rejects on ^error or if gdb dies. */
  send(command: string): Promise<MiResult> {
    if (this.exited) return Promise.reject(new Error(`gdb has exited; cannot run ${command}`));
    const token = this.nextToken++;
    return new Promise((resolve, reject) => {
      this.pending.set(token, { command, output: [], resolve, reject });
      this.trace?.(`-> ${token}${command}`);
      this.child.stdin!.write(`${token}${command}\n`);
    });
  }

  /** Asks gdb to exit, and makes sure it does. */
  async close(): Promise<void> {
    if (this.exited) return;
    this.send('-gdb-exit').catch(() => undefined);
    const killer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    await this.exitPromise;
    clearTimeout(killer);
  }

  /** Kills gdb at once (its children, the connection to the replay, go with it). */
  kill(): void {
    if (!this.exited) this.child.kill('SIGKILL');
  }

  /** Handles one line of output; says whether it was the prompt. */
  private onLine(line: string): boolean {
    const r = parseMiLine(line);
    switch (r.type) {
      case 'prompt':
        return true;
      case 'result': {
        const p = r.token !== undefined ? this.pending.get(r.token) : undefined;
        if (!p) {
          this.emit('lateResult', r.cls, r.data);
          return false;
        }
        this.pending.delete(r.token!);
        if (r.cls === 'error') p.reject(new MiCommandError(p.command, typeof r.data.msg === 'string' ? r.data.msg : 'gdb reported an error'));
        else p.resolve({ cls: r.cls, data: r.data, output: p.output.join('') });
        return false;
      }
      case 'exec':
        this.emit('exec', r.cls, r.data);
        return false;
      case 'notify':
        this.emit('notify', r.cls, r.data);
        return false;
      case 'status':
        return false;
      case 'console':
      case 'target':
      case 'log': {
        const oldest = this.pending.values().next();
        const claimed = !oldest.done && r.type !== 'log';
        if (claimed) oldest.value.output.push(r.text);
        this.emit('stream', r.type, r.text, claimed);
        return false;
      }
      case 'other':
        this.emit('stream', 'target', `${r.text}\n`, false);
        return false;
    }
  }

  private onExit(code: number | null, signal: NodeJS.Signals | null): void {
    this.exited = true;
    for (const p of this.pending.values()) p.reject(new Error(`gdb exited while running ${p.command}`));
    this.pending.clear();
    this.emit('exit', code, signal);
  }
}
