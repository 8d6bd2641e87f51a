// One gdb connection: socket, framing, acks, no-ack mode, interrupts. Parses each
// packet and hands it to the dispatcher, one at a time; writes each answer with a
// single write. Knows nothing of what the requests mean.
import type * as net from 'node:net';
import { AckState, encodePacket, PacketFramer, type FrameEvent } from './framing.js';
import { RspError } from './errors.js';
import { error } from './replies.js';
import { parseRequest } from './requests.js';
import type { DispatchResult, Dispatcher, Reply } from './dispatcher.js';

export interface ConnectionOptions {
  /** log every packet both ways (rewind replay --verbose / REWIND_RSP_LOG=1) */
  trace?: (line: string) => void;
}

/** Serves gdb on the socket until it closes; resolves then. */
export function serveConnection(socket: net.Socket, dispatcher: Dispatcher, opts: ConnectionOptions = {}): Promise<void> {
  socket.setNoDelay(true);
  const framer = new PacketFramer();
  const acks = new AckState();
  const queue: FrameEvent[] = [];
  let busy: Promise<void> | undefined;
  let closed = false;

  const write = (buf: Buffer) => {
    if (!closed && !socket.destroyed) socket.write(buf);
  };

  const send = (replies: Reply[]) => {
    const frames = replies.map((r) => encodePacket(r));
    for (const f of frames) {
      opts.trace?.(`-> ${f.toString('latin1').slice(0, 200)}`);
    }
    if (frames.length === 0) return;
    if (frames.length === 1) acks.sent(frames[0]);
    write(Buffer.concat(frames));
  };

  // a long monitor command's progress goes out while it runs
  dispatcher.sendNow = send;

  const process = async (ev: FrameEvent): Promise<void> => {
    let result: DispatchResult;
    if (ev.kind === 'error') {
      result = { replies: [error(/too large|exceeds/.test(ev.message) ? RspError.PacketTooLong : RspError.BadPacket)] };
    } else if (ev.kind === 'packet') {
      opts.trace?.(`<- ${ev.data.toString('latin1').slice(0, 200)}`);
      result = await dispatcher.handle(parseRequest(ev.data));
    } else return;
    send(result.replies);
    if (result.noAck) acks.enterNoAck();
    if (result.close) {
      closed = true;
      socket.end();
    }
  };

  const pump = () => {
    if (busy || queue.length === 0) return;
    let release!: () => void;
    busy = new Promise<void>((r) => (release = r));
    void (async () => {
      try {
        while (queue.length && !closed) await process(queue.shift()!);
      } catch (e) {
        opts.trace?.(`connection error: ${(e as Error).message}`);
      } finally {
        busy = undefined;
        release();
      }
    })();
  };

  return new Promise((resolve) => {
    socket.on('data', (chunk: Buffer) => {
      for (const ev of framer.feed(chunk)) {
        if (ev.kind === 'interrupt') {
          opts.trace?.('<- ^C');
          dispatcher.interrupt();
          continue;
        }
        const ack = acks.onEvent(ev);
        if (ack) write(ack);
        if (ev.kind === 'packet' || ev.kind === 'error') queue.push(ev);
      }
      pump();
    });
    const done = () => {
      closed = true;
      queue.length = 0;
      // a resume may still be running: stop it, and let it finish before the engine goes
      dispatcher.interrupt();
      void (busy ?? Promise.resolve()).then(() => resolve());
    };
    socket.on('close', done);
    socket.on('error', () => socket.destroy());
  });
}
