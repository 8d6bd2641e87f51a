// Records a program: spawns it under ptrace, lets the native loop encode its
// syscalls, signals and rdtsc results, and handles what needs a decision here
// (files the program maps, exec, calls that cannot be recorded).
import * as fs from 'node:fs';
import * as os from 'node:os';
import { TraceWriter } from '../history/index.js';
import { EventKind, encodeJsonEvent, type MapFileInfo } from '../history/events.js';
import { native, preloadLibraryPath } from '../native/addon.js';
import { captureAddressSpace } from '../replay/address-space.js';
import { hex } from '../replay/proc-maps.js';
import { syscallName } from '../syscalls/names.js';
import { encodeSyscallTable } from '../syscalls/table.js';
import { tracerCpu } from '../arch/cpu.js';
import { CpuidRecording, type CpuidOptions } from '../cpuid/recording.js';
import { join as joinPath } from 'node:path';

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
  private writer: TraceWriter | undefined;
  private finished = false;
  private signalEvents = 0;

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
    const stored = (sha: string) => fs.readFileSync(joinPath(opts.traceDir, 'files', sha));
    const table = encodeSyscallTable();
    // The library takes itself out of LD_PRELOAD at start-up: the program sees envp.
    const spawnEnv = buffered ? withPreload(envp, lib) : envp;
    try {
      this.pid = await n.spawn({ path, argv: [opts.program, ...opts.args], envp: spawnEnv, cwd, trapTsc: true, traceForks: true, ...(opts.stdio ? { stdio: opts.stdio } : {}), ...(opts.stdioNonBlocking ? { nonBlocking: opts.stdioNonBlocking } : {}) });
    } catch (e) {
      // finish(), not writer.close(): abort() after this must not append to a closed writer
      // (that error used to hide this one).
      this.finish({ kind: 'stopped', reason: `could not start ${path}`, events: writer.eventCount });
      throw new RecordError((e as Error).message);
    }
    const pid = this.pid;
    const first = await captureAddressSpace(pid, writer, path);
    writer.append(encodeJsonEvent(EventKind.Exec, pid, first));
    writer.flush(); // the start of the program is on disk before it runs
    await cpuid.afterExec(pid, first, stored);

    let running = n.recordRun(pid, table, BATCH_BYTES);
    for (;;) {
      const r = await running;
      const stop = r.stop;
      this.signalEvents += countSignals(r.events);
      if (stop.reason === 'batch') {
        // The program runs on while this batch is compressed and written (the
        // tracer has its own CPU): recording and compression overlap.
        running = n.recordRun(pid, table, BATCH_BYTES);
        writer.append(r.events);
        continue;
      }
      writer.append(r.events);
      switch (stop.reason) {
        case 'exited':
        case 'killed': {
          const outcome: RecordOutcome = stop.reason === 'exited'
            ? { kind: 'exited', code: Number(stop.code), events: writer.eventCount }
            : { kind: 'killed', signal: Number(stop.signal), events: writer.eventCount };
          this.finish(outcome);
          return outcome;
        }
        case 'mmap-file': {
          const map = this.mappedFile(pid, stop);
          writer.append(encodeJsonEvent(EventKind.MapFile, pid, map));
          await cpuid.afterMap(pid, map, stored);
          running = n.recordRun(pid, table, BATCH_BYTES);
          continue;
        }
        case 'exec': {
          const snap = await captureAddressSpace(pid, writer, fs.readlinkSync(`/proc/${pid}/exe`));
          writer.append(encodeJsonEvent(EventKind.Exec, pid, snap));
          await cpuid.afterExec(pid, snap, stored);
          running = n.recordRun(pid, table, BATCH_BYTES);
          continue;
        }
        case 'unknown-syscall':
        case 'unsupported': {
          const nr = Number(stop.nr);
          const what = stop.reason === 'unknown-syscall'
            ? `unknown syscall ${nr}${syscallName(nr).startsWith('syscall_') ? '' : ` (${syscallName(nr)})`}`
            : `syscall ${syscallName(nr)} (${nr}): ${stop.why}`;
          const reason = `recording stopped at event ${writer.eventCount}: ${what}`;
          writer.append(encodeJsonEvent(EventKind.Stop, pid, { reason }));
          await this.abort();
          const outcome: RecordOutcome = { kind: 'stopped', reason, events: writer.eventCount };
          this.finish(outcome);
          return outcome;
        }
        default:
          throw new Error(`native record loop stopped for an unknown reason: ${stop.reason}`);
      }
    }
  }

  private mappedFile(pid: number, stop: Record<string, unknown>): MapFileInfo {
    const link = `/proc/${pid}/fd/${stop.fd}`;
    let path: string;
    try {
      path = fs.readlinkSync(link);
    } catch (e) {
      throw new RecordError(`cannot find the file behind fd ${stop.fd} mapped by the program: ${(e as Error).message}`);
    }
    const sha = this.writer!.storeFile(link);
    const size = fs.statSync(link).size;
    const offset = stop.offset as bigint;
    return {
      addr: hex(stop.addr as bigint), length: hex(stop.length as bigint), offset: hex(offset),
      prot: Number(stop.prot), flags: Number(stop.flags), sha, path,
      size: Math.max(0, Math.min(Number(stop.length as bigint), size - Number(offset))),
    };
  }

  private finish(outcome: RecordOutcome): void {
    if (this.finished) return;
    this.finished = true;
    // signals: replay on a CPU with other signal frame sizes is refused only if there were any
    this.writer?.close({ outcome, signals: this.signalEvents });
  }

  /** Kills the program and closes the trace; safe to call more than once. */
  async abort(reason?: string): Promise<void> {
    if (this.pid) {
      const pid = this.pid;
      this.pid = 0;
      await native().kill(pid).catch(() => undefined);
    }
    if (reason && this.writer && !this.finished) {
      this.writer.append(encodeJsonEvent(EventKind.Stop, 0, { reason }));
      this.finish({ kind: 'stopped', reason, events: this.writer.eventCount });
    }
  }
}
