/* rewind's syscall buffer (see docs/syscallbuf.md).
 *
 * Preloaded (LD_PRELOAD) into dynamically linked programs that rewind records.
 * Its constructor asks the recorder (a prctl with a magic option that only the
 * recorder answers), maps a buffer, rewrites glibc's `syscall; cmp $-4096,%rax`
 * wrapper sites for a few common calls into jumps to per-site stubs, and installs
 * a seccomp filter that lets through, untraced, only the syscall instruction in
 * rw_untraced below. Buffered calls run through that instruction and append an
 * ordinary trace syscall record to the buffer; the recorder copies the records into
 * the trace at its next stop. Everything else goes through rw_traced, which the
 * recorder sees as before.
 *
 * Built with -nostdlib -mgeneral-regs-only: no libc, and no SSE registers touched
 * (the code around a glibc syscall instruction expects them preserved).
 */
#include <stddef.h>
#include <stdint.h>

#define RW_MAGIC 0x52574e44L          /* prctl option: "RWND" */
#define RW_MAGIC_OK 0x52574e4f4bL     /* the recorder's answer: install the filter */
#define RW_MAGIC_FILTERED 0x52574e4f46L /* its answer after an exec: the filter is there already */
#define RW_INTERRUPTED (-0x5257000000L) /* set by the recorder: redo this call traced */
#define RW_BUF_SIZE (1L << 20)
#define RW_HEADER 64

/* Buffer header, shared with addon/record_loop.cc. */
struct rw_header {
  uint64_t used;     /* bytes of complete records after the header */
  uint32_t busy;     /* a record is being written */
  uint32_t disabled; /* set by the recorder around fork-like calls */
  uint64_t capacity; /* bytes available for records */
  uint32_t traced;   /* set by the recorder: calls it must see (TRACED_*) */
  uint32_t pad;
  uint64_t feed;     /* replay only: rewind's feed of recorded results (below); 0 when recording */
  /* The thread's desched event (addon/record_desched.h), set up by the recorder: its
   * fd and whether its signal is blocked now are written while recording only (0 in
   * replay, which arms nothing); may_block, in the trace too, says calls that may
   * block can be buffered. */
  int32_t desched_fd;
  uint32_t desched_blocked;
  uint32_t may_block;
};

/* Replay's feed (addon/replay_syscallbuf.cc writes it ahead of the program): the
 * recorded buffered calls to come, in order. A call that matches the next record
 * (number, the argument bits the kernel reads, the crc32 of the bytes a write
 * reads) takes its result and memory from it instead of making the call; anything
 * else makes the call, which replay sees and checks as before. */
struct rw_feed {
  uint64_t consumed; /* records taken by the program (written by the library) */
  uint64_t count;    /* records rewind put in the feed */
  uint64_t offset;   /* of the next record, from the feed's start */
};
/* A feed record: u32 size, u32 nr, u64 args[6] (masked), u64 masks[6], i64 result,
 * u32 checkLen, u32 checkCrc, u32 checkBytes, u32 nwrites, then nwrites x
 * { u64 addr, u32 len, bytes } as in a trace record. */
#define FEED_ARGS 8
#define FEED_MASKS 56
#define FEED_RESULT 104
#define FEED_CHECK 112
#define FEED_WRITES 128
#define RW_CAN_FEED 1 /* prctl's sixth argument: this library reads a replay feed */
#define RW_THREAD_BUFFER 2 /* ... and this is the buffer of a thread other than the process's first */
#define RW_THREAD_BUF_SIZE (1L << 18)
#define TRACED_FILE_WRITES 1 /* a data file is mapped: calls that change files */
#define TRACED_ALL 2         /* children share memory with the program: every call */
#define TRACED_STDIO_WRITES 4 /* several processes: writes to fds 1 and 2, which the recorder orders */
#define TRACED_MAY_BLOCK 8    /* threads: calls that may block (another thread must run meanwhile) */

enum {
  NR_read = 0, NR_write = 1, NR_close = 3, NR_stat = 4, NR_fstat = 5, NR_lstat = 6,
  NR_lseek = 8, NR_mmap = 9, NR_mprotect = 10, NR_munmap = 11, NR_ioctl = 16,
  NR_pread64 = 17, NR_pwrite64 = 18, NR_access = 21, NR_getpid = 39, NR_fcntl = 72,
  NR_getcwd = 79, NR_readlink = 89, NR_getppid = 110, NR_prctl = 157,
  NR_fadvise64 = 221, NR_clock_gettime = 228, NR_openat = 257, NR_newfstatat = 262,
  NR_readlinkat = 267, NR_faccessat = 269, NR_seccomp = 317, NR_statx = 332,
  NR_faccessat2 = 439, NR_getdents64 = 217, NR_execve = 59, NR_futex = 202,
};
#define FUTEX_CMD(op) ((op) & ~(128L | 256L)) /* without FUTEX_PRIVATE_FLAG, FUTEX_CLOCK_REALTIME */
#define FUTEX_WAKE 1
#define FUTEX_WAKE_BITSET 10

/* The syscall instructions the seccomp filter lets through untraced: the one in
 * rw_untraced below (the first image's: a debugger sees a function there), and
 * `syscall; ret` in a page at a fixed address. The filter outlives exec, and a
 * second filter could only trace more (the kernel takes the strictest answer), so
 * a program exec'd by a recorded process, whose library is elsewhere, maps this
 * page and uses its parent's filter (docs/syscallbuf.md, "exec"). Below replay's
 * feed (addon/replay_syscallbuf.h) and stub (src/replay/stub.ts). */
#define RW_UNTRACED_PAGE 0x6ffd00000000L
#define RW_UNTRACED_PAGE_AFTER (RW_UNTRACED_PAGE + 2)

long rw_untraced(long nr, long a0, long a1, long a2, long a3, long a4, long a5);
long rw_untraced_page(long nr, long a0, long a1, long a2, long a3, long a4, long a5);
long rw_traced(long nr, long a0, long a1, long a2, long a3, long a4, long a5);
long rw_handle(long nr, long *a);
/* rwpreload_env.c: this library out of the program's environment, and back into
 * the environment of a program it execs */
void rw_strip_env(char **envp);
long rw_execve(const long *a);
extern char rw_untraced_after[], rw_traced_after[], rw_entry[];
/* The address after the untraced syscall instruction this image uses: what rw_entry
 * leaves in rcx, as the instruction does, whether the call was made or served. */
__attribute__((visibility("hidden"))) long rw_untraced_ip;

/* The two syscall instructions, and the entry the patched sites reach. rw_entry
 * keeps every register a syscall instruction keeps (all but rax, rcx, r11).
 *
 * Unwind info (.cfi_*, in the library's .eh_frame), so that a debugger's backtrace
 * of a thread standing in a buffered call goes on into the libc function and its
 * callers, as natively. rw_entry's caller is a stub in an anonymous page (no unwind
 * info can describe it): its frame says the libc function is the caller. The stub
 * (patch_libc) is `lea -0x80(%rsp),%rsp; call *slot(%rip); lea 0x80(%rsp),%rsp;
 * cmp (5 or 6 bytes); jmp back`, so the libc function's stack pointer is rw_entry's
 * at entry + 8 + 0x80 (the CFA), and its pc is where the stub jumps back to: the
 * return address R into the stub, + 8 (the lea) + the cmp (6 if it starts with a
 * REX.W byte 0x48, else 5) is the jmp, whose rel32 says where. The DWARF expression
 * for the pc (DW_CFA_val_expression of the return-address column 16, the CFA pushed
 * first) computes that:
 *   R = *(CFA - 136); J = R + 13 + (R[8] == 0x48); pc = J + 5 + (int32_t)*(J + 1)
 * (the int32 sign-extended as (u32 ^ 2^31) - 2^31). */
#define RW_CFI_STUB_CALLER                                                          \
  "  .cfi_escape 0x16, 0x10, 0x24,"    /* DW_CFA_val_expression, r16, 36 bytes: */  \
  " 0x10, 0x88, 0x01, 0x1c, 0x06,"     /* constu 136, minus, deref: R */            \
  " 0x12, 0x23, 0x08, 0x94, 0x01,"     /* dup, plus_uconst 8, deref_size 1 */       \
  " 0x08, 0x48, 0x29, 0x22,"           /* const1u 0x48, eq, plus */                 \
  " 0x23, 0x0d, 0x12,"                 /* plus_uconst 13: J; dup */                 \
  " 0x23, 0x01, 0x94, 0x04,"           /* plus_uconst 1, deref_size 4 */            \
  " 0x0c, 0x00, 0x00, 0x00, 0x80, 0x27," /* const4u 2^31, xor */                    \
  " 0x0c, 0x00, 0x00, 0x00, 0x80, 0x1c," /* const4u 2^31, minus */                  \
  " 0x22, 0x23, 0x05\n"                /* plus, plus_uconst 5 */
__asm__(
    ".text\n"
    ".globl rw_untraced\n.hidden rw_untraced\n.type rw_untraced,@function\n"
    "rw_untraced:\n"
    "  .cfi_startproc\n"
    "  mov %rdi,%rax\n  mov %rsi,%rdi\n  mov %rdx,%rsi\n  mov %rcx,%rdx\n"
    "  mov %r8,%r10\n  mov %r9,%r8\n  mov 8(%rsp),%r9\n"
    "  syscall\n"
    ".globl rw_untraced_after\n.hidden rw_untraced_after\n"
    "rw_untraced_after:\n"
    "  ret\n"
    "  .cfi_endproc\n"
    ".globl rw_untraced_page\n.hidden rw_untraced_page\n.type rw_untraced_page,@function\n"
    "rw_untraced_page:\n"
    "  .cfi_startproc\n"
    "  mov %rdi,%rax\n  mov %rsi,%rdi\n  mov %rdx,%rsi\n  mov %rcx,%rdx\n"
    "  mov %r8,%r10\n  mov %r9,%r8\n  mov 8(%rsp),%r9\n"
    "  movabs $0x6ffd00000000,%r11\n"  /* RW_UNTRACED_PAGE: its syscall returns to our caller */
    "  jmp *%r11\n"
    "  .cfi_endproc\n"
    ".globl rw_traced\n.hidden rw_traced\n.type rw_traced,@function\n"
    "rw_traced:\n"
    "  .cfi_startproc\n"
    "  mov %rdi,%rax\n  mov %rsi,%rdi\n  mov %rdx,%rsi\n  mov %rcx,%rdx\n"
    "  mov %r8,%r10\n  mov %r9,%r8\n  mov 8(%rsp),%r9\n"
    "  syscall\n"
    ".globl rw_traced_after\n.hidden rw_traced_after\n"
    "rw_traced_after:\n"
    "  ret\n"
    "  .cfi_endproc\n"
    ".globl rw_entry\n.hidden rw_entry\n.type rw_entry,@function\n"
    "rw_entry:\n"
    "  .cfi_startproc\n"
    "  .cfi_def_cfa_offset 136\n"
    RW_CFI_STUB_CALLER
    "  pushfq\n"
    "  .cfi_adjust_cfa_offset 8\n"
    "  push %rbx\n"
    "  .cfi_adjust_cfa_offset 8\n  .cfi_rel_offset %rbx, 0\n"
    "  push %r9\n  .cfi_adjust_cfa_offset 8\n  .cfi_rel_offset %r9, 0\n"
    "  push %r8\n  .cfi_adjust_cfa_offset 8\n  .cfi_rel_offset %r8, 0\n"
    "  push %r10\n  .cfi_adjust_cfa_offset 8\n  .cfi_rel_offset %r10, 0\n"
    "  push %rdx\n  .cfi_adjust_cfa_offset 8\n  .cfi_rel_offset %rdx, 0\n"
    "  push %rsi\n  .cfi_adjust_cfa_offset 8\n  .cfi_rel_offset %rsi, 0\n"
    "  push %rdi\n  .cfi_adjust_cfa_offset 8\n  .cfi_rel_offset %rdi, 0\n"
    "  mov %rax,%rdi\n"
    "  mov %rsp,%rsi\n"
    "  mov %rsp,%rbx\n"
    "  .cfi_def_cfa_register %rbx\n"  /* the stack is aligned below: rbx holds it */
    "  and $-16,%rsp\n"
    "  cld\n"
    "  call rw_handle\n"
    "  mov %rbx,%rsp\n"
    "  .cfi_def_cfa_register %rsp\n"
    "  pop %rdi\n  .cfi_adjust_cfa_offset -8\n  .cfi_restore %rdi\n"
    "  pop %rsi\n  .cfi_adjust_cfa_offset -8\n  .cfi_restore %rsi\n"
    "  pop %rdx\n  .cfi_adjust_cfa_offset -8\n  .cfi_restore %rdx\n"
    "  pop %r10\n  .cfi_adjust_cfa_offset -8\n  .cfi_restore %r10\n"
    "  pop %r8\n  .cfi_adjust_cfa_offset -8\n  .cfi_restore %r8\n"
    "  pop %r9\n  .cfi_adjust_cfa_offset -8\n  .cfi_restore %r9\n"
    "  pop %rbx\n  .cfi_adjust_cfa_offset -8\n  .cfi_restore %rbx\n"
    /* What a syscall instruction leaves in rcx and r11 (the address after it, the
     * flags), the same whether the call was made or served from replay's feed. */
    "  pop %r11\n"
    "  .cfi_adjust_cfa_offset -8\n"
    "  mov rw_untraced_ip(%rip),%rcx\n"
    "  ret\n"
    "  .cfi_endproc\n");

/* The buffer of the calling thread. Each thread has its own (docs/syscallbuf.md,
 * "Threads"): the process's first thread the one the constructor registers, another
 * one that it registers at its first buffered call. Found through TLS: a thread made
 * by pthread_create has its static TLS block (zeroed .tbss) and fs base before its
 * first instruction (CLONE_SETTLS), and glibc's own syscall wrappers rely on it
 * (errno). A forked child keeps its thread's value, over its copy of the buffer. */
static __thread struct rw_header *tbuf __attribute__((tls_model("initial-exec")));
/* The process's first buffer: its `traced` word is the process's (the recorder
 * writes it there, whichever thread stops). */
static struct rw_header *buf;
static int active;    /* the filter is installed: the untraced instruction is really untraced */
static int use_page;  /* exec'd under an earlier image's filter: the page's instruction is ours */
static uint32_t crc_table[256];

static long sys(long nr, long a0, long a1, long a2, long a3, long a4, long a5) {
  return rw_traced(nr, a0, a1, a2, a3, a4, a5);
}

static void copy(void *dst, const void *src, size_t n) {
  unsigned char *d = dst;
  const unsigned char *s = src;
  while (n >= 8) {
    uint64_t v;
    __builtin_memcpy(&v, s, 8);
    __builtin_memcpy(d, &v, 8);
    d += 8; s += 8; n -= 8;
  }
  while (n--) *d++ = *s++;
}

static uint32_t crc32(const unsigned char *p, size_t n) {
  uint32_t c = 0xffffffffu;
  while (n--) c = crc_table[(c ^ *p++) & 0xff] ^ (c >> 8);
  return ~c;
}

static void put32(unsigned char *p, uint32_t v) { __builtin_memcpy(p, &v, 4); }
static void put64(unsigned char *p, uint64_t v) { __builtin_memcpy(p, &v, 8); }
static uint32_t get32(const unsigned char *p) { uint32_t v; __builtin_memcpy(&v, p, 4); return v; }
static uint64_t get64(const unsigned char *p) { uint64_t v; __builtin_memcpy(&v, p, 8); return v; }

/* Replay: takes the call's recorded result and memory from the feed when the next
 * record is this call. Returns 0 (nothing changed) when it is not, or the feed is
 * empty: the caller then makes the call, and replay stops there and checks it. */
static int serve(struct rw_header *h, long nr, const long *a, long *ret) {
  struct rw_feed *f = (struct rw_feed *)h->feed;
  if (f->consumed >= f->count) return 0;
  const unsigned char *r = (const unsigned char *)f + f->offset;
  if (get32(r + 4) != (uint32_t)nr) return 0;
  for (int i = 0; i < 6; i++)
    if (((uint64_t)a[i] ^ get64(r + FEED_ARGS + 8 * i)) & get64(r + FEED_MASKS + 8 * i)) return 0;
  if (get32(r + FEED_CHECK + 8)) {  /* the bytes a write reads: a[2] bytes at a[1] */
    long len = a[1] && a[2] > 0 ? a[2] : 0;
    if (len != (long)get32(r + FEED_CHECK)) return 0;
    if (len && crc32((const unsigned char *)a[1], (size_t)len) != get32(r + FEED_CHECK + 4)) return 0;
  }
  uint32_t nwrites = get32(r + FEED_CHECK + 12);
  const unsigned char *w = r + FEED_WRITES;
  for (uint32_t i = 0; i < nwrites; i++) {
    uint32_t len = get32(w + 8);
    copy((void *)get64(w), w + 12, len);
    w += 12 + len;
  }
  *ret = (long)get64(r + FEED_RESULT);
  f->offset += get32(r);
  f->consumed++;  /* last: rewind reads it at the next stop */
  return 1;
}

/* Output of a buffered call: where, and at most how much (decided before the
 * call); `fixed` outputs are `max` bytes when the call succeeds, the others as
 * many bytes as the (positive) result. */
struct out { long ptr, max; int fixed; };

/* Which calls are buffered, and what they can write. Returns 0 for calls that go
 * the traced way. The sizes follow src/replay/syscalls.ts. */
static int plan(long nr, const long *a, struct out *o) {
  o->ptr = 0;
  o->max = 0;
  o->fixed = 0;
  switch (nr) {
    case NR_read: case NR_pread64: o->ptr = a[1]; o->max = a[2]; return 1;
    case NR_getdents64: o->ptr = a[1]; o->max = a[2]; return 1;
    case NR_readlink: o->ptr = a[1]; o->max = a[2]; return 1;
    case NR_readlinkat: o->ptr = a[2]; o->max = a[3]; return 1;
    case NR_getcwd: o->ptr = a[0]; o->max = a[1]; return 1;
    case NR_write: case NR_pwrite64:
    case NR_close: case NR_lseek: case NR_getpid: case NR_getppid: case NR_openat:
    case NR_access: case NR_faccessat: case NR_faccessat2: case NR_fadvise64:
      return 1;
    case NR_fstat: case NR_stat: case NR_lstat: o->ptr = a[1]; o->max = 144; o->fixed = 1; return 1;
    case NR_newfstatat: o->ptr = a[2]; o->max = 144; o->fixed = 1; return 1;
    case NR_statx: o->ptr = a[4]; o->max = 256; o->fixed = 1; return 1;
    case NR_clock_gettime: o->ptr = a[1]; o->max = 16; o->fixed = 1; return 1;
    case NR_futex:
      /* wakes never block and write nothing (WAKE_OP writes *uaddr2: traced) */
      return FUTEX_CMD(a[1]) == FUTEX_WAKE || FUTEX_CMD(a[1]) == FUTEX_WAKE_BITSET;
    case NR_fcntl:
      /* F_DUPFD, F_GETFD, F_SETFD, F_GETFL, F_SETFL, F_DUPFD_CLOEXEC: no memory written */
      return (a[1] >= 0 && a[1] <= 4) || a[1] == 1030;
    case NR_ioctl:
      if ((a[1] & 0xffffffffL) == 0x5401) { o->ptr = a[2]; o->max = 36; o->fixed = 1; return 1; }  /* TCGETS */
      if ((a[1] & 0xffffffffL) == 0x5413) { o->ptr = a[2]; o->max = 8; o->fixed = 1; return 1; }   /* TIOCGWINSZ */
      return 0;
  }
  return 0;
}

/* Calls that can change a file's bytes (and so memory that maps the file): the
 * recorder must see them once the program has mapped a data file. */
static int changes_files(long nr, const long *a) {
  return nr == NR_write || nr == NR_pwrite64 || (nr == NR_openat && (a[2] & 01000 /* O_TRUNC */));
}

/* Whether any call with this number can be buffered: decides which sites to patch. */
static int patchable(long nr) {
  long a[6] = {0, 0, 0, 0, 0, 0};
  struct out o;
  return nr == NR_fcntl || nr == NR_ioctl || nr == NR_execve || nr == NR_futex || plan(nr, a, &o);
}

/* Calls that may block until another thread of the process acts: one thread runs at
 * a time while recording, so in a process with threads these are buffered only with
 * the thread's desched event armed (the recorder sees the call block, and it is made
 * again traced: the next thread runs while it is in the kernel), else traced. A read
 * or write may be of a pipe, a socket or a terminal; an openat may open a FIFO. */
static int may_block(long nr) {
  return nr == NR_read || nr == NR_write || nr == NR_openat;
}

#define PERF_EVENT_IOC_ENABLE 0x2400
#define PERF_EVENT_IOC_DISABLE 0x2401

static long untraced(long nr, long a0, long a1, long a2) {
  return use_page ? rw_untraced_page(nr, a0, a1, a2, 0, 0, 0) : rw_untraced(nr, a0, a1, a2, 0, 0, 0);
}

/* A thread's first buffered call: maps its buffer and registers it (two traced
 * calls, made again in replay). The recorder refuses a process that is not a thread
 * of a recorded group (a vfork child runs on its parent's TLS): nothing is kept
 * then, and the call goes traced. */
static __thread int registering __attribute__((tls_model("initial-exec")));
static struct rw_header *thread_buffer(void) {
  if (registering) return 0;
  registering = 1;
  struct rw_header *h = 0;
  long b = sys(NR_mmap, 0, RW_THREAD_BUF_SIZE, 3, 0x22, -1, 0);
  if (b >= 0 || b < -4095) {
    long ok = sys(NR_prctl, RW_MAGIC, b, RW_THREAD_BUF_SIZE, (long)rw_untraced_after, (long)rw_traced_after,
                  RW_CAN_FEED | RW_THREAD_BUFFER);
    if (ok == RW_MAGIC_OK) {
      h = (struct rw_header *)b;
      h->capacity = RW_THREAD_BUF_SIZE - RW_HEADER;
      tbuf = h;
    } else {
      sys(NR_munmap, b, RW_THREAD_BUF_SIZE, 0, 0, 0, 0);
    }
  }
  registering = 0;
  return h;
}

#define SYSCALL_FIXED 84  /* kEvSyscall record without writes (addon/event_format.h) */

long rw_handle(long nr, long *a) {
  struct out o;
  if (nr == NR_execve && active) return rw_execve(a);
  if (!active || !plan(nr, a, &o)) return sys(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
  uint32_t traced = buf->traced;
  if ((traced & TRACED_ALL) || ((traced & TRACED_FILE_WRITES) && changes_files(nr, a)) ||
      ((traced & TRACED_STDIO_WRITES) && (nr == NR_write || nr == NR_pwrite64) && (a[0] == 1 || a[0] == 2)))
    return sys(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
  struct rw_header *h = tbuf;
  if (!h && !(h = thread_buffer())) return sys(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
  if (h->disabled || h->busy) return sys(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
  int desched = (traced & TRACED_MAY_BLOCK) && may_block(nr);
  if (desched && (!h->may_block || h->desched_blocked)) return sys(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
  long need = SYSCALL_FIXED + (o.ptr ? 12 + o.max : 0);
  if (o.max < 0 || o.max > (long)(h->capacity / 4) || h->used + need > h->capacity)
    return sys(nr, a[0], a[1], a[2], a[3], a[4], a[5]);  /* the recorder empties the buffer at this stop */
  h->busy = 1;
  long ret;
  /* Armed while recording only (in replay the fd is 0): a call that blocks is
   * interrupted, and comes back as RW_INTERRUPTED. An fd the program closed or
   * reused fails to arm: the call goes traced. */
  int arm = desched && h->desched_fd > 0;
  if (arm && untraced(NR_ioctl, h->desched_fd, PERF_EVENT_IOC_ENABLE, 0) != 0) {
    h->busy = 0;
    return sys(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
  }
  if (!h->feed || !serve(h, nr, a, &ret))
    ret = use_page ? rw_untraced_page(nr, a[0], a[1], a[2], a[3], a[4], a[5])
                   : rw_untraced(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
  if (arm) untraced(NR_ioctl, h->desched_fd, PERF_EVENT_IOC_DISABLE, 0);
  if (ret == RW_INTERRUPTED) {
    /* A signal arrived while the call blocked: the recorder recorded it as this
     * result and holds the signal back; the traced call gets it. */
    h->busy = 0;
    return sys(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
  }
  unsigned char *r = (unsigned char *)h + RW_HEADER + h->used;
  unsigned char *at = r + SYSCALL_FIXED;
  uint32_t nwrites = 0, checkLen = 0, checkCrc = 0;
  if (o.ptr && ret >= 0) {
    long len = o.fixed ? o.max : ret;
    if (len > o.max) len = o.max;
    if (len > 0) {
      put64(at, (uint64_t)o.ptr);
      put32(at + 8, (uint32_t)len);
      copy(at + 12, (const void *)o.ptr, (size_t)len);
      at += 12 + len;
      nwrites = 1;
    }
  }
  if ((nr == NR_write || nr == NR_pwrite64) && ret != -14 /* EFAULT */ && a[1] && a[2] > 0) {
    checkLen = (uint32_t)a[2];
    checkCrc = crc32((const unsigned char *)a[1], (size_t)a[2]);
  }
  put32(r, (uint32_t)(at - r));
  r[4] = 1;  /* kEvSyscall */
  r[5] = 0;
  r[6] = r[7] = 0;
  put32(r + 8, 0);  /* tid: filled in by the recorder */
  put32(r + 12, (uint32_t)nr);
  put32(r + 16, nwrites);
  for (int i = 0; i < 6; i++) put64(r + 20 + 8 * i, (uint64_t)a[i]);
  put64(r + 68, (uint64_t)ret);
  put32(r + 76, checkLen);
  put32(r + 80, checkCrc);
  h->used += (uint64_t)(at - r);
  h->busy = 0;
  return ret;
}

/* ---- patching glibc ------------------------------------------------------------ */

static char maps[1 << 16];

static long hex(const char **p) {
  long v = 0;
  for (;;) {
    char c = **p;
    if (c >= '0' && c <= '9') v = v * 16 + (c - '0');
    else if (c >= 'a' && c <= 'f') v = v * 16 + (c - 'a' + 10);
    else return v;
    (*p)++;
  }
}

/* The executable mapping of libc.so.6, from /proc/self/maps. */
static int find_libc(long *start, long *end) {
  long fd = sys(NR_openat, -100, (long)"/proc/self/maps", 0 /* O_RDONLY */, 0, 0, 0);
  if (fd < 0) return 0;
  long n = 0;
  for (;;) {
    long m = sys(NR_read, fd, (long)maps + n, (long)sizeof maps - 1 - n, 0, 0, 0);
    if (m <= 0) break;
    n += m;
    if (n >= (long)sizeof maps - 1) break;
  }
  sys(NR_close, fd, 0, 0, 0, 0, 0);
  maps[n < 0 ? 0 : n] = 0;
  const char *line = maps;
  while (*line) {
    const char *eol = line;
    while (*eol && *eol != '\n') eol++;
    const char *p = line;
    long s = hex(&p);
    if (*p == '-') p++;
    long e = hex(&p);
    if (*p == ' ') p++;
    int exec = p[0] == 'r' && p[2] == 'x';
    static const char want[] = "/libc.so.6";
    long wl = sizeof want - 1;
    if (exec && eol - line > wl) {
      int same = 1;
      for (long i = 0; i < wl; i++) same &= eol[-wl + i] == want[i];
      if (same) {
        *start = s;
        *end = e;
        return 1;
      }
    }
    line = *eol ? eol + 1 : eol;
  }
  return 0;
}

#define STUB 32
#define TRAMP_SIZE 8192

static const unsigned char stack_down[] = {0x48, 0x8d, 0x64, 0x24, 0x80};  /* lea -0x80(%rsp),%rsp */
static const unsigned char stack_up[] = {0x48, 0x8d, 0xa4, 0x24, 0x80, 0x00, 0x00, 0x00};  /* lea 0x80(%rsp),%rsp */

/* glibc's lock wake (__lll_lock_wake, __lll_lock_wake_private) is a leaf function
 * that ends `mov $SYS_futex,%eax; syscall; ret`, without the error check the other
 * sites have: a mutex unlock that finds waiters makes it. The 8 bytes become a jump
 * to stub `s` (then a 3-byte nop), which sets eax, calls the entry (slot at `t`) and
 * returns for the function. Only futex: that function is the one whose body is known
 * to have no jump into these bytes. */
static int patch_wake(unsigned char *p, unsigned char *t, unsigned char *s) {
  if (p[2] != 0xc3 || p[-5] != 0xb8 || p[-4] != NR_futex || p[-3] || p[-2] || p[-1]) return 0;
  unsigned char *q = s;
  copy(q, p - 5, 5); q += 5;  /* mov $SYS_futex,%eax */
  copy(q, stack_down, 5); q += 5;
  q[0] = 0xff; q[1] = 0x15;  /* call *slot(%rip) */
  put32(q + 2, (uint32_t)(int32_t)((long)t - (long)(q + 6)));
  q += 6;
  copy(q, stack_up, 8); q += 8;
  q[0] = 0xc3;  /* ret */
  unsigned char site[8] = {0xe9, 0, 0, 0, 0, 0x0f, 0x1f, 0x00};
  put32(site + 1, (uint32_t)(int32_t)((long)s - (long)p));
  copy(p - 5, site, 8);
  return 1;
}

/* The first `syscall` instruction's bytes (0f 05) at or after p where p + 8 <= end,
 * else end. Eight candidates are compared at a time: byte by byte, the scan of libc's
 * 1.4 MB of text took ~1.2 ms of every process's start (a make starts 26), most of it
 * mispredicted branches on the many 0f bytes (every two-byte opcode). A byte of a
 * word is zero exactly when the high bit of ~(((x & 0x7f..) + 0x7f..) | x) is set. */
static unsigned char *next_syscall(unsigned char *p, unsigned char *end) {
  const uint64_t low7 = 0x7f7f7f7f7f7f7f7full, high = 0x8080808080808080ull;
  for (; p + 16 <= end; p += 8) {  /* candidates p..p+7, each with its 8 bytes */
    uint64_t w, next;
    __builtin_memcpy(&w, p, 8);
    __builtin_memcpy(&next, p + 1, 8);
    uint64_t x = w ^ 0x0f0f0f0f0f0f0f0full, y = next ^ 0x0505050505050505ull;
    uint64_t hit = ~(((x & low7) + low7) | x) & ~(((y & low7) + low7) | y) & high;
    if (hit) return p + (__builtin_ctzll(hit) >> 3);
  }
  for (; p + 8 <= end; p++)
    if (p[0] == 0x0f && p[1] == 0x05) return p;
  return end;
}

static void patch_libc(void) {
  long start, end;
  if (!find_libc(&start, &end)) return;
  /* Stubs within reach of rel32 jumps: just below (or above) libc's text. */
  long tramp = -1;
  for (long i = 1; i <= 256 && tramp < 0; i++) {
    long want = i <= 128 ? start - i * 0x100000L : end + (i - 128) * 0x100000L;
    long r = sys(NR_mmap, want, TRAMP_SIZE, 3, 0x22 | 0x100000 /* MAP_FIXED_NOREPLACE */, -1, 0);
    if (r == want) tramp = r;
    else if (r >= 0 || r < -4095) sys(NR_munmap, r, TRAMP_SIZE, 0, 0, 0, 0);
  }
  if (tramp < 0) return;
  unsigned char *t = (unsigned char *)tramp;
  put64(t, (uint64_t)(long)rw_entry);
  long nstubs = 0, maxStubs = (TRAMP_SIZE - 16) / STUB;
  if (sys(NR_mprotect, start, end - start, 7, 0, 0, 0) != 0) return;
  unsigned char *text_end = (unsigned char *)end;
  for (unsigned char *p = (unsigned char *)start + 8; nstubs < maxStubs; p++) {
    /* syscall, then cmp $-4096/-4095,%rax (48 3d imm32) or cmp $-4096,%eax (3d imm32) */
    p = next_syscall(p, text_end);
    if (p == text_end) break;
    long cmp = p[2] == 0x48 && p[3] == 0x3d ? 6 : p[2] == 0x3d ? 5 : 0;
    if (!cmp && nstubs < maxStubs && patch_wake(p, t, t + 16 + nstubs * STUB)) {
      nstubs++;
      continue;
    }
    if (!cmp) continue;
    unsigned char *imm = p + 2 + cmp - 4;
    if (!((imm[0] == 0x00 || imm[0] == 0x01) && imm[1] == 0xf0 && imm[2] == 0xff && imm[3] == 0xff)) continue;
    long len = 2 + cmp;  /* bytes replaced at the site */
    long nr = -1;
    if (p[-5] == 0xb8 && !(p[-6] >= 0x40 && p[-6] <= 0x4f)) {  /* mov $imm32,%eax */
      uint32_t v;
      __builtin_memcpy(&v, p - 4, 4);
      nr = v;
    } else if (p[-2] == 0x31 && p[-1] == 0xc0) {  /* xor %eax,%eax */
      nr = 0;
    }
    if (nr < 0 || !patchable(nr)) continue;
    /* (the layout below is read by rw_entry's unwind info: RW_CFI_STUB_CALLER) */
    unsigned char *s = t + 16 + nstubs * STUB;
    nstubs++;
    unsigned char *q = s;
    copy(q, stack_down, 5); q += 5;
    q[0] = 0xff; q[1] = 0x15;  /* call *slot(%rip) */
    put32(q + 2, (uint32_t)(int32_t)((long)t - (long)(q + 6)));
    q += 6;
    copy(q, stack_up, 8); q += 8;
    copy(q, p + 2, (size_t)cmp); q += cmp;  /* the cmp the jump replaces */
    q[0] = 0xe9;  /* jmp back after the patched bytes */
    put32(q + 1, (uint32_t)(int32_t)((long)(p + len) - (long)(q + 5)));
    /* the site: jmp to the stub, then a 3- or 2-byte nop */
    unsigned char site[8] = {0xe9, 0, 0, 0, 0, 0x0f, 0x1f, 0x00};
    if (len == 7) { site[5] = 0x66; site[6] = 0x90; }
    put32(site + 1, (uint32_t)(int32_t)((long)s - (long)(p + 5)));
    copy(p, site, (size_t)len);
    p += len - 1;
  }
  sys(NR_mprotect, start, end - start, 5, 0, 0, 0);
  sys(NR_mprotect, tramp, TRAMP_SIZE, 5, 0, 0, 0);
}

/* ---- start-up ------------------------------------------------------------------- */

struct sock_filter { uint16_t code; uint8_t jt, jf; uint32_t k; };
struct sock_fprog { unsigned short len; struct sock_filter *filter; };

/* Maps the page of the untraced syscall instruction (RW_UNTRACED_PAGE). */
static int map_untraced_page(void) {
  long p = sys(NR_mmap, RW_UNTRACED_PAGE, 4096, 3, 0x22 | 0x100000 /* MAP_FIXED_NOREPLACE */, -1, 0);
  if (p != RW_UNTRACED_PAGE) {
    if (p >= 0 || p < -4095) sys(NR_munmap, p, 4096, 0, 0, 0, 0);
    return 0;
  }
  static const unsigned char code[] = {0x0f, 0x05, 0xc3};  /* syscall; ret */
  copy((void *)p, code, sizeof code);
  return sys(NR_mprotect, p, 4096, 5, 0, 0, 0) == 0;
}

__attribute__((constructor)) static void rw_init(int argc, char **argv, char **envp) {
  (void)argc;
  (void)argv;
  rw_strip_env(envp);
  long b = sys(NR_mmap, 0, RW_BUF_SIZE, 3, 0x22, -1, 0);
  if (b < 0 && b > -4096) return;
  /* (after an exec the recorder takes the page's instruction as the untraced one) */
  long ok = sys(NR_prctl, RW_MAGIC, b, RW_BUF_SIZE, (long)rw_untraced_after, (long)rw_traced_after, RW_CAN_FEED);
  if (ok != RW_MAGIC_OK && ok != RW_MAGIC_FILTERED) {  /* not recorded by rewind */
    sys(NR_munmap, b, RW_BUF_SIZE, 0, 0, 0, 0);
    return;
  }
  buf = tbuf = (struct rw_header *)b;
  buf->capacity = RW_BUF_SIZE - RW_HEADER;
  for (uint32_t i = 0; i < 256; i++) {
    uint32_t c = i;
    for (int k = 0; k < 8; k++) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    crc_table[i] = c;
  }
  if (ok == RW_MAGIC_FILTERED) {
    /* exec'd by a recorded process: its filter lets the page's instruction through;
     * without the page no call can go untraced, and the buffer stays empty */
    if (!map_untraced_page()) return;
    use_page = 1;
    rw_untraced_ip = RW_UNTRACED_PAGE_AFTER;
    patch_libc();
    active = 1;
    return;
  }
  rw_untraced_ip = (long)rw_untraced_after;
  patch_libc();
  /* Let through this image's untraced instruction, and the page's, for the
   * programs this process and its children exec. */
  uint64_t ip = (uint64_t)(long)rw_untraced_after, page = (uint64_t)RW_UNTRACED_PAGE_AFTER;
  struct sock_filter f[11] = {
      {0x20, 0, 0, 4},                      /* 0: ld arch */
      {0x15, 0, 8, 0xc000003e},             /* 1: x86-64? else 10 */
      {0x20, 0, 0, 8},                      /* 2: ld instruction_pointer (low) */
      {0x15, 0, 2, (uint32_t)ip},           /* 3: ours? else 6 */
      {0x20, 0, 0, 12},                     /* 4: ld (high) */
      {0x15, 3, 4, (uint32_t)(ip >> 32)},   /* 5: ours: 9, else 10 */
      {0x15, 0, 3, (uint32_t)page},         /* 6: the page's? else 10 */
      {0x20, 0, 0, 12},                     /* 7: ld (high) */
      {0x15, 0, 1, (uint32_t)(page >> 32)}, /* 8: the page's: 9, else 10 */
      {0x06, 0, 0, 0x7fff0000},             /* 9: SECCOMP_RET_ALLOW */
      {0x06, 0, 0, 0x7ff00000},             /* 10: SECCOMP_RET_TRACE */
  };
  struct sock_fprog prog = {11, f};
  long r = sys(NR_seccomp, 1 /* SECCOMP_SET_MODE_FILTER */, 0, (long)&prog, 0, 0, 0);
  if (r == -13 /* EACCES: needs no_new_privs without CAP_SYS_ADMIN */) {
    sys(NR_prctl, 38 /* PR_SET_NO_NEW_PRIVS */, 1, 0, 0, 0, 0);
    r = sys(NR_seccomp, 1, 0, (long)&prog, 0, 0, 0);
  }
  if (r == 0) active = 1;
}
