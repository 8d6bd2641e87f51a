// One `rewind ui` session's debugger: the replay server and a gdb connected to it over
// MI, the same layer the DAP adapter drives (src/mi, src/dap/replay-server.ts), so the
// page has no debugger core of its own. Commands run one at a time, in the order they
// came (gdb runs one at a time anyway, and a seek under a running step would leave the
// page showing neither); each returns the state at the point where it stopped.
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { Gdb, type ResumeAction } from '../mi/gdb.js';
import type { MiFrame, MiStop, MiVariable } from '../mi/mi-records.js';
import { startReplayServer, type ReplayServer } from '../dap/replay-server.js';
import { disassemble } from '../dap/disassembly.js';

/** What the page shows at the current point. */
export interface PointState {
  /** the last event replayed (`monitor when`) */
  event: number;
  /** why the last move stopped: a gdb stop reason, `seek`, `start` */
  reason: string;
  frames: MiFrame[];
  /** the innermost frame whose source file is on this machine: where the user's code stands */
  sourceFrame?: number;
  locals: MiVariable[];
  registers: { name: string; value: string }[];
  /** the program ended (exited or was killed) at this point */
  ended: boolean;
  /** the user's breakpoints, by source file and line */
  breakpoints: { file: string; line: number; condition?: string }[];
  /** the checkpoints the engine keeps (`monitor checkpoints`): the event each stands after */
  checkpoints: number[];
  /** the instructions around the pc when no frame has source on this machine */
  disassembly?: { address: string; text: string; symbol?: string; current: boolean }[];
  /** the watchpoint whose trigger ended the move: the expression and its values before and after */
  watch?: { exp: string; old?: string; new?: string };
}

/** One sampled value of a watched expression: undefined where it could not be evaluated. */
export interface Sample { event: number; value?: string }

/** the syscall buffer's library (src/native/addon.ts preloadLibrary) */
const PRELOAD_LIBRARY = '/librwpreload.so';
/** its constructor: code with unwind information, that ld.so calls at start */
const PRELOAD_CONSTRUCTOR = 'rw_init';
/** its handler returns within a few hundred instructions of a syscall */
const MAX_PRELOAD_STEPS = 1000;

/** deeper stacks are cut: the page shows where the program stands, not a recursion */
const MAX_FRAMES = 64;

/** the page's disassembly: this many instructions, this many of them before the pc */
const DISASSEMBLY_LINES = 24;
const DISASSEMBLY_BEFORE = 8;

const SHOWN_REGISTERS = ['rip', 'rsp', 'rbp', 'rax', 'rbx', 'rcx', 'rdx', 'rsi', 'rdi', 'r8', 'r9', 'eflags'];

export class UiSession {
  private queue: Promise<unknown> = Promise.resolve();
  private registerNames: string[] = [];
  /** the user's breakpoints: gdb's number by "file:line" */
  private readonly breakpoints = new Map<string, { file: string; line: number; condition?: string; number: string }>();
  /** what is running: an execution command (gdb interrupts it) or a seek (the replay server's SIGUSR1 does) */
  private running: 'execution' | 'seek' | undefined;
  /** source files gdb named in a frame: the only files the page may read */
  private readonly sources = new Set<string>();

  private constructor(private readonly server: ReplayServer, private readonly gdb: Gdb) {}

  static async start(trace: string, opts: { symbols?: string; log: (line: string) => void }): Promise<UiSession> {
    const server = await startReplayServer({
      trace, symbols: opts.symbols,
      // the page shows output from the timeline (with the write that printed it), not as the replay goes
      onProgramOutput: () => undefined,
      onLog: (line) => {
        if (!/^rewind: (connect with:|gdb (dis)?connected)/.test(line)) opts.log(line);
      },
    });
    let gdb: Gdb | undefined;
    try {
      gdb = await Gdb.start({ trace: process.env.REWIND_UI_LOG ? (l) => opts.log(`mi ${l}`) : undefined });
      await gdb.connect(server.host, server.port);
      const session = new UiSession(server, gdb);
      session.registerNames = await gdb.registerNames();
      return session;
    } catch (e) {
      gdb?.mi.kill();
      server.kill();
      throw e;
    }
  }

  /** Whether PATH is a source file gdb showed; only those are served. */
  isKnownSource(path: string): boolean {
    return this.sources.has(path);
  }

  state(): Promise<PointState> {
    return this.serial(() => this.readState('start'));
  }

  /**
   * Replays to just after event N (`monitor seek N`, as the DAP's goto does);
   * PROGRESS hears the engine's progress lines ("seek: 30% (event 300 of 1000)").
   */
  seek(event: number, progress?: (percent: number, at: number) => void): Promise<PointState> {
    return this.serial(async () => {
      await this.moveTo(event, progress);
      return this.readState('seek');
    });
  }

  private async moveTo(event: number, progress?: (percent: number, at: number) => void): Promise<void> {
    // the engine sends its progress as console output while the monitor command runs
    const onStream = (type: string, text: string) => {
      const m = type === 'target' ? /^seek: (\d+)% \(event (\d+) of \d+\)/.exec(text) : null;
      if (m) progress?.(Number(m[1]), Number(m[2]));
    };
    this.gdb.mi.on('stream', onStream);
    let said: string;
    this.running = 'seek';
    try {
      said = await this.gdb.monitor(`seek ${event}`);
    } finally {
      this.running = undefined;
      this.gdb.mi.off('stream', onStream);
    }
    if (!/^at event \d+$/m.test(said)) throw new Error(said.replace(/^seek: .*\n/gm, '').trim() || `cannot go to event ${event}`);
    // the replay moved under gdb's feet: make it read the registers and the library list again
    await this.gdb.console('maintenance flush register-cache');
    await this.gdb.console('sharedlibrary');
    await this.leaveSyscallBuffer();
    await this.returnToSource();
  }

  /**
   * EXPR's value just after each of EVENTS: a seek to each, in order, and gdb's
   * evaluation in the innermost frame there. Unlike a seek of the page, it neither
   * steps out of the syscall buffer nor returns to the program's code (hundreds of
   * steps for a buffered call, far more than the seek): globals and statics have
   * their value at the event itself, and a local only where that frame has it.
   * Meant for a session of its own (src/ui/sampler.ts): it moves this session's replay.
   */
  sample(expr: string, events: number[]): Promise<Sample[]> {
    return this.serial(async () => {
      const out: Sample[] = [];
      for (const event of [...events].sort((a, b) => a - b)) {
        try {
          const said = await this.gdb.monitor(`seek ${event}`);
          if (!/^at event \d+$/m.test(said)) throw new Error(said);
          await this.gdb.console('maintenance flush register-cache');
          out.push({ event, value: await this.gdb.evaluate(expr) });
        } catch {
          out.push({ event }); // not in scope here, or the program has ended
        }
      }
      return out;
    });
  }

  /**
   * "Where did this value come from": a watchpoint on EXPR (in the frame the page
   * shows) and reverse-continue, which stops at the last write before now.
   */
  origin(expr: string): Promise<PointState> {
    return this.serial(async () => {
      const { thread, sourceFrame } = await this.readFrames();
      const frame = thread === undefined ? undefined : { thread, level: sourceFrame ?? 0 };
      const wp = await this.gdb.insertWatchpoint(expr, 'write', frame);
      try {
        const stop = await this.execute(() => this.gdb.resume('continue', { reverse: true }));
        return await this.readState(stop.reason ?? 'stopped', stop.watchpoint && { exp: stop.watchpoint.exp, old: stop.watchpoint.old, new: stop.watchpoint.new });
      } finally {
        await this.gdb.deleteBreakpoints([wp.number]).catch(() => undefined);
      }
    });
  }

  /** step/next/finish/continue, forwards or in reverse, as gdb does them; resolves at the stop. */
  resume(action: ResumeAction, reverse: boolean): Promise<PointState> {
    return this.serial(async () => {
      const stop = await this.execute(() => this.gdb.resume(action, { reverse }));
      return this.readState(stop.reason ?? 'stopped');
    });
  }

  /**
   * An event happens inside a library call (printf's write, malloc's brk): run on
   * until the call the program's own code made returns, so the page stands on the
   * line that caused the event, with gdb's stepping acting on that line. A stop on
   * the way (a breakpoint, a signal) ends the run there instead.
   */
  private async returnToSource(): Promise<void> {
    const { frames, sourceFrame } = await this.readFrames();
    if (sourceFrame === undefined || sourceFrame === 0) return;
    // gdb's unwinding through code it has no unwind information for (ld.so's early
    // start) can name a source frame that is not on the stack, with unknown frames
    // around it: finishing it would run to the end of the program
    if (frames.slice(0, sourceFrame + 2).some((f) => !f.func || f.func === '??')) return;
    await this.untilStop(() => this.gdb.send(`-exec-finish --thread 1 --frame ${sourceFrame - 1}`));
  }

  /** An execution command the page may stop (interrupt). */
  private async execute(start: () => Promise<unknown>): Promise<MiStop> {
    this.running = 'execution';
    try {
      return await this.untilStop(start);
    } finally {
      this.running = undefined;
    }
  }

  /** Runs an execution command and waits for the stop it leads to (or for gdb to give it up, an error). */
  private async untilStop(start: () => Promise<unknown>): Promise<MiStop> {
    let onStop!: (stop: MiStop) => void;
    let onAbort!: (message: string) => void;
    const outcome = new Promise<MiStop>((resolve, reject) => {
      onStop = resolve;
      onAbort = (message) => reject(new Error(message));
      this.gdb.once('stopped', onStop);
      this.gdb.once('aborted', onAbort);
    });
    outcome.catch(() => undefined); // awaited below unless start() fails first
    try {
      await start();
      return await outcome;
    } finally {
      this.gdb.off('stopped', onStop);
      this.gdb.off('aborted', onAbort);
    }
  }

  /**
   * A seek to a buffered syscall stops inside the syscall buffer's preload library;
   * neither its trampoline nor the stub the patched syscall site jumps to has unwind
   * information, so gdb cannot find the program's frames from there. Step forwards,
   * an instruction at a time, until the pc is back in a function gdb knows outside
   * the library (libc's write); the syscall has happened either way.
   */
  private async leaveSyscallBuffer(): Promise<void> {
    const inBuffer = (f: MiFrame | undefined) => !!f && (!!f.from?.endsWith(PRELOAD_LIBRARY) || f.func === undefined || f.func === '??');
    const frames = await this.gdb.frames(1, 0, 3).catch(() => []);
    if (!frames[0]?.from?.endsWith(PRELOAD_LIBRARY)) return;
    // the library's constructor (addon/preload: rw_init), which ld.so calls, unwinds
    // fine: stepping out of it would take thousands of steps, through the syscalls it makes
    if (frames.some((f) => f.func === PRELOAD_CONSTRUCTOR)) return;
    let top = frames[0];
    for (let i = 0; i < MAX_PRELOAD_STEPS && inBuffer(top); i++) {
      await this.untilStop(() => this.gdb.resume('stepi'));
      top = (await this.gdb.frames(1, 0, 0).catch(() => []))[0];
    }
  }

  /**
   * Stops the move under way (its own answer comes when it has stopped): gdb's
   * interrupt for an execution command; for a seek, during which gdb sends nothing,
   * the replay server's SIGUSR1 (the seek then ends where it is). False when nothing runs.
   */
  async interrupt(): Promise<boolean> {
    if (this.running === 'seek') {
      process.kill(this.server.pid, 'SIGUSR1');
      return true;
    }
    if (this.running !== 'execution') return false;
    await this.gdb.interrupt();
    return true;
  }

  /** A breakpoint at a line of a source file gdb showed. */
  setBreakpoint(file: string, line: number, condition?: string): Promise<PointState> {
    return this.serial(async () => {
      if (!this.sources.has(file)) throw new Error(`${file} is not a source file of this replay`);
      const key = `${file}:${line}`;
      if (!this.breakpoints.has(key)) {
        const bp = await this.gdb.insertBreakpoint(`${file}:${line}`, { condition });
        this.breakpoints.set(key, { file, line, condition, number: bp.number });
      }
      return this.readState('breakpoint set');
    });
  }

  clearBreakpoint(file: string, line: number): Promise<PointState> {
    return this.serial(async () => {
      const bp = this.breakpoints.get(`${file}:${line}`);
      if (bp) await this.gdb.deleteBreakpoints([bp.number]);
      this.breakpoints.delete(`${file}:${line}`);
      return this.readState('breakpoint cleared');
    });
  }

  async close(): Promise<void> {
    await this.gdb.close().catch(() => this.gdb.mi.kill());
    this.server.kill();
    await this.server.exited;
  }

  private serial<T>(work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(work, work);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** The stack of thread 1 (a replay has one thread), and which frame the page shows. */
  private async readFrames(): Promise<{ thread?: number; frames: MiFrame[]; sourceFrame?: number }> {
    const threads = await this.gdb.threads().catch(() => []);
    if (!threads.length) return { frames: [] };
    // (a thread absent where the replay stands, ended or made later, has no frame to show)
    const thread = (threads.find((t) => t.frame?.addr !== '<unavailable>') ?? threads[0]).id;
    const frames = await this.gdb.frames(thread, 0, Math.min(await this.gdb.stackDepth(thread), MAX_FRAMES) - 1);
    // the innermost frame whose source is on this machine: libc's, with its debug
    // symbols, names files relative to where libc was built
    const sourceFrame = frames.find((f) => f.fullname && f.line && path.isAbsolute(f.fullname) && existsSync(f.fullname))?.level;
    if (sourceFrame !== undefined) this.sources.add(frames[sourceFrame].fullname!);
    return { thread, frames, sourceFrame };
  }

  private async readState(reason: string, watch?: PointState['watch']): Promise<PointState> {
    const event = Number(/Current event: (\d+)/.exec(await this.gdb.monitor('when'))?.[1] ?? -1);
    const { thread, frames, sourceFrame } = await this.readFrames();
    const breakpoints = [...this.breakpoints.values()].map(({ file, line, condition }) => ({ file, line, ...(condition ? { condition } : {}) }));
    // "#3 pid 1234 after event 57, ...": the event each checkpoint stands after
    const listed = [...(await this.gdb.monitor('checkpoints')).matchAll(/^\s*#\d+ .*?after event (\d+)/gm)].map((m) => Number(m[1]));
    const checkpoints = [...new Set(listed)].sort((a, b) => a - b);
    const base = { event, reason, breakpoints, checkpoints, ...(watch ? { watch } : {}) };
    if (thread === undefined) return { ...base, frames: [], locals: [], registers: [], ended: true };
    const locals = sourceFrame === undefined ? [] : await this.gdb.variables({ thread, level: sourceFrame }).catch(() => []);
    const values = await this.gdb.registerValues({ thread, level: 0 });
    const registers = values
      .map((v) => ({ name: this.registerNames[v.number] ?? '', value: v.value }))
      .filter((r) => SHOWN_REGISTERS.includes(r.name))
      .sort((a, b) => SHOWN_REGISTERS.indexOf(a.name) - SHOWN_REGISTERS.indexOf(b.name));
    const disassembly = sourceFrame === undefined && frames[0] ? await this.instructionsAround(frames[0].addr) : undefined;
    return { ...base, frames, sourceFrame, locals, registers, ended: false, ...(disassembly ? { disassembly } : {}) };
  }

  /** The instructions around PC (the DAP adapter's disassembly: it finds where the ones before PC start). */
  private async instructionsAround(pc: string): Promise<PointState['disassembly']> {
    const insns = await disassemble(this.gdb, { memoryReference: pc, instructionOffset: -DISASSEMBLY_BEFORE, instructionCount: DISASSEMBLY_LINES }).catch(() => []);
    return insns.map((i) => ({ address: i.address, text: i.instruction, symbol: i.symbol, current: BigInt(i.address) === BigInt(pc) }));
  }
}
