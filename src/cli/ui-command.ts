// `rewind ui [TRACE]`: the recording as a timeline in the browser (docs/ui.md). Builds
// the timeline (one headless replay for the output's text), starts the replay server
// and gdb over MI behind a loopback HTTP server with a per-session token, prints the
// URL (and opens it with --open), and serves until interrupted; gdb and the replay
// server never outlive it.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { TraceReader } from '../history/index.js';
import { buildTimeline } from '../ui/timeline.js';
import { UiSession } from '../ui/session.js';
import { ValueSampler } from '../ui/sampler.js';
import { startUiServer } from '../ui/server.js';
import { resolveTrace } from './trace-store.js';

const BUNDLE_DIR = fileURLToPath(new URL('../page/', import.meta.url));

export async function uiCommand(argv: { trace?: string; port: number; open: boolean; symbols?: string }): Promise<number> {
  if (!Number.isInteger(argv.port) || argv.port < 0 || argv.port > 65535) throw new Error(`--port ${argv.port} is not a TCP port (0 to 65535)`);
  const dir = resolveTrace(argv.trace);
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const timeline = await buildTimeline(TraceReader.open(dir));
  const session = await UiSession.start(dir, { symbols: argv.symbols, log });
  const sampler = new ValueSampler(dir, { symbols: argv.symbols, log });
  let server;
  try {
    server = await startUiServer({ port: argv.port, bundleDir: BUNDLE_DIR, timeline, session, sampler, log });
  } catch (e) {
    await session.close();
    throw e;
  }
  log(`rewind: the timeline of ${dir} is at ${server.url}`);
  if (argv.open) spawn('xdg-open', [server.url], { stdio: 'ignore', detached: true }).on('error', (e) => log(`rewind: cannot open a browser (${e.message}); open the URL above`)).unref();
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await server.close();
  await sampler.close();
  await session.close();
  return 0;
}
