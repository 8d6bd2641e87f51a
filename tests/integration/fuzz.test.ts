// The protocol fuzz test: one `rewind replay` server (no --once) gets over 100 000
// packets from packet-grammar.ts (every request kind it knows with random and
// edge-case arguments, and damaged frames), in batches. After each batch a
// terminator ends any half-open packet and a `monitor sync-N` (an unknown command,
// whose answer names it) must come back within a generous bound: a batch without
// it is a hang. `D` and `k` close the connection: the test connects again and goes
// on with the same server process. At the end the server still runs, `?` answers
// with a stop reply, a fresh connection replays the program to its exit, and the
// server logged no internal error (each is a bug: the first few fail the test).
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { programPath } from '../helpers.js';
import { record, startServer, type Server } from './gdb-support.js';
import { framePacket, PacketGenerator, TERMINATOR, type FuzzTarget } from './packet-grammar.js';
import { Rng } from './rng.js';
import { RspClient } from './rsp-client.js';

/** Fixed seeds, one generator each; a failure names its seed and batch. */
const SEEDS = [11, 23, 37, 41];
const PACKETS_PER_SEED = 25_000;
const BATCH = 250;
/** a batch whose sync reply takes longer than this is a hang (generous: the machine may be loaded) */
const SYNC_BOUND_MS = 60_000;
/**
 * Silence after which the test presses ^C, as a gdb user would: a breakpoint
 * inside an instruction can make the program loop forever, natively as in the
 * replay, and only an interrupt ends such a continue. On a loaded machine a slow
 * command may be interrupted too, which is as good an input as any: how many ^C
 * were sent is reported, not checked. A server that answers neither the batch nor
 * ^C within SYNC_BOUND_MS hangs, and fails the test.
 */
const INTERRUPT_AFTER_MS = 2_000;
/** lines of the server's log that are bugs */
const BUG_LINE = /internal error|connection failed|cannot end the replay|cannot go back to where|cannot restart|unhandled|uncaught/i;

const PROGRAM = 'gdbdemo';
let trace: string;
let server: Server;

beforeAll(async () => {
  trace = record(programPath(PROGRAM));
  server = await startServer(trace, [], { lifetimeMs: 20 * 60_000 });
  server.child.stdout!.resume(); // the replayed program's output: drained, not checked
});

afterAll(() => server?.kill());

const hex = (s: string) => Buffer.from(s, 'utf8').toString('hex');

/** What the generator aims at: the thread, code and data addresses, the trace's length. */
async function describeTarget(c: RspClient): Promise<FuzzTarget & { main: bigint }> {
  const exe = programPath(PROGRAM);
  const stop = await c.resume('?');
  const tid = parseInt(/thread:(?:p[0-9a-f]+\.)?([0-9a-f]+);/.exec(stop)![1], 16);
  const auxv = await c.auxv();
  const bias = auxv.get(9 /* AT_ENTRY */)! - readFileSync(exe).readBigUInt64LE(24);
  const addrs: bigint[] = [];
  const nm = execFileSync('nm', ['--defined-only', exe], { encoding: 'utf8' });
  let main = 0n;
  for (const line of nm.split('\n')) {
    const m = /^([0-9a-f]+) ([TtDdBbRr]) (\S+)$/.exec(line.trim());
    if (!m) continue;
    addrs.push(BigInt('0x' + m[1]) + bias);
    if (m[3] === 'main') main = BigInt('0x' + m[1]) + bias;
  }
  for (const type of [3 /* AT_PHDR */, 7 /* AT_BASE */, 25 /* AT_RANDOM */]) if (auxv.has(type)) addrs.push(auxv.get(type)!);
  const g = Buffer.from(await c.registers(), 'hex');
  addrs.push(g.readBigUInt64LE(7 * 8), g.readBigUInt64LE(16 * 8));
  const info = await monitor(c, 'info');
  const events = Number(/events: (\d+)/.exec(info)![1]);
  return { tid, exePath: exe, events, addrs, gSize: g.length, main };
}

async function monitor(c: RspClient, command: string): Promise<string> {
  c.sendPacket('qRcmd,' + hex(command));
  let text = '';
  for (;;) {
    const p = await c.packet();
    if (p === 'OK') return text;
    if (p[0] !== 'O') throw new Error(`monitor ${command}: unexpected reply ${JSON.stringify(p.slice(0, 80))}`);
    text += Buffer.from(p.slice(1), 'hex').toString('utf8');
  }
}

/** Counts of what the server answered, by kind. */
type Tally = Record<'ok' | 'error' | 'internal' | 'stop' | 'empty' | 'console' | 'other' | 'interrupts', number>;

function classify(p: string): Exclude<keyof Tally, 'interrupts'> {
  if (p === 'OK') return 'ok';
  if (p === 'E7f') return 'internal';
  if (/^E[0-9a-f]{2}$/.test(p)) return 'error';
  if (/^[TSWX][0-9a-f]{2}/.test(p)) return 'stop';
  if (p === '') return 'empty';
  if (/^O[0-9a-f]/.test(p)) return 'console';
  return 'other';
}

/**
 * Ends the batch: the terminator, then `monitor sync-N`. Reads every answer up to
 * the sync's; 'closed' when the connection closed first (D, k).
 */
async function sync(c: RspClient, n: number, tally: Tally): Promise<'synced' | 'closed'> {
  const marker = hex(`'sync-${n}'`);
  c.socket.write(Buffer.concat([TERMINATOR, framePacket('qRcmd,' + hex(`sync-${n}`))]));
  const deadline = Date.now() + SYNC_BOUND_MS;
  for (;;) {
    let p: string;
    try {
      p = await c.packet(Math.max(1, Math.min(INTERRUPT_AFTER_MS, deadline - Date.now())));
    } catch (e) {
      if (c.closed) return 'closed';
      if (!/^no packet within/.test((e as Error).message) || Date.now() >= deadline) throw e;
      c.interrupt();
      tally.interrupts++;
      continue;
    }
    tally[classify(p)]++;
    if (p[0] === 'O' && p.includes(marker)) {
      expect(await c.packet(Math.max(1, deadline - Date.now()))).toBe('OK');
      return 'synced';
    }
  }
}

it(`survives ${SEEDS.length * PACKETS_PER_SEED} random and grammar-built packets`, async () => {
  const pid = server.child.pid;
  let c = await RspClient.connect(server.port);
  const target = await describeTarget(c);
  const tally: Tally = { ok: 0, error: 0, internal: 0, stop: 0, empty: 0, console: 0, other: 0, interrupts: 0 };
  const labels = new Map<string, number>();
  let batchNo = 0;
  let reconnects = 0;
  let packets = 0;
  for (const seed of SEEDS) {
    const gen = new PacketGenerator(new Rng(seed), target);
    for (let sent = 0; sent < PACKETS_PER_SEED; sent += BATCH) {
      const where = `seed ${seed}, batch ${batchNo + 1} (packets ${sent}-${sent + BATCH - 1} of the seed)`;
      // the registers now, so that register writes keep rip and rsp safe
      const g = await c.request('g');
      gen.startBatch(/^[0-9a-f]+$/.test(g) && g.length === target.gSize * 2 ? Buffer.from(g, 'hex') : undefined);
      const batch = Array.from({ length: BATCH }, () => gen.next());
      for (const p of batch) labels.set(p.label, (labels.get(p.label) ?? 0) + 1);
      packets += batch.length;
      c.socket.write(Buffer.concat(batch.map((p) => p.bytes)));
      let outcome: 'synced' | 'closed';
      try {
        outcome = await sync(c, ++batchNo, tally);
      } catch (e) {
        throw new Error(`${where}: ${(e as Error).message}\nthe batch: ${batch.map((p) => p.label).join(', ')}\nserver log tail:\n${server.stderr().slice(-3000)}`);
      }
      if (outcome === 'closed') {
        // D or k: the same server serves the next connection on a fresh replay
        expect(server.child.exitCode, `${where}: the server exited\n${server.stderr().slice(-3000)}`).toBeNull();
        c.close();
        c = await RspClient.connect(server.port);
        reconnects++;
        expect(await sync(c, ++batchNo, tally), `${where}: a new connection gets no answer`).toBe('synced');
      }
      const stop = await c.resume('?', SYNC_BOUND_MS);
      expect(stop, `${where}: ? answers with a stop reply`).toMatch(/^[TSWX][0-9a-f]{2}/);
      expect(server.child.exitCode, `${where}: the server exited`).toBeNull();
    }
  }

  // still the same server, and a fresh connection replays the program to its end
  expect(server.child.pid).toBe(pid);
  expect(server.child.exitCode).toBeNull();
  expect(await c.resume('?')).toMatch(/^[TSWX][0-9a-f]{2}/);
  c.close();
  const fresh = await RspClient.connect(server.port);
  expect(await fresh.resume('?')).toMatch(/^T05/);
  // a watchpoint the CPU refuses leaves nothing behind
  expect(await fresh.request('Z2,ffffffffffff0000,8')).toBe('E02');
  expect(await monitor(fresh, 'restart')).toBe('restarted at event 0\n');
  expect(await fresh.request(`Z0,${target.main.toString(16)},1`)).toBe('OK');
  const atMain = await fresh.resume('vCont;c', SYNC_BOUND_MS);
  expect(atMain).toMatch(/^T05.*swbreak/);
  expect(await fresh.rip()).toBe(target.main);
  expect(await fresh.runToExit(SYNC_BOUND_MS)).toMatch(/^W03/);
  fresh.close();

  const bugs = server.stderr().split('\n').filter((l) => BUG_LINE.test(l));
  expect(bugs.slice(0, 20).join('\n'), 'internal errors in the server log').toBe('');
  expect(tally.internal, 'E7f (internal error) replies').toBe(0);

  // the fuzzing reached the server's real work, not only its parser
  console.log(`fuzz: ${packets} packets in ${batchNo} batches, ${reconnects} reconnects; replies ${JSON.stringify(tally)}`);
  expect(packets).toBeGreaterThanOrEqual(100_000);
  expect(reconnects).toBeGreaterThan(5);
  for (const kind of ['ok', 'error', 'empty', 'stop', 'console'] as const) expect(tally[kind], `${kind} replies`).toBeGreaterThan(50);
  const required = ['g', 'G', 'p', 'P', 'm', 'M', 'X', 'x', 'Z0', 'Z1', 'Z2', 'Z3', 'Z4', 'z0', 'z1', 'z2', 'z3', 'z4', 'c', 's', 'C', 'S', 'vCont;', 'vCont?',
    'bc', 'bs', 'Hg', 'Hc', 'T', 'qSupported', 'simple-query', 'qRegisterInfo', 'qMemoryRegionInfo', 'qXfer:features', 'qXfer:auxv', 'qXfer:exec-file',
    'qXfer:libraries-svr4', 'qXfer:threads', 'qXfer:siginfo', 'vFile:open', 'vFile:pread', 'vFile:pwrite', 'vFile:close', 'vFile:fstat', 'vFile:setfs',
    'vFile:unlink', 'vFile:readlink', 'vRun', 'R', '!', 'vKill', 'vAttach', 'k', 'D', 'QNonStop', 'qThreadExtraInfo', 'qSymbol', 'vCtrlC', 'QPassSignals',
    'QProgramSignals', 'qRcmd help', 'qRcmd seek', 'qRcmd restart', 'garbage', 'rle-abuse', 'oversized X', 'oversized G', 'ack-bytes', 'empty'];
  const missing = required.filter((l) => !labels.has(l));
  expect(missing, 'packet kinds never generated').toEqual([]);
}, 15 * 60_000);
