// A Store is one repository's reftx journal plus the machinery to apply transactions to its refs.
//
// Crash guarantees (docs/protocol.md): a transaction is applied all-or-nothing across SIGKILL of
// the process, its process group or a power loss; a commit that returned an id is never lost;
// every transaction whose owner died is rolled forward or back by the next Store::open or
// Store::recover, which never removes a lock that does not belong to a dead transaction.
//
// Thread-safety: a Store may be shared between threads; its calls are serialized internally.
// A Store is move-only; the Batches committed to it are plain values that never refer to it.
// Several processes may open stores on one repository at once: each transaction is a
// compare-and-swap on every ref it touches. Never use a Store across fork().
//
// Damaged journals (README, "Damaged journals, disk full"; docs/journal-format.md): open()
// checks, before LMDB maps data.mdb, what LMDB itself trusts: that the journal directory and
// data.mdb are a directory and a regular file (no symbolic link, FIFO or device), data.mdb's
// size, and both meta pages (magic, version, page size, flags, tree roots and depths within the
// file, consecutive txnids); a journal of at most 4 MiB is also walked page by page. Damage is
// corrupt_journal, never an empty journal; "no journal yet" is only a missing or empty journal
// directory. What cannot be checked at every open -- a damaged interior page of a larger
// journal -- can still make LMDB read outside its map (SIGBUS/SIGSEGV), fail one of its
// assertions (abort) or read the damage as a missing record when that page is read; an LMDB
// error is followed by a walk of the file, so damage behind it is reported as corrupt_journal.
// check_journal() finds such damage without mapping the file; journal_mapped_at() and
// journal_in_use() let a signal handler tell such a crash from a bug. LMDB has no checksums:
// damaged data bytes in intact pages are not found. Disk full: lock.mdb is allocated before LMDB
// maps it, data.mdb is written with pwrite (never through the map), a journal is created aside
// and renamed into place: ENOSPC is an environment error naming the file, not a signal.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "reftx/batch.hpp"
#include "reftx/error.hpp"
#include "reftx/types.hpp"

namespace reftx {

struct Options {
  // Directory of the LMDB journal. Empty (default): <git-dir>/reftx, in the common git dir
  // shared by all worktrees (refs are shared too). Created on first use (built aside and
  // renamed into place). One journal serves one repository: it records which (the common git
  // dir's real path, device and inode), and open() refuses another repository's journal.
  std::string journal_dir;
  // Recover transactions of dead owners inside open(). Default true; false only for inspection.
  bool recover_on_open = true;
  // Open the journal read-only: no recovery, no commits. Default false. Fails with not_found
  // if no journal exists yet (no journal directory, or an empty one).
  bool read_only = false;
  // fsync refs (git core.fsync=reference), ref directories and the journal. Default true.
  // false keeps all-or-nothing across process crashes only, not across power loss.
  bool durable = true;
  // The git binary driven for ref updates. Default "git" (searched in PATH).
  std::string git_executable = "git";
  // Directory that file paths are relative to. Empty (default): the repository's work tree; a
  // bare repository then has none and file changes are refused.
  std::string work_tree;
};

// One tool-state entry.
struct StateEntry {
  std::string key;
  std::string value;
};

// What recovery did to one transaction.
struct RecoveryAction {
  enum class Kind { rolled_forward, rolled_back, conflict, blocked };
  Kind kind = Kind::rolled_forward;
  std::uint64_t id = 0;
  std::string detail;  // for conflict/blocked: which refs and why
};

struct RecoveryReport {
  std::vector<RecoveryAction> actions;
  int skipped_live = 0;  // in-flight transactions whose owner is alive; not touched
};

// Per-commit choices. Options that concern one commit, not the whole Store, go here.
struct CommitOptions {};

namespace detail {
struct StoreState;  // internal
}

// For a SIGBUS/SIGSEGV handler; async-signal-safe. The journal directory whose LMDB map holds
// `address` (the faulting address, siginfo_t::si_addr), or nullptr. A fault there is LMDB
// reading a page that damage made unreadable, not a bug of the program. `reftx` uses it to turn
// such a crash into exit 4 (README, "Damaged journals, disk full").
const char* journal_mapped_at(const void* address) noexcept;
// For a SIGABRT handler; async-signal-safe. The journal LMDB is working on in this process
// right now (inside a journal read or write), or nullptr. LMDB aborts on some damaged pages
// (its assertions); an abort while this is set is most likely that. It is set around whole
// journal transactions, so an abort of reftx's own code inside one is attributed too.
const char* journal_in_use() noexcept;

class Store {
 public:
  // Opens (creating if needed) the journal of the repository found from `path` (git-style
  // discovery; bare and non-bare). Recovers dead transactions unless options say otherwise.
  // Errors: corrupt_journal for a damaged journal (see "Damaged journals" above), environment
  // (not a repository, I/O, no space, another repository's journal), not_found (read_only
  // without a journal).
  static Result<Store> open(const std::string& path, const Options& options = {});

  // `reftx journal check`: the checks of open() plus a bounds-checked walk of every page of
  // data.mdb (page headers, node offsets, overflow runs, child pages, page counts). Maps
  // nothing, so damage cannot crash it. Returns a one-line summary, corrupt_journal with the
  // first damage, or not_found without a journal.
  static Result<std::string> check_journal(const std::string& path, const Options& options = {});

  Store(Store&&) noexcept;
  Store& operator=(Store&&) noexcept;
  ~Store();  // Releases the owner lock; never throws.

  // Applies every change of `batch` (refs, files, state) or none. Returns the journal id once
  // every change is durable (Options::durable). Old file content is saved as a blob (durably)
  // before a file is replaced. Errors: invalid_input (nothing recorded), conflict (a stale old
  // value, a name clash, a changed file: recorded as aborted, the error carries its id), locked
  // (another writer holds a ref lock, or another transaction is changing one of the files:
  // nothing applied; retry later; aborted in the journal if it got that far), environment.
  Result<std::uint64_t> commit(const Batch& batch, const CommitOptions& options = {});

  // Journal reads, in id order. Errors: corrupt_journal, not_found (get), environment.
  Result<std::vector<TxRecord>> list() const;
  Result<TxRecord> get(std::uint64_t id) const;

  // Tool state, read from one consistent snapshot: only committed transactions' values.
  // get_state: nullopt if absent. list_state: keys starting with `prefix`, in byte order.
  Result<std::optional<std::string>> get_state(const std::string& key) const;
  Result<std::vector<StateEntry>> list_state(const std::string& prefix = {}) const;

  // Rolls every transaction whose owner is dead forward (decided) or back (undecided).
  // Idempotent; safe to kill at any point and rerun.
  Result<RecoveryReport> recover();

  // The repository's git dir, the journal directory and the work tree in use ("" if none).
  const std::string& git_dir() const;
  const std::string& journal_dir() const;
  const std::string& work_tree() const;

 private:
  explicit Store(std::unique_ptr<detail::StoreState> impl);
  std::unique_ptr<detail::StoreState> impl_;
};

}  // namespace reftx
