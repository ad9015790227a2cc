#include "reftx/store.hpp"

#include <sys/stat.h>

#include <cstdlib>

#include "core/commit.hpp"
#include "core/context.hpp"
#include "core/owners.hpp"
#include "core/recovery.hpp"
#include "journal/lmdb_env.hpp"
#include "util/fs.hpp"

namespace reftx {
namespace {

std::string real_path(const std::string& path) {
  char* real = ::realpath(path.c_str(), nullptr);
  if (real == nullptr) return path;
  std::string out = real;
  std::free(real);
  return out;
}

// The work tree file paths are relative to: Options::work_tree, else the repository's own.
Result<std::string> resolve_work_tree(const Options& options, const git::Repository& repo) {
  const std::string& given = options.work_tree.empty() ? repo.work_dir() : options.work_tree;
  if (given.empty()) return std::string();
  struct stat st {};
  if (::stat(given.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return Error{ErrorKind::invalid_input, "work tree '" + given + "' is not a directory"};
  }
  return real_path(given);
}

// The journal directory of `repo`: Options::journal_dir or <common-dir>/reftx, no trailing '/'.
std::string journal_dir_of(const Options& options, const git::Repository& repo) {
  std::string dir =
      options.journal_dir.empty() ? repo.common_dir() + "/reftx" : options.journal_dir;
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  return dir;
}

// Which repository a journal belongs to (docs/journal-format.md, database `meta`): the real
// path of the common git dir, and its device and inode, which survive a rename.
journal::LmdbEnv::MetaEntries repository_identity(const git::Repository& repo) {
  const std::string path = real_path(repo.common_dir());
  struct stat st {};
  std::string inode;
  if (::stat(path.c_str(), &st) == 0) {
    inode = std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino);
  }
  return {{"repository", path}, {"repository-inode", inode}};
}

// One journal serves one repository. A journal recorded for another repository is refused,
// unless that repository was moved (same device and inode) or the journal is this repository's
// own default one, physically inside its git dir (the repository was copied with it). A
// journal without the record (written before it existed) is adopted. A read-write open writes
// what it accepted, so the record follows a move.
Status bind_repository(journal::Journal& journal, const git::Repository& repo,
                       const std::string& journal_dir, bool read_only) {
  const journal::LmdbEnv::MetaEntries id = repository_identity(repo);
  auto path = journal.get_meta("repository");
  if (!path) return path.error();
  auto inode = journal.get_meta("repository-inode");
  if (!inode) return inode.error();
  const bool same_path = path.value() && *path.value() == id[0].second;
  if (same_path && inode.value() == id[1].second) return {};
  const bool accepted =
      !path.value() || same_path ||
      (inode.value() && !id[1].second.empty() && *inode.value() == id[1].second) ||
      real_path(journal_dir) == id[0].second + "/reftx";
  if (!accepted) {
    return Error{ErrorKind::environment,
                 "journal '" + journal_dir + "' belongs to the repository '" + *path.value() +
                     "', not to '" + id[0].second + "': one journal serves one repository"};
  }
  if (read_only) return {};
  return journal.put_meta(id);
}

// Runs `fn` with the recovery scope of `state`.
template <typename Fn>
auto with_recovery_scope(detail::StoreState& state, Fn fn) {
  const core::FileIo io{state.repo, state.options.git_executable, state.options.durable};
  const core::RecoveryScope scope{state.journal,      state.repo,        io,
                                  state.git_config(), state.journal_dir, state.owner.name};
  return fn(scope);
}

}  // namespace

Store::Store(std::unique_ptr<detail::StoreState> impl) : impl_(std::move(impl)) {}
Store::Store(Store&&) noexcept = default;
Store& Store::operator=(Store&&) noexcept = default;

Store::~Store() {
  if (!impl_) return;
  impl_->git.reset();  // reap our git child first: it shares the owner lock
  if (!impl_->owner.process.held()) return;
  // Owner files are removed only under the recovery lock (see core/owners.hpp).
  auto recovery_lock =
      util::FileLock::acquire(core::recovery_lock_path(impl_->journal_dir), /*wait=*/true);
  if (recovery_lock && recovery_lock.value().held()) {
    auto inflight = impl_->journal.inflight();
    bool mine_in_flight = false;
    if (inflight) {
      for (std::uint64_t id : inflight.value()) {
        auto rec = impl_->journal.get(id);
        if (!rec || rec.value().owner == impl_->owner.name) mine_in_flight = true;
      }
    }
    if (!mine_in_flight) {
      impl_->owner.child.remove_and_release();
      impl_->owner.process.remove_and_release();
      return;
    }
  }
  // Leave the files: recovery will find this owner dead.
  impl_->owner.child.release();
  impl_->owner.process.release();
}

Result<Store> Store::open(const std::string& path, const Options& options) {
  auto repo = git::Repository::discover(path);
  if (!repo) return repo.error();
  auto impl = std::make_unique<detail::StoreState>();
  impl->options = options;
  impl->repo = std::move(repo).value();
  impl->journal_dir = journal_dir_of(options, impl->repo);
  auto work_tree = resolve_work_tree(options, impl->repo);
  if (!work_tree) return work_tree.error();
  impl->work_tree.root = std::move(work_tree).value();
  auto journal =
      journal::Journal::open(impl->journal_dir, options.read_only, options.durable,
                             journal::LmdbEnv::kDefaultMapSize, repository_identity(impl->repo));
  if (!journal) return journal.error();
  impl->journal = std::move(journal).value();
  if (Status s = bind_repository(impl->journal, impl->repo, impl->journal_dir, options.read_only);
      !s) {
    return s.error();
  }
  impl->work_tree.forbidden = {real_path(impl->repo.git_dir()), real_path(impl->repo.common_dir()),
                               real_path(impl->journal_dir)};
  if (options.read_only) return Store(std::move(impl));

  auto recovery_lock =
      util::FileLock::acquire(core::recovery_lock_path(impl->journal_dir), /*wait=*/true);
  if (!recovery_lock) return recovery_lock.error();
  if (options.recover_on_open) {
    auto report = with_recovery_scope(*impl, [&](const core::RecoveryScope& scope) {
      return core::recover_dead_owners(scope, recovery_lock.value());
    });
    if (!report) return report.error();
  }
  auto owner = core::create_owner(impl->journal_dir);
  if (!owner) return owner.error();
  impl->owner = std::move(owner).value();
  git::UpdateRefConfig git = impl->git_config();
  git.inherit_fd = impl->owner.child.fd();  // "owner dead" then means "and its git dead"
  impl->git.emplace(std::move(git));
  return Store(std::move(impl));
}

Result<std::string> Store::check_journal(const std::string& path, const Options& options) {
  auto repo = git::Repository::discover(path);
  if (!repo) return repo.error();
  return journal::LmdbEnv::check_files(journal_dir_of(options, repo.value()));
}

Result<std::vector<TxRecord>> Store::list() const {
  std::lock_guard<std::mutex> guard(impl_->mutex);
  return impl_->journal.list();
}

Result<TxRecord> Store::get(std::uint64_t id) const {
  std::lock_guard<std::mutex> guard(impl_->mutex);
  return impl_->journal.get(id);
}

Result<std::optional<std::string>> Store::get_state(const std::string& key) const {
  std::lock_guard<std::mutex> guard(impl_->mutex);
  return impl_->journal.get_state(key);
}

Result<std::vector<StateEntry>> Store::list_state(const std::string& prefix) const {
  std::lock_guard<std::mutex> guard(impl_->mutex);
  auto entries = impl_->journal.list_state(prefix);
  if (!entries) return entries.error();
  std::vector<StateEntry> out;
  out.reserve(entries.value().size());
  for (auto& [key, value] : entries.value()) out.push_back({std::move(key), std::move(value)});
  return out;
}

Result<RecoveryReport> Store::recover() {
  std::lock_guard<std::mutex> guard(impl_->mutex);
  if (impl_->options.read_only) {
    return Error{ErrorKind::invalid_input, "store was opened read-only"};
  }
  auto recovery_lock =
      util::FileLock::acquire(core::recovery_lock_path(impl_->journal_dir), /*wait=*/true);
  if (!recovery_lock) return recovery_lock.error();
  return with_recovery_scope(*impl_, [&](const core::RecoveryScope& scope) {
    return core::recover_dead_owners(scope, recovery_lock.value());
  });
}

const std::string& Store::git_dir() const {
  return impl_->repo.git_dir();
}
const std::string& Store::journal_dir() const {
  return impl_->journal_dir;
}
const std::string& Store::work_tree() const {
  return impl_->work_tree.root;
}

Result<std::uint64_t> Store::commit(const Batch& batch, const CommitOptions&) {
  std::lock_guard<std::mutex> guard(impl_->mutex);
  if (impl_->options.read_only) {
    return Error{ErrorKind::invalid_input, "store was opened read-only"};
  }
  return with_recovery_scope(*impl_, [&](const core::RecoveryScope& scope) {
    return core::commit_batch(
        core::CommitScope{scope, *impl_->git, impl_->work_tree, impl_->owner.child.fd()}, batch);
  });
}

}  // namespace reftx
