#include <cstdio>

#include "cli.hpp"
#include "json.hpp"

namespace reftx::cli {
namespace {

std::string short_oid(const RefRecord& ref, const std::string& oid, bool known) {
  if (!known) return "?";
  (void)ref;
  return oid == kZeroOid ? "(absent)" : oid;
}

std::string first_line(const std::string& s) {
  return s.substr(0, s.find('\n'));
}

}  // namespace

std::string quote_c(const std::string& s) {
  bool needs = !s.empty() && s.front() == '"';
  for (unsigned char c : s) needs = needs || c < 0x20 || c == 0x7f || c == '\\' || c == '"';
  if (!needs) return s;
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          char buf[5];
          std::snprintf(buf, sizeof buf, "\\%03o", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

std::string record_line(const TxRecord& r) {
  std::size_t changed = 0;
  for (const RefRecord& ref : r.refs) changed += ref.op != RefOp::verify;
  std::string what = std::to_string(changed) + (changed == 1 ? " ref" : " refs");
  if (!r.files.empty()) {
    what += ", " + std::to_string(r.files.size()) + (r.files.size() == 1 ? " file" : " files");
  }
  if (!r.keys.empty()) {
    what += ", " + std::to_string(r.keys.size()) + (r.keys.size() == 1 ? " key" : " keys");
  }
  return std::to_string(r.id) + "\t" + to_string(r.state) + "\t" + iso_time(r.created_ns) + "\t" +
         what + "\t" + first_line(r.message);
}

std::string record_details(const TxRecord& r) {
  std::string out = "transaction " + std::to_string(r.id) + "\n";
  out += "state:   " + std::string(to_string(r.state)) + "\n";
  out += "created: " + iso_time(r.created_ns) + "\n";
  out += "updated: " + iso_time(r.updated_ns) + "\n";
  out += "owner:   pid " + std::to_string(r.owner_pid) + "\n";
  if (!r.reason.empty()) out += "reason:  " + r.reason + "\n";
  out += "refs:\n";
  for (const RefRecord& ref : r.refs) {
    if (ref.op == RefOp::verify) {
      out += "  verify " + ref.name + " " + ref.expected_old.value_or(kZeroOid) + "\n";
    } else {
      out += "  " + std::string(to_string(ref.op)) + " " + ref.name + " " +
             short_oid(ref, ref.old_oid, ref.old_known) + " -> " +
             short_oid(ref, ref.new_oid, true) + "\n";
    }
  }
  if (!r.files.empty()) out += "files (in " + r.work_tree + "):\n";
  for (const FileRecord& f : r.files) {
    out += "  " + std::string(f.new_blob == kZeroOid ? "remove " : "write ") + quote_c(f.path) +
           " " + (f.old_known ? (f.old_blob == kZeroOid ? "(absent)" : f.old_blob) : "?") + " -> " +
           (f.new_blob == kZeroOid ? "(absent)" : f.new_blob) + "\n";
  }
  if (!r.keys.empty()) out += "state:\n";
  for (const KeyRecord& k : r.keys) {
    auto show = [](const std::optional<std::string>& v) {
      return v ? quote_c(*v) : std::string("(absent)");
    };
    out += "  " + std::string(k.new_value ? "set " : "unset ") + quote_c(k.key) + " " +
           (k.old_known ? show(k.old_value) : "?") + " -> " + show(k.new_value) + "\n";
  }
  for (const std::string& c : r.conflicts) out += "conflict: " + c + "\n";
  out += "message:\n";
  std::string msg = r.message;
  std::size_t start = 0;
  while (start <= msg.size() && !msg.empty()) {
    auto nl = msg.find('\n', start);
    out += "    " + msg.substr(start, nl - start) + "\n";
    if (nl == std::string::npos) break;
    start = nl + 1;
  }
  return out;
}

}  // namespace reftx::cli
