#include "tracer_thread.h"

#include <cpuid.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <x86intrin.h>

#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <vector>
#include <mutex>
#include <thread>

namespace rw {
namespace {

struct Pending {
  Napi::Promise::Deferred deferred;
  std::string usage;
  Outcome outcome;
};

struct Queue {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::function<void()>> jobs;
};

Queue* queue = nullptr;
std::map<pid_t, std::vector<int>> stashed;  // only the tracer thread touches it
Napi::ThreadSafeFunction tsfn;
int pendingCount = 0;
int cpu = -1;

void pinSelf() {
  if (cpu < 0) return;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  sched_setaffinity(0, sizeof set, &set);
}

constexpr int kArchSetCpuid = 0x1012;
thread_local bool cpuidFaults = false;  // this thread runs with CPUID faulting (the tracer thread)

void tracerMain() {
  pinSelf();
  // Tracees run with rdtsc trapping (PR_TSC_SIGSEGV). The kernel rewrites CR4
  // whenever it switches between a thread that traps and one that does not, and
  // in a VM each CR4 write exits to the hypervisor: at two switches per ptrace
  // stop that doubled the cost of every stop. So the tracer traps rdtsc too, and
  // reads the time-stamp counter only through readTsc().
  prctl(PR_SET_TSC, PR_TSC_SIGSEGV);
  // The same for CPUID faulting (an MSR written at every switch between a thread
  // with it and one without): 2 us per ptrace stop's round trip with both alike,
  // 15 us with the tracee faulting and the tracer not, in this VM. Where tracees
  // run without it (no faulting here, or REWIND_CPUID_FAULTING=0) the tracer does
  // too. (Read at the thread's start: a process that changes it later only pays
  // the switches.)
  const char* faulting = getenv("REWIND_CPUID_FAULTING");
  cpuidFaults = !(faulting && std::strcmp(faulting, "0") == 0) && syscall(SYS_arch_prctl, kArchSetCpuid, 0) == 0;
  for (;;) {
    std::function<void()> job;
    {
      std::unique_lock<std::mutex> lock(queue->mu);
      queue->cv.wait(lock, [] { return !queue->jobs.empty(); });
      job = std::move(queue->jobs.front());
      queue->jobs.pop_front();
    }
    job();
  }
}

void settle(Napi::Env env, Napi::Function, Pending* p) {
  std::unique_ptr<Pending> owned(p);
  if (--pendingCount == 0) tsfn.Unref(env);
  if (p->outcome.err != 0 || !p->outcome.build) {
    std::string msg = p->outcome.message.empty() ? std::string("native call failed") : p->outcome.message;
    if (p->outcome.err) msg += std::string(": ") + strerror(p->outcome.err);
    msg += " (usage: " + p->usage + ")";
    Napi::Error e = Napi::Error::New(env, msg);
    e.Set("errno", Napi::Number::New(env, p->outcome.err));
    if (p->outcome.err) e.Set("code", Napi::String::New(env, strerrorname_np(p->outcome.err) ? strerrorname_np(p->outcome.err) : "EUNKNOWN"));
    p->deferred.Reject(e.Value());
    return;
  }
  p->deferred.Resolve(p->outcome.build(env));
}

void ensureStarted(Napi::Env env) {
  if (queue) return;
  queue = new Queue();
  Napi::Function noop = Napi::Function::New(env, [](const Napi::CallbackInfo&) {});
  tsfn = Napi::ThreadSafeFunction::New(env, noop, "rewind-tracer", 0, 1);
  tsfn.Unref(env);
  std::thread(tracerMain).detach();
}

}  // namespace

void setTracerCpu(int c) {
  cpu = c;
  // Keep the JS thread off the tracer's CPU where there is another one.
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_ISSET(c, &set) && CPU_COUNT(&set) > 1) {
    CPU_CLR(c, &set);
    sched_setaffinity(0, sizeof set, &set);
  }
}

uint64_t readTsc(uint32_t* aux) {
  prctl(PR_SET_TSC, PR_TSC_ENABLE);
  uint64_t t = aux ? __rdtscp(aux) : __rdtsc();
  prctl(PR_SET_TSC, PR_TSC_SIGSEGV);
  return t;
}
int tracerCpu() { return cpu; }

void dropTracerTraps() {
  prctl(PR_SET_TSC, PR_TSC_ENABLE);
  syscall(SYS_arch_prctl, kArchSetCpuid, 1);
  cpuidFaults = false;
}

void hostCpuid(uint32_t leaf, uint32_t subleaf, uint32_t& a, uint32_t& b, uint32_t& c, uint32_t& d) {
  if (cpuidFaults) syscall(SYS_arch_prctl, kArchSetCpuid, 1);
  __cpuid_count(leaf, subleaf, a, b, c, d);
  if (cpuidFaults) syscall(SYS_arch_prctl, kArchSetCpuid, 0);
}

void stashStatus(pid_t pid, int status) { stashed[pid].push_back(status); }

bool takeStashed(pid_t pid, int* status) {
  auto it = stashed.find(pid);
  if (it == stashed.end()) return false;
  *status = it->second.front();
  it->second.erase(it->second.begin());
  if (it->second.empty()) stashed.erase(it);
  return true;
}

void postToTracer(std::function<void()> job) {
  if (!queue) {  // the thread never ran: no tracee exists
    job();
    return;
  }
  std::lock_guard<std::mutex> lock(queue->mu);
  queue->jobs.push_back(std::move(job));
  queue->cv.notify_one();
}

Napi::Promise submitToTracer(Napi::Env env, const char* usage, std::function<Outcome()> job) {
  ensureStarted(env);
  auto* p = new Pending{Napi::Promise::Deferred::New(env), usage, {}};
  Napi::Promise promise = p->deferred.Promise();
  if (pendingCount++ == 0) tsfn.Ref(env);
  std::lock_guard<std::mutex> lock(queue->mu);
  queue->jobs.push_back([p, job = std::move(job)] {
    try {
      p->outcome = job();
    } catch (const NativeError& e) {
      p->outcome = Outcome::fail(e.err, e.message);
    }
    tsfn.BlockingCall(p, settle);
  });
  queue->cv.notify_one();
  return promise;
}

}  // namespace rw
