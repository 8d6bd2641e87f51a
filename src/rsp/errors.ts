// Every error number rewind puts on the wire, in one place.
// gdb shows 'Exx' codes to the user only as numbers, so the names exist for us and the docs.

/** Codes for 'Exx' replies (two hex digits). */
export const RspError = {
  BadPacket: 0x01, // unparsable or malformed request
  BadAddress: 0x02, // memory not mapped / not in the recording at this point
  NotSupportedHere: 0x03, // valid request we refuse in this state (e.g. a write while replaying)
  NoSuchThread: 0x04,
  TooManyWatchpoints: 0x05,
  BadRegister: 0x06, // register number outside the target description
  BadLength: 0x07, // data length does not match the declared length
  NoProcess: 0x08, // no execution loaded / process gone
  PacketTooLong: 0x09,
  NoSuchFile: 0x14,
  Internal: 0x7f, // engine failure; details go to the log, not to gdb
} as const;

export type RspErrorName = keyof typeof RspError;
export type RspErrorCode = (typeof RspError)[RspErrorName];

export function rspErrorName(code: number): RspErrorName | undefined {
  return (Object.keys(RspError) as RspErrorName[]).find((k) => RspError[k] === code);
}

/** errno values of gdb's File-I/O protocol (vFile 'F-1,errno' replies): not the host's errno. */
export const FileIoErrno = {
  EPERM: 1,
  ENOENT: 2,
  EINTR: 4,
  EBADF: 9,
  EACCES: 13,
  EFAULT: 14,
  EBUSY: 16,
  EEXIST: 17,
  ENODEV: 19,
  ENOTDIR: 20,
  EISDIR: 21,
  EINVAL: 22,
  ENFILE: 23,
  EMFILE: 24,
  EFBIG: 27,
  ENOSPC: 28,
  ESPIPE: 29,
  EROFS: 30,
  ENAMETOOLONG: 91,
  EUNKNOWN: 9999,
} as const;

export type FileIoErrnoName = keyof typeof FileIoErrno;

/** Map a Node error code ('ENOENT', ...) to the File-I/O errno, EUNKNOWN if it has none. */
export function fileIoErrno(code: string | undefined): number {
  return code !== undefined && code in FileIoErrno ? FileIoErrno[code as FileIoErrnoName] : FileIoErrno.EUNKNOWN;
}
