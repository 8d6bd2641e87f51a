// Parsing of the packets only LLDB sends (lldb/docs/resources/lldbgdbremote.md):
// host and process queries, memory regions, the dynamic loader's address, thread
// stop info, and the 'x' binary memory read. Kept apart from requests.ts, which
// parses what gdb sends; parseRequest asks here first. Never throws: a packet that
// is recognised but does not parse comes back as 'malformed'.
import { parseHexBigInt, parseHexNumber } from './hex.js';
import { parseRequest, parseThreadId, type Request } from './requests.js';

export type LldbRequest =
  | { type: 'qHostInfo' }
  | { type: 'qProcessInfo' }
  | { type: 'qRegisterInfo'; regno: number }
  | { type: 'qMemoryRegionInfo'; addr: bigint }
  | { type: 'qShlibInfoAddr' }
  | { type: 'qThreadStopInfo'; tid: number }
  | { type: 'jThreadsInfo' }
  | { type: 'QThreadSuffixSupported' }
  | { type: 'QListThreadsInStopReply' }
  | { type: 'QEnableErrorStrings' }
  /** binary memory read: LLDB's flavour answers raw bytes, gdb's (binary-upload) 'b' + bytes */
  | { type: 'readMemoryBinary'; addr: bigint; length: number };

const SIMPLE: Record<string, LldbRequest> = {
  qHostInfo: { type: 'qHostInfo' },
  qProcessInfo: { type: 'qProcessInfo' },
  qShlibInfoAddr: { type: 'qShlibInfoAddr' },
  jThreadsInfo: { type: 'jThreadsInfo' },
  QThreadSuffixSupported: { type: 'QThreadSuffixSupported' },
  QListThreadsInStopReply: { type: 'QListThreadsInStopReply' },
  QEnableErrorStrings: { type: 'QEnableErrorStrings' },
};

function malformed(text: string, reason: string): Request {
  return { type: 'malformed', text, reason };
}

/** The request if `text` is one of LLDB's packets, else undefined (not LLDB's). */
export function parseLldbRequest(text: string): Request | undefined {
  const simple = SIMPLE[text];
  if (simple) return simple;
  if (/^[gGpP]/.test(text) && text.includes(';thread:')) return withThreadSuffix(text);
  if (text.startsWith('qRegisterInfo')) {
    const regno = parseHexNumber(text.slice(13));
    return regno === undefined ? malformed(text, 'bad register number') : { type: 'qRegisterInfo', regno };
  }
  if (text.startsWith('qMemoryRegionInfo:')) {
    const addr = parseHexBigInt(text.slice(18));
    return addr === undefined ? malformed(text, 'bad address') : { type: 'qMemoryRegionInfo', addr };
  }
  if (text.startsWith('qThreadStopInfo')) {
    const tid = parseHexNumber(text.slice(15));
    return tid === undefined ? malformed(text, 'bad thread id') : { type: 'qThreadStopInfo', tid };
  }
  if (text[0] === 'x') {
    const comma = text.indexOf(',');
    const addr = comma < 0 ? undefined : parseHexBigInt(text.slice(1, comma));
    const length = comma < 0 ? undefined : parseHexNumber(text.slice(comma + 1));
    if (addr === undefined || length === undefined) return malformed(text, 'expected x<addr>,<length>');
    return { type: 'readMemoryBinary', addr, length };
  }
  return undefined;
}

/** g, G, p and P with LLDB's ';thread:ID;' suffix (QThreadSuffixSupported): the request and its thread. */
function withThreadSuffix(text: string): Request {
  const m = /^([^;]*);thread:([^;]+);$/.exec(text);
  const thread = m ? parseThreadId(m[2]) : undefined;
  if (!m || !thread) return malformed(text, 'bad thread suffix');
  const req = parseRequest(Buffer.from(m[1], 'latin1'));
  switch (req.type) {
    case 'readRegisters':
    case 'readRegister':
    case 'writeRegisters':
    case 'writeRegister':
      return { ...req, thread };
    default:
      return req;
  }
}
