// Concurrent writers on one repository: every writer does read-modify-write on a shared
// counter-like chain (read refs/heads/counter, make a commit whose parent is it, apply
// `update refs/heads/counter <new> <old>`, retry when the compare-and-swap fails) plus a
// private ref. No update may be lost: the chain has exactly one commit per successful
// transaction, and the journal agrees with it.
//
// REFTX_CONCURRENCY_ITERATIONS: successful commits per writer (default 12).
#include <doctest/doctest.h>

#include <algorithm>
#include <iostream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "reftx/reftx.hpp"
#include "support/checks.hpp"
#include "support/git_helpers.hpp"
#include "support/journal_json.hpp"
#include "support/kill.hpp"
#include "support/mixed_checks.hpp"
#include "support/mixed_plan.hpp"
#include "support/plan.hpp"
#include "support/reftx_cli.hpp"
#include "support/snapshot.hpp"
#include "support/text.hpp"

namespace reftx::test::crash {
namespace {

constexpr const char* kCounter = "refs/heads/counter";
constexpr int kMaxAttempts = 2000;  // a writer that never gets through is livelocked

struct WriterLog {
  std::string name;                  // writer name; its private ref is refs/heads/priv/<name>
  std::vector<std::uint64_t> ids;    // ids of successful transactions, in order
  std::vector<std::string> commits;  // the commit each of them put on the counter
  int conflicts = 0;                 // attempts refused because the counter had moved
  int locked = 0;     // library attempts refused because another writer held the counter's lock
  std::string error;  // anything else: the test fails with it
};

std::string private_ref(const WriterLog& log) {
  return "refs/heads/priv/" + log.name;
}

int successes_per_writer() {
  return env_count("REFTX_CONCURRENCY_ITERATIONS", 12);
}

// A repository whose counter starts at its only commit (`base`), and the (empty) tree of the
// writers' commits.
struct CounterRepo {
  TempRepo repo{1};
  std::string base = repo.commits()[0];
  std::string tree;

  CounterRepo() {
    repo.git({"update-ref", kCounter, base});
    tree = repo.git({"hash-object", "-t", "tree", "-w", "--stdin"}, "");
  }
};

// One read-modify-write attempt's inputs.
struct Attempt {
  std::string old_counter;
  std::string new_commit;
};

Attempt prepare_attempt(const TempRepo& repo, const std::string& tree, const WriterLog& log,
                        int attempt) {
  Attempt a;
  std::optional<std::string> cur = repo.ref(kCounter);
  if (!cur) throw std::runtime_error("counter vanished");
  a.old_counter = *cur;
  a.new_commit = repo.git(
      {"commit-tree", tree, "-p", a.old_counter, "-m",
       log.name + " #" + std::to_string(log.ids.size()) + " attempt " + std::to_string(attempt)});
  return a;
}

// A writer driving the reftx CLI: each attempt is a real `reftx apply` process.
void cli_writer(const TempRepo& repo, const std::string& tree, int successes, WriterLog& log) {
  try {
    std::string priv_old = kZeroOid;
    for (int attempt = 0; static_cast<int>(log.ids.size()) < successes; ++attempt) {
      if (attempt >= kMaxAttempts) throw std::runtime_error("no progress");
      Attempt a = prepare_attempt(repo, tree, log, attempt);
      RunOptions options;
      options.input = "update " + std::string(kCounter) + " " + a.new_commit + " " + a.old_counter +
                      "\nupdate " + private_ref(log) + " " + a.new_commit + " " + priv_old + "\n";
      RunResult r = repo.reftx({"apply", "-m", log.name}, options);
      if (r.exit_code == 1) {
        ++log.conflicts;
        continue;
      }
      std::optional<std::uint64_t> id = printed_id(r);
      if (!id) throw std::runtime_error("apply: " + describe(r));
      log.ids.push_back(*id);
      log.commits.push_back(a.new_commit);
      priv_old = a.new_commit;
    }
  } catch (const std::exception& e) {
    log.error = e.what();
  }
}

// A writer using the library: a Store shared with other threads of this process.
void library_writer(const TempRepo& repo, Store& store, const std::string& tree, int successes,
                    WriterLog& log) {
  try {
    std::string priv_old = kZeroOid;
    for (int attempt = 0; static_cast<int>(log.ids.size()) < successes; ++attempt) {
      if (attempt >= kMaxAttempts) throw std::runtime_error("no progress");
      Attempt a = prepare_attempt(repo, tree, log, attempt);
      Result<std::uint64_t> id =
          store.commit(Batch(log.name)
                           .update(kCounter, a.new_commit, a.old_counter)
                           .update(private_ref(log), a.new_commit, priv_old));
      if (!id && (id.error().kind == ErrorKind::conflict || id.error().kind == ErrorKind::locked)) {
        // git refused at prepare either way, so the attempt is journaled as aborted.
        if (id.error().transaction_id == 0) throw std::runtime_error("refusal without an id");
        ++(id.error().kind == ErrorKind::locked ? log.locked : log.conflicts);
        continue;
      }
      if (!id) throw std::runtime_error("commit: " + id.error().describe());
      log.ids.push_back(id.value());
      log.commits.push_back(a.new_commit);
      priv_old = a.new_commit;
    }
  } catch (const std::exception& e) {
    log.error = e.what();
  }
}

// The end state: one chain commit per success, private refs at their writer's last commit,
// a journal in which every record is terminal and agrees, and no lock file.
void check_no_lost_update(const TempRepo& repo, const std::string& base,
                          const std::vector<WriterLog>& logs) {
  for (const WriterLog& log : logs) CHECK_MESSAGE(log.error.empty(), log.name, ": ", log.error);

  // The first-parent chain from the counter down to the base.
  std::vector<std::string> chain = split_lines(repo.git({"rev-list", "--first-parent", kCounter}));
  std::map<std::string, std::string> parent_of;
  for (const std::string& line : split_lines(repo.git({"rev-list", "--parents", kCounter}))) {
    std::istringstream in(line);
    std::string commit, parent;
    in >> commit >> parent;
    parent_of[commit] = parent;
  }
  REQUIRE(!chain.empty());
  CHECK(chain.back() == base);

  std::set<std::string> committed;
  std::map<std::uint64_t, const WriterLog*> writer_of;
  std::size_t successes = 0;
  int conflicts = 0, locked = 0;
  for (const WriterLog& log : logs) {
    successes += log.ids.size();
    conflicts += log.conflicts;
    locked += log.locked;
    committed.insert(log.commits.begin(), log.commits.end());
    for (std::uint64_t id : log.ids) {
      CHECK_MESSAGE(writer_of.emplace(id, &log).second, "id ", id, " printed twice");
    }
    // Private ref: at its writer's last commit.
    std::optional<std::string> priv = repo.ref(private_ref(log));
    if (log.commits.empty()) {
      CHECK(!priv.has_value());
    } else {
      CHECK(priv == log.commits.back());
    }
  }
  std::cout << "[concurrency] " << logs.size() << " writers: " << successes << " commits, "
            << conflicts << " refused compare-and-swaps (CLI: every exit 1), " << locked
            << " refused on a held lock (library)" << std::endl;
  CHECK_MESSAGE(chain.size() == successes + 1, "chain has ", chain.size() - 1, " commits for ",
                successes, " successful transactions");
  std::set<std::string> on_chain(chain.begin(), chain.end() - 1);
  CHECK(on_chain == committed);  // no success missing, nothing foreign

  // The journal: terminal; committed records are exactly the printed ids and journal the
  // counter's real old value (the parent of the new commit); aborted ones are the refusals.
  std::vector<JournalRecord> records = journal_list(repo);
  std::size_t n_committed = 0;
  int n_aborted = 0;
  for (const JournalRecord& rec : records) {
    INFO(rec.raw);
    CHECK(is_terminal_state(rec.state));
    if (rec.state == "aborted") {
      ++n_aborted;
      CHECK(!rec.reason.empty());
      continue;
    }
    if (rec.state != "committed") continue;
    ++n_committed;
    auto w = writer_of.find(rec.id);
    REQUIRE_MESSAGE(w != writer_of.end(), "committed record not reported to any writer");
    CHECK(rec.message == w->second->name);
    REQUIRE(rec.refs.size() == 2);
    const JournalRef& counter = rec.refs[0];
    const JournalRef& priv = rec.refs[1];
    CHECK(counter.name == kCounter);
    CHECK(counter.old_oid == parent_of[counter.new_oid]);
    CHECK(priv.name == private_ref(*w->second));
    CHECK(priv.new_oid == counter.new_oid);
    // The private ref's journaled old value is the writer's previous commit.
    const auto& ids = w->second->ids;
    std::size_t k =
        static_cast<std::size_t>(std::find(ids.begin(), ids.end(), rec.id) - ids.begin());
    REQUIRE(k < ids.size());
    CHECK(priv.old_oid == (k == 0 ? kZeroOid : w->second->commits[k - 1]));
    CHECK(w->second->commits[k] == counter.new_oid);
  }
  CHECK(n_committed == successes);
  CHECK(n_aborted == conflicts + locked);

  check_no_locks(repo);
  check_fsck(repo);
  check_second_recover_is_noop(repo);  // nothing in flight, nothing to do
}

TEST_CASE("4 concurrent reftx processes lose no update") {
  const CounterRepo c;
  const int successes = successes_per_writer();

  std::vector<WriterLog> logs(4);
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < logs.size(); ++i) {
    logs[i].name = "cli" + std::to_string(i);
    threads.emplace_back(cli_writer, std::cref(c.repo), std::cref(c.tree), successes,
                         std::ref(logs[i]));
  }
  for (auto& t : threads) t.join();
  check_no_lost_update(c.repo, c.base, logs);
}

TEST_CASE("library threads sharing a Store and reftx processes lose no update") {
  const CounterRepo c;
  const int successes = successes_per_writer();

  std::vector<WriterLog> logs(4);
  {
    Result<Store> opened = Store::open(c.repo.path());
    REQUIRE_MESSAGE(opened.ok(), opened.error().describe());
    Store store = std::move(opened).value();
    std::vector<std::thread> threads;
    for (std::size_t i = 0; i < logs.size(); ++i) {
      if (i < 2) {
        logs[i].name = "lib" + std::to_string(i);
        threads.emplace_back(library_writer, std::cref(c.repo), std::ref(store), std::cref(c.tree),
                             successes, std::ref(logs[i]));
      } else {
        logs[i].name = "cli" + std::to_string(i);
        threads.emplace_back(cli_writer, std::cref(c.repo), std::cref(c.tree), successes,
                             std::ref(logs[i]));
      }
    }
    for (auto& t : threads) t.join();
  }  // the Store is closed (its owner files removed) before the final checks
  check_no_lost_update(c.repo, c.base, logs);
}

}  // namespace
}  // namespace reftx::test::crash
