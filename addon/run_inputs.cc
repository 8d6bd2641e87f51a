// The replay loop's inputs copied once per chunk: see run_inputs.h.
#include "run_inputs.h"

#include <algorithm>
#include <cstring>

namespace rw {
namespace {

// Larger ArrayBuffers (a view into a pool, a whole file) are copied per run as before:
// only what the view shows.
constexpr size_t kMaxShared = 8u << 20;

// Only the JS thread touches these (runInputsFrom is called from JS).
struct EventsCopy {
  napi_env env = nullptr;
  Napi::Reference<Napi::ArrayBuffer> buffer;  // weak: identifies the ArrayBuffer copied
  std::shared_ptr<const std::vector<uint8_t>> bytes;
};
EventsCopy lastEvents;
std::shared_ptr<const std::vector<Row>> lastTable;

}  // namespace

RunInputs runInputsFrom(const Napi::Value& table, const Napi::Value& view) {
  RunInputs in;
  Napi::Int32Array t = table.As<Napi::Int32Array>();
  size_t tableBytes = std::min<size_t>(t.ElementLength() * 4, size_t(kTableRows) * sizeof(Row));
  if (!lastTable || std::memcmp(lastTable->data(), t.Data(), tableBytes) != 0 ||
      tableBytes != size_t(kTableRows) * sizeof(Row)) {
    auto rows = std::make_shared<std::vector<Row>>(kTableRows);
    std::memcpy(rows->data(), t.Data(), tableBytes);
    lastTable = rows;
  }
  in.table = lastTable;

  auto b = view.As<Napi::Buffer<uint8_t>>();
  Napi::ArrayBuffer ab = b.ArrayBuffer();
  size_t whole = ab.ByteLength();
  // (a view that ends before its ArrayBuffer does is not a chunk's rest: the loop
  // must read no further than the view lets it)
  if (whole > kMaxShared || b.ByteOffset() + b.Length() != whole) {
    in.events = std::make_shared<std::vector<uint8_t>>(b.Data(), b.Data() + b.Length());
    in.offset = 0;
    return in;
  }
  bool same = lastEvents.env == napi_env(view.Env()) && !lastEvents.buffer.IsEmpty();
  if (same) {
    Napi::ArrayBuffer known = lastEvents.buffer.Value();
    same = !known.IsEmpty() && known.StrictEquals(ab) && lastEvents.bytes->size() == whole;
  }
  if (!same) {
    const uint8_t* base = static_cast<const uint8_t*>(ab.Data());
    lastEvents.bytes = std::make_shared<std::vector<uint8_t>>(base, base + whole);
    lastEvents.buffer = Napi::Reference<Napi::ArrayBuffer>::New(ab, 0);
    lastEvents.env = view.Env();
  }
  in.events = lastEvents.bytes;
  in.offset = b.ByteOffset();
  return in;
}

}  // namespace rw
