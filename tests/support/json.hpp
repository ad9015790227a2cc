// Test helper: a minimal strict JSON (RFC 8259) reader, enough to read the lines of
// `reftx journal ... --json` and `reftx state list --json` exactly.
//
// Strict where it matters for those lines: strings may not hold raw control characters, \u
// escapes are decoded to UTF-8 (surrogate pairs joined, lone surrogates rejected), nothing may
// follow the document. Numbers are kept as their literal. Errors throw std::runtime_error.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace reftx::test {

struct Json {
  enum class Type { null, boolean, number, string, array, object };
  Type type = Type::null;
  bool boolean = false;
  std::string text;  // decoded string value, or the number's literal
  std::vector<Json> items;
  std::vector<std::pair<std::string, Json>> members;

  bool is_null() const { return type == Type::null; }
  bool is_string() const { return type == Type::string; }
  bool is_array() const { return type == Type::array; }
  bool is_object() const { return type == Type::object; }

  // The member `key`, nullptr if absent.
  const Json* find(std::string_view key) const {
    for (const auto& [k, v] : members) {
      if (k == key) return &v;
    }
    return nullptr;
  }
  bool has(std::string_view key) const { return find(key) != nullptr; }
  // The member `key`; throws if it is missing.
  const Json& operator[](std::string_view key) const {
    const Json* v = find(key);
    if (v == nullptr) throw std::runtime_error("missing JSON key '" + std::string(key) + "'");
    return *v;
  }
  // The string value; throws if this is not a string.
  const std::string& str() const {
    if (type != Type::string) throw std::runtime_error("JSON value is not a string");
    return text;
  }
};

// Parses one complete JSON document; throws std::runtime_error on anything else.
Json parse_json(std::string_view text);

}  // namespace reftx::test
