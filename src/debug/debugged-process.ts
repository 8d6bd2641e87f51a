// A process that stands for the replay (the replayed process itself, a checkpoint's
// copy restored, a diversion's copy): its Tracee with the native debugger made for
// it, and how both are let go together.
import { native, type NativeTracee, type ProcessDebugger } from '../native/addon.js';

/** A process that stands for the replay: its Tracee and the native debugger made for it. */
export interface DebuggedProcess {
  readonly tracee: NativeTracee;
  readonly debugger: ProcessDebugger;
}

/** A new native debugger for a replayed process (owned by whoever stands it for the replay). */
export function debuggerOf(tracee: NativeTracee): DebuggedProcess {
  return { tracee, debugger: new (native().Debugger)(tracee) };
}

/** SIGKILL a process without a debugger (a checkpoint); closing it again is harmless. */
export async function killProcess(tracee: NativeTracee): Promise<void> {
  if (!tracee.closed) await tracee.close();
}

/** SIGKILL a debugged process and let its native debugger go. */
export async function killDebugged(d: DebuggedProcess): Promise<void> {
  await killProcess(d.tracee);
  await d.debugger.dispose().catch(() => undefined);
}
