// Records a program: spawns it under ptrace, lets the native loop encode its
// syscalls, signals and rdtsc results, and handles what needs a decision here
// (files the program maps, exec, calls that cannot be recorded).
import * as fs from 'node:fs';
import * as os from 'node:os';
import { TraceWriter } from '../history/trace-writer.js';  // not the index: the reader's LRU cache loads perf_hooks
import { EventKind, encodeJsonEvent } from '../history/events.js';
import { native, preloadLibraryPath, type NativeRecording } from '../native/addon.js';
import { captureAddressSpace } from '../replay/address-space.js';
import { handOverChildren } from './babysitter.js';
import { MappingRefused, recordFileChange, recordGrowth, recordMapping } from './mapped-files.js';
import { syscallName } from '../syscalls/names.js';
import { encodeSyscallTable } from '../syscalls/table.js';
import { tracerCpu } from '../arch/cpu.js';
import { CpuidRecording, type CpuidOptions } from '../cpuid/recording.js';
import { join as joinPath } from 'node:path';

/** how long a requested stop may take before the program is killed instead (see requestStop) */
const STOP_FALLBACK_MS = 10_000;

export interface RecordOptions {
  program: string;
  args: string[];
  traceDir: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** fds for the program's stdin, stdout and stderr (default: the recorder's own) */
  stdio?: [number, number, number];
  /**
   * O_NONBLOCK for the program's fds 0, 1, 2 (undefined: as they are). The CLI
   * passes what rewind itself was given (src/cli/inherited-stdio.ts), since Node
   * turns it on for pipes it shares with the program.
   */
  stdioNonBlocking?: [boolean | undefined, boolean | undefined, boolean | undefined];
  /**
   * Buffer common syscalls in the program (docs/syscallbuf.md): default on, unless
   * REWIND_SYSCALLBUF=0. Only dynamically linked programs can use it.
   */
  syscallbuf?: boolean;
  /** which CPUID answers the program gets (docs/portability.md) */
  cpuid?: CpuidOptions;
  /**
   * Record the program's child processes too (default), or let them run live and
   * unrecorded as before (false, or REWIND_CHILDREN=live): for a program whose
   * children must not be traced (they ptrace each other).
   */
  children?: boolean;
  /** how threads are preempted (addon/record_slices.h): the slice (default 50 ms), chaos with its seed */
  schedule?: { sliceMs?: number; chaos?: boolean; seed?: bigint };
}

/** Whether the ELF file at PATH asks for a dynamic loader (has a PT_INTERP header). */
export function isDynamicElf(file: string): boolean {
  let fd: number | undefined;
  try {
    fd = fs.openSync(file, 'r');
    const head = Buffer.alloc(64);
    if (fs.readSync(fd, head, 0, 64, 0) < 64 || head.readUInt32BE(0) !== 0x7f454c46 || head[4] !== 2) return false;
    const phoff = Number(head.readBigUInt64LE(32));
    const phentsize = head.readUInt16LE(54);
    const phnum = head.readUInt16LE(56);
    const ph = Buffer.alloc(phentsize * phnum);
    fs.readSync(fd, ph, 0, ph.length, phoff);
    for (let i = 0; i < phnum; i++) if (ph.readUInt32LE(i * phentsize) === 3 /* PT_INTERP */) return true;
    return false;
  } catch {
    return false;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/** The environment the program is started with: the recorded one, plus the preload library. */
function withPreload(envp: string[], lib: string): string[] {
  const at = envp.findIndex((e) => e.startsWith('LD_PRELOAD='));
  if (at < 0) return [...envp, `LD_PRELOAD=${lib}`];
  const out = [...envp];
  const rest = envp[at].slice('LD_PRELOAD='.length);
  out[at] = `LD_PRELOAD=${lib}${rest ? `:${rest}` : ''}`;
  return out;
}

export type RecordOutcome =
  | { kind: 'exited'; code: number; events: number }
  | { kind: 'killed'; signal: number; events: number }
  | { kind: 'stopped'; reason: string; events: number };

export class RecordError extends Error {}

/** Signal records in a batch of encoded events (walked by their size fields). */
function countSignals(events: Buffer): number {
  let n = 0;
  for (let at = 0; at + 5 <= events.length; at += events.readUInt32LE(at)) {
    if (events[at + 4] === EventKind.Signal) n++;
    if (events.readUInt32LE(at) < 12) break;
  }
  return n;
}

const BATCH_BYTES = 256 * 1024;

/** Finds PROGRAM on PATH the way a shell would. */
export function resolveProgram(program: string, env: NodeJS.ProcessEnv): string {
  const candidates = program.includes('/')
    ? [program]
    : (env.PATH ?? '/usr/bin:/bin').split(':').filter(Boolean).map((d) => `${d}/${program}`);
  for (const c of candidates) {
    try {
      fs.accessSync(c, fs.constants.X_OK);
      if (fs.statSync(c).isFile()) return fs.realpathSync(c);
    } catch {
      // try the next
    }
  }
  throw new RecordError(`cannot find an executable program named ${program}`);
}

export class Recorder {
  private pid = 0;
  /** The native loop's state: made once the program is spawned, closed when record() returns. */
  private recording: NativeRecording | undefined;
  private writer: TraceWriter | undefined;
  private finished = false;
  private signalEvents = 0;
  /** Why the recording is being ended early (requestStop), if it is. */
  private stopReason: string | undefined;
  private stopFallback: NodeJS.Timeout | undefined;

  async record(opts: RecordOptions): Promise<RecordOutcome> {
    const env = opts.env ?? process.env;
    const cwd = opts.cwd ?? process.cwd();
    const path = resolveProgram(opts.program, env);
    const n = native();
    n.configure({ cpu: tracerCpu() });
    const envp = Object.entries(env).filter(([, v]) => v !== undefined).map(([k, v]) => `${k}=${v}`);
    const lib = preloadLibraryPath();
    const buffered = (opts.syscallbuf ?? env.REWIND_SYSCALLBUF !== '0') && isDynamicElf(path) && fs.existsSync(lib);
    const cpuid = await CpuidRecording.plan(opts.cpuid ?? {});
    const writer = (this.writer = TraceWriter.create(opts.traceDir, {
      program: opts.program, path, args: opts.args, cwd, env: envp, syscallbuf: buffered,
      recordedAt: new Date().toISOString(), host: os.hostname(), kernel: os.release(),
      cpuModel: os.cpus()[0]?.model ?? 'unknown', cpu: tracerCpu(), cpuid: cpuid.meta,
    }));
    // The library takes itself out of LD_PRELOAD at start-up: the program sees envp.
    const spawnEnv = buffered ? withPreload(envp, lib) : envp;
    try {
      // Its own process group: kill(0, ...) by the program reaches neither the
      // recorder nor what runs beside it; it gets the terminal, as a shell's job would.
      this.pid = await n.spawn({
        path, argv: [opts.program, ...opts.args], envp: spawnEnv, cwd, trapTsc: true, traceForks: true,
        newProcessGroup: true, ...(opts.stdio ? { stdio: opts.stdio } : {}),
        ...(opts.stdioNonBlocking ? { nonBlocking: opts.stdioNonBlocking } : {}),
      });
    } catch (e) {
      // finish(), not writer.close(): abort() after this must not append to a closed writer
      // (that error used to hide this one).
      this.finish({ kind: 'stopped', reason: `could not start ${path}`, events: writer.eventCount });
      throw new RecordError((e as Error).message);
    }
    globalThis.__rewindMark?.('spawned');
    const children = opts.children ?? env.REWIND_CHILDREN !== 'live';
    const recording = (this.recording = new n.Recording(this.pid, children));
    // A stop asked for while the program was being spawned: the first run honours it.
    if (this.stopReason) recording.requestStop();
    if (opts.schedule) await recording.setSlices(opts.schedule.sliceMs ?? 50, opts.schedule.chaos ?? false, opts.schedule.seed ?? 0n);
    try {
      return await this.run(recording, path, writer, cpuid, (sha) => fs.readFileSync(joinPath(opts.traceDir, 'files', sha)));
    } finally {
      n.restoreTerminal();
      await this.closeRecording();
    }
  }

  private async run(recording: NativeRecording, path: string, writer: TraceWriter, cpuid: CpuidRecording, stored: (sha: string) => Buffer): Promise<RecordOutcome> {
    const root = recording.root;
    const pid = root;
    const table = encodeSyscallTable();
    const first = { ...(await captureAddressSpace(pid, writer, path)), argv: commandLineOf(pid) };
    writer.append(encodeJsonEvent(EventKind.Exec, pid, first));
    globalThis.__rewindMark?.('captured');
    writer.flush(); // the start of the program is on disk before it runs
    await cpuid.afterExec(recording, pid, first, stored);
    await cpuid.execsToLoop(recording);

    globalThis.__rewindMark?.('ready to run');
    let running = recording.run(table, BATCH_BYTES);
    for (;;) {
      let r;
      try {
        r = await running;
      } catch (e) {
        // The program was killed under the loop's feet by requestStop().
        if (this.stopReason) return this.stopped(this.stopReason);
        throw e;
      }
      const stop = r.stop;
      this.signalEvents += countSignals(r.events);
      if (this.stopReason && stop.reason !== 'exited') {
        // Whatever the loop saw last, the program is gone: the trace ends with why.
        writer.append(withoutExitRecord(r.events));
        if (Array.isArray(stop.children)) handOverChildren(stop.children as unknown as bigint[]);
        return this.stopped(this.stopReason);
      }
      if (stop.reason === 'batch') {
        // The program runs on while this batch is compressed and written (the
        // tracer has its own CPU): recording and compression overlap.
        running = recording.run(table, BATCH_BYTES);
        writer.append(r.events);
        continue;
      }
      writer.append(r.events);
      // the process the stop is about: the root or one of its descendants
      const at = stop.pid === undefined ? root : Number(stop.pid);
      try {
        switch (stop.reason) {
          case 'exited':
          case 'killed': {
            if (Array.isArray(stop.children)) handOverChildren(stop.children as unknown as bigint[]);
            this.pid = 0;
            const outcome: RecordOutcome = stop.reason === 'exited'
              ? { kind: 'exited', code: Number(stop.code), events: writer.eventCount }
              : { kind: 'killed', signal: Number(stop.signal), events: writer.eventCount };
            this.finish(outcome);
            return outcome;
          }
          case 'mmap-file': {
            const image: { st?: fs.BigIntStats; sha?: string } = {};
            const map = recordMapping(at, stop, writer, writer.eventCount - 1, (st, sha) => Object.assign(image, { st, sha }));
            writer.append(encodeJsonEvent(EventKind.MapFile, at, map));
            await cpuid.afterMap(recording, at, map, stored);
            // the loop records this image's later mappings itself (addon/record_images.h)
            if (image.st && image.sha) {
              const { st, sha } = image;
              void recording.knowImage(st.dev, st.ino, st.size, st.mtimeNs, st.ctimeNs, sha, await cpuid.imageSites(sha, stored));
            }
            break;
          }
          case 'mremap-grow': {
            const data = recordGrowth(at, stop, writer);
            if (data) writer.append(encodeJsonEvent(EventKind.FileData, at, data));
            break;
          }
          case 'file-changed':
            writer.append(encodeJsonEvent(EventKind.FileData, at, recordFileChange(at, stop, writer)));
            break;
          case 'exec': {
            const snap = { ...(await captureAddressSpace(at, writer, fs.readlinkSync(`/proc/${at}/exe`))), argv: commandLineOf(at) };
            writer.append(encodeJsonEvent(EventKind.Exec, at, snap));
            await cpuid.afterExec(recording, at, snap, stored, stop.cpuidFaulting === undefined ? undefined : stop.cpuidFaulting === 1);
            break;
          }
          case 'async-signal': {
            // A signal arrived while the program computed: delivered there, once named.
            // loaded here, not at start: the points' code loads the x86 decoder (scripts/bundle.mjs)
            const { nameSignalPoint } = await import('../points/record-point.js');
            const named = await nameSignalPoint(recording, at, Number(stop.signal), Buffer.from(String(stop.siginfo), 'hex'),
              writer, stop.buffer as unknown as bigint[] | undefined);
            writer.append(named.before);
            if (named.point) {
              writer.append(encodeJsonEvent(EventKind.AsyncPoint, at, named.point));
              await recording.pointDeliver(at);
            }
            break;
          }
          case 'preempt': {
            // A thread's time slice ended while others were ready: a switch, once named.
            const { namePreemptionPoint } = await import('../points/record-switch.js');
            const named = await namePreemptionPoint(recording, at, writer, stop.buffer as unknown as bigint[] | undefined);
            writer.append(named.before);
            if (named.point) writer.append(encodeJsonEvent(EventKind.AsyncPoint, at, named.point));
            await recording.preemptSwitch(at, named.point !== undefined);
            break;
          }
          case 'unknown-syscall':
          case 'unsupported': {
            const nr = Number(stop.nr);
            const what = stop.reason === 'unknown-syscall'
              ? `syscall ${nr}, which rewind does not know, and the kernel ran it (it returned ${BigInt.asIntN(64, stop.result as bigint)}, not ENOSYS)`
              : `syscall ${syscallName(nr)} (${nr}): ${stop.why}`;
            const who = at === root ? '' : ` in process ${at}`;
            return await this.refuse(`recording stopped at event ${writer.eventCount}${who}: ${what}`);
          }
          default:
            throw new Error(`native record loop stopped for an unknown reason: ${stop.reason}`);
        }
      } catch (e) {
        if (!(e instanceof MappingRefused)) throw e;
        return await this.refuse(`recording stopped at event ${writer.eventCount}: ${e.message}`);
      }
      running = recording.run(table, BATCH_BYTES);
    }
  }

  /** Ends the recording at a call or mapping rewind cannot record: the trace replays up to there. */
  private async refuse(reason: string): Promise<RecordOutcome> {
    const writer = this.writer!;
    writer.append(encodeJsonEvent(EventKind.Stop, this.pid, { reason }));
    await this.abort();
    const outcome: RecordOutcome = { kind: 'stopped', reason, events: writer.eventCount };
    this.finish(outcome);
    return outcome;
  }

  private stopped(reason: string): RecordOutcome {
    const writer = this.writer!;
    this.pid = 0;
    writer.append(encodeJsonEvent(EventKind.Stop, 0, { reason }));
    const outcome: RecordOutcome = { kind: 'stopped', reason, events: writer.eventCount };
    this.finish(outcome);
    return outcome;
  }

  private finish(outcome: RecordOutcome): void {
    if (this.finished) return;
    this.finished = true;
    clearTimeout(this.stopFallback);
    // signals: replay on a CPU with other signal frame sizes is refused only if there were any
    globalThis.__rewindMark?.('program ended');
    this.writer?.close({ outcome, signals: this.signalEvents });
    globalThis.__rewindMark?.('trace closed');
  }

  /**
   * Ends the recording now, whatever the program does (the recorder got SIGTERM,
   * SIGINT or SIGHUP). The native loop is told to stop at the program's next stop,
   * keeping what the syscall buffer holds, and the program gets a SIGSTOP so that
   * there is a next stop even if it computes without syscalls; record() then
   * resolves with a 'stopped' outcome and a trace that replays up to there. Should
   * the tracer thread be stuck elsewhere, the program is killed from here after
   * STOP_FALLBACK_MS (the buffer's last records are lost then). That is a net for a
   * stuck thread, not the way a stop ends: it waits long enough that a loaded
   * machine, which slows the normal stop, does not reach it (with one second, the
   * program's last buffered write was lost under load).
   */
  requestStop(reason: string): void {
    if (this.stopReason || this.finished) return;
    this.stopReason = reason;
    if (!this.pid) return;
    this.recording?.requestStop();
    const pid = this.pid;
    try {
      process.kill(pid, 'SIGSTOP');
    } catch {
      return;  // already gone
    }
    this.stopFallback = setTimeout(() => {
      if (this.pid === pid && !this.finished) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone
        }
      }
    }, STOP_FALLBACK_MS);
    this.stopFallback.unref();
  }

  /**
   * Every process still recorded dies and the native state goes. The root pid is
   * forgotten too: it is reaped, and may name another process from now on.
   */
  private async closeRecording(): Promise<void> {
    const recording = this.recording;
    if (!recording) return;
    this.recording = undefined;
    this.pid = 0;
    await recording.close();
  }

  /** Kills the program and closes the trace; safe to call more than once. */
  async abort(reason?: string): Promise<void> {
    await this.closeRecording();
    if (this.pid) {
      const pid = this.pid;
      this.pid = 0;
      await native().kill(pid).catch(() => undefined);
    }
    native().restoreTerminal();
    if (reason && this.writer && !this.finished) {
      this.writer.append(encodeJsonEvent(EventKind.Stop, 0, { reason }));
      this.finish({ kind: 'stopped', reason, events: this.writer.eventCount });
    }
  }
}

/** The tracee's command line right after its exec (for `rewind ps`). */
function commandLineOf(pid: number): string[] {
  try {
    const raw = fs.readFileSync(`/proc/${pid}/cmdline`, 'latin1');
    return raw.split('\0').slice(0, raw.endsWith('\0') ? -1 : undefined);
  } catch {
    return [];
  }
}

/** The records of a batch without a trailing exit record (the program's death by our SIGKILL). */
function withoutExitRecord(events: Buffer): Buffer {
  let last = -1;
  for (let at = 0; at + 4 <= events.length; at += events.readUInt32LE(at)) last = at;
  return last >= 0 && events[last + 4] === EventKind.Exit ? events.subarray(0, last) : events;
}
