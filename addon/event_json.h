// Reading the few fields the native replay loop needs from an event's JSON (the
// map-file events TypeScript writes: src/history/events.ts), without a JSON library:
// the records are JSON.stringify's output, with keys the loop knows.
#pragma once
#include <cstdint>
#include <string>

namespace rw {

// The value of "key" in the event's JSON, as written by JSON.stringify (a string's
// quotes stripped; no escapes expected in the keys read here). A key can only match
// as a key: inside a string value every quote is escaped.
bool field(const std::string& json, const char* key, std::string& out);

// `s` as a whole number in `base` (16: with its 0x).
bool number(const std::string& s, int base, uint64_t& out);

}  // namespace rw
