// Randomized SIGKILLs of transactions that mix refs, working-tree files of a few MB and tool
// state: `reftx apply` (alone or with its whole process group) and its recovery are killed at
// random moments. The delay starts at the start of the process, or when one of its temp files
// (.reftx-*) appears in the work tree, when git holds the first or every lock of its refs, or
// when the first of its files changes; the files are large enough (0.5-3 MB) for staging and
// rolling forward to take a while. After each kill, recovery must leave the refs, the files
// (bytes and executable bit) and the keys all old or all new, in agreement with the journal,
// with no temp file, no lock file and `git status` as expected.
//
// And concurrency: processes chaining compare-and-swaps on one file (each reads the file,
// writes a new version with old=<what it read>) and a counter key lose no update.
//
// REFTX_KILL_ITERATIONS: iterations per randomized test case (default 24).
// REFTX_KILL_SEED: reuse the seed printed by a failing run.
// REFTX_CONCURRENCY_ITERATIONS: successful commits per writer (default 8).
#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

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

namespace reftx::test::crash::files {
namespace {

int iterations() {
  return env_count("REFTX_KILL_ITERATIONS", 24);
}

// Kills must land inside what they aim at, else the suite only tests start-up and finished
// runs. Each randomized case asserts a share of its kills that left a transaction's record
// non-terminal (pending, committing, rolling-back): the apply's own record right before
// recovery, or the interrupted transaction's record after the recovering process was killed.
// Observed shares, 6-8 runs at the default 24 iterations on a shared 2-core machine (load 1-7)
// and 2 runs of the ASan+UBSan build at 20 iterations (as CI runs it):
//   apply     29 42 66 70 75 79 87 87 %   sanitized 80 95 %
//   recover   37 41 45 45 58 58 %         sanitized 45 55 %
// The thresholds are far below the lowest share, so that 20 kills miss them by chance well
// under 1 % of the time (binomial, at the lowest share), while a change that makes the kills
// miss the transaction fails them.
constexpr int kMinInsideApply = 5;
constexpr int kMinInsideRecovery = 10;

void sleep_us(int us) {
  std::this_thread::sleep_for(std::chrono::microseconds(us));
}

// A repository with tracked files (large data files, small executable scripts), keys and refs,
// set up by one committed transaction, and random mixed transactions on them.
class World {
 public:
  explicit World(std::uint64_t seed) : rng_(seed) {
    for (int i = 0; i < 4; ++i) commits_.push_back(repo_.make_commit("c" + std::to_string(i)));
    std::map<std::string, FileImage> tracked;
    for (int i = 0; i < 5; ++i) tracked["data/f" + std::to_string(i) + ".bin"] = {big(), false};
    for (int i = 0; i < 2; ++i) {
      tracked["bin/t" + std::to_string(i) + ".sh"] = {"#!/bin/sh\necho " + std::to_string(i) + "\n",
                                                      true};
    }
    for (const auto& [path, image] : tracked) paths_.push_back(path);
    KeyMap keys;
    for (int i = 0; i < 4; ++i) keys["k/" + std::to_string(i)] = "initial " + std::to_string(i);
    std::vector<std::string> refs;
    for (int i = 0; i < 3; ++i) {
      refs.push_back("create refs/heads/l" + std::to_string(i) + " " + commits_[0]);
    }
    head_ = commit_initial_state(repo_, tracked, keys, refs);
  }

  const TempRepo& repo() const { return repo_; }
  const WorkTree& head() const { return head_; }
  int uniform(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  bool coin() { return uniform(0, 1) == 1; }

  // Random bytes, 0.5-3 MB.
  std::string big() {
    std::string s(static_cast<std::size_t>(uniform(512 << 10, 3 << 20)), '\0');
    for (std::size_t i = 0; i < s.size(); i += 8) {
      const std::uint64_t r = rng_();
      for (std::size_t k = 0; k < 8 && i + k < s.size(); ++k) {
        s[i + k] = static_cast<char>(r >> (8 * k));
      }
    }
    return s;
  }

  // A transaction on 1-4 existing or removed files (write with or without old blob, mode
  // changes, removals), maybe a new file in new directories, 1-3 keys and, if `with_refs`,
  // 1-3 refs.
  MixedPlan plan(const std::string& message, bool with_refs) {
    MixedPlan p = start_mixed(repo_, message);
    std::vector<std::string> paths = paths_;
    std::shuffle(paths.begin(), paths.end(), rng_);
    paths.resize(static_cast<std::size_t>(uniform(1, 4)));
    for (const std::string& path : paths) {
      const bool exists = p.before.tree.files.count(path) > 0;
      std::optional<std::string> cas;
      if (coin()) cas = p.current_blob(repo_, path);
      if (exists && uniform(0, 4) == 0) {
        p.remove(repo_, path, cas);
        continue;
      }
      const char* modes[] = {"", "100644", "100755"};
      const std::string content =
          path.ends_with(".sh") ? "#!/bin/sh\necho " + std::to_string(rng_()) + "\n" : big();
      p.write(repo_, path, content, cas, modes[uniform(0, 2)]);
    }
    if (coin()) {
      const std::string n = std::to_string(next_dir_++);
      const std::string path = "new/" + n + "/deep/file-" + n + ".bin";
      p.write(repo_, path, big(), coin() ? std::optional<std::string>(kZeroOid) : std::nullopt);
      paths_.push_back(path);
    }
    for (int i = uniform(1, 3), k = uniform(0, 5); i > 0; --i, k = (k + 1) % 6) {
      const std::string key = "k/" + std::to_string(k);
      if (p.before.keys.count(key) && coin()) {
        p.unset(key);
      } else {
        p.set(key, message + " " + std::to_string(i));
      }
    }
    if (with_refs) {
      for (int i = uniform(1, 3), k = uniform(0, 3); i > 0; --i, k = (k + 1) % 4) {
        const std::string name = "refs/heads/l" + std::to_string(k);
        const std::string cur = value_of(p.before.refs, name);
        std::string next = cur;
        while (next == cur) next = commits_[static_cast<std::size_t>(uniform(0, 3))];
        if (cur == kZeroOid) {
          p.create(name, next);
        } else if (uniform(0, 3) == 0) {
          p.delete_ref(name, cur);
        } else {
          p.update(name, next, coin() ? std::optional<std::string>(cur) : std::nullopt);
        }
      }
    }
    return p;
  }

 private:
  TempRepo repo_{1};
  std::mt19937_64 rng_;
  std::vector<std::string> commits_;
  std::vector<std::string> paths_;  // tracked files and the new ones transactions wrote
  WorkTree head_;
  int next_dir_ = 0;
};

// Directories (relative to the work tree, "" for the root) holding the plan's files.
std::set<std::string> parent_dirs(const MixedPlan& plan) {
  std::set<std::string> dirs;
  for (const std::string& path : plan.paths) {
    const auto slash = path.rfind('/');
    dirs.insert(slash == std::string::npos ? "" : path.substr(0, slash));
  }
  return dirs;
}

// Names of the temp files (.reftx-*) in those directories.
std::set<std::string> temp_names(const std::string& root, const std::set<std::string>& dirs) {
  std::set<std::string> names;
  for (const std::string& dir : dirs) {
    DIR* d = ::opendir((dir.empty() ? root : root + "/" + dir).c_str());
    if (d == nullptr) continue;
    while (dirent* e = ::readdir(d)) {
      if (std::string(e->d_name).starts_with(".reftx-")) names.insert(dir + "/" + e->d_name);
    }
    ::closedir(d);
  }
  return names;
}

// lstat identity of a path, "" when absent.
std::string identity_of(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return "";
  return std::to_string(st.st_ino) + ":" + std::to_string(st.st_mode) + ":" +
         std::to_string(st.st_mtim.tv_nsec) + ":" + std::to_string(st.st_size);
}

// When the random delay starts: at the start of the process, when the set of temp files in the
// plan's directories changes (apply: the first is written; recovery: one is written or removed),
// when git holds the first or every lock of the plan's refs, or when the first file changes.
enum class Origin { start, temp_files, first_lock, all_locks, file_changed, count };

const char* to_string(Origin o) {
  static const char* names[] = {"the start", "the temp files changed", "git held a first lock",
                                "git held every lock", "the first file changed"};
  return names[static_cast<int>(o)];
}

struct KillTiming {
  Origin origin = Origin::start;
  int delay_us = 0;
};

// Delays fit the phase: an apply takes 100-300 ms to start and stage its files (a few tens of
// ms per file), a recovery a few tens of ms to start and a few ms per file it rolls; git's
// commit and the renames take a few ms.
KillTiming pick_timing(World& w, bool has_refs, bool recovery) {
  KillTiming t;
  for (;;) {
    t.origin = static_cast<Origin>(w.uniform(0, static_cast<int>(Origin::count) - 1));
    if (has_refs || (t.origin != Origin::first_lock && t.origin != Origin::all_locks)) break;
  }
  switch (t.origin) {
    case Origin::start:
      t.delay_us = w.uniform(0, recovery ? 60000 : 250000);
      break;
    case Origin::temp_files:
      t.delay_us = w.uniform(0, recovery ? 5000 : 40000);
      break;
    case Origin::first_lock:
      t.delay_us = w.uniform(0, recovery ? 5000 : 8000);
      break;
    case Origin::all_locks:
      t.delay_us = w.uniform(0, 5000);
      break;
    default:
      t.delay_us = w.uniform(0, 2000);
      break;
  }
  return t;
}

std::string describe_timing(const KillTiming& t) {
  return "kill " + std::to_string(t.delay_us) + " us after " + to_string(t.origin);
}

// Waits (polling every 100 us, at most 10 s) until the timing's origin is seen or the
// process exited, then sleeps the delay.
void wait_to_kill(const TempRepo& repo, const MixedPlan& plan, pid_t pid, const KillTiming& t) {
  const std::set<std::string> dirs = parent_dirs(plan);
  const std::set<std::string> temps = temp_names(repo.path(), dirs);
  std::vector<std::string> locks;
  for (const std::string& name : changed_names(plan.refs)) {
    locks.push_back(repo.git_dir() + "/" + name + ".lock");
  }
  const std::string first_file = repo.path() + "/" + plan.paths.at(0);
  const std::string first_identity = identity_of(first_file);
  auto seen = [&]() {
    switch (t.origin) {
      case Origin::start:
        return true;
      case Origin::temp_files:
        return temp_names(repo.path(), dirs) != temps;
      case Origin::first_lock:
      case Origin::all_locks: {
        std::size_t present = 0;
        for (const std::string& l : locks) present += ::access(l.c_str(), F_OK) == 0 ? 1 : 0;
        return t.origin == Origin::first_lock ? present > 0 : present == locks.size();
      }
      default:
        return identity_of(first_file) != first_identity;
    }
  };
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!seen() && !exited(pid) && std::chrono::steady_clock::now() < deadline) sleep_us(100);
  sleep_us(t.delay_us);
}

struct Stats : KillCounts {
  int inside = 0;  // kills that left the transaction's record non-terminal
  int temps_before_recovery = 0;
  int new_outcomes = 0;
  int old_outcomes = 0;
  std::map<std::string, int> origins;
  std::map<std::string, int> state_before_recovery;

  void print(const char* name) const {
    std::cout << "[files_kill] " << name << ": " << iterations << " iterations, " << killed
              << " killed, " << finished << " finished first; timed on:";
    for (const auto& [origin, n] : origins) std::cout << " " << origin << " " << n << ";";
    std::cout << " temp files before recovery " << temps_before_recovery
              << "x; records before recovery:";
    for (const auto& [state, n] : state_before_recovery) std::cout << " " << state << " " << n;
    std::cout << "; outcome new " << new_outcomes << ", old " << old_outcomes << std::endl;
  }
};

// The record's state (or "none"), counted and returned; and what readers see before recovery:
// the keys change exactly at the decision.
std::string note_before_recovery(Stats& stats, const TempRepo& repo, const MixedPlan& plan) {
  std::optional<JournalRecord> rec = find_by_message(journal_list(repo), plan.message);
  const std::string state = rec ? rec->state : "none";
  ++stats.state_before_recovery[state];
  const bool decided = state == "committing" || state == "committed";
  CHECK_MESSAGE(state_list(repo) == (decided ? plan.after.keys : plan.before.keys),
                "state keys before recovery, record ", state);
  if (!temp_files(snapshot_work_tree(repo.path())).empty()) ++stats.temps_before_recovery;
  return state;
}

void record_outcome(Stats& stats, Side side) {
  (side == Side::new_values ? stats.new_outcomes : stats.old_outcomes)++;
}

Recovery pick_recovery(World& w) {
  return static_cast<Recovery>(w.uniform(0, 2));
}

TEST_CASE("random SIGKILL of reftx apply of mixed transactions with large files") {
  World w(seed_for("files_kill", "apply"));
  Stats stats;
  for (int i = 0; i < iterations(); ++i) {
    const bool with_refs = w.uniform(0, 3) != 0;
    MixedPlan plan = w.plan("kill apply " + std::to_string(i), with_refs);
    const bool group = w.coin();
    const KillTiming timing = pick_timing(w, with_refs, /*recovery=*/false);
    const Recovery how = pick_recovery(w);
    INFO("iteration ", i, ": ", describe_timing(timing), std::string(group ? " (group)" : ""),
         ", recovered by ", to_string(how), "\nscript:\n", plan.script());
    ++stats.origins[to_string(timing.origin)];
    RunOptions options;
    options.new_process_group = group;
    Child child = start_mixed_apply(w.repo(), plan, options);
    wait_to_kill(w.repo(), plan, child.pid(), timing);
    RunResult r = kill_and_wait(child, group, stats);
    std::optional<std::uint64_t> id;
    if (r.signal != SIGKILL) {
      id = printed_id(r);
      REQUIRE_MESSAGE(id.has_value(), describe(r));
    }
    const std::string state = note_before_recovery(stats, w.repo(), plan);
    if (state != "none" && !is_terminal_state(state)) ++stats.inside;
    recover_via(w.repo(), how, plan);
    record_outcome(stats, check_mixed_recovered(w.repo(), plan, w.head(), id, /*fsck=*/false).side);
  }
  check_fsck(w.repo());
  stats.print("apply");
  check_share("files_kill", "apply: kills inside the transaction", stats.inside, stats.iterations,
              kMinInsideApply);
}

// Interrupts a mixed transaction at a random crash point (then SIGKILLs its process group half
// of the time), then kills the process recovering it at a random moment: `reftx recover`, or a
// `reftx apply` of a transaction setting one key, which recovers when it opens the store.
// Recovery then runs again and must leave both transactions all-or-nothing.
TEST_CASE("random SIGKILL during recovery of mixed transactions with large files") {
  World w(seed_for("files_kill", "recover"));
  Stats stats;
  const std::vector<std::string> points = {
      "apply.recorded",    "apply.files-staged",  "apply.prepared",      "apply.decided",
      "apply.commit-sent", "apply.git-committed", "apply.file-replaced", "apply.synced"};
  for (int i = 0; i < iterations(); ++i) {
    const bool with_refs = w.uniform(0, 3) != 0;
    MixedPlan plan = w.plan("interrupted " + std::to_string(i), with_refs);
    const std::string point =
        points[static_cast<std::size_t>(w.uniform(0, static_cast<int>(points.size()) - 1))];
    const bool group_first = w.coin();
    const bool by_apply = w.coin();
    const bool group_second = w.coin();
    const KillTiming timing = pick_timing(w, with_refs, /*recovery=*/true);
    INFO("iteration ", i, ": apply killed at ", point, std::string(group_first ? " (+ group)" : ""),
         ", then ", std::string(by_apply ? "apply" : "recover"), ": ", describe_timing(timing),
         std::string(group_second ? " (group)" : ""), "\nscript:\n", plan.script());
    ++stats.origins[to_string(timing.origin)];

    RunOptions crash;
    crash.env = {{"REFTX_CRASH_AT", point}};
    crash.new_process_group = true;
    Child crashing = start_mixed_apply(w.repo(), plan, crash);
    if (group_first) kill_group_once_dead(crashing);
    RunResult crashed = crashing.wait();
    REQUIRE_MESSAGE(crashed.signal == SIGKILL, describe(crashed));
    const std::optional<JournalRecord> found =
        find_by_message(journal_list(w.repo()), plan.message);
    REQUIRE_MESSAGE(found.has_value(), "no record after a crash at ", point);
    const JournalRecord interrupted = *found;
    note_before_recovery(stats, w.repo(), plan);

    const std::string marker = "recovering " + plan.message;
    RunOptions second;
    second.new_process_group = group_second;
    if (by_apply) second.input = "set recovery/by " + plan.message + "\n";
    Child recovering =
        by_apply
            ? Child::start({reftx_binary(), "-C", w.repo().path(), "apply", "-m", marker}, second)
            : Child::start({reftx_binary(), "-C", w.repo().path(), "recover"}, second);
    wait_to_kill(w.repo(), plan, recovering.pid(), timing);
    RunResult r = kill_and_wait(recovering, group_second, stats);
    // Landed inside the recovery: the interrupted transaction is still in flight.
    if (!is_terminal_state(journal_show(w.repo(), interrupted.id).state)) ++stats.inside;
    std::optional<std::uint64_t> marker_id;
    if (r.signal != SIGKILL && by_apply) marker_id = printed_id(r);
    if (r.signal != SIGKILL && !by_apply) {
      const std::string want =
          (interrupted.state == "committing" ? "rolled-forward " : "rolled-back ") +
          std::to_string(interrupted.id) + "\n";
      CHECK_MESSAGE(r.out == want, "recover printed: ", r.out);
    }

    recover_and_check(w.repo());
    // The key-setting transaction is all-or-nothing too: the key is there iff it committed.
    if (by_apply) {
      std::optional<JournalRecord> rec = find_by_message(journal_list(w.repo()), marker);
      const bool present = state_list(w.repo()).count("recovery/by") > 0 &&
                           state_list(w.repo()).at("recovery/by") == plan.message;
      CHECK_MESSAGE(present == (rec && rec->state == "committed"), "marker key present: ", present,
                    ", record: ", rec ? rec->raw : "none");
      if (marker_id) CHECK(present);
      if (present) plan.outside_key("recovery/by", plan.message);
    }
    const MixedChecked after =
        check_mixed_recovered(w.repo(), plan, w.head(), std::nullopt, /*fsck=*/false);
    record_outcome(stats, after.side);
    // Where recovery took it follows the state the crash left.
    CHECK(after.side == (interrupted.state == "pending" ? Side::old_values : Side::new_values));
  }
  check_fsck(w.repo());
  stats.print("recover");
  check_share("files_kill", "recover: kills inside the recovery", stats.inside, stats.iterations,
              kMinInsideRecovery);
}

// ---------------------------------------------------------------------------------------------
// Concurrency: compare-and-swap chains on one file.

constexpr const char* kShared = "shared/counter.txt";

int successes_per_writer() {
  return env_count("REFTX_CONCURRENCY_ITERATIONS", 8);
}

// The shared file: "count <n>\nprev <blob of the version it replaced>\nby <writer> #<k>\n"
// followed by filler that makes staging take a moment.
struct Version {
  int count = -1;
  std::string prev;
  std::string by;
};

Version parse_version(const std::string& content) {
  Version v;
  std::istringstream in(content);
  std::string word;
  in >> word >> v.count >> word >> v.prev >> word;
  std::getline(in >> std::ws, v.by);
  return v;
}

std::string version_content(int count, const std::string& prev, const std::string& by) {
  return "count " + std::to_string(count) + "\nprev " + prev + "\nby " + by + "\n" +
         std::string(256 << 10, static_cast<char>('a' + count % 26)) + "\n";
}

struct Writer {
  std::string name;
  std::vector<std::uint64_t> ids;  // successful transactions, in order
  std::vector<std::string> blobs;  // the version each of them wrote
  int refused = 0;                 // exit 1
  int turned_away = 0;  // of those, refused before being journaled: the file was in flight
  std::string error;
};

// Read-modify-write loop: read the file, write the next version with old=<what was read>,
// set the counter to its count, the writer's key to its number of successes, and move the
// writer's ref (refs/chain/<name>) from its previous version to the new one.
void chain_writer(const TempRepo& repo, int successes, Writer& w) {
  try {
    const std::string path = repo.path() + "/" + kShared;
    for (int attempt = 0; static_cast<int>(w.ids.size()) < successes; ++attempt) {
      if (attempt > 2000) throw std::runtime_error("no progress");
      const std::string current = read_file(path);
      const Version v = parse_version(current);
      if (v.count < 0) throw std::runtime_error("unreadable version: " + current.substr(0, 80));
      const std::string current_blob = blob_id(repo, current);
      const std::string by = w.name + " #" + std::to_string(w.ids.size());
      const std::string blob = write_blob(repo, version_content(v.count + 1, current_blob, by));
      const std::string own_prev = w.blobs.empty() ? kZeroOid : w.blobs.back();
      RunOptions options;
      options.input = "write " + std::string(kShared) + " " + blob + " " + current_blob + "\n" +
                      "set counter " + std::to_string(v.count + 1) + "\n" + "set writer/" + w.name +
                      " " + std::to_string(w.ids.size() + 1) + "\n" + "update refs/chain/" +
                      w.name + " " + blob + " " + own_prev + "\n";
      RunResult r = repo.reftx({"apply", "-m", w.name}, options);
      if (r.exit_code == 1) {
        ++w.refused;
        if (r.err.find("is being changed by transaction") != std::string::npos) ++w.turned_away;
        continue;
      }
      std::optional<std::uint64_t> id = printed_id(r);
      if (!id) throw std::runtime_error("apply: " + describe(r));
      w.ids.push_back(*id);
      w.blobs.push_back(blob);
    }
  } catch (const std::exception& e) {
    w.error = e.what();
  }
}

TEST_CASE("concurrent compare-and-swap chains on one file and a counter key lose no update") {
  TempRepo repo{1};
  const std::string initial = version_content(0, kZeroOid, "nobody");
  const WorkTree head =
      commit_initial_state(repo, {{kShared, {initial, false}}}, {{"counter", "0"}});
  const std::string initial_blob = blob_id(repo, initial);
  const int successes = successes_per_writer();

  std::vector<Writer> writers(4);
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < writers.size(); ++i) {
    writers[i].name = "w" + std::to_string(i);
    threads.emplace_back(chain_writer, std::cref(repo), successes, std::ref(writers[i]));
  }
  for (auto& t : threads) t.join();

  std::set<std::string> written;
  std::map<std::uint64_t, const Writer*> writer_of;
  int total = 0, refused = 0, turned_away = 0;
  for (const Writer& w : writers) {
    CHECK_MESSAGE(w.error.empty(), w.name, ": ", w.error);
    total += static_cast<int>(w.ids.size());
    refused += w.refused;
    turned_away += w.turned_away;
    written.insert(w.blobs.begin(), w.blobs.end());
    for (std::uint64_t id : w.ids) CHECK_MESSAGE(writer_of.emplace(id, &w).second, "id twice");
  }
  std::cout << "[files_kill] concurrency: " << writers.size() << " writers, " << total
            << " commits, " << refused << " refused (" << turned_away
            << " while another transaction had the file in flight)" << std::endl;

  // The chain of versions from the file back to the initial one holds every success once.
  const std::string final_content = read_file(repo.path() + "/" + kShared);
  std::vector<std::string> chain;
  std::map<std::string, std::string> parent_of;
  for (std::string content = final_content, blob = blob_id(repo, final_content);
       blob != initial_blob;) {
    const Version v = parse_version(content);
    REQUIRE_MESSAGE(v.count > 0, "broken chain at ", blob);
    REQUIRE(static_cast<int>(chain.size()) <= total);
    chain.push_back(blob);
    parent_of[blob] = v.prev;
    blob = v.prev;
    content = repo.git({"cat-file", "blob", blob});
  }
  CHECK(static_cast<int>(chain.size()) == total);
  CHECK(std::set<std::string>(chain.begin(), chain.end()) == written);
  CHECK(parse_version(final_content).count == total);

  // Keys and refs agree with the file.
  const KeyMap keys = state_list(repo);
  CHECK(keys.at("counter") == std::to_string(total));
  for (const Writer& w : writers) {
    if (w.ids.empty()) continue;
    CHECK(keys.at("writer/" + w.name) == std::to_string(w.ids.size()));
    CHECK(repo.ref("refs/chain/" + w.name) == w.blobs.back());
  }

  // The journal: committed records are exactly the printed ids, each replacing its parent.
  int committed = 0, aborted = 0;
  for (const JournalRecord& rec : journal_list(repo)) {
    INFO(rec.raw);
    CHECK(is_terminal_state(rec.state));
    if (rec.message == "initial state") continue;
    if (rec.state == "aborted") {
      ++aborted;
      continue;
    }
    ++committed;
    REQUIRE_MESSAGE(writer_of.count(rec.id), "committed, but no writer was told so");
    const Writer& w = *writer_of.at(rec.id);
    const auto k =
        static_cast<std::size_t>(std::find(w.ids.begin(), w.ids.end(), rec.id) - w.ids.begin());
    REQUIRE(rec.files.size() == 1);
    CHECK(rec.files[0].new_blob == w.blobs[k]);
    CHECK(rec.files[0].old_blob == parent_of[w.blobs[k]]);
    CHECK(rec.message == w.name);
  }
  CHECK(committed == total);
  CHECK(aborted == refused - turned_away);  // the others were journaled as aborted

  const RepoSnapshot now = snapshot(repo);
  check_no_temp_files(now.tree);
  check_status(repo, head, now.tree);
  CHECK(git_status(repo) == std::vector<std::string>{std::string(" M ") + kShared});
  check_no_locks(repo);
  check_fsck(repo);
  check_recover_changes_nothing(repo, now);
}

}  // namespace
}  // namespace reftx::test::crash::files
