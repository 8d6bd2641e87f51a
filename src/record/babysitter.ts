// Hands the recorded program's remaining children to rewind-babysit (see
// addon/babysit/babysit.c) when the recorded process ends, so that the recorder can
// end while they live on, as they would natively.
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

/** The helper, built beside the addon. */
export function babysitterPath(): string {
  return path.join(here, '..', '..', 'build', 'Release', 'rewind-babysit');
}

/**
 * Children the native loop released (each detached and stopped by its own SIGSTOP):
 * the helper attaches to them and lets them go on. It runs in a session of its own,
 * outliving the recorder; nothing waits for it.
 */
export function handOverChildren(pids: bigint[]): void {
  if (pids.length === 0) return;
  const end = () => {
    // Without the helper they cannot run (ENOSYS for every syscall): end them.
    for (const p of pids) {
      try {
        process.kill(Number(p), 'SIGKILL');
      } catch {
        // gone
      }
    }
  };
  if (!fs.existsSync(babysitterPath())) return end();
  // loaded here, where it is used: node:child_process costs every recording ~2 ms of start-up
  const { spawn } = createRequire(import.meta.url)('node:child_process') as typeof import('node:child_process');
  const helper = spawn(babysitterPath(), pids.map(String), { detached: true, stdio: 'ignore' });
  helper.on('error', end);
  helper.unref();
}
