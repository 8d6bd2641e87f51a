// `rewind store [--prune]`: where the machine's file store is, what it holds, and
// (--prune) removing the files no trace links any more (src/history/file-store.ts).
import { FileStore, fileStoreLocation } from '../history/file-store.js';
import { fail, writeAllSync } from './output.js';

const mib = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;

export function storeCommand(argv: { prune: boolean }): number {
  const dir = fileStoreLocation();
  const store = FileStore.open(dir);
  if (!store) fail(`cannot open or create the file store at ${dir} (set REWIND_FILE_STORE to use another place)`);
  const say = (line: string) => writeAllSync(1, Buffer.from(`${line}\n`));
  if (argv.prune) {
    const removed = store.prune();
    say(`removed ${removed.objects} files (${mib(removed.bytes)}) that no trace links`);
  }
  const u = store.usage();
  say(`${dir}: ${u.objects} files, ${mib(u.bytes)}; ${u.unlinked} (${mib(u.unlinkedBytes)}) linked by no trace on this file system`);
  return 0;
}
