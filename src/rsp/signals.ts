// The remote protocol numbers signals the GDB way (gdb's signals.def), not the
// Linux way: SIGUSR1 is 10 on Linux and 30 (GDB_SIGNAL_USR1) in a stop reply.
const LINUX_TO_GDB: Record<number, number> = {
  1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 6: 6, 7: 10, 8: 8, 9: 9, 10: 30, 11: 11, 12: 31, 13: 13, 14: 14, 15: 15,
  17: 20, 18: 19, 19: 17, 20: 18, 21: 21, 22: 22, 23: 16, 24: 24, 25: 25, 26: 26, 27: 27, 28: 28, 29: 23,
  30: 32, 31: 12,
};
const GDB_SIGNAL_UNKNOWN = 143;

/** gdb's number for a Linux signal. */
export function gdbSignal(linux: number): number {
  if (linux === 0) return 0; // GDB_SIGNAL_0: a stop without a signal
  if (LINUX_TO_GDB[linux] !== undefined) return LINUX_TO_GDB[linux];
  if (linux === 32) return 77; // GDB_SIGNAL_REALTIME_32
  if (linux >= 33 && linux <= 63) return 45 + (linux - 33); // GDB_SIGNAL_REALTIME_33..63
  return GDB_SIGNAL_UNKNOWN; // SIGSTKFLT has no gdb number
}

/** The Linux signal for a gdb number (for QPassSignals). */
export function linuxSignal(gdb: number): number | undefined {
  for (let s = 1; s < 64; s++) if (gdbSignal(s) === gdb) return s;
  return undefined;
}
