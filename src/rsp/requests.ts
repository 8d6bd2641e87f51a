// Parse one unframed request payload from gdb into a tagged union. Never throws.

import { decodeHex, parseHexBigInt, parseHexNumber, parseSignedHex } from './hex.js';
import { parseLldbRequest, type LldbRequest } from './lldb-requests.js';

/** Thread id; pid is present only in multiprocess syntax 'p<pid>.<tid>'. -1 = all, 0 = any. */
export interface ThreadId {
  pid?: number;
  tid: number;
}

export type BreakpointKind = 0 | 1 | 2 | 3 | 4; // sw, hw, write, read, access watchpoint

export interface VContAction {
  action: 'c' | 'C' | 's' | 'S' | 'r' | 't';
  signal?: number;
  start?: bigint;
  end?: bigint;
  thread?: ThreadId;
}

export type VFileRequest =
  | { type: 'vFile'; op: 'setfs'; pid: number }
  | { type: 'vFile'; op: 'open'; filename: string; flags: number; mode: number }
  | { type: 'vFile'; op: 'pread'; fd: number; count: number; offset: number }
  | { type: 'vFile'; op: 'pwrite'; fd: number; offset: number; data: Buffer }
  | { type: 'vFile'; op: 'close' | 'fstat'; fd: number }
  | { type: 'vFile'; op: 'unlink' | 'readlink'; filename: string };

export type Request =
  | { type: 'qSupported'; features: Map<string, string | boolean> }
  // thread: LLDB's ';thread:ID;' suffix (QThreadSuffixSupported) instead of Hg
  | { type: 'readRegisters'; thread?: ThreadId }
  | { type: 'readRegister'; regno: number; thread?: ThreadId }
  | { type: 'writeRegisters'; data: Buffer; thread?: ThreadId }
  | { type: 'writeRegister'; regno: number; value: Buffer; thread?: ThreadId }
  | { type: 'readMemory'; addr: bigint; length: number }
  | { type: 'writeMemory'; addr: bigint; data: Buffer; binary: boolean }
  | { type: 'setThread'; op: 'g' | 'c'; thread: ThreadId }
  | { type: 'vCont'; actions: VContAction[] }
  | { type: 'vContQuery' }
  | { type: 'continue'; signal?: number; addr?: bigint }
  | { type: 'step'; signal?: number; addr?: bigint }
  | { type: 'reverseContinue' }
  | { type: 'reverseStep' }
  | { type: 'insertBreakpoint' | 'removeBreakpoint'; kind: BreakpointKind; addr: bigint; length: number }
  | { type: 'qXferRead'; object: string; annex: string; offset: number; length: number }
  | VFileRequest
  | { type: 'qRcmd'; command: string }
  | { type: 'haltReason' }
  | { type: 'kill' }
  | { type: 'vKill'; pid: number }
  | { type: 'detach'; pid?: number }
  | { type: 'qC' }
  | { type: 'qfThreadInfo' }
  | { type: 'qsThreadInfo' }
  | { type: 'qAttached'; pid?: number }
  | { type: 'threadAlive'; thread: ThreadId }
  | { type: 'qThreadExtraInfo'; thread: ThreadId }
  | { type: 'qOffsets' }
  | { type: 'qSymbol'; value?: bigint; name?: string } // neither: "ready to serve symbols"
  | { type: 'QStartNoAckMode' }
  | { type: 'vMustReplyEmpty' }
  | { type: 'qTStatus' }
  | { type: 'vRun'; args: string[] } // args[0] is the program ('' = default)
  | { type: 'vAttach'; pid: number }
  | { type: 'restart' }
  | { type: 'extendedMode' }
  | { type: 'QNonStop'; enable: boolean }
  | { type: 'QThreadEvents'; enable: boolean }
  | { type: 'QPassSignals' | 'QProgramSignals'; signals: number[] }
  | { type: 'QCatchSyscalls'; enable: boolean; syscalls: number[] }
  | { type: 'qCRC'; addr: bigint; length: number }
  | { type: 'qGetTLSAddr'; thread: ThreadId; offset: bigint; lm: bigint }
  | { type: 'qSearchMemory'; addr: bigint; length: number; pattern: Buffer }
  | { type: 'vCtrlC' }
  | LldbRequest
  | { type: 'unknown'; text: string }
  | { type: 'malformed'; text: string; reason: string };

class Malformed {
  constructor(readonly reason: string) {}
}

function fail(reason: string): never {
  throw new Malformed(reason);
}

function num(text: string, what: string): number {
  return parseHexNumber(text) ?? fail(`bad ${what} '${text}'`);
}

function addr(text: string, what = 'address'): bigint {
  return parseHexBigInt(text) ?? fail(`bad ${what} '${text}'`);
}

function signal(text: string): number {
  return parseHexNumber(text, 0xff) ?? fail(`bad signal '${text}'`);
}

function hexBytes(text: string, what: string): Buffer {
  return decodeHex(text) ?? fail(`bad hex ${what}`);
}

function hexString(text: string, what: string): string {
  return hexBytes(text, what).toString('utf8');
}

function split2(text: string, sep: string, what: string): [string, string] {
  const at = text.indexOf(sep);
  if (at < 0) fail(`expected '${sep}' in ${what}`);
  return [text.slice(0, at), text.slice(at + 1)];
}

function flag(text: string, what: string): boolean {
  if (text === '0' || text === '1') return text === '1';
  return fail(`bad ${what} value '${text}'`);
}

function idPart(text: string): number {
  return parseSignedHex(text) ?? fail(`bad thread id part '${text}'`);
}

export function parseThreadId(text: string): ThreadId | undefined {
  try {
    return threadId(text);
  } catch (e) {
    if (e instanceof Malformed) return undefined;
    throw e;
  }
}

function threadId(text: string): ThreadId {
  if (!text.startsWith('p')) return { tid: idPart(text) };
  const parts = text.slice(1).split('.');
  if (parts.length > 2) fail(`bad thread id '${text}'`);
  return { pid: idPart(parts[0]), tid: parts.length === 2 ? idPart(parts[1]) : -1 };
}

export function parseRequest(data: Buffer): Request {
  // latin1 maps bytes 1:1 to chars, so string offsets are byte offsets into binary payloads.
  const text = data.toString('latin1');
  try {
    return parse(text, data);
  } catch (e) {
    return { type: 'malformed', text, reason: e instanceof Malformed ? e.reason : String(e) };
  }
}

function exact<T extends Request>(text: string, want: string, req: T): T {
  if (text !== want) fail(`unexpected text after '${want}'`);
  return req;
}

function parse(text: string, data: Buffer): Request {
  const unknown: Request = { type: 'unknown', text };
  const lldb = parseLldbRequest(text);
  if (lldb) return lldb;
  const rest = text.slice(1);
  switch (text[0]) {
    case '?':
      return exact(text, '?', { type: 'haltReason' });
    case '!':
      return exact(text, '!', { type: 'extendedMode' });
    case 'g':
      return exact(text, 'g', { type: 'readRegisters' });
    case 'G':
      return { type: 'writeRegisters', data: hexBytes(rest, 'register data') };
    case 'p':
      return { type: 'readRegister', regno: num(rest, 'register number') };
    case 'P': {
      const [n, v] = split2(rest, '=', 'P packet');
      return { type: 'writeRegister', regno: num(n, 'register number'), value: hexBytes(v, 'register value') };
    }
    case 'm': {
      const [a, l] = split2(rest, ',', 'm packet');
      return { type: 'readMemory', addr: addr(a), length: num(l, 'length') };
    }
    case 'M':
    case 'X': {
      const [head, body] = split2(rest, ':', `${text[0]} packet`);
      const [a, l] = split2(head, ',', `${text[0]} packet`);
      const length = num(l, 'length');
      const binary = text[0] === 'X';
      // The framer has already unescaped X's binary data.
      const bytes = binary ? Buffer.from(data.subarray(head.length + 2)) : hexBytes(body, 'memory data');
      if (bytes.length !== length) fail(`length ${length} but ${bytes.length} data bytes`);
      return { type: 'writeMemory', addr: addr(a), data: bytes, binary };
    }
    case 'H': {
      const op = text[1];
      if (op !== 'g' && op !== 'c') return unknown;
      return { type: 'setThread', op, thread: threadId(text.slice(2)) };
    }
    case 'c':
    case 's': {
      const type = text[0] === 'c' ? 'continue' : 'step';
      return rest === '' ? { type } : { type, addr: addr(rest) };
    }
    case 'C':
    case 'S': {
      const type = text[0] === 'C' ? 'continue' : 'step';
      const [sig, a] = rest.includes(';') ? split2(rest, ';', 'packet') : [rest, undefined];
      return a === undefined ? { type, signal: signal(sig) } : { type, signal: signal(sig), addr: addr(a) };
    }
    case 'b':
      if (text === 'bc') return { type: 'reverseContinue' };
      if (text === 'bs') return { type: 'reverseStep' };
      return unknown;
    case 'z':
    case 'Z': {
      const fields = rest.split(';')[0].split(','); // ';cond...' / ';cmds...' are ignored
      if (fields.length !== 3) fail('expected type,addr,kind');
      if (!/^[0-4]$/.test(fields[0])) return unknown;
      return {
        type: text[0] === 'Z' ? 'insertBreakpoint' : 'removeBreakpoint',
        kind: Number(fields[0]) as BreakpointKind,
        addr: addr(fields[1]),
        length: num(fields[2], 'breakpoint kind'),
      };
    }
    case 'k':
      return exact(text, 'k', { type: 'kill' });
    case 'D':
      if (text === 'D') return { type: 'detach' };
      if (text[1] !== ';') fail('expected D or D;pid');
      return { type: 'detach', pid: num(text.slice(2), 'pid') };
    case 'T':
      return { type: 'threadAlive', thread: threadId(rest) };
    case 'R':
      return { type: 'restart' };
    case 'v':
      return parseV(text, data) ?? unknown;
    case 'q':
      return parseQuery(text, data) ?? unknown;
    case 'Q':
      return parseSet(text) ?? unknown;
    default:
      return unknown;
  }
}

function parseV(text: string, data: Buffer): Request | undefined {
  if (text === 'vCont?') return { type: 'vContQuery' };
  if (text === 'vMustReplyEmpty') return { type: 'vMustReplyEmpty' };
  if (text === 'vCtrlC') return { type: 'vCtrlC' };
  if (text.startsWith('vCont;')) return { type: 'vCont', actions: text.slice(6).split(';').map(vContAction) };
  if (text.startsWith('vKill;')) return { type: 'vKill', pid: num(text.slice(6), 'pid') };
  if (text.startsWith('vAttach;')) return { type: 'vAttach', pid: num(text.slice(8), 'pid') };
  if (text.startsWith('vRun;')) return { type: 'vRun', args: text.slice(5).split(';').map((a) => hexString(a, 'argument')) };
  if (text.startsWith('vFile:')) return parseVFile(text, data);
  return undefined;
}

function vContAction(item: string): VContAction {
  const [head, thr] = item.includes(':') ? split2(item, ':', 'vCont action') : [item, undefined];
  const thread = thr === undefined ? {} : { thread: threadId(thr) };
  const action = head[0];
  const arg = head.slice(1);
  switch (action) {
    case 'c':
    case 's':
    case 't':
      if (arg !== '') fail(`unexpected argument in vCont action '${item}'`);
      return { action, ...thread };
    case 'C':
    case 'S':
      return { action, signal: signal(arg), ...thread };
    case 'r': {
      const [s, e] = split2(arg, ',', 'vCont range');
      return { action, start: addr(s, 'range start'), end: addr(e, 'range end'), ...thread };
    }
    default:
      return fail(`unknown vCont action '${item}'`);
  }
}

function parseVFile(text: string, data: Buffer): Request | undefined {
  const [op, args] = split2(text.slice(6), ':', 'vFile packet');
  const a = args.split(',');
  const count = (n: number) => {
    if (a.length !== n) fail(`vFile:${op} expects ${n} argument(s)`);
  };
  switch (op) {
    case 'setfs':
      count(1);
      return { type: 'vFile', op, pid: num(a[0], 'pid') };
    case 'open':
      count(3);
      return { type: 'vFile', op, filename: hexString(a[0], 'filename'), flags: num(a[1], 'flags'), mode: num(a[2], 'mode') };
    case 'pread':
      count(3);
      return { type: 'vFile', op, fd: num(a[0], 'fd'), count: num(a[1], 'count'), offset: num(a[2], 'offset') };
    case 'pwrite': {
      // fd,offset,<binary>: the data may contain ',' so cut after the second comma only.
      const fdEnd = args.indexOf(',');
      const offEnd = fdEnd < 0 ? -1 : args.indexOf(',', fdEnd + 1);
      if (offEnd < 0) fail('vFile:pwrite expects fd,offset,data');
      const start = 6 + op.length + 1 + offEnd + 1;
      return {
        type: 'vFile',
        op,
        fd: num(args.slice(0, fdEnd), 'fd'),
        offset: num(args.slice(fdEnd + 1, offEnd), 'offset'),
        data: Buffer.from(data.subarray(start)),
      };
    }
    case 'close':
    case 'fstat':
      count(1);
      return { type: 'vFile', op, fd: num(a[0], 'fd') };
    case 'unlink':
    case 'readlink':
      count(1);
      return { type: 'vFile', op, filename: hexString(a[0], 'filename') };
    default:
      return undefined;
  }
}

const SIMPLE_QUERIES = ['qC', 'qfThreadInfo', 'qsThreadInfo', 'qOffsets', 'qTStatus'] as const;

function parseQuery(text: string, data: Buffer): Request | undefined {
  for (const q of SIMPLE_QUERIES) if (text === q) return { type: q };
  const [name, args] = text.includes(':') ? split2(text, ':', 'query') : [text, undefined];
  if (name === 'qSupported') return { type: 'qSupported', features: parseFeatures(args ?? '') };
  if (name === 'qAttached') return args === undefined ? { type: 'qAttached' } : { type: 'qAttached', pid: num(args, 'pid') };
  if (name === 'qXfer' && args !== undefined) return parseXfer(args);
  if (name === 'qSymbol' && args !== undefined) {
    const [value, sym] = split2(args, ':', 'qSymbol');
    return {
      type: 'qSymbol',
      ...(value !== '' ? { value: addr(value, 'symbol value') } : {}),
      ...(sym !== '' ? { name: hexString(sym, 'symbol name') } : {}),
    };
  }
  if (name === 'qGetTLSAddr' && args !== undefined) {
    const [t, rest] = split2(args, ',', 'qGetTLSAddr');
    const [offset, lm] = split2(rest, ',', 'qGetTLSAddr');
    return { type: 'qGetTLSAddr', thread: threadId(t), offset: addr(offset, 'offset'), lm: addr(lm, 'link map') };
  }
  if (name === 'qCRC' && args !== undefined) {
    const [a, l] = split2(args, ',', 'qCRC');
    return { type: 'qCRC', addr: addr(a), length: num(l, 'length') };
  }
  if (name === 'qSearch' && args?.startsWith('memory:')) {
    const [a, more] = split2(args.slice(7), ';', 'qSearch:memory');
    const [l] = split2(more, ';', 'qSearch:memory');
    const start = 'qSearch:memory:'.length + a.length + 1 + l.length + 1;
    return { type: 'qSearchMemory', addr: addr(a), length: num(l, 'length'), pattern: Buffer.from(data.subarray(start)) };
  }
  if (text.startsWith('qRcmd,')) return { type: 'qRcmd', command: hexString(text.slice(6), 'command') };
  if (text.startsWith('qThreadExtraInfo,')) return { type: 'qThreadExtraInfo', thread: threadId(text.slice(17)) };
  return undefined;
}

function parseFeatures(list: string): Map<string, string | boolean> {
  const features = new Map<string, string | boolean>();
  for (const item of list.split(';')) {
    if (item === '') continue;
    const eq = item.indexOf('=');
    if (eq >= 0) features.set(item.slice(0, eq), item.slice(eq + 1));
    else if (item.endsWith('+') || item.endsWith('-')) features.set(item.slice(0, -1), item.endsWith('+'));
    else if (item.endsWith('?')) features.set(item.slice(0, -1), '?');
    else features.set(item, true);
  }
  return features;
}

function parseXfer(args: string): Request | undefined {
  const [object, more] = split2(args, ':', 'qXfer');
  const [op, tail] = split2(more, ':', 'qXfer');
  if (op !== 'read') return undefined;
  const cut = tail.lastIndexOf(':');
  if (cut < 0) fail('qXfer read expects annex:offset,length');
  const [o, l] = split2(tail.slice(cut + 1), ',', 'qXfer read');
  return { type: 'qXferRead', object, annex: tail.slice(0, cut), offset: num(o, 'offset'), length: num(l, 'length') };
}

function signalList(args: string): number[] {
  return args.split(';').filter((s) => s !== '').map(signal);
}

function parseSet(text: string): Request | undefined {
  if (text === 'QStartNoAckMode') return { type: 'QStartNoAckMode' };
  const [name, args] = text.includes(':') ? split2(text, ':', 'set packet') : [text, undefined];
  if (args === undefined) return undefined;
  switch (name) {
    case 'QNonStop':
      return { type: 'QNonStop', enable: flag(args, name) };
    case 'QThreadEvents':
      return { type: 'QThreadEvents', enable: flag(args, name) };
    case 'QPassSignals':
    case 'QProgramSignals':
      return { type: name, signals: signalList(args) };
    case 'QCatchSyscalls': {
      const [on, ...list] = args.split(';');
      return { type: 'QCatchSyscalls', enable: flag(on, name), syscalls: list.map((s) => num(s, 'syscall')) };
    }
    default:
      return undefined;
  }
}
