#include "cli.hpp"
#include "json.hpp"

namespace reftx::cli {
namespace {

std::string short_oid(const RefRecord& ref, const std::string& oid, bool known) {
  if (!known) return "?";
  (void)ref;
  return oid == kZeroOid ? "(absent)" : oid;
}

std::string first_line(const std::string& s) { return s.substr(0, s.find('\n')); }

}  // namespace

std::string record_line(const TxRecord& r) {
  std::size_t changed = 0;
  for (const RefRecord& ref : r.refs) changed += ref.op != RefOp::verify;
  return std::to_string(r.id) + "\t" + to_string(r.state) + "\t" + iso_time(r.created_ns) +
         "\t" + std::to_string(changed) + (changed == 1 ? " ref" : " refs") + "\t" +
         first_line(r.message);
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
