// npm run bench (part): the gdb server's round-trip latency per packet kind, over
// loopback with a raw RSP client, and the time of a forward `next` over a loop line
// in gdb against the replay and against the native program. Results go into
// docs/benchmarks.md between this script's markers.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { measuredOn, writeSection } from './report.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.join(here, '..');
const cli = path.join(root, 'bin', 'rewind.js');
const work = path.join(here, '.work');
fs.mkdirSync(work, { recursive: true });

const src = path.join(here, 'programs', 'loopline.c');
const exe = path.join(work, 'loopline');
execFileSync('cc', ['-g', '-O0', '-o', exe, src]);
const loopLine = fs.readFileSync(src, 'utf8').split('\n').findIndex((l) => l.includes('LOOP LINE')) + 1;
const trace = path.join(work, `loopline-trace-${process.pid}`);
fs.rmSync(trace, { recursive: true, force: true });
execFileSync(process.execPath, [cli, 'record', '-o', trace, '--', exe], { stdio: 'ignore' });

function startServer() {
  const child = spawn(process.execPath, [cli, 'replay', trace, '--port', '0', '--once'], { stdio: ['ignore', 'ignore', 'pipe'] });
  return new Promise((resolve, reject) => {
    let err = '';
    child.stderr.on('data', (d) => {
      err += d;
      const m = /on 127\.0\.0\.1:(\d+)/.exec(err);
      if (m) resolve({ port: Number(m[1]), child });
    });
    child.on('exit', (code) => reject(new Error(`server exited ${code}: ${err}`)));
  });
}

function checksum(s) {
  let c = 0;
  for (const ch of Buffer.from(s)) c = (c + ch) & 0xff;
  return c.toString(16).padStart(2, '0');
}

class Client {
  constructor(socket) {
    this.socket = socket;
    this.buf = '';
    this.waiters = [];
    this.noAck = false;
    socket.setNoDelay(true);
    socket.on('data', (d) => {
      this.buf += d.toString('latin1');
      this.pump();
    });
  }
  pump() {
    for (;;) {
      this.buf = this.buf.replace(/^\+/, '');
      const m = /^\$([^#]*)#[0-9a-f]{2}/.exec(this.buf);
      if (!m) return;
      this.buf = this.buf.slice(m[0].length);
      if (!this.noAck) this.socket.write('+');
      this.waiters.shift()?.(m[1]);
    }
  }
  request(p) {
    return new Promise((resolve) => {
      this.waiters.push(resolve);
      this.socket.write(`$${p}#${checksum(p)}`);
    });
  }
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const p90 = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * 0.9)];

async function latencies() {
  const { port, child } = await startServer();
  const socket = net.connect(port, '127.0.0.1');
  await new Promise((r) => socket.on('connect', r));
  const c = new Client(socket);
  await c.request('qSupported:multiprocess+;swbreak+;hwbreak+;vContSupported+');
  await c.request('QStartNoAckMode');
  c.noAck = true;
  await c.request('?');
  const g = await c.request('g');
  const rsp = Buffer.from(g.slice(7 * 16, 8 * 16), 'hex').readBigUInt64LE(0);
  const rip = Buffer.from(g.slice(16 * 16, 17 * 16), 'hex').readBigUInt64LE(0);
  const kinds = [
    ['?', 'stop reason'],
    ['g', 'all registers'],
    ['p10', 'one register (rip)'],
    [`m${rsp.toString(16)},40`, 'memory, 64 bytes (gdb\'s stack cache line)'],
    [`m${rip.toString(16)},1`, 'memory, 1 byte of code'],
    ['qRcmd,7768656e', 'monitor when'],
  ];
  const rows = [];
  const N = 500;
  for (const [packet, what] of kinds) {
    const times = [];
    for (let i = 0; i < N; i++) {
      const t = process.hrtime.bigint();
      await c.request(packet);
      times.push(Number(process.hrtime.bigint() - t) / 1000);
    }
    rows.push({ what, packet: packet.replace(/[0-9a-f]{6,}/g, 'ADDR'), median: median(times), p90: p90(times) });
  }
  const steps = [];
  for (let i = 0; i < 200; i++) {
    const t = process.hrtime.bigint();
    await c.request('vCont;s');
    steps.push(Number(process.hrtime.bigint() - t) / 1000);
  }
  rows.push({ what: 'single-step (vCont;s), stop reply', packet: 'vCont;s', median: median(steps), p90: p90(steps) });
  const bps = [];
  for (let i = 0; i < N; i++) {
    const t = process.hrtime.bigint();
    await c.request(`Z0,${rip.toString(16)},1`);
    await c.request(`z0,${rip.toString(16)},1`);
    bps.push(Number(process.hrtime.bigint() - t) / 2000);
  }
  rows.push({ what: 'insert or remove a breakpoint (Z0/z0)', packet: 'Z0/z0', median: median(bps), p90: p90(bps) });
  // kill has no reply, and the server may close with a reset as the replay dies: not an error here
  socket.on('error', () => {});
  socket.end(`$k#${checksum('k')}`);

  child.kill();
  return rows;
}

function gdbNextSeconds(args) {
  const r = spawnSync('gdb', ['-batch', '-nx', '-ex', 'set pagination off', '-ex', 'set confirm off', ...args.flatMap((a) => ['-ex', a])], { encoding: 'utf8', timeout: 300_000 });
  const m = /NEXT-SECONDS ([0-9.]+)/.exec(r.stdout);
  if (!m) throw new Error(`gdb gave no timing:\n${r.stdout}\n${r.stderr}`);
  return Number(m[1]);
}

const timeNext = 'python import time; t = time.time(); gdb.execute("next"); print("NEXT-SECONDS %f" % (time.time() - t))';

async function nextOverLoop() {
  const native = gdbNextSeconds([`file ${exe}`, `break ${loopLine}`, 'run', timeNext]);
  const { port, child } = await startServer();
  const replay = gdbNextSeconds([`file ${exe}`, `target remote 127.0.0.1:${port}`, `break ${loopLine}`, 'continue', timeNext]);
  child.kill();
  return { native, replay };
}

const rows = await latencies();
const next = await nextOverLoop();
fs.rmSync(trace, { recursive: true, force: true });

writeSection('bench/rsp.js', 'rsp', [
  '## gdb server: packet round trips and forward `next`',
  '',
  `${measuredOn()} `
    + 'A raw RSP client over loopback (no-ack mode, TCP_NODELAY) sends each packet 500 times (steps 200) to `rewind replay` stopped at the start of a recording of bench/programs/loopline.c.',
  '',
  '| request | packet | median | p90 |',
  '| --- | --- | ---: | ---: |',
  ...rows.map((r) => `| ${r.what} | \`${r.packet}\` | ${r.median.toFixed(0)} µs | ${r.p90.toFixed(0)} µs |`),
  '',
  `Forward \`next\` over the loop line (20 000 iterations, gdb range-steps every instruction of it): `
    + `**${next.replay.toFixed(2)} s** on the replay (rewind steps the range natively) vs **${next.native.toFixed(2)} s** in gdb on the native program (ratio ${(next.replay / next.native).toFixed(2)}x).`,
]);
