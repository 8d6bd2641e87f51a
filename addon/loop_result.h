// What a native run loop hands back to JS: encoded events plus why it stopped.
#pragma once
#include <napi.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace rw {

struct Tracee;  // tracee.h

struct StopInfo {
  std::string reason;
  std::vector<std::pair<std::string, int64_t>> numbers;  // JS numbers
  std::vector<std::pair<std::string, uint64_t>> bigints;  // JS bigints
  std::vector<std::pair<std::string, std::string>> strings;
  std::vector<std::pair<std::string, std::vector<uint64_t>>> bigArrays;  // JS bigint[]
  void num(const char* k, int64_t v) { numbers.emplace_back(k, v); }
  void big(const char* k, uint64_t v) { bigints.emplace_back(k, v); }
  void str(const char* k, std::string v) { strings.emplace_back(k, std::move(v)); }
  void bigs(const char* k, std::vector<uint64_t> v) { bigArrays.emplace_back(k, std::move(v)); }
  Napi::Object toJs(Napi::Env env) const {
    Napi::Object o = Napi::Object::New(env);
    o.Set("reason", reason);
    for (auto& [k, v] : numbers) o.Set(k, Napi::Number::New(env, double(v)));
    for (auto& [k, v] : bigints) o.Set(k, Napi::BigInt::New(env, v));
    for (auto& [k, v] : strings) o.Set(k, Napi::String::New(env, v));
    for (auto& [k, v] : bigArrays) {
      Napi::Array a = Napi::Array::New(env, v.size());
      for (size_t i = 0; i < v.size(); i++) a.Set(uint32_t(i), Napi::BigInt::New(env, v[i]));
      o.Set(k, a);
    }
    return o;
  }
};

struct LoopResult {
  std::vector<uint8_t> events;
  uint32_t eventCount = 0;  // records in `events` (recording) or consumed (replay)
  size_t consumed = 0;       // replay: bytes of the input buffer consumed
  uint32_t served = 0;       // replay: of eventCount, buffered calls the program took from its feed
  std::vector<std::pair<int, std::vector<uint8_t>>> echo;  // replay: (fd, bytes) in order
  StopInfo stop;
  std::vector<StopInfo> slices;  // debug runs: checkpoints left on the way (docs/timeline.md)
  std::vector<std::shared_ptr<Tracee>> sliceCopies;  // the copies of `slices`, in order
  std::vector<std::vector<std::shared_ptr<Tracee>>> sliceThreads;  // of a threaded process: each copy's every thread (its first is sliceCopies'), else empty
  std::shared_ptr<Tracee> child;  // replay: the child made again at a clone stop
};

Napi::Object loopResultToJs(Napi::Env env, LoopResult& r);

}  // namespace rw
