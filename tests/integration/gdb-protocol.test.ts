// The replay server at the protocol level: a raw RSP client sends malformed,
// oversized and truncated packets, bad checksums, interrupts and abrupt
// disconnects; the server answers with error replies or closes cleanly, and goes
// on serving the next connection.
import * as net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { programPath } from '../helpers.js';
import { debugReplay, gdbRemote, record, startServer, type Server } from './gdb-support.js';

function frame(payload: string): string {
  let sum = 0;
  for (const b of Buffer.from(payload, 'latin1')) sum = (sum + b) & 0xff;
  return `$${payload}#${sum.toString(16).padStart(2, '0')}`;
}

/** A minimal RSP client: collects everything the server sends. */
class Client {
  private data = '';
  private waiters: (() => void)[] = [];
  closed = false;
  private constructor(readonly socket: net.Socket) {
    socket.on('data', (d) => {
      this.data += d.toString('latin1');
      for (const w of this.waiters.splice(0)) w();
    });
    socket.on('close', () => {
      this.closed = true;
      for (const w of this.waiters.splice(0)) w();
    });
    socket.on('error', () => undefined);
  }

  static connect(port: number): Promise<Client> {
    return new Promise((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1', () => resolve(new Client(s)));
      s.once('error', reject);
    });
  }

  send(raw: string): void {
    this.socket.write(Buffer.from(raw, 'latin1'));
  }

  /** Waits for the next complete packet and returns its payload (acks are skipped). */
  async packet(timeoutMs = 60_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      this.data = this.data.replace(/^[+-]+/, '');
      const m = /^\$([^#]*)#[0-9a-f]{2}/.exec(this.data);
      if (m) {
        this.data = this.data.slice(m[0].length);
        return m[1];
      }
      if (this.closed) throw new Error('connection closed');
      if (Date.now() > deadline) throw new Error(`no packet within ${timeoutMs} ms (have ${JSON.stringify(this.data.slice(0, 80))})`);
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 100);
      });
    }
  }

  async request(payload: string): Promise<string> {
    this.send(frame(payload));
    return this.packet();
  }

  /** Everything received so far, raw. */
  get raw(): string {
    return this.data;
  }

  close(): void {
    this.socket.destroy();
  }
}

let demo: string;
let loop: string;
let server: Server;

beforeAll(async () => {
  demo = record(programPath('gdbdemo'));
  loop = record(programPath('cpuloop'), ['1500000000']);
  server = await startServer(demo, []); // keeps serving: no --once
});

afterAll(() => server?.kill());

describe('rsp robustness', () => {
  it('answers malformed packets with E01 and unknown ones with an empty reply', async () => {
    const c = await Client.connect(server.port);
    expect(await c.request('QStartNoAckMode')).toBe('OK');
    expect(await c.request('mzz,4')).toBe('E01');
    expect(await c.request('m1234')).toBe('E01');
    expect(await c.request('Z9,1,1')).toBe('');
    expect(await c.request('qNoSuchThing')).toBe('');
    expect(await c.request('M0,4:00')).toBe('E01');
    expect(await c.request('p999')).toBe('E06');
    expect(await c.request('m0,8')).toBe('E02');
    expect(await c.request('?')).toMatch(/^T05.*thread:/);
    c.close();
  });

  it('nacks a bad checksum, then serves the retransmission', async () => {
    const c = await Client.connect(server.port);
    c.send('$?#00');
    await new Promise((r) => setTimeout(r, 200));
    expect(c.raw).toContain('-');
    expect(await c.request('?')).toMatch(/^T05/);
    c.close();
  });

  it('rejects an oversized packet with E09 and keeps going', async () => {
    const c = await Client.connect(server.port);
    expect(await c.request('QStartNoAckMode')).toBe('OK');
    c.send(frame('X1000,1:' + 'a'.repeat(0x12000)));
    expect(await c.packet()).toBe('E09');
    expect(await c.request('vMustReplyEmpty')).toBe('');
    c.close();
  });

  it('survives a truncated packet and an abrupt disconnect, then serves the next connection', async () => {
    const c = await Client.connect(server.port);
    expect(await c.request('QStartNoAckMode')).toBe('OK');
    c.send('$qSupported:multipro'); // never finished
    c.close();
    const d = await Client.connect(server.port);
    expect(await d.request('qSupported:multiprocess+')).toContain('PacketSize=');
    expect(await d.request('qfThreadInfo')).toMatch(/^mp[0-9a-f]+\.[0-9a-f]+$/);
    // disconnect in the middle of a continue
    d.send(frame('vCont;c'));
    d.close();
    const e = await Client.connect(server.port);
    expect(await e.request('?')).toMatch(/^T05/);
    e.close();
  });

  it('serves only the files stored in the trace over vFile', async () => {
    const c = await Client.connect(server.port);
    const hex = (s: string) => Buffer.from(s).toString('hex');
    expect(await c.request(`vFile:open:${hex('/etc/passwd')},0,0`)).toBe('F-1,2');
    expect(await c.request(`vFile:open:${hex(programPath('gdbdemo'))},1,0`)).toBe('F-1,d');
    const fd = await c.request(`vFile:open:${hex(programPath('gdbdemo'))},0,0`);
    expect(fd).toMatch(/^F[0-9a-f]+$/);
    const head = await c.request(`vFile:pread:${fd.slice(1)},4,0`);
    expect(head).toBe('F4;\x7fELF');
    expect(await c.request(`vFile:close:${fd.slice(1)}`)).toBe('F0');
    c.close();
  });

  it('monitor commands: help, when, info, seek, restart', async () => {
    const c = await Client.connect(server.port);
    const monitor = async (cmd: string) => {
      c.send(frame('qRcmd,' + Buffer.from(cmd).toString('hex')));
      let text = '';
      for (;;) {
        const p = await c.packet();
        if (p === 'OK') return text;
        expect(p[0]).toBe('O');
        text += Buffer.from(p.slice(1), 'hex').toString();
      }
    };
    expect(await monitor('help')).toContain('monitor seek EVENT');
    expect(await monitor('when')).toBe('Current event: 0\n');
    expect(await monitor('info')).toMatch(/exit: exited with status 3/);
    expect(await monitor('seek 10')).toBe('at event 10\n');
    expect(await monitor('when')).toBe('Current event: 10\n');
    expect(await monitor('seek 4')).toBe('at event 4\n');
    expect(await monitor('restart')).toBe('restarted at event 0\n');
    expect(await monitor('when')).toBe('Current event: 0\n');
    c.close();
  });

  it('interrupts a long continue on 0x03', async () => {
    const s = await startServer(loop, ['--once']);
    try {
      const c = await Client.connect(s.port);
      expect(await c.request('QStartNoAckMode')).toBe('OK');
      c.send(frame('vCont;c'));
      await new Promise((r) => setTimeout(r, 300));
      c.send('\x03');
      const stop = await c.packet(5000);
      expect(stop).toMatch(/^T02/);
      expect(await c.request('D')).toBe('OK');
      c.close();
      expect(await s.exited).toBe(0);
    } finally {
      s.kill();
    }
  });

  it('an interrupt that comes before the server starts the continue still stops it', async () => {
    // gdb sends ^C whenever it thinks the target runs: also just after a resume
    // packet, before the server has started it (between the checks of a conditional
    // breakpoint it resumes many times). Sent in one write with the continue, the ^C
    // is read while the replay is stopped; it must stop the continue that follows,
    // not be forgotten (the continue would then run the loop to its exit: W00).
    const s = await startServer(loop, ['--once']);
    try {
      const c = await Client.connect(s.port);
      expect(await c.request('QStartNoAckMode')).toBe('OK');
      c.send(frame('vCont;c') + '\x03');
      expect(await c.packet(60_000)).toMatch(/^T02/);
      // that interrupt is answered: the next resume is not stopped by it again
      expect(await c.request('vCont;s')).toMatch(/^T05/);
      expect(await c.request('D')).toBe('OK');
      c.close();
      expect(await s.exited).toBe(0);
    } finally {
      s.kill();
    }
  });
});

describe('the replay command', () => {
  it('runs the replay again for `run` in extended-remote mode', async () => {
    // each first continue stops at the end of the recording, the second replays the exit
    const { gdb } = await debugReplay(demo, ['continue', 'continue', 'run', 'print counter', 'continue', 'continue'], { breakMain: false, extended: true });
    const out = gdb.stdout.toString();
    expect(out.match(/No more reverse-execution history/g)?.length, out + gdb.stderr.toString()).toBe(2);
    expect(out.match(/exited with code 03/g)?.length, out + gdb.stderr.toString()).toBe(2);
  });

  it('--symbols refuses a file that is not the recorded executable', async () => {
    const { rewind: run } = await import('../helpers.js');
    const r = run(['replay', demo, '--port', '0', '--once', '--symbols', programPath('crash')]);
    expect(r.status).toBe(125);
    expect(r.stderr.toString()).toMatch(/does not match the recorded executable/);
  });

  it('--symbols accepts the recorded executable and gdb reads its symbols', async () => {
    const s = await startServer(demo, ['--once', '--symbols', programPath('gdbdemo')]);
    try {
      const r = gdbRemote(s.port, ['print origin']);
      expect(r.stdout.toString()).toContain('name = 0x555555556004 "origin"');
    } finally {
      s.kill();
    }
  });
});
