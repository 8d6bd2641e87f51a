// The replay server: listens for gdb, serves one connection at a time, each on a
// fresh replay from the start of the trace.
import * as net from 'node:net';
import type { TraceReader } from '../history/index.js';
import { DebugSession } from '../debug/session.js';
import { TraceFiles } from '../replay/trace-files.js';
import { serveConnection } from './connection.js';
import { Dispatcher } from './dispatcher.js';

export interface ServerOptions {
  trace: TraceReader;
  host: string;
  port: number;
  /** exit after the first connection ends */
  once: boolean;
  exePath: string;
  symbolFile?: string;
  log: (text: string) => void;
  /** called once listening, with the actual port */
  onListening?: (port: number) => void;
  packetLog?: (line: string) => void;
  /** what the replayed program writes to fd 1 and 2, as the replay first gets there */
  onOutput?: (fd: number, data: Buffer) => void;
}

export async function serveReplay(opts: ServerOptions): Promise<void> {
  let session = await DebugSession.start(opts.trace, opts.onOutput);
  const files = new TraceFiles(opts.trace, session.snapshot);
  const server = net.createServer({ noDelay: true, pauseOnConnect: true });
  const pending: net.Socket[] = [];
  let serving = false;
  let finished: () => void;
  const allDone = new Promise<void>((resolve) => (finished = resolve));

  const next = async (): Promise<void> => {
    if (serving) return;
    const socket = pending.shift();
    if (!socket) return;
    serving = true;
    try {
      if (!session.alive || session.eventIndex !== 1) {
        await session.close();
        session = await DebugSession.start(opts.trace, opts.onOutput);
      }
      opts.log(`gdb connected from ${socket.remoteAddress}:${socket.remotePort}`);
      const dispatcher = new Dispatcher(session, { exePath: opts.exePath, symbolFile: opts.symbolFile, files, log: opts.log });
      socket.resume();
      await serveConnection(socket, dispatcher, { trace: opts.packetLog });
      socket.destroy();
      opts.log('gdb disconnected');
    } catch (e) {
      opts.log(`connection failed: ${(e as Error).message}`);
      socket.destroy();
    }
    serving = false;
    if (opts.once) {
      server.close();
      for (const s of pending) s.destroy();
      await session.close();
      finished();
      return;
    }
    // the next connection gets a fresh replay
    await session.close();
    try {
      session = await DebugSession.start(opts.trace, opts.onOutput);
    } catch (e) {
      opts.log(`cannot restart the replay: ${(e as Error).message}`);
      server.close();
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
