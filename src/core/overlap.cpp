#include "core/overlap.hpp"

#include "core/owners.hpp"

namespace reftx::core {
namespace {

bool shares_a_name(const TxRecord& a, const TxRecord& b) {
  for (const RefRecord& x : a.refs) {
    for (const RefRecord& y : b.refs) {
      if (x.name == y.name) return true;
    }
  }
  for (const FileRecord& x : a.files) {
    for (const FileRecord& y : b.files) {
      if (x.path == y.path && a.work_tree == b.work_tree) return true;
    }
  }
  for (const KeyRecord& x : a.keys) {
    for (const KeyRecord& y : b.keys) {
      if (x.key == y.key) return true;
    }
  }
  return false;
}

}  // namespace

Status admit_files(const std::string& journal_dir, const TxRecord& ours, const TxRecord& other) {
  if (ours.files.empty() || other.files.empty() || other.work_tree != ours.work_tree) return {};
  for (const FileRecord& theirs : other.files) {
    for (const FileRecord& mine : ours.files) {
      if (theirs.path != mine.path) continue;
      if (other.state == TxState::pending) {
        auto alive = owner_alive(journal_dir, other.owner);
        if (!alive) return alive.error();
        if (!alive.value()) continue;
      }
      return Error{ErrorKind::locked,
                   "file " + mine.path + " is being changed by transaction " +
                       std::to_string(other.id) +
                       (other.state == TxState::pending ? ""
                                                        : "; run `reftx recover` if its "
                                                          "process died")};
    }
  }
  return {};
}

Result<std::uint64_t> unfinished_decision_on(const journal::Journal& journal,
                                             const TxRecord& ours) {
  auto ids = journal.inflight();
  if (!ids) return ids.error();
  for (std::uint64_t id : ids.value()) {
    if (id == ours.id) continue;
    auto other = journal.get(id);
    if (!other) return other.error();
    const TxState state = other.value().state;
    if (state != TxState::committing && state != TxState::rolling_back) continue;
    if (shares_a_name(other.value(), ours)) return id;
  }
  return std::uint64_t{0};
}

}  // namespace reftx::core
