// The debugger of one replayed process: the replay loop (replay_loop.cc) with the
// program's own code run under a debugger's control. Between two recorded events it
// resumes the tracee with PTRACE_SYSCALL or PTRACE_SINGLESTEP, counts arrivals at
// the addresses it traps (the positions of docs/timeline.md), stops at gdb's
// breakpoints and watchpoints (or, in a search, records them and goes on), stops at
// a target position, and leaves copies of the process at chosen run times (slices).
//
// Its state lives on the tracer thread; every member function runs there. The
// member functions are defined in files by concern:
//   debugger_positions.cc  arrival counting, positions, targets, the stop report
//   debugger_traps.cc      breakpoints, debug-register slots, trap stops, stepping
//   debugger_slices.cc     resuming and waiting: slices and interrupts
//   debugger_hook.cc       a run: the DebugHook callbacks the replay loop calls
//   debugger_feed.cc       runs over buffered calls the library serves in-process
//
// JS owns each Debugger (debug_exports.cc wraps it in a JS object, one per process
// that stands for the replay, disposed when the process is killed): the object
// holds it by a shared_ptr, and so does every job it submits, so the state lives
// until the last job that uses it has run. Its destructor only frees memory.
// Only interrupt() runs on the JS thread.
#pragma once
#include <sys/types.h>
#include <sys/user.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <unordered_map>
#include <vector>

#include "debug_regs.h"
#include "event_format.h"
#include "loop_result.h"
#include "ptrace_ops.h"
#include "replay_loop.h"
#include "replay_points.h"
#include "syscall_abi.h"
#include "tracee.h"

namespace rw {

// A run's modes: run freely, single-step, or step while start <= pc < end.
enum RunMode { kCont = 0, kStep = 1, kRange = 2 };
// What a run stops at: arrival targetN at targetPc, data trigger targetN, or the
// first arrival at targetPc whose fingerprint is targetFp (all in interval targetEvent).
enum TargetKind { kNoTarget = -1, kTargetArrival = 0, kTargetWatch = 1, kTargetFingerprint = 2 };

constexpr uint64_t kNone = ~0ull;

// One run as JS asked for it (src/native/addon.ts DebugRunOptions), parsed on
// the JS thread and applied on the tracer thread.
struct RunRequest {
  int mode = kCont;
  uint64_t start = 0, end = 0;  // kRange: step while start <= pc < end
  bool fresh = false;           // the first run of a resume (not a continuation after JS handled an event)
  uint32_t event = 0;           // the index of the next event: the interval the counts belong to
  uint64_t steps = 1;           // kStep: single-steps to do
  uint32_t thread = 0;          // step modes: the recorded tid of the thread that steps (0: whichever runs)
  bool search = false;          // record traps instead of stopping
  bool startCandidate = false;  // the start state is a boundary whose breakpoint counts as a hit
  bool noFeed = false;          // every buffered call stops (debugger_feed.cc)
  uint64_t stopSignals = 0;     // bit n: stop before delivering recorded signal n
  std::vector<uint64_t> silent;  // breakpoints for this run that only count arrivals
  int targetKind = kNoTarget;
  uint32_t targetEvent = 0;
  uint32_t targetThread = 0;  // the recorded tid whose record targetEvent is (0: unknown)
  uint64_t targetPc = 0, targetN = 0;
  std::vector<uint8_t> targetFp;
  std::vector<uint64_t> sliceAt;  // run times (ns since the run began) to leave copies at
  bool spreadSlices = false;      // a periodic schedule: spaced out when copies cost much (debugger_slice_budget.cc)
  uint64_t forkAt = 0;            // a `syscall` instruction to inject the copies' clone at (0: keep the last)
  std::map<uint64_t, uint64_t> counterTraps;  // in-process hit counters: the stub's int3 -> the counted pc
  uint64_t counterSeq = 0;                    // their shared hit sequence, which search traps take a number of too
  // The next event is an asynchronous signal's point: the run finds it itself
  // (debugger_point.cc). `pointPatch` is the jump to the filter, written over pc.
  std::shared_ptr<const PointSearch> point;
  std::vector<uint8_t> pointPatch;
  uint64_t pointArrivals = 0;  // the filter's u64 count of arrivals at pc
};

// A search's record of the last trap it passed (reported as lastEvent, lastPc, ...).
struct LastTrap {
  bool have = false;
  uint32_t event = 0;
  const char* reason = "";
  uint64_t pc = 0, n = 0, watchN = 0;
  bool exact = false;
  int slot = -1;
  uint64_t seq = 0;    // traps recorded in this run, this one included
  uint64_t order = 0;  // its number in the counting stubs' hit sequence (0: no stubs)
  uint64_t steps = 0;  // single-steps done in this run when it was recorded (step modes)
};

// The one part of a Debugger the JS thread touches: interrupt() is synchronous (a
// run is busy on the tracer thread), so the request and the tracer's "waiting for
// the tracee" are atomics. Either the run sees the request before it resumes the
// tracee, or interrupt() sees it running and stops it with SIGSTOP.
struct InterruptLine {
  std::atomic<bool> asked{false};    // set by interrupt(), taken by the run
  std::atomic<bool> running{false};  // the tracer thread is waiting for the tracee
  bool take() { return asked.exchange(false); }
};

// The copies a run left at slice times (continue mode): what JS is told of each,
// and the copy itself, handed to JS as a Tracee with the run's result.
struct SliceCopies {
  std::vector<StopInfo> infos;
  std::vector<TraceePtr> copies;
  std::vector<std::vector<TraceePtr>> threads;  // a threaded process's: each copy's every thread, its first first (else empty)
  std::vector<uint64_t> bytes;  // each copy's resident size when taken
  uint64_t heldBytes() const;   // theirs in all
  // Keeps the newest copy and every other one before it, killing the rest; the
  // run's later slices come half as often (debugger_slice_budget.cc).
  void thin(std::vector<uint64_t>& sliceAt);
};
// What the copies of one run may hold, by their resident sizes (which count the
// pages they share, so the true cost is less). The store of checkpoints keeps 8 GiB
// of them by the same measure (src/debug/checkpoint-store.ts); a run's copies wait
// for the run's end to go there, and a long continue over a program rewriting a big
// heap held a copy of it every 25 ms until then.
constexpr uint64_t kRunCopiesBytes = 4ull << 30;
// A process's resident size in pages (/proc/pid/statm), 0 when it cannot be read.
uint64_t residentPages(pid_t pid);
constexpr uint64_t kPageBytes = 4096;

// A stop of the program's code (swbreak, step, target, ...): thrown out of the
// replay loop, which reports it with the event in progress not consumed.
DebugStop stopWith(const char* reason);
// The two bytes at pc are a `syscall` instruction.
bool isSyscallInsn(pid_t pid, uint64_t pc);

class Debugger : public DebugHook {
 public:
  explicit Debugger(TraceePtr t) : pid(t->pid), tracee(std::move(t)), cur(tracee) { runningPid.store(pid); }

  // ---- what the JS exports call (on the tracer thread)
  // A run: replays up to maxEvents events from offset with the program's code
  // under control, and describes the stop in the result.
  LoopResult run(const RunRequest& req, const std::vector<Row>& table, const std::vector<uint8_t>& events,
                 size_t offset, uint32_t maxEvents);
  // Where the process stands, for its counts: at the boundary of `event`, or at
  // the n-th arrival at pc in that interval (n = 0: unknown).
  void setPosition(uint32_t event, bool boundary, uint64_t pc, uint64_t n);
  // Between runs: recorded thread `tid` is the one that runs now (a restored copy of a
  // threaded process, whose interval may be another thread's than the first's).
  void standIn(uint32_t tid);
  // Writes int3 at addr; returns the byte it covers.
  uint8_t insertBreakpoint(uint64_t addr);
  void removeBreakpoint(uint64_t addr);
  void setSlots(const Slots& s);
  // debugger_outside_runs.cc: a thread of the process resumed by JS itself (gdb's code
  // in a diversion) gets the slots first; which slots its trap stop hit (DR6, cleared)
  void armThread(pid_t p);
  uint32_t takeHitSlots(pid_t p);
  // A stopped copy of the process without this debugger's breakpoints (forkCopy).
  TraceePtr forkCopyAt(uint64_t insn);
  // The same of a replayed process of several threads, every thread with its replay
  // (forkReplayedProcess, replay_thread_copy.h), the debugged thread's copy first.
  std::vector<TraceePtr> forkReplayedAt(uint64_t insn);
  // On the JS thread: stops a run in progress (it reports "interrupted"), or the
  // next one to start before a fresh resume. True when the tracee was running.
  bool interrupt();

  // ---- DebugHook (debugger_hook.cc), called by the replay loop during run()
  Stop runUserCode(pid_t pid, int& sig) override;
  bool afterEvent(pid_t pid, const RecordView& done, const RecordView* next, StopInfo& info) override;
  bool afterOtherEvent(pid_t pid, StopInfo& info) override;
  // the start of the interval after an event; true when the run's target is that state
  bool startInterval(StopInfo& info);
  // debugger_point.cc: the next event is the point armed for this run: run to it
  void runToPoint(pid_t pid, int& sig) override;
  bool armedFor(uint8_t kind) const override;
  // DebugHook: buffered calls served in-process (debugger_feed.cc)
  uint32_t feedRoom(const BufferFeed& feed, uint32_t room) override;
  void feedBegin(uint64_t consumedAt, uint64_t consumed) override;
  void feedEnd(uint64_t consumed) override;
  // debugger_threads.cc: the run goes on in thread t
  bool enterThread(Tracee& t, StopInfo& info) override;

 private:
  // What a trap stop means to the loop (debugger_traps.cc): keep going, hand the stop
  // to the replay, a completed single step, a single step already counted.
  enum Verdict { kAgain, kReturn, kStepped, kLandedCounted };

  // Threads (debugger_threads.cc): every thread of the process has its Tracee; a run
  // goes through them in the recorded order, and `pid` is the one whose code runs
  // (or last ran) now. Breakpoints are the process's memory; debug registers are
  // each thread's, written into each the first time a run enters it after a change.
  pid_t pid;                // the current thread's
  const TraceePtr tracee;   // the process (its first thread): replay session, memory file, CPUID state
  TraceePtr cur;            // the current thread (tracee, or one of its ReplayThreads)
  std::atomic<pid_t> runningPid{0};  // pid, for interrupt() on the JS thread
  uint64_t slotsGen = 0;             // bumped by setSlots
  std::map<pid_t, uint64_t> slotsIn;  // thread -> the slotsGen its debug registers hold
  int reqMode = kCont;               // the run's mode; `mode` is this thread's (kCont for a thread that does not step)
  uint32_t stepThread = 0;           // the recorded tid that steps (0: whichever)
  // The process has made a thread: no fork copies of it (fork copies the calling
  // thread only); its copies, checkpoints and slices, are forkReplayed's.
  bool madeThreads = false;
  std::shared_ptr<ReplayThreads> threadGroup;  // its threads, once it has made one (kept when the first one ends)
  InterruptLine interrupts;

  // ---- Traps: what is installed in the process
  std::map<uint64_t, uint8_t> sw;  // every int3 we inserted: address -> original byte
  std::set<uint64_t> silent;       // int3s of this run that only count arrivals (never reported)
  std::vector<uint64_t> runSilent;      // the silent int3s this run inserted (taken out at its end)
  std::vector<uint64_t> deferredSilent; // the target's pc, trapped from the target's interval on
  Slots slots;                     // the debug registers as written

  // ---- The resume JS asked for (set by run())
  int mode = kCont;
  uint64_t start = 0, end = 0;  // kRange's range
  bool fresh = false;           // the next runUserCode is the first of a resume asked for by JS
  bool stepDone = false;        // step modes: the current event completed an instruction
  uint64_t steps = 0;           // single steps done in this run
  uint64_t stepsLeft = 1;       // kStep: single steps still to do
  bool search = false;          // traps are recorded in `last` instead of stopping the run
  uint64_t stopSignals = 0;     // bit n: stop before delivering recorded signal n (gdb's "stop")

  // ---- Positions (docs/timeline.md): arrivals at pcs since the start of the
  // interval `event` (the index of the next event). The boundary state counts as
  // arrival 1 at its pc. A count is exact while every arrival at that pc was seen:
  // always in step modes, and in continue mode only at addresses with a breakpoint.
  uint32_t event = 0;
  std::unordered_map<uint64_t, uint64_t> counts;
  bool allExact = true;
  std::set<uint64_t> exact;
  uint64_t watchHits = 0;        // data watchpoint triggers in this interval
  uint64_t skipAt = kNone;       // execute the instruction here without trapping on it (already counted)
  bool boundaryPending = false;  // at a boundary state: a breakpoint here is a hit
  // An interval began outside the loop (an event JS applied: a mapping, an
  // asynchronous signal's point): a target at its first state ends the run there.
  bool startTargetPending = false;

  // ---- The target of this run (see TargetKind)
  int targetKind = kNoTarget;
  uint32_t targetEvent = 0;
  uint32_t targetThread = 0;  // the recorded tid whose record targetEvent is (0: unknown)
  uint64_t targetPc = 0, targetN = 0;
  std::vector<uint8_t> targetFp;

  // ---- The search's record
  LastTrap last;
  uint64_t hitSeq = 0;  // traps recorded since the resume began

  // ---- Slices (continue mode): at these run times (ns since the resume began) the
  // run leaves a copy of the process, with the counts there, in `slicesTaken`.
  std::vector<uint64_t> sliceAt;
  bool spreadSlices = false;  // this run's schedule may be spaced out (debugger_slice_budget.cc)
  uint64_t ranNs = 0, resumedAt = 0;  // run time so far, and the run clock at the last resume (run_clock.h)
  bool sliceArmed = false;            // the slice timer is armed for this tracee
  pid_t slicePid = 0;                 // the thread it was armed for (its SIGSTOP goes there)
  int staleStops = 0;                 // slice SIGSTOPs sent but not seen yet
  uint64_t forkAt = 0;                // where the copies' clone is injected
  SliceCopies* slicesTaken = nullptr;  // the current run's copies, while it runs
  user_regs_struct lastSliceRegs{};   // the state of the last copy: never two copies of one state
  bool haveSliceRegs = false;
  // the registers the main resume started from, while a copy may be due: a stop
  // with the same ones ran no instruction (a rep-string instruction part way keeps
  // its rip but not its rcx, rsi, rdi)
  user_regs_struct resumeRegs{};
  bool resumeRegsKept = false;
  bool resumeDelivered = false;  // that resume delivered a signal (the stop may be at its handler's entry)

  // ---- In-process hit counters (debugger_counters.cc, src/debug/hit-counters.ts):
  // the int3 of each counting stub -> the pc whose arrivals it counts. Only the
  // target's stub traps; the run forks no copies while stubs are in the code.
  std::map<uint64_t, uint64_t> counterTraps;
  uint64_t counterSeq = 0;  // the stubs' shared hit sequence: a trap recorded in a search takes a number too

  // ---- An asynchronous signal's point armed for this run (debugger_point.cc): the
  // run stops with reason "point" at the first arrival with its state.
  std::shared_ptr<const PointSearch> point;
  std::vector<uint8_t> pointPatch;
  uint32_t pointEvent = 0;
  bool pointPatched = false;          // the filter's jump is over pc
  uint64_t pointArrivals = 0;         // where the filter counts arrivals at pc
  uint64_t pointArrivedBefore = 0;    // its count when the jump went in
  std::unique_ptr<CandidateJudge> pointJudge;
  // ---- Buffered calls served in-process during a resume (debugger_feed.cc): the
  // library passes events without a stop, so the interval is read from its count of
  // records taken at each trap. States inside its text exist only in a fed replay:
  // no stop, slice or interrupt is taken there while a fill runs.
  uint64_t fedCounter = 0;             // where the library counts the records it took (0: no fill running)
  uint64_t fedSeen = 0;                // that count, as far as `event` has followed it
  uint64_t libStart = 0, libEnd = 0;   // the library's text
  bool feedAllowed = true;             // this run may use the feed
  bool deferredInterrupt = false;      // the user's interrupt came inside it: taken once out
  // How long a slice or an interrupt that came inside the library's code is put off:
  // its work per call is a few microseconds (a copy, a crc32 of the bytes a write reads).
  static constexpr uint64_t kFedSlicePutOffNs = 50000;
  // A slice put off again and again (the program in the library's code, or not
  // one instruction run since the resume) waits twice as long each time, up to this.
  static constexpr uint64_t kFedSlicePutOffMaxNs = 20000000;
  uint64_t fedSlicePutOff = kFedSlicePutOffNs;  // the next put-off of a slice

  // ---- The registers at the current stop, read once
  user_regs_struct regsCache{};
  bool regsValid = false;

  // debugger_positions.cc
  bool trapAt(uint64_t pc) const { return sw.count(pc) || hwExecAt(slots, pc); }
  bool reportingAt(uint64_t pc) const { return (sw.count(pc) && !silent.count(pc)) || hwExecAt(slots, pc); }
  bool isExact(uint64_t pc) const { return allExact || exact.count(pc); }
  user_regs_struct regs();
  void resetBoundary();
  void enterContinue();
  [[noreturn]] void targetReached(uint64_t pc);
  bool fpMatches();
  void arrive(uint64_t pc);
  void record(const char* reason, uint64_t pc, int slot);
  void describe(StopInfo& info);

  // debugger_traps.cc
  Verdict classify(const Stop& st, bool stepping);
  bool landed();
  bool continueAfterStep(uint64_t pc);
  Stop stepOver(uint64_t pc, int& sig, bool& overSyscall);
  // stepOver ran a rep-string instruction out to the next one (continue mode): its stop is not a step's
  bool ranOverRep = false;

  // debugger_feed.cc
  bool inFedCode(uint64_t pc) const { return fedCounter && pc >= libStart && pc < libEnd; }
  void syncFeed();
  void passIntervals(uint64_t consumed);
  void deferStop();

  // debugger_counters.cc
  bool counterTrap(uint64_t int3At);
  uint64_t takeCounterSeq();

  // debugger_slices.cc
  void takeSlice();
  bool noneRanSinceResume();
  // debugger_slice_budget.cc: the run's next slices spaced so that copies cost
  // at most about an eighth of its time
  void spaceSlices(uint64_t residentPages);
  uint64_t faultsAtSlice = 0;  // the process's minor faults at the run's last slice (0: none yet)
  // debugger_rep_string.cc: a slice due inside a rep-string instruction
  enum class RepExit { kAtNext, kNotRun, kOther };
  // the address after the rep-string instruction the thread stands in, else 0
  uint64_t repStringEnd();
  // runs the thread to `next` (an int3 there, taken out at the stop); kOther: it
  // stopped elsewhere first, that stop in `other`; kNotRun: a trap of its own at next
  RepExit runOutOfRepString(uint64_t next, int request, Stop& other);
  bool backFromPlantedTrap(const Stop& st, uint64_t next);
  Stop runProgram(pid_t pid, int& sig);
  Stop withoutSliceStop(const Stop& st);
  Stop waitFor(int request, bool sliceHere);
  void resumeWatched(int request, int* sig, bool sliceHere);
  void drainStops();

  // debugger_point.cc
  void armPoint(const RunRequest& req);
  bool pointHere(uint64_t pc) const { return pointJudge && event == pointEvent && pc == point->pc; }
  bool filterTrap(user_regs_struct r);
  void judgeArrival(const char* then);
  void setPatch(bool on);
  void leaveFilter();

  // debugger_threads.cc
  TraceePtr firstThreadOf(const std::vector<uint8_t>& events, size_t offset) const;
  void hookThreads(DebugHook* hook) const;
  void afterThreads();
  void writeSlotsHere();
  void useThread(Tracee& t);
  std::vector<TraceePtr> copyThreadsMidRun();

  // debugger_hook.cc
  void beginRun(const RunRequest& req, SliceCopies& slicesTaken);
  std::vector<uint64_t> insertSilent(const std::vector<uint64_t>& addrs);
  void abandonRun(SliceCopies& taken);
  void insertDeferredSilent();
};

}  // namespace rw
