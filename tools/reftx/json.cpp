#include "json.hpp"

#include <ctime>

namespace reftx::cli {
namespace {

// Length of the valid UTF-8 sequence starting at s[i], or 0 if invalid.
std::size_t utf8_sequence(std::string_view s, std::size_t i) {
  auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = byte(i);
  std::size_t n = c < 0x80           ? 1
                  : (c >> 5) == 0x6  ? 2
                  : (c >> 4) == 0xe  ? 3
                  : (c >> 3) == 0x1e ? 4
                                     : 0;
  if (n == 0 || i + n > s.size()) return 0;
  for (std::size_t k = 1; k < n; ++k) {
    if ((byte(i + k) & 0xc0) != 0x80) return 0;
  }
  if (n == 2 && c < 0xc2) return 0;                          // overlong
  if (n == 3 && c == 0xe0 && byte(i + 1) < 0xa0) return 0;   // overlong
  if (n == 3 && c == 0xed && byte(i + 1) >= 0xa0) return 0;  // surrogate
  if (n == 4 &&
      (c > 0xf4 || (c == 0xf0 && byte(i + 1) < 0x90) || (c == 0xf4 && byte(i + 1) >= 0x90))) {
    return 0;
  }
  return n;
}

std::string oid_or_null(const std::string& oid, bool known) {
  return known ? "\"" + oid + "\"" : "null";
}

std::string value_or_null(const std::optional<std::string>& value) {
  return value ? json_string(*value) : "null";
}

// "100644" / "100755" for a file mode; null for an absent file.
std::string git_mode(std::uint32_t mode) {
  if (mode == 0) return "null";
  return (mode & 0100) ? "\"100755\"" : "\"100644\"";
}

}  // namespace

std::string json_string(std::string_view s) {
  std::string out = "\"";
  for (std::size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
      ++i;
    } else if (c < 0x20 || c == 0x7f) {
      static const char* hex = "0123456789abcdef";
      switch (c) {
        case '\n':
          out += "\\n";
          break;
        case '\r':
          out += "\\r";
          break;
        case '\t':
          out += "\\t";
          break;
        default:
          out += "\\u00";
          out += hex[c >> 4];
          out += hex[c & 0xf];
      }
      ++i;
    } else if (std::size_t n = utf8_sequence(s, i); n > 0) {
      out.append(s.substr(i, n));
      i += n;
    } else {
      out += "\\ufffd";
      ++i;
    }
  }
  out += '"';
  return out;
}

std::string state_json(const StateEntry& entry) {
  return "{\"key\":" + json_string(entry.key) + ",\"value\":" + json_string(entry.value) + "}";
}

std::string iso_time(std::int64_t unix_ns) {
  std::time_t secs = static_cast<std::time_t>(unix_ns / 1000000000);
  std::tm tm{};
  ::gmtime_r(&secs, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char frac[16];
  std::snprintf(frac, sizeof frac, ".%06lldZ",
                static_cast<long long>((unix_ns % 1000000000) / 1000));
  return std::string(buf) + frac;
}

std::string record_json(const TxRecord& r) {
  std::string out = "{\"version\":1,\"id\":\"" + std::to_string(r.id) + "\"";
  out += ",\"state\":" + json_string(to_string(r.state));
  out += ",\"message\":" + json_string(r.message);
  out += ",\"created\":" + json_string(iso_time(r.created_ns));
  out += ",\"updated\":" + json_string(iso_time(r.updated_ns));
  out += ",\"created_ns\":" + std::to_string(r.created_ns);
  out += ",\"updated_ns\":" + std::to_string(r.updated_ns);
  out += ",\"owner_pid\":" + std::to_string(r.owner_pid);
  std::string refs, verified;
  for (const RefRecord& ref : r.refs) {
    if (ref.op == RefOp::verify) {
      if (!verified.empty()) verified += ",";
      verified += "{\"name\":" + json_string(ref.name) + ",\"expected\":\"" +
                  ref.expected_old.value_or(kZeroOid) + "\"}";
      continue;
    }
    if (!refs.empty()) refs += ",";
    refs += "{\"name\":" + json_string(ref.name) + ",\"op\":\"" + to_string(ref.op) +
            "\",\"old\":" + oid_or_null(ref.old_oid, ref.old_known) + ",\"new\":\"" + ref.new_oid +
            "\"";
    if (ref.expected_old) refs += ",\"expected_old\":\"" + *ref.expected_old + "\"";
    refs += "}";
  }
  out += ",\"refs\":[" + refs + "],\"verified\":[" + verified + "]";
  std::string files;
  for (const FileRecord& f : r.files) {
    if (!files.empty()) files += ",";
    files += "{\"path\":" + json_string(f.path) +
             ",\"old\":" + oid_or_null(f.old_blob, f.old_known) + ",\"new\":\"" + f.new_blob +
             "\",\"mode\":" +
             git_mode(f.new_blob == kZeroOid ? 0
                      : f.new_mode           ? f.new_mode
                      : f.requested_mode     ? f.requested_mode
                                             : 0100644) +
             ",\"old_mode\":" + (f.old_known ? git_mode(f.old_mode) : "null");
    if (f.expected_old) files += ",\"expected_old\":\"" + *f.expected_old + "\"";
    files += "}";
  }
  std::string keys;
  for (const KeyRecord& k : r.keys) {
    if (!keys.empty()) keys += ",";
    keys += "{\"key\":" + json_string(k.key) +
            ",\"old\":" + (k.old_known ? value_or_null(k.old_value) : "null") +
            ",\"old_known\":" + (k.old_known ? "true" : "false") +
            ",\"new\":" + value_or_null(k.new_value) + "}";
  }
  out += ",\"work_tree\":" + (r.work_tree.empty() ? std::string("null") : json_string(r.work_tree));
  out += ",\"files\":[" + files + "],\"keys\":[" + keys + "]";
  if (!r.reason.empty() || r.state == TxState::aborted) {
    out += ",\"reason\":" + json_string(r.reason);
  }
  if (!r.conflicts.empty()) {
    out += ",\"conflicts\":[";
    for (std::size_t i = 0; i < r.conflicts.size(); ++i) {
      out += (i ? "," : "") + json_string(r.conflicts[i]);
    }
    out += "]";
  }
  out += "}";
  return out;
}

}  // namespace reftx::cli
