import * as fs from 'node:fs';
import * as path from 'node:path';
import { listTraces } from './trace-store.js';
import { signalName } from './signals.js';
import { writeAllSync } from './output.js';

function dirSize(dir: string): number {
  let total = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    total += entry.isDirectory() ? dirSize(p) : fs.statSync(p).size;
  }
  return total;
}

function human(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let v = bytes;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v < 10 && u ? v.toFixed(1) : Math.round(v)} ${units[u]}`;
}

function readJson(file: string): Record<string, any> | null {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    return null;
  }
}

export function lsCommand(): number {
  const rows = listTraces().map((dir) => {
    const meta = readJson(path.join(dir, 'meta.json')) ?? {};
    const end = readJson(path.join(dir, 'end.json'));
    const o = end?.outcome;
    const status = !o ? 'incomplete' : o.kind === 'exited' ? `exit ${o.code}` : o.kind === 'killed' ? signalName(o.signal) : 'stopped';
    const date = String(meta.recordedAt ?? '');
    return { dir, date, line: [path.basename(dir), date.replace('T', ' ').slice(0, 19), human(dirSize(dir)), status, [meta.program, ...(meta.args ?? [])].join(' ')] };
  });
  rows.sort((a, b) => b.date.localeCompare(a.date));
  const table = [['TRACE', 'RECORDED', 'SIZE', 'STATUS', 'COMMAND'], ...rows.map((r) => r.line)];
  const widths = table[0].map((_, i) => Math.max(...table.map((row) => row[i].length)));
  writeAllSync(1, Buffer.from(table.map((row) => row.map((c, i) => (i === row.length - 1 ? c : c.padEnd(widths[i]))).join('  ')).join('\n') + '\n'));
  return 0;
}
