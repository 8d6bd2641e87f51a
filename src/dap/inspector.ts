// What a stopped program looks like to DAP: threads, stack frames, scopes, variables
// and expressions, read from gdb through the MI layer. Frame ids and variable
// references are handles that live until the program next runs (DAP's rule);
// gdb variable objects made for them are deleted then too.
import { Handles, Scope, Source, StackFrame, Thread, Variable } from '@vscode/debugadapter';
import type { DebugProtocol } from '@vscode/debugprotocol';
import * as path from 'node:path';
import type { FrameRef, Gdb } from '../mi/gdb.js';
import type { MiFrame, MiVarObj } from '../mi/mi-records.js';

/** What a variables reference stands for. */
type VarContainer =
  | { kind: 'locals'; frame: FrameRef }
  | { kind: 'registers'; frame: FrameRef }
  | { kind: 'varobj'; name: string; frame?: FrameRef };

/** An expression a data breakpoint watches, in the frame it belongs to (none for globals). */
export interface WatchTarget { expr: string; frame?: FrameRef }

export class Inspector {
  private frames = new Handles<FrameRef>();
  private containers = new Handles<VarContainer>();
  /** root variable objects made since the program last ran */
  private roots: string[] = [];
  private registerNames?: string[];

  constructor(private readonly gdb: Gdb) {}

  /** The program runs: every handle given out so far is dead. */
  forget(): void {
    this.frames.reset();
    this.containers.reset();
    const stale = this.roots;
    this.roots = [];
    for (const name of stale) this.gdb.varDelete(name).catch(() => undefined);
  }

  frame(frameId: number): FrameRef {
    const f = this.frames.get(frameId);
    if (!f) throw new Error(`frame ${frameId} is not valid any more (the program ran since)`);
    return f;
  }

  async threads(): Promise<DebugProtocol.Thread[]> {
    const threads = await this.gdb.threads();
    // a thread gdb knows that is absent where the replay stands (ended, or made later) says so
    return threads.map((t) => new Thread(t.id, `${t.name ? `${t.name} (${t.targetId})` : t.targetId}${t.details ? ` (${t.details})` : ''}`));
  }

  async stackTrace(thread: number, start: number, levels: number): Promise<{ stackFrames: DebugProtocol.StackFrame[]; totalFrames: number }> {
    const depth = await this.gdb.stackDepth(thread);
    const high = levels > 0 ? Math.min(depth, start + levels) - 1 : depth - 1;
    if (start > high) return { stackFrames: [], totalFrames: depth };
    const frames = await this.gdb.frames(thread, start, high);
    return { stackFrames: frames.map((f) => this.stackFrame(thread, f)), totalFrames: depth };
  }

  private stackFrame(thread: number, f: MiFrame): DebugProtocol.StackFrame {
    const id = this.frames.create({ thread, level: f.level });
    const name = f.func ?? f.addr;
    const source = f.fullname ? new Source(path.basename(f.fullname), f.fullname) : undefined;
    const frame: DebugProtocol.StackFrame = new StackFrame(id, name, source, f.line ?? 0, 0);
    frame.instructionPointerReference = f.addr;
    if (!source) frame.presentationHint = 'subtle';
    return frame;
  }

  scopes(frameId: number): DebugProtocol.Scope[] {
    const frame = this.frame(frameId);
    const locals = new Scope('Locals', this.containers.create({ kind: 'locals', frame }), false);
    const registers = new Scope('Registers', this.containers.create({ kind: 'registers', frame }), true);
    return [{ ...locals, presentationHint: 'locals' }, { ...registers, presentationHint: 'registers' }];
  }

  async variables(reference: number): Promise<DebugProtocol.Variable[]> {
    const c = this.containers.get(reference);
    if (!c) throw new Error(`variables reference ${reference} is not valid any more (the program ran since)`);
    if (c.kind === 'registers') return this.registers(c.frame);
    if (c.kind === 'locals') {
      const out: DebugProtocol.Variable[] = [];
      for (const v of await this.gdb.variables(c.frame)) {
        const obj = await this.rootVarObj(v.name, c.frame);
        out.push(this.variable(v.name, obj, c.frame, v.name));
      }
      return out;
    }
    return (await this.children(c.name)).map((child) => this.variable(child.exp, child, c.frame));
  }

  /** Children of a variable object; C++ access groups (public/private) are flattened. */
  private async children(name: string): Promise<MiVarObj[]> {
    const out: MiVarObj[] = [];
    for (const child of await this.gdb.varChildren(name)) {
      if (child.type === undefined && /^(public|private|protected)$/.test(child.exp)) out.push(...(await this.children(child.name)));
      else out.push(child);
    }
    return out;
  }

  private variable(label: string, obj: MiVarObj, frame: FrameRef | undefined, evaluateName?: string): DebugProtocol.Variable {
    const ref = obj.numchild > 0 ? this.containers.create({ kind: 'varobj', name: obj.name, frame }) : 0;
    const v: DebugProtocol.Variable = new Variable(label, obj.value, ref);
    v.type = obj.type;
    if (evaluateName) v.evaluateName = evaluateName;
    return v;
  }

  private async rootVarObj(expr: string, frame?: FrameRef): Promise<MiVarObj> {
    const obj = await this.gdb.varCreate(expr, frame);
    this.roots.push(obj.name);
    return obj;
  }

  private async registers(frame: FrameRef): Promise<DebugProtocol.Variable[]> {
    this.registerNames ??= await this.gdb.registerNames();
    const values = await this.gdb.registerValues(frame);
    return values
      .filter((r) => this.registerNames![r.number])
      .map((r) => new Variable(this.registerNames![r.number], r.value, 0));
  }

  /** An expression's value (and children) in a frame, or in gdb's current frame without one. */
  async evaluate(expr: string, frameId?: number): Promise<{ result: string; type?: string; variablesReference: number }> {
    const frame = frameId !== undefined ? this.frame(frameId) : undefined;
    let obj: MiVarObj;
    try {
      obj = await this.rootVarObj(expr, frame);
    } catch {
      // gdb says only "unable to create variable object"; evaluating says why (or has a value after all)
      return { result: await this.gdb.evaluate(expr, frame), variablesReference: 0 };
    }
    const ref = obj.numchild > 0 ? this.containers.create({ kind: 'varobj', name: obj.name, frame }) : 0;
    return { result: obj.value, type: obj.type, variablesReference: ref };
  }

  /** What a data breakpoint on NAME in a variables container (or on an expression) watches. */
  async watchTarget(name: string, reference?: number, frameId?: number): Promise<WatchTarget> {
    if (!reference) return { expr: name, frame: frameId !== undefined ? this.frame(frameId) : undefined };
    const c = this.containers.get(reference);
    if (!c) throw new Error(`variables reference ${reference} is not valid any more (the program ran since)`);
    if (c.kind === 'registers') throw new Error('registers cannot be watched');
    if (c.kind === 'locals') return { expr: name, frame: c.frame };
    const child = (await this.children(c.name)).find((x) => x.exp === name);
    if (!child) throw new Error(`no member ${name} here`);
    return { expr: await this.gdb.varPath(child.name), frame: c.frame };
  }
}
