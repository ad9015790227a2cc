#include "core/leftovers.hpp"

#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <charconv>
#include <fstream>
#include <set>

#include "core/ref_files.hpp"
#include "core/work_tree.hpp"
#include "util/fs.hpp"

namespace reftx::core {
namespace {

constexpr std::int64_t kClockSlackNs = 1000000000;  // coarse file timestamps
constexpr const char* kBootKey = "boot-id";
constexpr const char* kFirstIdKey = "boot-first-id";

std::int64_t clock_ns(clockid_t clock) {
  timespec ts{};
  ::clock_gettime(clock, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

class Sweeper {
 public:
  Sweeper(git::Repository& repo, bool durable, std::int64_t boot_time_ns)
      : repo_(repo), durable_(durable), boot_ns_(boot_time_ns) {}

  Status sweep(const TxRecord& record) {
    if (Status s = sweep_temps(record); !s) return s;
    return sweep_locks(record);
  }
  Status finish() {
    if (!durable_) return {};
    return fsync_dirs(dirs_);
  }
  std::vector<std::string> removed;

 private:
  // Written after the record was created and before this boot: no live process holds it.
  bool in_window(const std::string& path, const TxRecord& record) const {
    auto mtime = util::mtime_ns(path);
    return mtime && *mtime >= record.created_ns - kClockSlackNs && *mtime < boot_ns_;
  }

  Status remove(const std::string& path) {
    if (Status s = util::remove_file(path); !s) return s;
    removed.push_back(path);
    dirs_.insert(util::parent_dir(path));
    return {};
  }

  Status sweep_temps(const TxRecord& record) {
    for (std::size_t i = 0; i < record.files.size(); ++i) {
      auto parent = open_parent(record.work_tree, record.files[i].path, false, false);
      if (!parent || !parent.value()) continue;
      const std::string name = temp_name(record.id, i);
      if (::unlinkat(parent.value()->get(), name.c_str(), 0) != 0) continue;
      removed.push_back(record.work_tree + "/" + record.files[i].path + " (" + name + ")");
      if (durable_) {
        Status s =
            util::fsync_fd(parent.value()->get(), "directory of '" + record.files[i].path + "'");
        if (!s) return s;
      }
    }
    return {};
  }

  // A lock holding one of `allowed` (trimmed) inside the window.
  Status remove_lock(const std::string& path, const TxRecord& record,
                     const std::set<std::string>& allowed) {
    if (!in_window(path, record)) return {};
    auto content = util::read_file(path);
    if (!content) return content.error();
    if (!content.value() || !allowed.count(trim(*content.value()))) return {};
    return remove(path);
  }

  Status sweep_locks(const TxRecord& record) {
    const std::optional<std::string> head = repo_.head_target();
    bool creates_or_deletes = false;
    for (const RefRecord& ref : record.refs) {
      std::set<std::string> allowed = {""};
      if (ref.new_oid != kZeroOid) allowed.insert(ref.new_oid);
      if (ref.old_known && ref.old_oid != kZeroOid) allowed.insert(ref.old_oid);
      if (ref.op != RefOp::verify && (ref.new_oid == kZeroOid || ref.old_oid == kZeroOid)) {
        creates_or_deletes = true;
      }
      Status s = remove_lock(repo_.common_dir() + "/" + ref.name + ".lock", record, allowed);
      if (!s) return s;
      if (head && *head == ref.name) {
        if (Status h = remove_lock(repo_.git_dir() + "/HEAD.lock", record, {""}); !h) return h;
      }
    }
    if (!creates_or_deletes) return {};
    const std::string next = repo_.common_dir() + "/packed-refs.new";
    const std::string lock = repo_.common_dir() + "/packed-refs.lock";
    if (!in_window(lock, record)) return {};
    if (in_window(next, record)) {
      if (Status s = remove(next); !s) return s;
    }
    return remove(lock);
  }

  git::Repository& repo_;
  bool durable_;
  std::int64_t boot_ns_;
  std::set<std::string> dirs_;
};

}  // namespace

RebootFacts current_boot() {
  RebootFacts facts;
  std::ifstream in("/proc/sys/kernel/random/boot_id");
  std::getline(in, facts.boot_id);
  facts.boot_time_ns = clock_ns(CLOCK_REALTIME) - clock_ns(CLOCK_BOOTTIME);
  return facts;
}

Result<SweepResult> sweep_after_reboot(journal::Journal& journal, git::Repository& repo,
                                       bool durable, const RebootFacts& boot) {
  SweepResult result;
  if (boot.boot_id.empty()) return result;
  auto seen = journal.get_meta(kBootKey);
  if (!seen) return seen.error();
  if (seen.value() == boot.boot_id) return result;
  auto last = journal.last_id();
  if (!last) return last.error();
  if (seen.value()) {  // a journal that knew a previous boot: sweep that boot's records
    auto first = journal.get_meta(kFirstIdKey);
    if (!first) return first.error();
    std::uint64_t from = 1;
    if (first.value()) {
      const std::string& text = *first.value();
      std::from_chars(text.data(), text.data() + text.size(), from);  // unparsable: from 1
    }
    if (last.value() >= kSweptRecords && from < last.value() - kSweptRecords + 1) {
      from = last.value() - kSweptRecords + 1;
    }
    Sweeper sweeper(repo, durable, boot.boot_time_ns);
    for (std::uint64_t id = last.value(); id >= from && id > 0; --id) {
      auto record = journal.get(id);
      if (!record) {
        if (record.error().kind == ErrorKind::not_found) continue;
        return record.error();
      }
      if (!is_terminal(record.value().state)) continue;  // recovery proper handles those
      if (Status s = sweeper.sweep(record.value()); !s) return s.error();
    }
    if (Status s = sweeper.finish(); !s) return s.error();
    result.swept = true;
    result.removed = std::move(sweeper.removed);
  }
  Status s =
      journal.put_meta({{kBootKey, boot.boot_id}, {kFirstIdKey, std::to_string(last.value() + 1)}});
  if (!s) return s.error();
  return result;
}

}  // namespace reftx::core
