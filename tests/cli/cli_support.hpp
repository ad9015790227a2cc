// Helpers for the black-box tests of the `reftx` command: a minimal strict JSON parser (for
// `journal --json`), NUL-separated scripts, and snapshots of a repository's observable state.
#pragma once

#include <doctest/doctest.h>

#include <cstdint>
#include <fstream>
#include <iterator>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "support/process.hpp"
#include "support/temp_repo.hpp"

namespace cli {

using reftx::test::RunOptions;
using reftx::test::RunResult;
using reftx::test::TempDir;
using reftx::test::TempRepo;

inline const std::string kZero(40, '0');

// ---------------------------------------------------------------------------------------------
// Minimal strict JSON (RFC 8259) parser: enough to read `journal --json` lines exactly.

struct Json {
  enum class Type { null, boolean, number, string, array, object };
  Type type = Type::null;
  bool boolean = false;
  std::string text;  // decoded string value, or the number's literal
  std::vector<Json> items;
  std::vector<std::pair<std::string, Json>> members;

  bool is_string() const { return type == Type::string; }
  bool is_array() const { return type == Type::array; }
  bool is_object() const { return type == Type::object; }

  const Json* find(std::string_view key) const {
    for (const auto& [k, v] : members) {
      if (k == key) return &v;
    }
    return nullptr;
  }
  bool has(std::string_view key) const { return find(key) != nullptr; }
  // Throws if the key is missing.
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

class JsonParser {
 public:
  explicit JsonParser(std::string_view in) : in_(in) {}

  Json parse_document() {
    Json v = value();
    skip_ws();
    if (pos_ != in_.size()) fail("trailing characters");
    return v;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw std::runtime_error("bad JSON at offset " + std::to_string(pos_) + ": " + what);
  }
  void skip_ws() {
    while (pos_ < in_.size() &&
           (in_[pos_] == ' ' || in_[pos_] == '\t' || in_[pos_] == '\n' || in_[pos_] == '\r')) {
      ++pos_;
    }
  }
  char peek() {
    if (pos_ >= in_.size()) fail("unexpected end");
    return in_[pos_];
  }
  void expect(char c) {
    if (peek() != c) fail(std::string("expected '") + c + "'");
    ++pos_;
  }
  void literal(std::string_view word) {
    if (in_.substr(pos_, word.size()) != word) fail("bad literal");
    pos_ += word.size();
  }

  Json value() {
    skip_ws();
    Json v;
    char c = peek();
    if (c == '{') {
      v.type = Json::Type::object;
      ++pos_;
      skip_ws();
      if (peek() == '}') {
        ++pos_;
        return v;
      }
      for (;;) {
        skip_ws();
        std::string key = string_body();
        skip_ws();
        expect(':');
        v.members.emplace_back(std::move(key), value());
        skip_ws();
        if (peek() == ',') {
          ++pos_;
          continue;
        }
        expect('}');
        return v;
      }
    }
    if (c == '[') {
      v.type = Json::Type::array;
      ++pos_;
      skip_ws();
      if (peek() == ']') {
        ++pos_;
        return v;
      }
      for (;;) {
        v.items.push_back(value());
        skip_ws();
        if (peek() == ',') {
          ++pos_;
          continue;
        }
        expect(']');
        return v;
      }
    }
    if (c == '"') {
      v.type = Json::Type::string;
      v.text = string_body();
      return v;
    }
    if (c == 't' || c == 'f') {
      v.type = Json::Type::boolean;
      v.boolean = c == 't';
      literal(c == 't' ? "true" : "false");
      return v;
    }
    if (c == 'n') {
      literal("null");
      return v;
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
      v.type = Json::Type::number;
      std::size_t start = pos_;
      if (c == '-') ++pos_;
      while (pos_ < in_.size() && std::string_view("0123456789.eE+-").find(in_[pos_]) !=
                                      std::string_view::npos) {
        ++pos_;
      }
      v.text = std::string(in_.substr(start, pos_ - start));
      return v;
    }
    fail("unexpected character");
  }

  unsigned hex4() {
    if (pos_ + 4 > in_.size()) fail("short \\u escape");
    unsigned v = 0;
    for (int i = 0; i < 4; ++i) {
      char h = in_[pos_++];
      v <<= 4;
      if (h >= '0' && h <= '9') {
        v |= static_cast<unsigned>(h - '0');
      } else if (h >= 'a' && h <= 'f') {
        v |= static_cast<unsigned>(h - 'a' + 10);
      } else if (h >= 'A' && h <= 'F') {
        v |= static_cast<unsigned>(h - 'A' + 10);
      } else {
        fail("bad hex digit");
      }
    }
    return v;
  }

  static void put_utf8(std::string& out, unsigned cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xc0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xe0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
      out += static_cast<char>(0x80 | (cp & 0x3f));
    } else {
      out += static_cast<char>(0xf0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
      out += static_cast<char>(0x80 | (cp & 0x3f));
    }
  }

  std::string string_body() {
    expect('"');
    std::string out;
    for (;;) {
      char c = peek();
      ++pos_;
      if (c == '"') return out;
      if (static_cast<unsigned char>(c) < 0x20) fail("raw control character in string");
      if (c != '\\') {
        out += c;
        continue;
      }
      char e = peek();
      ++pos_;
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          unsigned cp = hex4();
          if (cp >= 0xd800 && cp < 0xdc00) {
            if (in_.substr(pos_, 2) != "\\u") fail("lone high surrogate");
            pos_ += 2;
            unsigned low = hex4();
            if (low < 0xdc00 || low >= 0xe000) fail("bad low surrogate");
            cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
          } else if (cp >= 0xdc00 && cp < 0xe000) {
            fail("lone low surrogate");
          }
          put_utf8(out, cp);
          break;
        }
        default: fail("bad escape");
      }
    }
  }

  std::string_view in_;
  std::size_t pos_ = 0;
};

inline Json parse_json(std::string_view text) { return JsonParser(text).parse_document(); }

// ---------------------------------------------------------------------------------------------
// Processes and repositories.

// Splits on '\n'; a final newline does not make an empty last line.
inline std::vector<std::string> split_lines(const std::string& s) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start < s.size()) {
    std::size_t nl = s.find('\n', start);
    if (nl == std::string::npos) {
      out.push_back(s.substr(start));
      break;
    }
    out.push_back(s.substr(start, nl - start));
    start = nl + 1;
  }
  return out;
}

// "a b c", for CAPTURE of an argument list.
inline std::string join(const std::vector<std::string>& args) {
  std::string out;
  for (const std::string& a : args) out += (out.empty() ? "" : " ") + a;
  return out;
}

// A -z script: each field followed by NUL.
inline std::string nul(const std::vector<std::string>& fields) {
  std::string out;
  for (const std::string& f : fields) {
    out += f;
    out += '\0';
  }
  return out;
}

inline RunOptions with_input(std::string input, std::map<std::string, std::string> env = {}) {
  RunOptions o;
  o.input = std::move(input);
  o.env = std::move(env);
  return o;
}

// The reftx binary without the implicit -C of TempRepo::reftx.
inline RunResult reftx_raw(const std::vector<std::string>& args, const RunOptions& options = {}) {
  std::vector<std::string> argv = {reftx::test::reftx_binary()};
  argv.insert(argv.end(), args.begin(), args.end());
  return reftx::test::run(argv, options);
}

// `reftx -C <repo> apply <extra...>` with `script` on stdin.
inline RunResult run_apply(const TempRepo& repo, const std::string& script,
                       const std::vector<std::string>& extra = {},
                       std::map<std::string, std::string> env = {}) {
  std::vector<std::string> args = {"apply"};
  args.insert(args.end(), extra.begin(), extra.end());
  return repo.reftx(args, with_input(script, std::move(env)));
}

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline void write_file(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary);
  out << content;
}

// Every record of `reftx [globals] -C <repo> journal list --json`, parsed.
inline std::vector<Json> journal(const TempRepo& repo,
                                 const std::vector<std::string>& globals = {}) {
  std::vector<std::string> argv = {reftx::test::reftx_binary()};
  argv.insert(argv.end(), globals.begin(), globals.end());
  for (const char* a : {"-C", repo.path().c_str(), "journal", "list", "--json"}) {
    argv.emplace_back(a);
  }
  RunResult r = reftx::test::run(argv);
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  std::vector<Json> out;
  for (const std::string& line : split_lines(r.out)) {
    try {
      out.push_back(parse_json(line));
    } catch (const std::exception& e) {
      FAIL_CHECK(e.what() << " in line: " << line);
    }
  }
  return out;
}

// `journal show <id> --json`, parsed; REQUIREs success and exactly one line.
inline Json show(const TempRepo& repo, const std::string& id) {
  RunResult r = repo.reftx({"journal", "show", id, "--json"});
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  std::vector<std::string> lines = split_lines(r.out);
  REQUIRE(lines.size() == 1);
  return parse_json(lines[0]);
}

// The first line of a successful apply's stdout: the transaction id.
inline std::string committed_id(const RunResult& r) {
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  std::vector<std::string> lines = split_lines(r.out);
  REQUIRE_FALSE(lines.empty());
  const std::string& id = lines.front();
  REQUIRE_FALSE(id.empty());
  REQUIRE(id.find_first_not_of("0123456789") == std::string::npos);
  return id;
}

// The ref entry of a record (in "refs"), by name; nullptr if absent.
inline const Json* ref_entry(const Json& record, const std::string& name) {
  for (const Json& r : record["refs"].items) {
    if (r.find("name") && r["name"].text == name) return &r;
  }
  return nullptr;
}

// What a rejected command must leave alone.
struct Snapshot {
  std::map<std::string, std::string> refs;
  std::string head;
  std::size_t records = 0;
  std::vector<std::string> locks;
};

inline Snapshot snapshot(const TempRepo& repo) {
  return {repo.refs(), read_file(repo.git_dir() + "/HEAD"), journal(repo).size(),
          repo.lock_files()};
}

// Refs, HEAD, journal size and lock files are as in `before`.
inline void check_unchanged(const TempRepo& repo, const Snapshot& before) {
  CHECK(repo.refs() == before.refs);
  CHECK(read_file(repo.git_dir() + "/HEAD") == before.head);
  CHECK(journal(repo).size() == before.records);
  CHECK(repo.lock_files() == before.locks);
}

}  // namespace cli
