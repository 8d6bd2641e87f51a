// A minimal GDB remote-protocol client for tests that need what gdb -batch cannot
// do: send ^C (0x03) at a chosen moment, time the answer, read raw stop replies.
// Frames packets ($payload#cs), skips acks, undoes '}' escapes and run-length
// encoding in what the server sends, and resolves program symbols to run-time
// addresses (nm + the load bias from the replayed auxv).
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as net from 'node:net';

/** `$payload#checksum` for a text payload (no characters that need escaping). */
export function frame(payload: string): string {
  let sum = 0;
  for (const b of Buffer.from(payload, 'latin1')) sum = (sum + b) & 0xff;
  return `$${payload}#${sum.toString(16).padStart(2, '0')}`;
}

/** Undoes run-length encoding (outer layer), then '}' escapes. */
function decodePayload(raw: Buffer): Buffer {
  const rle: number[] = [];
  for (let i = 0; i < raw.length; i++) {
    if (raw[i] === 0x2a /* '*' */ && rle.length > 0 && i + 1 < raw.length) {
      const repeats = raw[++i] - 29;
      const prev = rle[rle.length - 1];
      for (let k = 0; k < repeats; k++) rle.push(prev);
    } else rle.push(raw[i]);
  }
  const out: number[] = [];
  for (let i = 0; i < rle.length; i++) {
    if (rle[i] === 0x7d /* '}' */ && i + 1 < rle.length) out.push(rle[++i] ^ 0x20);
    else out.push(rle[i]);
  }
  return Buffer.from(out);
}

/** Functions and data of an executable: run-time address and size. */
export type Symbols = Record<string, { addr: bigint; size: bigint }>;

export class RspClient {
  private data = Buffer.alloc(0);
  private waiters: (() => void)[] = [];
  closed = false;
  /** The text of the console output (O) packets that came with the last stop reply. */
  console = '';

  private constructor(readonly socket: net.Socket) {
    socket.setNoDelay(true);
    socket.on('data', (d: Buffer) => {
      this.data = Buffer.concat([this.data, d]);
      for (const w of this.waiters.splice(0)) w();
    });
    socket.on('close', () => {
      this.closed = true;
      for (const w of this.waiters.splice(0)) w();
    });
    socket.on('error', () => undefined);
  }

  static connect(port: number): Promise<RspClient> {
    return new Promise((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1', () => resolve(new RspClient(s)));
      s.once('error', reject);
    });
  }

  /** Writes raw bytes (a frame, '+', or '\x03'). */
  send(raw: string): void {
    this.socket.write(Buffer.from(raw, 'latin1'));
  }

  /** Sends the interrupt byte, as gdb does for ^C. */
  interrupt(): void {
    this.send('\x03');
  }

  sendPacket(payload: string): void {
    this.send(frame(payload));
  }

  /** The next complete packet's payload (acks skipped), as raw bytes. */
  async packetBytes(timeoutMs = 60_000): Promise<Buffer> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      let start = 0;
      while (start < this.data.length && (this.data[start] === 0x2b || this.data[start] === 0x2d)) start++;
      this.data = this.data.subarray(start);
      if (this.data.length > 0 && this.data[0] !== 0x24 /* '$' */) {
        throw new Error(`unexpected bytes from the server: ${JSON.stringify(this.data.subarray(0, 80).toString('latin1'))}`);
      }
      const hash = this.data.indexOf(0x23 /* '#' */);
      if (hash > 0 && this.data.length >= hash + 3) {
        const body = this.data.subarray(1, hash);
        let sum = 0;
        for (const b of body) sum = (sum + b) & 0xff;
        const given = this.data.subarray(hash + 1, hash + 3).toString('latin1');
        if (given !== sum.toString(16).padStart(2, '0')) {
          throw new Error(`bad checksum ${given} (want ${sum.toString(16).padStart(2, '0')}) from the server: ${JSON.stringify(body.subarray(0, 80).toString('latin1'))}`);
        }
        const payload = decodePayload(body);
        this.data = this.data.subarray(hash + 3);
        return payload;
      }
      if (this.closed) throw new Error('the server closed the connection');
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no packet within ${timeoutMs} ms (have ${JSON.stringify(this.data.subarray(0, 80).toString('latin1'))})`);
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, Math.min(left, 100));
      });
    }
  }

  async packet(timeoutMs = 60_000): Promise<string> {
    return (await this.packetBytes(timeoutMs)).toString('latin1');
  }

  /** Sends a packet and returns the answer. */
  async request(payload: string, timeoutMs = 60_000): Promise<string> {
    this.sendPacket(payload);
    return this.packet(timeoutMs);
  }

  /** The next stop reply (T, S, W, X), skipping console output (O) packets. */
  async stopReply(timeoutMs = 60_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    this.console = '';
    for (;;) {
      const p = await this.packet(Math.max(1, deadline - Date.now()));
      if (/^O[0-9a-fA-F]/.test(p)) {
        this.console += Buffer.from(p.slice(1), 'hex').toString('utf8');
        continue;
      }
      return p;
    }
  }

  /** Sends a resume packet (vCont;c, bc, bs, ...) or `?` and waits for its stop reply. */
  async resume(payload: string, timeoutMs = 60_000): Promise<string> {
    this.sendPacket(payload);
    return this.stopReply(timeoutMs);
  }

  /**
   * Continues to the program's exit: the recorded end is a stop of its own
   * (replaylog:end), and one more continue replays the exit. Returns the W or X reply.
   */
  async runToExit(timeoutMs = 60_000): Promise<string> {
    let stop = await this.resume('vCont;c', timeoutMs);
    if (/^T05.*replaylog:end;/.test(stop)) stop = await this.resume('vCont;c', timeoutMs);
    return stop;
  }

  /** QStartNoAckMode: from then on, nobody acks. */
  async noAck(): Promise<void> {
    const r = await this.request('QStartNoAckMode');
    if (r !== 'OK') throw new Error(`QStartNoAckMode answered ${JSON.stringify(r)}`);
  }

  /** All registers (`g`) as hex. */
  async registers(): Promise<string> {
    const g = await this.request('g');
    if (!/^[0-9a-fx]+$/.test(g) || g.length < 17 * 16) throw new Error(`bad g reply: ${JSON.stringify(g.slice(0, 80))}`);
    return g;
  }

  /** rip, from `g` (the 17th 8-byte register in the amd64 layout). */
  async rip(): Promise<bigint> {
    return ripOf(await this.registers());
  }

  /** The replayed process's auxv (qXfer:auxv:read), as type → value. */
  async auxv(): Promise<Map<number, bigint>> {
    let doc = Buffer.alloc(0);
    for (;;) {
      this.sendPacket(`qXfer:auxv:read::${doc.length.toString(16)},1000`);
      const reply = await this.packetBytes();
      const kind = String.fromCharCode(reply[0]);
      if (kind !== 'm' && kind !== 'l') throw new Error(`bad qXfer:auxv reply: ${JSON.stringify(reply.toString('latin1').slice(0, 40))}`);
      doc = Buffer.concat([doc, reply.subarray(1)]);
      if (kind === 'l') break;
    }
    const out = new Map<number, bigint>();
    for (let o = 0; o + 16 <= doc.length; o += 16) {
      const type = Number(doc.readBigUInt64LE(o));
      if (type === 0) break;
      out.set(type, doc.readBigUInt64LE(o + 8));
    }
    return out;
  }

  /**
   * Run-time addresses of the executable's functions and variables: nm's values plus the load bias
   * (AT_ENTRY from the replayed auxv minus the ELF header's e_entry).
   */
  async symbols(exe: string, names: string[]): Promise<Symbols> {
    const entry = (await this.auxv()).get(9 /* AT_ENTRY */);
    if (entry === undefined) throw new Error('no AT_ENTRY in the replayed auxv');
    const bias = entry - readFileSync(exe).readBigUInt64LE(24);
    const nm = execFileSync('nm', ['-S', '--defined-only', exe], { encoding: 'utf8' });
    const out: Symbols = {};
    for (const line of nm.split('\n')) {
      const m = /^([0-9a-f]+) ([0-9a-f]+) [TtDdBb] (\S+)$/.exec(line.trim());
      if (m && names.includes(m[3])) out[m[3]] = { addr: BigInt('0x' + m[1]) + bias, size: BigInt('0x' + m[2]) };
    }
    for (const n of names) if (!out[n]) throw new Error(`nm found no function or variable ${n} in ${exe}`);
    return out;
  }

  close(): void {
    this.socket.destroy();
  }
}

/** rip from a `g` reply. */
export function ripOf(g: string): bigint {
  return Buffer.from(g.slice(16 * 16, 17 * 16), 'hex').readBigUInt64LE(0);
}

/** The value of register `regno` expedited in a T stop reply (`Txx10:<rip>;...`), if any. */
export function expedited(stop: string, regno: number): bigint | undefined {
  if (!stop.startsWith('T')) return undefined;
  for (const field of stop.slice(3).split(';')) {
    const [k, v] = field.split(':');
    if (v !== undefined && /^[0-9a-f]+$/.test(k) && parseInt(k, 16) === regno && v.length === 16) return Buffer.from(v, 'hex').readBigUInt64LE(0);
  }
  return undefined;
}

export const hexAddr = (a: bigint): string => a.toString(16);
