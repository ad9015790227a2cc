// Hex helpers for 20-byte object ids. Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace reftx::util {

// True for exactly 40 hex digits (either case).
bool is_hex_oid(std::string_view s);
// Lowercases a hex oid. REQUIRES: is_hex_oid(s).
std::string normalize_oid(std::string_view s);
// REQUIRES: is_hex_oid(hex).
std::string hex_to_raw(std::string_view hex);
// REQUIRES: raw.size() == 20.
std::string raw_to_hex(std::string_view raw);

}  // namespace reftx::util
