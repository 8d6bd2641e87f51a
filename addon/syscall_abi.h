// Numeric codes shared with src/syscalls/abi.ts (the declarative table is
// written in TypeScript and handed over as TABLE_ROWS x ROW_INTS int32s).
#pragma once
#include <cstdint>

namespace rw {

constexpr int kTableRows = 512;
constexpr int kRowInts = 16;
constexpr int kMaxOuts = 4;

enum Action : int32_t {
  kUnknown = 0, kEmulate = 1, kExecute = 2, kMmap = 3, kBrk = 4, kMremap = 5,
  kGeneric = 6, kFork = 7, kExec = 8, kUnsupported = 9, kRefuse = 10,
  kWaitSignal = 11, kArchPrctl = 12, kExit = 13, kExecuteKeepResult = 14,
};

enum Check : int32_t { kCheckNone = 0, kCheckBuffer = 1, kCheckIovec = 2, kCheckMsghdr = 3 };

enum SizeKind : int32_t {
  kSizeNone = 0, kSizeFixed = 1, kSizeArg = 2, kSizeRet = 3, kSizeRetTimes = 4,
  kSizeDerefU32 = 5, kSizeIovecRet = 6, kSizeMsghdr = 7, kSizeFdSet = 8,
  kSizeArgTimes = 9, kSizeIoctl = 10, kSizeFixedIfOk = 11, kSizeFutexWord = 12,
};

enum RowFlag : int32_t { kFlagEcho = 1 };

// The flags slot's argument-bits field (src/syscalls/abi.ts): 2 bits per
// argument register from kArgBitsShift on, 0 unread, 1 low 16 bits, 2 low 32, 3 all.
constexpr int kArgBitsShift = 8;

struct Row {
  int32_t action, check, flags, nOuts;
  struct { int32_t arg, size, param; } outs[kMaxOuts];
};
static_assert(sizeof(Row) == kRowInts * 4, "row layout");

// The bits of argument register i (rdi, rsi, rdx, r10, r8, r9) the kernel reads for
// this call. A row the table does not know is compared in full.
inline uint64_t argMask(const Row& row, int i) {
  if (row.action == kUnknown) return ~0ull;
  switch ((uint32_t(row.flags) >> (kArgBitsShift + 2 * i)) & 3) {
    case 0: return 0;
    case 1: return 0xffffull;
    case 2: return 0xffffffffull;
    default: return ~0ull;
  }
}

}  // namespace rw
