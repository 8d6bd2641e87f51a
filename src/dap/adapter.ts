// The Debug Adapter Protocol session of `rewind dap`: what VS Code (or any DAP front
// end) asks, turned into gdb/MI commands against a replay. launch starts the replay
// server and a gdb connected to it; stepping backwards is gdb's own reverse execution
// (`-exec-next --reverse`, `-exec-continue --reverse`), served by the replay. The
// inspection of a stopped program, the breakpoint sets and disassembly live in their
// own files; this one holds the session's life and the execution control.
import { BreakpointEvent, ContinuedEvent, DebugSession, InitializedEvent, OutputEvent, TerminatedEvent } from '@vscode/debugadapter';
import type { DebugProtocol } from '@vscode/debugprotocol';
import { Gdb, type ResumeAction } from '../mi/gdb.js';
import type { MiStop } from '../mi/mi-records.js';
import { BreakpointTable, encodeDataId } from './breakpoints.js';
import { disassemble } from './disassembly.js';
import { Inspector } from './inspector.js';
import { startReplayServer, type ReplayServer } from './replay-server.js';
import { stopEvents, stoppedEvent } from './stop-events.js';

/** The launch configuration of a `rewind` debug session (launch.json). */
export interface RewindLaunchArguments extends DebugProtocol.LaunchRequestArguments {
  /** trace directory, or a trace name under $REWIND_TRACE_DIR */
  trace: string;
  /** the recorded executable with debug symbols, if the recorded one has none */
  program?: string;
  /** the recorded process to debug (the trace's only process today) */
  pid?: number;
  /** stop at the first instruction of the recording instead of running to a breakpoint */
  stopOnEntry?: boolean;
  gdbPath?: string;
}

/** The launch attributes this adapter reads (editors/vscode/package.json declares the same). */
export const LAUNCH_ATTRIBUTES = ['trace', 'program', 'pid', 'stopOnEntry', 'gdbPath'] as const;
/** what VS Code itself puts in a launch request */
const FRONT_END_ATTRIBUTES = new Set(['type', 'request', 'name', 'noDebug', 'preLaunchTask', 'postDebugTask', 'internalConsoleOptions', 'debugServer', 'presentation']);

/** `rewind/goto`: replay to just after event EVENT (the timeline's unit of time). */
export const GOTO_REQUEST = 'rewind/goto';

export class RewindDebugSession extends DebugSession {
  private server?: ReplayServer;
  private gdb?: Gdb;
  private inspector?: Inspector;
  private breakpoints?: BreakpointTable;
  private launchArgs?: RewindLaunchArguments;
  /** stops before configurationDone are the connection's, not the user's */
  private configured = false;
  private running = false;
  /** a resume this adapter asked for (so no `continued` event is due) */
  private resumeRequested = false;
  private pauseRequested = false;
  private lastResumeReverse = false;
  private ended = false;
  /** gdb reached the replay server (which then ends when gdb leaves) */
  private connected = false;

  protected initializeRequest(response: DebugProtocol.InitializeResponse, args: DebugProtocol.InitializeRequestArguments): void {
    // gdb counts lines from 1 and names files by path, as VS Code does; other conventions are refused, not mistranslated
    if (args.linesStartAt1 === false || args.columnsStartAt1 === false || (args.pathFormat && args.pathFormat !== 'path')) {
      this.sendErrorResponse(response, { id: 2, format: 'rewind dap needs lines and columns counted from 1 and paths as file paths', showUser: true });
      return;
    }
    response.body = {
      supportsConfigurationDoneRequest: true,
      supportsStepBack: true,
      supportsFunctionBreakpoints: true,
      supportsConditionalBreakpoints: true,
      supportsDataBreakpoints: true,
      supportsInstructionBreakpoints: true,
      supportsEvaluateForHovers: true,
      supportsDisassembleRequest: true,
      supportsSteppingGranularity: true,
      supportsRestartRequest: true,
    };
    this.sendResponse(response);
  }

  protected launchRequest(response: DebugProtocol.LaunchResponse, given: DebugProtocol.LaunchRequestArguments | undefined): void {
    this.handle(response, async () => {
      if (this.gdb) throw new Error('this session has launched already');
      const args = checkLaunchArguments(given);
      const unknown = Object.keys(args).filter((k) => !(LAUNCH_ATTRIBUTES as readonly string[]).includes(k) && !FRONT_END_ATTRIBUTES.has(k) && !k.startsWith('__'));
      if (unknown.length) this.sendEvent(new OutputEvent(`rewind: ignoring unknown launch attributes: ${unknown.join(', ')} (known: ${LAUNCH_ATTRIBUTES.join(', ')})\n`, 'console'));
      this.launchArgs = args;
      try {
        this.server = await startReplayServer({
          trace: args.trace,
          symbols: args.program,
          onProgramOutput: (text) => this.sendEvent(new OutputEvent(text, 'stdout')),
          onLog: (line) => {
            if (!/^rewind: (connect with:|gdb (dis)?connected)/.test(line)) this.sendEvent(new OutputEvent(`${line}\n`, 'console'));
          },
        });
        const trace = process.env.REWIND_DAP_LOG ? (l: string) => process.stderr.write(`rewind dap: mi ${l}\n`) : undefined;
        const gdb = await Gdb.start({ gdbPath: args.gdbPath, trace });
        this.gdb = gdb;
        this.inspector = new Inspector(gdb);
        this.breakpoints = new BreakpointTable(gdb);
        this.listen(gdb);
        await gdb.connect(this.server.host, this.server.port);
        this.connected = true;
        if (args.pid !== undefined) {
          const pid = await gdb.inferiorPid();
          if (pid !== args.pid) throw new Error(`the trace ${args.trace} recorded process ${pid ?? '(none)'}, not process ${args.pid}`);
        }
      } catch (e) {
        // nothing of a failed launch stays: the front end may launch again
        await this.stopBackends();
        this.gdb = this.server = this.inspector = this.breakpoints = this.launchArgs = undefined;
        this.ended = this.connected = false;
        throw e;
      }
      this.sendEvent(new InitializedEvent());
    });
  }

  protected configurationDoneRequest(response: DebugProtocol.ConfigurationDoneResponse): void {
    this.handle(response, async () => {
      this.need();
      this.configured = true;
      if (!this.launchArgs?.stopOnEntry) return this.resume('continue', false);
      // the replay stands at its first instruction already: say so once configured
      const thread = await this.currentThread();
      this.sendResponse(response);
      this.sendEvent(stoppedEvent('entry', thread, 'the start of the recording'));
      return 'responded';
    });
  }

  protected continueRequest(response: DebugProtocol.ContinueResponse, args: DebugProtocol.ContinueArguments): void {
    this.handle(response, async () => {
      await this.resume('continue', false, args.threadId);
      response.body = { allThreadsContinued: true };
    });
  }

  protected nextRequest(response: DebugProtocol.NextResponse, args: DebugProtocol.NextArguments): void {
    this.handle(response, () => this.resume(args.granularity === 'instruction' ? 'nexti' : 'next', false, args.threadId));
  }

  protected stepInRequest(response: DebugProtocol.StepInResponse, args: DebugProtocol.StepInArguments): void {
    this.handle(response, () => this.resume(args.granularity === 'instruction' ? 'stepi' : 'step', false, args.threadId));
  }

  protected stepOutRequest(response: DebugProtocol.StepOutResponse, args: DebugProtocol.StepOutArguments): void {
    this.handle(response, () => this.resume('finish', false, args.threadId));
  }

  protected stepBackRequest(response: DebugProtocol.StepBackResponse, args: DebugProtocol.StepBackArguments): void {
    this.handle(response, () => this.resume(args.granularity === 'instruction' ? 'nexti' : 'next', true, args.threadId));
  }

  protected reverseContinueRequest(response: DebugProtocol.ReverseContinueResponse, args: DebugProtocol.ReverseContinueArguments): void {
    this.handle(response, () => this.resume('continue', true, args.threadId));
  }

  protected pauseRequest(response: DebugProtocol.PauseResponse): void {
    this.handle(response, async () => {
      this.pauseRequested = true;
      await this.need().interrupt();
    });
  }

  /** Back to the start of the recording: stopped there with stopOnEntry, else on to the first breakpoint. */
  protected restartRequest(response: DebugProtocol.RestartResponse): void {
    this.handle(response, async () => {
      const gdb = this.need();
      this.prepareResume(false);
      if (this.launchArgs?.stopOnEntry) await gdb.starti();
      else await gdb.run();
    });
  }

  protected async disconnectRequest(response: DebugProtocol.DisconnectResponse): Promise<void> {
    await this.stopBackends();
    this.sendResponse(response);
    this.shutdown();
  }

  protected customRequest(command: string, response: DebugProtocol.Response, args: unknown): void {
    if (command !== GOTO_REQUEST) {
      super.customRequest(command, response, args);
      return;
    }
    this.handle(response, async () => {
      const gdb = this.need();
      const event = (args as { event?: unknown } | undefined)?.event;
      if (typeof event !== 'number' || !Number.isInteger(event) || event < 0) throw new Error(`${GOTO_REQUEST} needs { "event": N } with N an event number (0 or more)`);
      if (this.running) throw new Error('the program is running: pause it first');
      const said = await gdb.monitor(`seek ${event}`);
      const at = /^at event (\d+)$/m.exec(said);
      if (!at) throw new Error(said.trim() || `cannot go to event ${event}`);
      // the replay moved under gdb's feet: make it read the registers again
      await gdb.console('maintenance flush register-cache');
      this.inspector!.forget();
      response.body = { event: Number(at[1]) };
      this.sendResponse(response);
      this.sendEvent(stoppedEvent('goto', await this.currentThread(), `event ${at[1]}`));
      return 'responded';
    });
  }

  protected threadsRequest(response: DebugProtocol.ThreadsResponse): void {
    this.handle(response, async () => {
      response.body = { threads: this.inspector && !this.ended ? await this.inspector.threads() : [] };
    });
  }

  protected stackTraceRequest(response: DebugProtocol.StackTraceResponse, args: DebugProtocol.StackTraceArguments): void {
    this.handle(response, async () => {
      response.body = await this.need('inspector').stackTrace(args.threadId, args.startFrame ?? 0, args.levels ?? 0);
    });
  }

  protected scopesRequest(response: DebugProtocol.ScopesResponse, args: DebugProtocol.ScopesArguments): void {
    this.handle(response, async () => {
      response.body = { scopes: this.need('inspector').scopes(args.frameId) };
    });
  }

  protected variablesRequest(response: DebugProtocol.VariablesResponse, args: DebugProtocol.VariablesArguments): void {
    this.handle(response, async () => {
      response.body = { variables: await this.need('inspector').variables(args.variablesReference) };
    });
  }

  /** Expressions; in the debug console `-exec CMD` runs a gdb command (`-exec reverse-step`, `-exec monitor when`). */
  protected evaluateRequest(response: DebugProtocol.EvaluateResponse, args: DebugProtocol.EvaluateArguments): void {
    this.handle(response, async () => {
      const exec = /^-exec\s+([\s\S]+)$/.exec(args.expression.trim());
      if (args.context === 'repl' && exec) {
        const out = await this.need().console(exec[1]);
        response.body = { result: out.replace(/\n$/, ''), variablesReference: 0 };
        return;
      }
      response.body = await this.need('inspector').evaluate(args.expression, args.frameId);
    });
  }

  protected setBreakPointsRequest(response: DebugProtocol.SetBreakpointsResponse, args: DebugProtocol.SetBreakpointsArguments): void {
    this.handle(response, async () => {
      const file = args.source.path;
      if (!file) throw new Error('breakpoints need a source with a path');
      response.body = { breakpoints: await this.need('breakpoints').setSource(file, args.breakpoints ?? []) };
    });
  }

  protected setFunctionBreakPointsRequest(response: DebugProtocol.SetFunctionBreakpointsResponse, args: DebugProtocol.SetFunctionBreakpointsArguments): void {
    this.handle(response, async () => {
      response.body = { breakpoints: await this.need('breakpoints').setFunctions(args.breakpoints) };
    });
  }

  protected setInstructionBreakpointsRequest(response: DebugProtocol.SetInstructionBreakpointsResponse, args: DebugProtocol.SetInstructionBreakpointsArguments): void {
    this.handle(response, async () => {
      response.body = { breakpoints: await this.need('breakpoints').setInstructions(args.breakpoints) };
    });
  }

  protected dataBreakpointInfoRequest(response: DebugProtocol.DataBreakpointInfoResponse, args: DebugProtocol.DataBreakpointInfoArguments): void {
    this.handle(response, async () => {
      const inspector = this.need('inspector');
      try {
        const target = await inspector.watchTarget(args.name, args.variablesReference, args.frameId);
        // an expression gdb cannot evaluate here cannot be watched either
        await this.need().evaluate(target.expr, target.frame);
        response.body = { dataId: encodeDataId(target), description: target.expr, accessTypes: ['write', 'read', 'readWrite'], canPersist: !target.frame };
      } catch (e) {
        response.body = { dataId: null, description: (e as Error).message };
      }
    });
  }

  protected setDataBreakpointsRequest(response: DebugProtocol.SetDataBreakpointsResponse, args: DebugProtocol.SetDataBreakpointsArguments): void {
    this.handle(response, async () => {
      response.body = { breakpoints: await this.need('breakpoints').setData(args.breakpoints) };
    });
  }

  protected disassembleRequest(response: DebugProtocol.DisassembleResponse, args: DebugProtocol.DisassembleArguments): void {
    this.handle(response, async () => {
      response.body = { instructions: await disassemble(this.need(), args) };
    });
  }

  /** Kills gdb and the replay server at once (the adapter is exiting). */
  killBackends(): void {
    this.gdb?.mi.kill();
    this.server?.kill();
  }

  private async stopBackends(): Promise<void> {
    const gdb = this.gdb;
    const server = this.server;
    this.ended = true;
    await gdb?.close();
    if (server) {
      // gdb's leaving ends a --once server; one gdb never reached, or that does not end, is killed
      if (!this.connected) server.kill();
      const killer = setTimeout(() => server.kill(), 5000);
      await server.exited;
      clearTimeout(killer);
    }
  }

  private listen(gdb: Gdb): void {
    gdb.on('running', () => {
      this.running = true;
      this.inspector?.forget();
      if (!this.resumeRequested && this.configured) this.sendEvent(new ContinuedEvent(1, true));
      this.resumeRequested = false;
    });
    gdb.on('stopped', (stop) => {
      this.running = false;
      if (this.configured) this.onStop(stop);
    });
    gdb.on('breakpointModified', (bp) => {
      const changed = this.breakpoints?.modified(bp);
      if (changed) this.sendEvent(new BreakpointEvent('changed', changed));
    });
    gdb.on('output', (category, text) => {
      if (category === 'log') this.sendEvent(new OutputEvent(text, 'console'));
    });
    gdb.on('exit', () => {
      if (this.ended) return;
      this.ended = true;
      this.sendEvent(new OutputEvent('gdb exited\n', 'stderr'));
      this.sendEvent(new TerminatedEvent());
    });
  }

  private onStop(stop: MiStop): void {
    const paused = this.pauseRequested;
    this.pauseRequested = false;
    for (const e of stopEvents(stop, { paused, reverse: this.lastResumeReverse })) this.sendEvent(e);
  }

  private prepareResume(reverse: boolean): void {
    this.inspector?.forget();
    this.lastResumeReverse = reverse;
    this.resumeRequested = true;
  }

  private async resume(action: ResumeAction, reverse: boolean, thread?: number): Promise<void> {
    const gdb = this.need();
    this.prepareResume(reverse);
    try {
      await gdb.resume(action, { reverse, thread });
    } catch (e) {
      this.resumeRequested = false;
      throw e;
    }
  }

  private async currentThread(): Promise<number> {
    const threads = await this.need().threads();
    return threads[0]?.id ?? 1;
  }

  private need(): Gdb;
  private need(what: 'inspector'): Inspector;
  private need(what: 'breakpoints'): BreakpointTable;
  private need(what?: 'inspector' | 'breakpoints'): Gdb | Inspector | BreakpointTable {
    if (!this.gdb || !this.inspector || !this.breakpoints) throw new Error('no replay yet: launch first');
    if (this.ended) throw new Error('the replay has ended');
    return what === 'inspector' ? this.inspector : what === 'breakpoints' ? this.breakpoints : this.gdb;
  }

  /** Runs a request; an error becomes an error response with gdb's or rewind's message. */
  private handle(response: DebugProtocol.Response, work: () => Promise<unknown>): void {
    work().then(
      (r) => {
        if (r !== 'responded') this.sendResponse(response);
      },
      (e: Error) => this.sendErrorResponse(response, { id: 1, format: e.message, showUser: true }),
    );
  }
}

/** The launch arguments, checked (a request without arguments arrives as undefined). */
function checkLaunchArguments(given: DebugProtocol.LaunchRequestArguments | undefined): RewindLaunchArguments {
  const args = (given ?? {}) as Partial<RewindLaunchArguments>;
  if (typeof args.trace !== 'string' || !args.trace) throw new Error('launch needs "trace": a trace directory (rewind record prints it)');
  if (args.program !== undefined && typeof args.program !== 'string') throw new Error('"program" must be a path');
  if (args.pid !== undefined && (!Number.isInteger(args.pid) || args.pid <= 0)) throw new Error('"pid" must be a process id');
  if (args.gdbPath !== undefined && typeof args.gdbPath !== 'string') throw new Error('"gdbPath" must be a path');
  return args as RewindLaunchArguments;
}
