// Turns typed requests into engine calls and replies. Knows nothing of ptrace or of
// sockets: src/rsp/connection.ts frames and writes, src/debug/ runs.
import { gdbSignal, linuxSignal } from './signals.js';
import { EngineError, type DebugTarget, type StopEvent, type ResumeRequest } from '../debug/target.js';
import { FileIoErrno, RspError } from './errors.js';
import { encodeHex } from './hex.js';
import {
  consoleOutput, currentThread, empty, error, exited, fileIoStat, fileResult, killedBySignal, ok, qXferChunk,
  stopReply, supported, threadList, type StopReason,
} from './replies.js';
import type { Request, ThreadId, VContAction, VFileRequest } from './requests.js';
import { LldbQueries } from './lldb-queries.js';
import { gPacketSize, targetXml } from './target-xml.js';
import { ThreadPackets } from './threads.js';

export type Reply = string | Buffer;

export interface DispatchResult {
  /** packets to send, in order (written together) */
  replies: Reply[];
  /** enter no-ack mode after sending */
  noAck?: boolean;
  /** close the connection after sending */
  close?: boolean;
}

export interface DispatcherOptions {
  /** the path gdb is told the executable has (the recorded one, or --symbols FILE) */
  exePath: string;
  /** server-side log (rewind's stderr) */
  log?: (text: string) => void;
}

/** The pc among expedited registers (regno 16, little-endian). */
function pcOf(regs: { regno: number; bytes: Buffer }[]): bigint | undefined {
  const rip = regs.find((r) => r.regno === 16);
  return rip && rip.bytes.length === 8 ? rip.bytes.readBigUInt64LE(0) : undefined;
}

export class Dispatcher {
  private extended = false;
  private multiprocess = false;
  /** the libraries-svr4 document being read in chunks */
  private svr4: string | undefined;
  private readonly fds = new Map<number, Buffer>();
  private nextFd = 3;

  private readonly lldb: LldbQueries;
  private readonly threads: ThreadPackets;
  /** sends replies at once, before the answer of the request being handled (a monitor command's progress) */
  sendNow?: (replies: Reply[]) => void;

  constructor(private readonly engine: DebugTarget, private readonly opts: DispatcherOptions) {
    this.threads = new ThreadPackets(engine);
    this.lldb = new LldbQueries(engine, async () => (await this.stopReplies(engine.stopEvent)).at(-1)!, this.programName());
  }

  /** 0x03 or vCtrlC while a resume runs. */
  interrupt(): void {
    this.engine.interrupt();
  }

  /** the current thread: the one that stopped, or the one Hg chose */
  private get thread(): { pid: number; tid: number } {
    return { pid: this.engine.tid, tid: this.engine.selectedThread };
  }

  private threadId(): ThreadId {
    return this.multiprocess ? this.thread : { tid: this.thread.tid };
  }

  private ours(t: ThreadId | undefined): boolean {
    return this.threads.ours(t);
  }

  async handle(req: Request): Promise<DispatchResult> {
    try {
      return await this.dispatch(req);
    } catch (e) {
      if (e instanceof EngineError && e.code !== 'internal') {
        this.opts.log?.(e.message);
        const code = {
          'no-process': RspError.NoProcess,
          'bad-address': RspError.BadAddress,
          'too-many': RspError.TooManyWatchpoints,
          refused: RspError.NotSupportedHere,
          'no-thread': RspError.NoSuchThread,
          'bad-register': RspError.BadRegister,
        }[e.code];
        return this.one(this.lldb.error(code, e.message));
      }
      // a bug: the engine logged its stack and stays usable (EngineError 'internal'), or it
      // never reached the engine; either way the client gets an error, not a dead server
      this.opts.log?.(`internal error on ${req.type}: ${(e as Error).stack ?? e}`);
      return this.one(error(RspError.Internal));
    }
  }

  private one(r: Reply): DispatchResult {
    return { replies: [r] };
  }

  /** The stop reply for an engine stop, preceded by console text where needed. */
  async stopReplies(stop: StopEvent): Promise<Reply[]> {
    switch (stop.kind) {
      case 'exited':
        return [exited(stop.code, this.multiprocess ? this.engine.tid : undefined)];
      case 'killed':
        return [killedBySignal(gdbSignal(stop.signal), this.multiprocess ? this.engine.tid : undefined)];
      case 'end': {
        const regs = await this.engine.expedite().catch(() => []);
        return [
          consoleOutput(`rewind: ${stop.message}\n`),
          stopReply({ signal: 5, thread: this.threads.current(), registers: regs, reason: { kind: 'replaylog', value: 'end' }, multiprocess: this.multiprocess }) +
            this.lldb.stopReplyKeys(pcOf(regs), false),
        ];
      }
      case 'stopped': {
        let reason: StopReason | undefined;
        if (stop.watch) reason = { kind: stop.watch.kind, addr: stop.watch.addr };
        else if (stop.reason === 'swbreak' || stop.reason === 'hwbreak') reason = { kind: stop.reason };
        else if (stop.reason === 'thread-created') reason = { kind: 'create' };
        else if (stop.reason === 'begin' || stop.reason === 'end') reason = { kind: 'replaylog', value: stop.reason };
        const registers = await this.engine.expedite();
        const reply = stopReply({ signal: gdbSignal(stop.signal), thread: this.threads.current(), registers, reason, multiprocess: this.multiprocess }) +
          this.lldb.stopReplyKeys(pcOf(registers), stop.reason === 'step' && !stop.watch);
        return stop.message ? [consoleOutput(`rewind: ${stop.message}\n`), reply] : [reply];
      }
    }
  }

  private async resume(r: ResumeRequest): Promise<DispatchResult> {
    const stop = await this.engine.resume(this.threads.events && r.action === 'continue' ? { ...r, threadEvents: true } : r);
    this.threads.stopped();
    return { replies: [...this.threads.exitLines(stop, this.multiprocess), ...await this.stopReplies(stop)] };
  }

  private async dispatch(req: Request): Promise<DispatchResult> {
    const e = this.engine;
    switch (req.type) {
      case 'qSupported':
        this.multiprocess = req.features.get('multiprocess') === true;
        this.threads.events = req.features.get('QThreadEvents') === true;
        this.lldb.binaryUpload = req.features.get('binary-upload') === true;
        return this.one(supported({
          PacketSize: '10000', QStartNoAckMode: true, swbreak: true, hwbreak: true, vContSupported: true,
          'qXfer:features:read': true, 'qXfer:auxv:read': true, 'qXfer:exec-file:read': true, 'qXfer:libraries-svr4:read': true,
          'qXfer:threads:read': true, 'qXfer:siginfo:read': true, QPassSignals: true, QProgramSignals: true,
          multiprocess: this.multiprocess, ReverseContinue: true, ReverseStep: true,
          ...(this.lldb.binaryUpload ? { 'binary-upload': true } : {}),
        }));
      case 'vMustReplyEmpty':
      case 'qTStatus':
      case 'qOffsets':
      case 'qSearchMemory':
      case 'qCRC':
      case 'QCatchSyscalls':
      case 'unknown':
        return this.one(empty());
      case 'malformed':
        this.opts.log?.(`malformed packet (${req.reason}): ${req.text.slice(0, 80)}`);
        return this.one(error(RspError.BadPacket));
      case 'QStartNoAckMode':
        return { replies: [ok()], noAck: true };
      case 'extendedMode':
        this.extended = true;
        return this.one(ok());
      case 'QNonStop':
        return this.one(req.enable ? error(RspError.NotSupportedHere) : ok());
      case 'QPassSignals':
        this.engine.setPassSignals(req.signals.map(linuxSignal).filter((s): s is number => s !== undefined));
        return this.one(ok());
      case 'QThreadEvents':
      case 'QProgramSignals':
        return this.one(ok());
      case 'qSymbol':
        return this.one(ok());
      case 'setThread':
        return this.one(this.threads.set(req.op, req.thread) ? ok() : error(RspError.NoSuchThread));
      case 'qC':
        return this.one(currentThread(this.threadId(), this.multiprocess));
      case 'qfThreadInfo':
        return this.one(e.alive ? threadList(this.threads.list(), this.multiprocess) : 'l');
      case 'qsThreadInfo':
        return this.one('l');
      case 'qAttached':
        return this.one('1');
      case 'threadAlive':
        return this.one(e.alive && this.ours(req.thread) ? ok() : error(RspError.NoSuchThread));
      case 'qGetTLSAddr': {
        const tid = req.thread.tid > 0 ? req.thread.tid : e.selectedThread;
        if (!this.ours(req.thread)) return this.one(error(RspError.NoSuchThread));
        return this.one((await e.tlsAddress(tid, req.offset, req.lm)).toString(16));
      }
      case 'qThreadExtraInfo':
        return this.one(encodeHex(this.threads.extraInfo(req.thread?.tid ?? 0)));
      case 'haltReason':
        return { replies: await this.stopReplies(e.stopEvent) };
      case 'qXferRead':
        return this.one(await this.xfer(req.object, req.annex, req.offset, req.length));
      case 'qHostInfo':
      case 'qProcessInfo':
      case 'qRegisterInfo':
      case 'qMemoryRegionInfo':
      case 'qShlibInfoAddr':
      case 'qThreadStopInfo':
      case 'jThreadsInfo':
      case 'QThreadSuffixSupported':
      case 'QListThreadsInStopReply':
      case 'QEnableErrorStrings':
      case 'readMemoryBinary':
        return this.one(await this.lldb.answer(req));
      case 'readRegisters':
      case 'readRegister':
      case 'writeRegisters':
      case 'writeRegister':
        // LLDB names the thread in a suffix instead of Hg
        if (req.thread && !this.threads.set('g', req.thread)) return this.one(error(RspError.NoSuchThread));
        return this.registers(req);
      case 'readMemory': {
        if (req.length > 0x8000) return this.one(error(RspError.BadLength));
        const data = await e.readMemory(req.addr, req.length);
        if (data.length === 0 && req.length > 0) return this.one(this.lldb.error(RspError.BadAddress, `cannot read memory at 0x${req.addr.toString(16)}`));
        return this.one(data.toString('hex'));
      }
      case 'writeMemory':
        if (req.data.length > 0) await e.writeMemory(req.addr, req.data);
        return this.one(ok());
      case 'insertBreakpoint':
        await e.insertBreakpoint(req.kind, req.addr, req.length);
        return this.one(ok());
      case 'removeBreakpoint':
        await e.removeBreakpoint(req.kind, req.addr, req.length);
        return this.one(ok());
      case 'vContQuery':
        return this.one('vCont;c;C;s;S;r');
      case 'vCont':
        return this.vCont(req.actions);
      case 'reverseContinue':
      case 'reverseStep': {
        let stop: StopEvent;
        try {
          stop = await e.reverse(req.type === 'reverseStep' ? 'step' : 'continue');
        } catch (err) {
          // a refusal (threads) is said on gdb's console too: an E reply alone shows only its number
          if (!(err instanceof EngineError && err.code === 'refused') || this.lldb.client) throw err;
          this.opts.log?.(err.message);
          return { replies: [consoleOutput(`rewind: ${err.message}\n`), error(RspError.NotSupportedHere)] };
        }
        this.threads.stopped();
        return { replies: await this.stopReplies(stop) };
      }
      case 'continue':
        return this.resume({ action: 'continue' });
      case 'step': {
        const choice = this.threads.vCont([{ action: 's' }]);
        return this.resume({ action: 'step', thread: choice.kind === 'step' ? choice.thread : undefined });
      }
      case 'vCtrlC':
        this.interrupt();
        return this.one(ok());
      case 'vFile':
        return this.one(this.vFile(req));
      case 'qRcmd':
        return { replies: await this.monitor(req.command) };
      case 'detach':
        return { replies: [ok()], close: true };
      case 'kill': {
        // gdb does not wait for an answer to 'k' (one would be taken for the answer to its
        // next packet); LLDB waits for the exit, as lldb-server sends it. In extended mode
        // the next `run` restarts.
        const replies = this.lldb.client ? [killedBySignal(9, this.multiprocess ? e.tid : undefined)] : [];
        if (this.extended) {
          await e.restart();
          return { replies };
        }
        return { replies, close: true };
      }
      case 'vKill':
        await e.restart();
        return this.one(ok());
      case 'vRun':
      case 'restart': {
        const stop = await e.restart();
        return { replies: req.type === 'restart' ? [] : await this.stopReplies(stop) };
      }
      case 'vAttach':
        return this.one(error(RspError.NotSupportedHere));
    }
  }

  private async registers(req: Extract<Request, { type: 'readRegisters' | 'readRegister' | 'writeRegisters' | 'writeRegister' }>): Promise<DispatchResult> {
    const e = this.engine;
    if (this.threads.absentSelected) {
      // a thread absent here, made later or ended (threads.ts): no register of it has a value here
      if (req.type === 'writeRegisters' || req.type === 'writeRegister') return this.one(error(RspError.NoSuchThread));
      const shape = req.type === 'readRegisters' ? await e.readRegisters() : await e.readRegister(req.regno);
      return this.one('x'.repeat(shape.length * 2));
    }
    switch (req.type) {
      case 'readRegisters':
        return this.one((await e.readRegisters()).toString('hex'));
      case 'readRegister':
        return this.one((await e.readRegister(req.regno)).toString('hex'));
      case 'writeRegisters':
        if (req.data.length > gPacketSize({ avx: e.avx })) return this.one(error(RspError.BadLength));
        await e.writeRegisters(req.data);
        return this.one(ok());
      case 'writeRegister':
        await e.writeRegister(req.regno, req.value);
        return this.one(ok());
    }
  }

  private vCont(actions: VContAction[]): Promise<DispatchResult> {
    const choice = this.threads.vCont(actions);
    switch (choice.kind) {
      case 'no-thread':
        return Promise.resolve(this.one(error(RspError.NoSuchThread)));
      case 'continue':
        return this.resume({ action: 'continue' });
      case 'step':
        return this.resume(choice.start !== undefined
          ? { action: 'range', start: choice.start, end: choice.end!, thread: choice.thread }
          : { action: 'step', thread: choice.thread });
      case 'stop':
        return Promise.resolve(this.one(ok()));
    }
  }

  private async xfer(object: string, annex: string, offset: number, length: number): Promise<Reply> {
    const e = this.engine;
    switch (object) {
      case 'features':
        if (annex !== 'target.xml') return error(RspError.NoSuchFile);
        return qXferChunk(targetXml({ avx: e.avx }), offset, length);
      case 'auxv':
        return qXferChunk(e.auxv(), offset, length);
      case 'exec-file':
        return qXferChunk(this.opts.exePath, offset, length);
      case 'libraries-svr4':
        // the whole list at offset 0; later chunks from the same document
        if (offset === 0 || this.svr4 === undefined) this.svr4 = await e.librariesSvr4();
        return qXferChunk(this.svr4, offset, length);
      case 'threads':
        return qXferChunk(this.threads.xml(this.programName(), this.multiprocess), offset, length);
      case 'siginfo': {
        const si = e.siginfo();
        return si ? qXferChunk(si, offset, length) : error(RspError.NotSupportedHere);
      }
      default:
        return empty();
    }
  }

  private programName(): string {
    const base = this.opts.exePath.split('/').pop() ?? 'program';
    return base.replace(/[<>&"]/g, '_').slice(0, 15);
  }

  private vFile(req: VFileRequest): Reply {
    switch (req.op) {
      case 'setfs':
        return fileResult(0);
      case 'open': {
        if ((req.flags & 3) !== 0) return fileResult(-1, FileIoErrno.EACCES);
        const data = this.engine.openFile(req.filename);
        if (!data) return fileResult(-1, FileIoErrno.ENOENT);
        const fd = this.nextFd++;
        this.fds.set(fd, data);
        return fileResult(fd);
      }
      case 'pread': {
        const data = this.fds.get(req.fd);
        if (!data) return fileResult(-1, FileIoErrno.EBADF);
        // keep the escaped reply under the advertised packet size
        const n = Math.min(req.count, 0x7000);
        const chunk = data.subarray(Math.min(req.offset, data.length), Math.min(req.offset + n, data.length));
        return fileResult(chunk.length, undefined, chunk);
      }
      case 'fstat': {
        const data = this.fds.get(req.fd);
        if (!data) return fileResult(-1, FileIoErrno.EBADF);
        return fileResult(64, undefined, fileIoStat({
          dev: 0, ino: req.fd, mode: 0o100555, nlink: 1, uid: 0, gid: 0, rdev: 0, size: data.length,
          blksize: 4096, blocks: Math.ceil(data.length / 512), atime: 0, mtime: 0, ctime: 0,
        }));
      }
      case 'close':
        if (!this.fds.delete(req.fd)) return fileResult(-1, FileIoErrno.EBADF);
        return fileResult(0);
      case 'pwrite':
        return fileResult(-1, FileIoErrno.EBADF);
      case 'unlink':
        return fileResult(-1, FileIoErrno.EROFS);
      case 'readlink':
        return fileResult(-1, FileIoErrno.EINVAL);
    }
  }

  private async monitor(command: string): Promise<Reply[]> {
    const progress = this.sendNow && ((line: string) => this.sendNow!([consoleOutput(line + '\n')]));
    const lines = await this.engine.monitor(command, progress);
    return [...lines.map((l) => consoleOutput(l + '\n')), ok()];
  }
}
