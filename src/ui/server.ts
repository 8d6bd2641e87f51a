// The HTTP and WebSocket server of `rewind ui`: loopback only, and every request must
// carry the session's random token (in the URL's `token` parameter, or in the cookie
// the page gets with its first load), else 403. It serves the bundled page (a fixed
// list of files read from the bundle directory at start, so no request names a path
// on disk), the trace's timeline, the source files gdb showed, and a WebSocket whose
// messages are the page's commands, each answered with the state it led to.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Timeline } from './timeline.js';
import type { UiSession, PointState } from './session.js';
import type { ValueSampler } from './sampler.js';
import { parseCommand } from './commands.js';

const TYPES: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8' };
const COOKIE = 'rewind_ui_token';

export interface UiServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

export interface UiServerOptions {
  host?: string;
  port: number;
  /** the directory of the bundled page (dist/page) */
  bundleDir: string;
  timeline: Timeline;
  session: UiSession;
  /** the watched expressions' values across time, from a replay of their own */
  sampler: ValueSampler;
  log: (line: string) => void;
}

export async function startUiServer(opts: UiServerOptions): Promise<UiServer> {
  const token = randomBytes(24).toString('hex');
  const files = loadBundle(opts.bundleDir);
  const tokenOk = (req: http.IncomingMessage): boolean => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const given = url.searchParams.get('token') ?? cookie(req, COOKIE);
    return !!given && given.length === token.length && timingSafeEqual(Buffer.from(given), Buffer.from(token));
  };
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (!tokenOk(req)) return send(res, 403, 'text/plain', 'rewind ui: this page needs the token printed with its URL\n');
    if (req.method !== 'GET') return send(res, 405, 'text/plain', 'only GET\n');
    const headers = { 'Set-Cookie': `${COOKIE}=${token}; HttpOnly; SameSite=Strict; Path=/` };
    if (url.pathname === '/api/timeline') return send(res, 200, 'application/json', JSON.stringify(opts.timeline), headers);
    if (url.pathname === '/api/source') {
      const file = url.searchParams.get('path') ?? '';
      if (!opts.session.isKnownSource(file)) return send(res, 404, 'text/plain', 'not a source file of this replay\n');
      try {
        return send(res, 200, 'text/plain; charset=utf-8', readFileSync(file, 'utf8'), headers);
      } catch (e) {
        return send(res, 404, 'text/plain', `cannot read ${file}: ${(e as Error).message}\n`);
      }
    }
    const name = url.pathname === '/' ? 'index.html' : url.pathname.slice(1);
    const body = files.get(name);
    if (!body) return send(res, 404, 'text/plain', 'not found\n');
    send(res, 200, TYPES[path.extname(name)] ?? 'application/octet-stream', body, headers);
  });
  const wss = new WebSocketServer({ noServer: true });
  server.on('upgrade', (req, socket, head) => {
    const origin = req.headers.origin;
    const sameOrigin = !origin || origin === `http://${req.headers.host}`;
    if (!tokenOk(req) || !sameOrigin || new URL(req.url ?? '/', 'http://localhost').pathname !== '/ws') {
      socket.end('HTTP/1.1 403 Forbidden\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => serveCommands(ws, opts.session, opts.sampler, opts.log));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host ?? '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/?token=${token}`,
    port,
    close: async () => {
      for (const ws of wss.clients) ws.terminate();
      wss.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * Each message is one command `{ id, op, ... }`; the answer is `{ id, state }`,
 * `{ id, done }` for interrupt (false: no execution command to stop), `{ id, samples }`
 * for sample, or `{ id, error }`.
 */
function serveCommands(ws: WebSocket, session: UiSession, sampler: ValueSampler, log: (line: string) => void): void {
  ws.on('message', async (data) => {
    let id: unknown;
    try {
      const message = JSON.parse(data.toString()) as { id?: unknown };
      id = message.id;
      const command = parseCommand(message);
      if (command.op === 'interrupt') {
        // not queued behind the move it stops; the move answers when it has stopped
        ws.send(JSON.stringify({ id, done: await session.interrupt() }));
        return;
      }
      if (command.op === 'sample') {
        ws.send(JSON.stringify({ id, samples: await sampler.sample(command.expr, command.events) }));
        return;
      }
      let state: PointState;
      switch (command.op) {
        case 'state':
          state = await session.state();
          break;
        case 'seek':
          // the engine's progress, as it comes: { id, progress: { percent, event } }
          state = await session.seek(command.event, (percent, event) => ws.send(JSON.stringify({ id, progress: { percent, event } })));
          break;
        case 'resume':
          state = await session.resume(command.action, command.reverse);
          break;
        case 'break':
          state = await session.setBreakpoint(command.file, command.line, command.condition);
          break;
        case 'clear':
          state = await session.clearBreakpoint(command.file, command.line);
          break;
        case 'origin':
          state = await session.origin(command.expr);
          break;
      }
      ws.send(JSON.stringify({ id, state }));
    } catch (e) {
      log(`rewind ui: ${(e as Error).message}`);
      ws.send(JSON.stringify({ id, error: (e as Error).message }));
    }
  });
}

function loadBundle(dir: string): Map<string, Buffer> {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    throw new Error(`the page's files are not built (no ${dir}): run \`npm run build\``);
  }
  return new Map(names.filter((n) => n in TYPES || path.extname(n) in TYPES).map((n) => [n, readFileSync(path.join(dir, n))]));
}

function cookie(req: http.IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === name) return v.join('=');
  }
  return undefined;
}

function send(res: http.ServerResponse, status: number, type: string, body: string | Buffer, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': type, 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff', ...headers });
  res.end(body);
}
