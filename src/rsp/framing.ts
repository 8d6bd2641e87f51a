// Packet framing: '$' payload '#' checksum, acks, interrupts, escapes and run-length encoding.
//
// Layering (as gdb's remote.c does it): run-length encoding is the outer layer, applied to
// the bytes as transmitted; '}' escaping is the inner one. The framer undoes both, and
// encodePacket applies both, so callers only ever see and produce raw payload bytes.
// Never escape a payload yourself before encodePacket: it would be escaped twice.

import { escapeBinary, unescapeBinary } from './hex.js';

export type FrameEvent =
  | { kind: 'packet'; data: Buffer }
  | { kind: 'interrupt' }
  | { kind: 'ack' }
  | { kind: 'nack' }
  | { kind: 'bad-checksum'; data: Buffer } // data: payload as transmitted
  | { kind: 'error'; message: string };

/** Limit on a packet's payload as transmitted; we advertise 64 KiB, the slack covers escapes. */
export const DEFAULT_MAX_PACKET_SIZE = 0x10000 + 0x400;

const DOLLAR = 0x24;
const HASH = 0x23;
const STAR = 0x2a;
const PLUS = 0x2b;
const MINUS = 0x2d;
const CTRL_C = 0x03;

// Count character c means c - 29 more copies of the previous byte (gdb: c - ' ' + 3).
const RLE_BIAS = 29;
const RLE_MIN = 3; // ' '
const RLE_MAX = 126 - RLE_BIAS; // '~'

// Count characters that would break framing or read as an ack: '#', '$', '+', '-'.
function forbiddenCount(repeats: number): boolean {
  const c = repeats + RLE_BIAS;
  return c === HASH || c === DOLLAR || c === PLUS || c === MINUS;
}

/** Expand run-length encoding. Returns an error message string on bad input. */
export function runLengthDecode(raw: Buffer, maxSize = Infinity): Buffer | string {
  if (raw.indexOf(STAR) < 0) return raw;
  const out: number[] = [];
  for (let i = 0; i < raw.length; i++) {
    const b = raw[i];
    if (b !== STAR) {
      out.push(b);
      continue;
    }
    if (out.length === 0) return 'run-length marker with no preceding byte';
    if (i + 1 >= raw.length) return 'run-length marker without count';
    const repeats = raw[++i] - RLE_BIAS;
    if (repeats < RLE_MIN || repeats > RLE_MAX) return `bad run-length count ${raw[i]}`;
    if (out.length + repeats > maxSize) return 'packet too large after run-length expansion';
    const prev = out[out.length - 1];
    for (let k = 0; k < repeats; k++) out.push(prev);
  }
  return Buffer.from(out);
}

/** Compress runs of 4+ identical bytes; never emits a forbidden count character. */
export function runLengthEncode(data: Buffer): Buffer {
  const out: number[] = [];
  let i = 0;
  while (i < data.length) {
    const b = data[i];
    let run = 1;
    while (i + run < data.length && data[i + run] === b) run++;
    i += run;
    while (run > 0) {
      let repeats = Math.min(run - 1, RLE_MAX);
      while (repeats >= RLE_MIN && forbiddenCount(repeats)) repeats--;
      if (repeats < RLE_MIN) {
        for (; run > 0; run--) out.push(b);
      } else {
        out.push(b, STAR, repeats + RLE_BIAS);
        run -= repeats + 1;
      }
    }
  }
  return Buffer.from(out);
}

export function checksum(body: Buffer): number {
  let sum = 0;
  for (const b of body) sum += b;
  return sum & 0xff;
}

/** Frame a payload: escapes '$', '#', '}', '*', optionally run-length encodes, appends the checksum. */
export function encodePacket(payload: Buffer | string, opts: { rle?: boolean } = {}): Buffer {
  const data = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
  const escaped = escapeBinary(data);
  const body = opts.rle ? runLengthEncode(escaped) : escaped;
  const out = Buffer.allocUnsafe(body.length + 4);
  out[0] = DOLLAR;
  body.copy(out, 1);
  out[body.length + 1] = HASH;
  out.write(checksum(body).toString(16).padStart(2, '0'), body.length + 2, 'latin1');
  return out;
}

// 'skip': discarding the rest of an oversized packet, up to its '#xx' or the next '$'.
type State = 'idle' | 'body' | 'checksum' | 'skip' | 'skip-checksum';

/** Incremental decoder for the byte stream gdb sends. */
export class PacketFramer {
  private state: State = 'idle';
  private parts: Buffer[] = [];
  private size = 0;
  private sum = 0;
  private sumText = '';

  constructor(readonly maxPacketSize = DEFAULT_MAX_PACKET_SIZE) {}

  feed(chunk: Buffer): FrameEvent[] {
    const events: FrameEvent[] = [];
    let i = 0;
    while (i < chunk.length) {
      switch (this.state) {
        case 'idle': {
          const b = chunk[i++];
          if (b === DOLLAR) this.startBody();
          else if (b === PLUS) events.push({ kind: 'ack' });
          else if (b === MINUS) events.push({ kind: 'nack' });
          else if (b === CTRL_C) events.push({ kind: 'interrupt' });
          break; // anything else between packets is junk
        }
        case 'skip': {
          let j = i;
          while (j < chunk.length && chunk[j] !== HASH && chunk[j] !== DOLLAR) j++;
          i = j + 1;
          if (j === chunk.length) break;
          if (chunk[j] === DOLLAR) this.startBody();
          else {
            this.state = 'skip-checksum';
            this.sumText = '';
          }
          break;
        }
        case 'skip-checksum': {
          if (chunk[i] === DOLLAR) {
            this.state = 'idle';
            break;
          }
          i++;
          this.sumText += '.';
          if (this.sumText.length === 2) this.state = 'idle';
          break;
        }
        case 'body': {
          let j = i;
          let sum = this.sum;
          while (j < chunk.length && chunk[j] !== HASH && chunk[j] !== DOLLAR) sum += chunk[j++];
          this.sum = sum;
          this.size += j - i;
          if (this.size > this.maxPacketSize) {
            events.push({ kind: 'error', message: `packet exceeds ${this.maxPacketSize} bytes; discarded` });
            this.parts = [];
            this.state = 'skip';
            i = j;
            break;
          }
          if (j > i) this.parts.push(Buffer.from(chunk.subarray(i, j))); // copy: callers may reuse chunk
          if (j === chunk.length) i = j;
          else if (chunk[j] === DOLLAR) {
            i = j + 1; // like gdb: a '$' inside a packet restarts framing
            this.startBody();
          } else {
            i = j + 1;
            this.state = 'checksum';
            this.sumText = '';
          }
          break;
        }
        case 'checksum': {
          const b = chunk[i++];
          if (b === DOLLAR) {
            events.push({ kind: 'bad-checksum', data: this.takeBody() });
            this.startBody();
            break;
          }
          this.sumText += String.fromCharCode(b);
          if (this.sumText.length === 2) events.push(this.finish());
          break;
        }
      }
    }
    return events;
  }

  /** Forget any partial packet (e.g. on reconnect). */
  reset(): void {
    this.state = 'idle';
    this.parts = [];
  }

  private startBody(): void {
    this.state = 'body';
    this.parts = [];
    this.size = 0;
    this.sum = 0;
  }

  private takeBody(): Buffer {
    const body = Buffer.concat(this.parts);
    this.parts = [];
    return body;
  }

  private finish(): FrameEvent {
    this.state = 'idle';
    const raw = this.takeBody();
    if (!/^[0-9a-fA-F]{2}$/.test(this.sumText) || parseInt(this.sumText, 16) !== (this.sum & 0xff)) {
      return { kind: 'bad-checksum', data: raw };
    }
    const expanded = runLengthDecode(raw, this.maxPacketSize);
    if (typeof expanded === 'string') return { kind: 'error', message: expanded };
    const data = unescapeBinary(expanded);
    if (data === undefined) return { kind: 'error', message: "packet ends with a dangling '}' escape" };
    return { kind: 'packet', data };
  }
}

const ACK = Buffer.from('+');
const NACK = Buffer.from('-');

/**
 * Ack bookkeeping. Sequence for QStartNoAckMode: onEvent(packet) gives '+', the dispatcher
 * writes OK and calls sent(frame) then enterNoAck(); gdb's '+' for that OK is then ignored.
 */
export class AckState {
  private noAck = false;
  private lastSent: Buffer | undefined;

  get noAckMode(): boolean {
    return this.noAck;
  }

  enterNoAck(): void {
    this.noAck = true;
    this.lastSent = undefined;
  }

  /** Record a frame we wrote, so that a '-' can have it retransmitted. */
  sent(frame: Buffer): void {
    if (!this.noAck) this.lastSent = frame;
  }

  /**
   * Bytes to write in answer to a framer event, if any: '+' for a packet or a framing error
   * (the dispatcher answers that with an error reply), '-' for a bad checksum, the last frame
   * again for a '-'. Nothing at all in no-ack mode.
   */
  onEvent(ev: FrameEvent): Buffer | undefined {
    if (this.noAck) return undefined;
    switch (ev.kind) {
      case 'packet':
      case 'error':
        return ACK;
      case 'bad-checksum':
        return NACK;
      case 'nack':
        return this.lastSent;
      case 'ack':
        this.lastSent = undefined;
        return undefined;
      default:
        return undefined;
    }
  }
}
