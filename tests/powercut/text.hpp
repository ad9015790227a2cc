// Small text helpers of the power-cut suite: git's C-quoting of paths, the log's escaping.
#pragma once

#include <string>
#include <vector>

namespace reftx::test::powercut {

// A path C-quoted as git does (always quoted; bytes outside printable ASCII as octal).
inline std::string c_quote(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c >= 0x7f) {
      const char oct[] = {'\\', static_cast<char>('0' + (c >> 6)),
                          static_cast<char>('0' + ((c >> 3) & 7)), static_cast<char>('0' + (c & 7)),
                          0};
      out += oct;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

// The log's fields: tab, newline and backslash escaped.
inline std::string log_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

inline std::string log_unescape(const std::string& s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\\' || i + 1 == s.size()) {
      out += s[i];
      continue;
    }
    char n = s[++i];
    out += n == 't' ? '\t' : n == 'n' ? '\n' : n;
  }
  return out;
}

inline std::vector<std::string> split_tabs(const std::string& line) {
  std::vector<std::string> out;
  std::size_t start = 0;
  for (;;) {
    std::size_t tab = line.find('\t', start);
    out.push_back(line.substr(start, tab == std::string::npos ? std::string::npos : tab - start));
    if (tab == std::string::npos) return out;
    start = tab + 1;
  }
}

}  // namespace reftx::test::powercut
