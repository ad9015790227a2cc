#include "sync_probe.hpp"

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <stdexcept>

#include "process.hpp"

namespace reftx_bench {
namespace {

constexpr const char* kBeginMark = "/nonexistent/reftx-bench-probe-begin";
constexpr const char* kEndMark = "/nonexistent/reftx-bench-probe-end";

// `?` tolerates names the architecture lacks (e.g. access on aarch64).
constexpr const char* kTraceSet =
    "trace=fsync,fdatasync,sync_file_range,?msync,?syncfs,?sync,"
    "?open,openat,?openat2,?creat,close,"
    "write,pwrite64,writev,pwritev,?pwritev2,"
    "?access,faccessat,?faccessat2";

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

// Leading decimal integer of `s` from `pos`, or -1.
long leading_int(const std::string& s, std::size_t pos) {
  if (pos >= s.size() || s[pos] < '0' || s[pos] > '9') return -1;
  return std::strtol(s.c_str() + pos, nullptr, 10);
}

// The value after the last " = " of a finished call, or -1.
long call_result(const std::string& s) {
  std::size_t eq = s.rfind(" = ");
  if (eq == std::string::npos) return -1;
  std::size_t pos = eq + 3;
  if (pos < s.size() && s[pos] == '-') return -1;
  return leading_int(s, pos);
}

bool is_open_call(const std::string& name) {
  return name == "open" || name == "openat" || name == "openat2" || name == "creat";
}

bool is_write_call(const std::string& name) {
  return name == "write" || name == "pwrite64" || name == "writev" || name == "pwritev" ||
         name == "pwritev2";
}

bool opens_for_sync_writes(const std::string& args) {
  return args.find("O_DSYNC") != std::string::npos || args.find("O_SYNC") != std::string::npos;
}

// Parses an `strace -f -o` log ("<pid> <call>(<args>) = <result>", with "<unfinished ...>" and
// "<... call resumed>" halves when processes interleave).
class TraceCounter {
 public:
  void line(const std::string& text) {
    std::size_t space = text.find(' ');
    if (space == std::string::npos) return;
    const long pid = leading_int(text, 0);
    std::size_t start = text.find_first_not_of(' ', space);
    if (pid < 0 || start == std::string::npos) return;
    const std::string rest = text.substr(start);

    if (starts_with(rest, "<... ")) {
      std::size_t name_end = rest.find(' ', 5);
      const std::string name = rest.substr(5, name_end == std::string::npos ? 0 : name_end - 5);
      auto pending = pending_open_.find(pid);
      if (is_open_call(name) && pending != pending_open_.end()) {
        const long fd = call_result(rest);
        if (pending->second && fd >= 0) sync_fds_[pid].insert(fd);
        pending_open_.erase(pending);
      }
      return;
    }

    std::size_t paren = rest.find('(');
    if (paren == std::string::npos) return;
    const std::string name = rest.substr(0, paren);
    const std::string args = rest.substr(paren + 1);
    const bool unfinished = rest.find("<unfinished ...>") != std::string::npos;

    if (name == "access" || name == "faccessat" || name == "faccessat2") {
      if (args.find(kBeginMark) != std::string::npos) {
        inside_ = true;
        ++begin_marks_;
      } else if (args.find(kEndMark) != std::string::npos) {
        inside_ = false;
        ++end_marks_;
      }
      return;
    }
    if (is_open_call(name)) {
      const bool sync = opens_for_sync_writes(args);
      if (unfinished) {
        pending_open_[pid] = sync;
      } else if (sync) {
        const long fd = call_result(rest);
        if (fd >= 0) sync_fds_[pid].insert(fd);
      }
      return;
    }
    if (name == "close") {
      auto fds = sync_fds_.find(pid);
      if (fds != sync_fds_.end()) fds->second.erase(leading_int(args, 0));
      return;
    }
    if (!inside_) return;
    if (is_write_call(name)) {
      auto fds = sync_fds_.find(pid);
      if (fds != sync_fds_.end() && fds->second.count(leading_int(args, 0)) > 0) {
        ++counts_.dsync_writes;
      }
    } else if (name == "fsync") {
      ++counts_.fsync;
    } else if (name == "fdatasync") {
      ++counts_.fdatasync;
    } else if (name == "sync_file_range") {
      ++counts_.sync_file_range;
    } else if (name == "msync" || name == "syncfs" || name == "sync") {
      ++counts_.other;
    }
  }

  const SyncCounts& counts() const { return counts_; }
  bool marks_seen() const { return begin_marks_ == 1 && end_marks_ == 1; }

 private:
  SyncCounts counts_;
  bool inside_ = false;
  int begin_marks_ = 0;
  int end_marks_ = 0;
  std::map<long, bool> pending_open_;        // pid -> unfinished open asks for sync writes
  std::map<long, std::set<long>> sync_fds_;  // pid -> descriptors opened O_DSYNC / O_SYNC
};

}  // namespace

std::optional<SyncCounts> probe_syncs(const std::string& strace_path,
                                      const std::vector<std::string>& argv,
                                      const std::string& scratch_dir) {
  if (strace_path.empty()) return std::nullopt;
  const std::string log = scratch_dir + "/strace.log";
  std::vector<std::string> cmd = {strace_path, "-f",          "-qq", "-e", kTraceSet,
                                  "-e",        "signal=none", "-o",  log,  "--"};
  cmd.insert(cmd.end(), argv.begin(), argv.end());
  const int status = run_process(cmd, {});
  if (status != 0) {
    throw std::runtime_error("traced probe '" + argv.front() + "' exited with status " +
                             std::to_string(status));
  }
  std::ifstream in(log);
  if (!in) throw std::runtime_error("cannot read strace log '" + log + "'");
  TraceCounter counter;
  std::string text;
  while (std::getline(in, text)) counter.line(text);
  in.close();
  ::unlink(log.c_str());
  if (!counter.marks_seen()) throw std::runtime_error("strace log lacks the probe marks");
  return counter.counts();
}

void mark_probe_begin() {
  (void)::access(kBeginMark, F_OK);
}
void mark_probe_end() {
  (void)::access(kEndMark, F_OK);
}

}  // namespace reftx_bench
