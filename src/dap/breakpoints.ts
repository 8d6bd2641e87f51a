// DAP's breakpoint requests over gdb: each request replaces a whole set (one source
// file's breakpoints, all function breakpoints, all data breakpoints), so the gdb
// breakpoints of the old set are deleted and the new ones inserted. A breakpoint
// gdb cannot resolve yet (in a library not loaded) is pending and unverified; when
// gdb resolves it, it says so and the front end is told.
import { Breakpoint, Source } from '@vscode/debugadapter';
import type { DebugProtocol } from '@vscode/debugprotocol';
import * as path from 'node:path';
import type { Gdb } from '../mi/gdb.js';
import type { MiBreakpoint } from '../mi/mi-records.js';
import type { WatchTarget } from './inspector.js';

type SetName = 'functions' | 'instructions' | `source:${string}`;

export class BreakpointTable {
  private readonly sets = new Map<SetName, string[]>();
  /** what the front end was last told about each gdb breakpoint */
  private readonly told = new Map<string, string>();
  /** data breakpoints by [dataId, accessType, condition] */
  private readonly watchpoints = new Map<string, { number: string; bp: DebugProtocol.Breakpoint }>();

  constructor(private readonly gdb: Gdb) {}

  async setSource(file: string, wanted: DebugProtocol.SourceBreakpoint[]): Promise<DebugProtocol.Breakpoint[]> {
    return this.replace(`source:${file}`, wanted, (bp) => this.insert(`${file}:${bp.line}`, bp.condition));
  }

  async setFunctions(wanted: DebugProtocol.FunctionBreakpoint[]): Promise<DebugProtocol.Breakpoint[]> {
    return this.replace('functions', wanted, (bp) => this.insert(bp.name, bp.condition));
  }

  async setInstructions(wanted: DebugProtocol.InstructionBreakpoint[]): Promise<DebugProtocol.Breakpoint[]> {
    return this.replace('instructions', wanted, (bp) => {
      const at = BigInt(bp.instructionReference) + BigInt(bp.offset ?? 0);
      return this.insert(`*0x${at.toString(16)}`, bp.condition);
    });
  }

  /**
   * Data breakpoints: unlike the others, the ones that stay in the set are kept, not
   * inserted again: a watched local belongs to the frame it was chosen in, which may
   * not be where the program stands when the front end sends the set again.
   */
  async setData(wanted: DebugProtocol.DataBreakpoint[]): Promise<DebugProtocol.Breakpoint[]> {
    const kept = new Map<string, { number: string; bp: DebugProtocol.Breakpoint }>();
    const keyOf = (bp: DebugProtocol.DataBreakpoint) => JSON.stringify([bp.dataId, bp.accessType ?? 'write', bp.condition ?? '']);
    const wantedKeys = new Set(wanted.map(keyOf));
    const gone: string[] = [];
    for (const [key, w] of this.watchpoints) (wantedKeys.has(key) ? kept.set(key, w) : gone.push(w.number));
    await this.remove(gone);
    this.watchpoints.clear();
    const out: DebugProtocol.Breakpoint[] = [];
    for (const bp of wanted) {
      const key = keyOf(bp);
      let w = kept.get(key) ?? this.watchpoints.get(key);
      if (!w) {
        try {
          const target = decodeDataId(bp.dataId);
          const kind = bp.accessType === 'read' ? 'read' : bp.accessType === 'readWrite' ? 'access' : 'write';
          const inserted = await this.gdb.insertWatchpoint(target.expr, kind, target.frame, bp.condition);
          w = { number: inserted.number, bp: { ...new Breakpoint(true), id: Number(inserted.number), message: inserted.exp } };
        } catch (e) {
          out.push({ ...new Breakpoint(false), message: (e as Error).message });
          continue;
        }
      }
      this.watchpoints.set(key, w);
      out.push(w.bp);
    }
    return out;
  }

  /** A breakpoint gdb changed by itself; the DAP breakpoint to announce if the front end should know. */
  modified(bp: MiBreakpoint): DebugProtocol.Breakpoint | undefined {
    if (!this.told.has(bp.number)) return undefined;
    const dap = toDap(bp);
    const key = JSON.stringify(dap);
    if (this.told.get(bp.number) === key) return undefined;
    this.told.set(bp.number, key);
    return dap;
  }

  /** Deletes gdb breakpoints; one gdb deleted by itself (a watchpoint whose frame ended) is no error. */
  private async remove(numbers: string[]): Promise<void> {
    try {
      await this.gdb.deleteBreakpoints(numbers);
    } catch {
      for (const n of numbers) await this.gdb.deleteBreakpoints([n]).catch(() => undefined);
    }
  }

  private async insert(location: string, condition?: string): Promise<{ number: string; bp: DebugProtocol.Breakpoint }> {
    const bp = await this.gdb.insertBreakpoint(location, { condition });
    const dap = toDap(bp);
    this.told.set(bp.number, JSON.stringify(dap));
    return { number: bp.number, bp: dap };
  }

  private async replace<T>(set: SetName, wanted: T[], insert: (bp: T) => Promise<{ number: string; bp: DebugProtocol.Breakpoint }>): Promise<DebugProtocol.Breakpoint[]> {
    const old = this.sets.get(set) ?? [];
    this.sets.delete(set);
    for (const n of old) this.told.delete(n);
    await this.remove(old);
    const numbers: string[] = [];
    const out: DebugProtocol.Breakpoint[] = [];
    for (const bp of wanted) {
      try {
        const r = await insert(bp);
        numbers.push(r.number);
        out.push(r.bp);
      } catch (e) {
        out.push({ ...new Breakpoint(false), message: (e as Error).message });
      }
    }
    this.sets.set(set, numbers);
    return out;
  }
}

function toDap(bp: MiBreakpoint): DebugProtocol.Breakpoint {
  const where = bp.line !== undefined ? bp : bp.locations.find((l) => l.line !== undefined) ?? bp;
  const verified = !bp.pending && (bp.addr !== '<PENDING>');
  const dap: DebugProtocol.Breakpoint = new Breakpoint(verified, where.line, undefined, where.fullname ? new Source(path.basename(where.fullname), where.fullname) : undefined);
  dap.id = Number(bp.number);
  const addr = where.addr ?? bp.locations[0]?.addr;
  if (addr && addr.startsWith('0x')) dap.instructionReference = addr;
  if (!verified) dap.message = `pending: ${bp.pending ?? 'not resolved yet'} (resolved when a library that has it loads)`;
  return dap;
}

/** A data breakpoint's id: the watched expression and the frame of its locals. */
export function encodeDataId(target: WatchTarget): string {
  return JSON.stringify(target);
}

function decodeDataId(id: string): WatchTarget {
  let t: unknown;
  try {
    t = JSON.parse(id);
  } catch {
    throw new Error(`not a data breakpoint id of this adapter: ${id}`);
  }
  const w = t as WatchTarget;
  if (typeof w?.expr !== 'string' || (w.frame !== undefined && (!Number.isInteger(w.frame.thread) || !Number.isInteger(w.frame.level)))) {
    throw new Error(`not a data breakpoint id of this adapter: ${id}`);
  }
  return w;
}
