// One thread owns every tracee: ptrace accepts requests only from the thread that
// attached. JS submits jobs; each job runs on the tracer thread and settles a Promise.
#pragma once
#include <napi.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <sys/types.h>

namespace rw {

// What a job hands back: either an error (errno + message) or a builder that turns
// its result into a JS value on the JS thread.
struct Outcome {
  int err = 0;
  std::string message;
  std::function<Napi::Value(Napi::Env)> build;

  static Outcome fail(int err, std::string message) {
    Outcome o;
    o.err = err;
    o.message = std::move(message);
    return o;
  }
};

// Thrown on the tracer thread by helpers; turned into a rejected Promise.
struct NativeError {
  int err;
  std::string message;
};

void setTracerCpu(int cpu);
// The tracer thread traps rdtsc like its tracees (see tracer_thread.cc): read the
// counter only through this. Never use the vDSO clocks on the tracer thread.
uint64_t readTsc(uint32_t* aux);
int tracerCpu();
// The tracer thread runs with CPUID faulting, like its tracees (see tracer_thread.cc):
// this CPU's CPUID only through this, on any thread.
void hostCpuid(uint32_t leaf, uint32_t subleaf, uint32_t& a, uint32_t& b, uint32_t& c, uint32_t& d);
// A thread the tracer thread starts inherits its rdtsc trapping and CPUID faulting:
// its first call lifts both.
void dropTracerTraps();

// Statuses reaped by a wait for any tracee (a recording with traced children)
// that belonged to another tracee: its own waitStop finds them here. They are the
// tracer thread's, as the kernel's wait queue is; only that thread calls these.
void stashStatus(pid_t pid, int status);
bool takeStashed(pid_t pid, int* status);

Napi::Promise submitToTracer(Napi::Env env, const char* usage, std::function<Outcome()> job);
// A job without a result, after those already queued (from a finalizer: a
// Tracee's last reference is dropped there, since its destructor kills and reaps).
void postToTracer(std::function<void()> job);

}  // namespace rw
