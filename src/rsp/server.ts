// The replay server: listens for gdb, serves one connection at a time, each on a
// fresh replay from the start of the trace. It knows the engine only as a
// DebugTarget made by the composition root (src/cli). Nothing a client sends ends
// the server: a failing connection or a failing cleanup is logged, and the next
// connection gets a new replay.
import * as net from 'node:net';
import type { DebugTarget } from '../debug/target.js';
import { serveConnection } from './connection.js';
import { Dispatcher } from './dispatcher.js';

export interface ServerOptions {
  /** a new replay of the trace, stopped at its start */
  startSession: () => Promise<DebugTarget>;
  host: string;
  port: number;
  /** exit after the first connection ends */
  once: boolean;
  /** the path gdb is told the executable has */
  exePath: string;
  log: (text: string) => void;
  /** called once listening, with the actual port */
  onListening?: (port: number) => void;
  packetLog?: (line: string) => void;
}

export async function serveReplay(opts: ServerOptions): Promise<void> {
  // started before listening, so that a trace that cannot replay fails at once
  let session: DebugTarget | undefined = await opts.startSession();
  const server = net.createServer({ noDelay: true, pauseOnConnect: true });
  const pending: net.Socket[] = [];
  let serving = false;
  let finished: () => void;
  const allDone = new Promise<void>((resolve) => (finished = resolve));

  const closeSession = async (): Promise<void> => {
    const s = session;
    session = undefined;
    await s?.close().catch((e) => opts.log(`cannot end the replay cleanly: ${(e as Error).stack ?? e}`));
  };

  const serve = async (socket: net.Socket): Promise<void> => {
    try {
      session ??= await opts.startSession();
      opts.log(`gdb connected from ${socket.remoteAddress}:${socket.remotePort}`);
      const dispatcher = new Dispatcher(session, { exePath: opts.exePath, log: opts.log });
      socket.resume();
      await serveConnection(socket, dispatcher, { trace: opts.packetLog });
      opts.log('gdb disconnected');
    } catch (e) {
      opts.log(`connection failed: ${(e as Error).stack ?? e}`);
    } finally {
      socket.destroy();
    }
    // the next connection gets a fresh replay
    await closeSession();
  };

  const next = async (): Promise<void> => {
    if (serving) return;
    const socket = pending.shift();
    if (!socket) return;
    serving = true;
    await serve(socket);
    serving = false;
    if (opts.once) {
      server.close();
      for (const s of pending) s.destroy();
      finished();
      return;
    }
    void next();
  };

  server.on('connection', (socket) => {
    pending.push(socket);
    socket.on('error', () => undefined);
    void next();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  const addr = server.address() as net.AddressInfo;
  opts.onListening?.(addr.port);
  await allDone;
}
