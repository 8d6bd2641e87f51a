// `rewind dap`: a Debug Adapter Protocol server on stdin/stdout, for VS Code and other
// DAP front ends (editors/vscode runs it). Everything the session needs (the trace,
// gdb) comes in its launch request; stdout carries the protocol alone, so rewind's
// own messages go to stderr. The command returns when the front end disconnects or
// goes away; gdb and the replay server never outlive it.
import { RewindDebugSession } from '../dap/adapter.js';

export function dapCommand(): Promise<number> {
  const session = new RewindDebugSession();
  process.on('exit', () => session.killBackends());
  session.start(process.stdin, process.stdout);
  // the session exits the process itself once the front end disconnects (DebugSession.shutdown)
  return new Promise(() => undefined);
}
