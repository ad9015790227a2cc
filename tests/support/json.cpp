#include "support/json.hpp"

#include <cstddef>

namespace reftx::test {
namespace {

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
  // The message names the offset and quotes the start of the input.
  [[noreturn]] void fail(const std::string& what) const {
    throw std::runtime_error("bad JSON at offset " + std::to_string(pos_) + ": " + what +
                             " in: " + std::string(in_.substr(0, 200)));
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
  char next() {
    char c = peek();
    ++pos_;
    return c;
  }
  void expect(char c) {
    if (peek() != c) fail(std::string("expected '") + c + "'");
    ++pos_;
  }
  void literal(std::string_view word) {
    if (in_.substr(pos_, word.size()) != word) fail("bad literal");
    pos_ += word.size();
  }
  // After an element of an object or array: true if a ',' follows, false after `close`.
  bool more(char close) {
    skip_ws();
    if (peek() == ',') {
      ++pos_;
      return true;
    }
    expect(close);
    return false;
  }
  // After the opening bracket: true (and consumed) if `close` follows at once.
  bool empty(char close) {
    skip_ws();
    if (peek() != close) return false;
    ++pos_;
    return true;
  }

  Json value() {
    skip_ws();
    char c = peek();
    if (c == '{') return object();
    if (c == '[') return array();
    Json v;
    if (c == '"') {
      v.type = Json::Type::string;
      v.text = string_body();
    } else if (c == 't' || c == 'f') {
      v.type = Json::Type::boolean;
      v.boolean = c == 't';
      literal(c == 't' ? "true" : "false");
    } else if (c == 'n') {
      literal("null");
    } else if (c == '-' || (c >= '0' && c <= '9')) {
      v = number();
    } else {
      fail("unexpected character");
    }
    return v;
  }

  Json object() {
    Json v;
    v.type = Json::Type::object;
    ++pos_;
    if (empty('}')) return v;
    do {
      skip_ws();
      std::string key = string_body();
      skip_ws();
      expect(':');
      v.members.emplace_back(std::move(key), value());
    } while (more('}'));
    return v;
  }

  Json array() {
    Json v;
    v.type = Json::Type::array;
    ++pos_;
    if (empty(']')) return v;
    do {
      v.items.push_back(value());
    } while (more(']'));
    return v;
  }

  // Kept as its literal.
  Json number() {
    Json v;
    v.type = Json::Type::number;
    std::size_t start = pos_;
    if (in_[pos_] == '-') ++pos_;
    while (pos_ < in_.size() &&
           std::string_view("0123456789.eE+-").find(in_[pos_]) != std::string_view::npos) {
      ++pos_;
    }
    v.text = std::string(in_.substr(start, pos_ - start));
    return v;
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
        fail("bad hex digit in \\u escape");
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
      char c = next();
      if (c == '"') return out;
      if (static_cast<unsigned char>(c) < 0x20) fail("raw control character in string");
      if (c == '\\') {
        escape(out);
      } else {
        out += c;
      }
    }
  }

  // After a backslash: appends what the escape stands for.
  void escape(std::string& out) {
    static constexpr std::string_view kEscaped = "\"\\/bfnrt", kMeant = "\"\\/\b\f\n\r\t";
    const char c = next();
    if (c == 'u') {
      put_utf8(out, code_point());
      return;
    }
    const std::size_t at = kEscaped.find(c);
    if (at == std::string_view::npos) fail("bad escape");
    out += kMeant[at];
  }

  // After "\u": one code point; a surrogate pair is joined, a lone surrogate refused.
  unsigned code_point() {
    unsigned cp = hex4();
    if (cp >= 0xdc00 && cp < 0xe000) fail("lone low surrogate");
    if (cp < 0xd800 || cp >= 0xdc00) return cp;
    if (in_.substr(pos_, 2) != "\\u") fail("lone high surrogate");
    pos_ += 2;
    unsigned low = hex4();
    if (low < 0xdc00 || low >= 0xe000) fail("bad low surrogate");
    return 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
  }

  std::string_view in_;
  std::size_t pos_ = 0;
};

}  // namespace

Json parse_json(std::string_view text) {
  return JsonParser(text).parse_document();
}

}  // namespace reftx::test
