// The replay stub: a 4 KiB static ELF that rewind writes itself. Replay execs it
// (so the replayed process starts from an almost empty address space, whatever
// the machine's own ld.so and libraries are), then rebuilds the recorded address
// space around it. Its page stays mapped at STUB_BASE and gives rewind `syscall`
// and stack-probe instructions to run in the replayed process.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { sha256Of } from '../native/codecs.js';

export const STUB_BASE = 0x6fff00000000n;
export const STUB_SIZE = 0x1000n;
const CODE_OFFSET = 0x100;
/** `syscall; int3` */
export const STUB_SYSCALL = STUB_BASE + BigInt(CODE_OFFSET);
/** Scratch bytes past the code, for the strings of injected syscalls (addon/stub_layout.h). */
export const STUB_SCRATCH = STUB_BASE + 0xc00n;
/** `mov %rax,(%rsp); int3`: touching the stack grows it down to rsp */
export const STUB_STACK_PROBE = STUB_SYSCALL + 3n;
const ENTRY = STUB_STACK_PROBE + 5n;
/**
 * A file mapped at one stop (addon/stub_layout.h, kStubMapFile): openat (rax, rdi,
 * rsi, rdx as set), then mmap(r12, r13, r14, rbx, fd, r15) and close(fd); int3 with
 * the mmap's result in rax, or the openat's error. The replay of a make maps ~700
 * images; three injected calls each were three stops.
 */
const MAP_FILE_OFFSET = 0x110;
const MAP_FILE_CODE = [
  0x0f, 0x05, // syscall (openat)
  0x48, 0x85, 0xc0, // test %rax,%rax
  0x78, 0x2c, // js int3 (the error in rax)
  0x48, 0x89, 0xc5, // mov %rax,%rbp (the fd)
  0x4c, 0x89, 0xe7, // mov %r12,%rdi
  0x4c, 0x89, 0xee, // mov %r13,%rsi
  0x4c, 0x89, 0xf2, // mov %r14,%rdx
  0x49, 0x89, 0xda, // mov %rbx,%r10
  0x49, 0x89, 0xe8, // mov %rbp,%r8
  0x4d, 0x89, 0xf9, // mov %r15,%r9
  0xb8, 0x09, 0x00, 0x00, 0x00, // mov $9,%eax (mmap)
  0x0f, 0x05, // syscall
  0x48, 0x89, 0xc3, // mov %rax,%rbx
  0x48, 0x89, 0xef, // mov %rbp,%rdi
  0xb8, 0x03, 0x00, 0x00, 0x00, // mov $3,%eax (close)
  0x0f, 0x05, // syscall
  0x48, 0x89, 0xd8, // mov %rbx,%rax
  0xcc, // int3
];

function stubImage(): Buffer {
  const img = Buffer.alloc(MAP_FILE_OFFSET + MAP_FILE_CODE.length);
  // ELF header
  img.write('\x7fELF', 0, 'latin1');
  img[4] = 2; // 64-bit
  img[5] = 1; // little-endian
  img[6] = 1; // version
  img.writeUInt16LE(2, 16); // ET_EXEC
  img.writeUInt16LE(0x3e, 18); // x86-64
  img.writeUInt32LE(1, 20);
  img.writeBigUInt64LE(ENTRY, 24);
  img.writeBigUInt64LE(64n, 32); // program headers right after this header
  img.writeUInt16LE(64, 52);
  img.writeUInt16LE(56, 54);
  img.writeUInt16LE(2, 56); // two program headers
  img.writeUInt16LE(64, 58);
  // PT_LOAD, R+X, the whole file at STUB_BASE
  let ph = 64;
  img.writeUInt32LE(1, ph);
  img.writeUInt32LE(5, ph + 4);
  img.writeBigUInt64LE(0n, ph + 8);
  img.writeBigUInt64LE(STUB_BASE, ph + 16);
  img.writeBigUInt64LE(STUB_BASE, ph + 24);
  img.writeBigUInt64LE(BigInt(img.length), ph + 32);
  img.writeBigUInt64LE(BigInt(img.length), ph + 40);
  img.writeBigUInt64LE(0x1000n, ph + 48);
  // PT_GNU_STACK, RW: a non-executable stack like the recorded program's
  ph += 56;
  img.writeUInt32LE(0x6474e551, ph);
  img.writeUInt32LE(6, ph + 4);
  Buffer.from([
    0x0f, 0x05, 0xcc, // syscall; int3
    0x48, 0x89, 0x04, 0x24, 0xcc, // mov %rax,(%rsp); int3
    0xcc, 0xeb, 0xfd, // entry: int3; jmp entry
  ]).copy(img, CODE_OFFSET);
  Buffer.from(MAP_FILE_CODE).copy(img, MAP_FILE_OFFSET);
  return img;
}

/** The stub's image and the name its content gives it: the same for the whole process. */
let stubNamed: { img: Buffer; name: string } | undefined;

/**
 * Writes the stub (once per content) and returns its path. Asked at every exec of a
 * replay (27 in a make's): the image is built and hashed once per process, the file
 * still read back each time (someone may have cleaned the temporary directory).
 */
export function stubPath(): string {
  stubNamed ??= (() => {
    const img = stubImage();
    return { img, name: `rewind-stub-${sha256Of(img).slice(0, 16)}` };
  })();
  const { img, name } = stubNamed;
  const file = path.join(os.tmpdir(), name);
  try {
    if (fs.readFileSync(file).equals(img)) return file;
  } catch {
    // not there yet
  }
  const tmp = `${file}.${process.pid}`;
  fs.writeFileSync(tmp, img, { mode: 0o755 });
  fs.renameSync(tmp, file);
  return file;
}
