// Shared checks of the crash-safety suites (crash_matrix_test, random_kill_test,
// concurrency_test, files_crash_test, files_kill_test): what must hold after a transaction was
// interrupted and recovered.
//
// Everything goes through real processes: `reftx journal list/show --json`, `reftx recover`,
// git. Header-only so that each suite executable can include it without a build change.
#pragma once

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <doctest/doctest.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "reftx/reftx.hpp"
#include "reftx/types.hpp"
#include "support/json.hpp"
#include "support/process.hpp"
#include "support/temp_repo.hpp"

namespace reftx::test::crash {

// ---------------------------------------------------------------------------------------------
// Journal records as printed by `reftx journal ... --json`.

struct JournalRef {
  std::string name;
  std::string op;
  std::optional<std::string> old_oid;  // null while unknown
  std::string new_oid;
};

// A working-tree file of a record ("files").
struct JournalFile {
  std::string path;
  std::optional<std::string> old_blob;  // null while unknown; 40 zeros: absent
  std::string new_blob;                 // 40 zeros: removed
  std::optional<std::string> mode;      // "100644" / "100755"; null when removed
  std::optional<std::string> old_mode;  // null while unknown or when absent
  std::optional<std::string> expected_old;
};

// A tool-state key of a record ("keys").
struct JournalKey {
  std::string key;
  std::optional<std::string> old_value;  // null: absent (or unknown, see old_known)
  bool old_known = false;
  std::optional<std::string> new_value;  // null: unset
};

struct JournalRecord {
  std::uint64_t id = 0;
  std::string state;
  std::string message;
  std::string reason;
  std::vector<JournalRef> refs;                               // changed refs
  std::vector<std::pair<std::string, std::string>> verified;  // name, expected
  std::vector<std::string> conflicts;
  std::optional<std::string> work_tree;  // null when the transaction has no files
  std::vector<JournalFile> files;
  std::vector<JournalKey> keys;
  std::string raw;  // the JSON line
};

inline bool is_terminal_state(const std::string& state) {
  return state == "committed" || state == "aborted";
}

inline std::optional<std::string> string_or_null(const Json& j) {
  if (j.is_null()) return std::nullopt;
  return j.str();
}

inline JournalRecord to_record(const std::string& line) {
  Json j = parse_json(line);
  JournalRecord r;
  r.raw = line;
  r.id = std::stoull(j["id"].str());
  r.state = j["state"].str();
  r.message = j["message"].str();
  if (const Json* reason = j.find("reason")) r.reason = reason->str();
  for (const Json& ref : j["refs"].items) {
    JournalRef jr;
    jr.name = ref["name"].str();
    jr.op = ref["op"].str();
    if (!ref["old"].is_null()) jr.old_oid = ref["old"].str();
    jr.new_oid = ref["new"].str();
    r.refs.push_back(std::move(jr));
  }
  for (const Json& v : j["verified"].items) {
    r.verified.emplace_back(v["name"].str(), v["expected"].str());
  }
  if (const Json* conflicts = j.find("conflicts")) {
    for (const Json& c : conflicts->items) r.conflicts.push_back(c.str());
  }
  if (const Json* work_tree = j.find("work_tree")) r.work_tree = string_or_null(*work_tree);
  if (const Json* files = j.find("files")) {
    for (const Json& f : files->items) {
      JournalFile jf;
      jf.path = f["path"].str();
      jf.old_blob = string_or_null(f["old"]);
      jf.new_blob = f["new"].str();
      jf.mode = string_or_null(f["mode"]);
      jf.old_mode = string_or_null(f["old_mode"]);
      if (const Json* e = f.find("expected_old")) jf.expected_old = e->str();
      r.files.push_back(std::move(jf));
    }
  }
  if (const Json* keys = j.find("keys")) {
    for (const Json& k : keys->items) {
      JournalKey jk;
      jk.key = k["key"].str();
      jk.old_value = string_or_null(k["old"]);
      const Json& known = k["old_known"];
      if (known.type != Json::Type::boolean) throw std::runtime_error("old_known: not a boolean");
      jk.old_known = known.boolean;
      jk.new_value = string_or_null(k["new"]);
      r.keys.push_back(std::move(jk));
    }
  }
  return r;
}

// `reftx journal list --json`, parsed. Read-only: never recovers anything.
inline std::vector<JournalRecord> journal_list(const TempRepo& repo) {
  RunResult r = repo.reftx({"journal", "list", "--json"});
  REQUIRE_MESSAGE(r.exit_code == 0, "journal list failed: ", r.err);
  std::vector<JournalRecord> records;
  for (const std::string& line : split_lines(r.out)) records.push_back(to_record(line));
  return records;
}

inline JournalRecord journal_show(const TempRepo& repo, std::uint64_t id) {
  RunResult r = repo.reftx({"journal", "show", std::to_string(id), "--json"});
  REQUIRE_MESSAGE(r.exit_code == 0, "journal show ", id, " failed: ", r.err);
  std::vector<std::string> lines = split_lines(r.out);
  REQUIRE(lines.size() == 1);
  return to_record(lines.front());
}

inline std::optional<JournalRecord> find_by_message(const std::vector<JournalRecord>& records,
                                                    const std::string& message) {
  std::optional<JournalRecord> found;
  for (const JournalRecord& r : records) {
    if (r.message == message) {
      CHECK_MESSAGE(!found, "two journal records with message '", message, "'");
      found = r;
    }
  }
  return found;
}

// ---------------------------------------------------------------------------------------------
// Transactions and the two states they may leave the repository in.

using RefMap = std::map<std::string, std::string>;  // every ref under refs/: name -> oid

inline std::string value_of(const RefMap& refs, const std::string& name) {
  auto it = refs.find(name);
  return it == refs.end() ? kZeroOid : it->second;
}

// One `reftx apply` script together with the full ref state before it and after it.
struct TxPlan {
  std::string message;  // unique in the journal: finds the record
  std::vector<std::string> lines;
  RefMap before;
  RefMap after;
  std::map<std::string, std::string> verified;  // verify lines: name -> expected

  std::string script() const {
    std::string s;
    for (const std::string& l : lines) s += l + "\n";
    return s;
  }

  // Lines are added with the effect the transaction has if it commits.
  void update(const std::string& name, const std::string& new_oid,
              std::optional<std::string> old = std::nullopt) {
    lines.push_back("update " + name + " " + new_oid + (old ? " " + *old : ""));
    set_after(name, new_oid);
  }
  void create(const std::string& name, const std::string& new_oid) {
    lines.push_back("create " + name + " " + new_oid);
    set_after(name, new_oid);
  }
  void remove(const std::string& name, std::optional<std::string> old = std::nullopt) {
    lines.push_back("delete " + name + (old ? " " + *old : ""));
    set_after(name, kZeroOid);
  }
  void verify(const std::string& name, const std::string& expected) {
    lines.push_back("verify " + name + " " + expected);
    verified[name] = expected;
  }

 private:
  void set_after(const std::string& name, const std::string& oid) {
    if (oid == kZeroOid) {
      after.erase(name);
    } else {
      after[name] = oid;
    }
  }
};

// Starts a plan from the repository's current refs.
inline TxPlan start_plan(const TempRepo& repo, std::string message) {
  TxPlan plan;
  plan.message = std::move(message);
  plan.before = repo.refs();
  plan.after = plan.before;
  return plan;
}

enum class Side { old_values, new_values, mixed };

inline const char* to_string(Side s) {
  return s == Side::old_values ? "all-old" : s == Side::new_values ? "all-new" : "MIXED";
}

inline std::string describe_diff(const RefMap& now, const TxPlan& plan) {
  std::set<std::string> names;
  for (const auto* m : {&now, &plan.before, &plan.after}) {
    for (const auto& [name, oid] : *m) names.insert(name);
  }
  std::string out;
  for (const std::string& name : names) {
    std::string n = value_of(now, name), o = value_of(plan.before, name),
                a = value_of(plan.after, name);
    if (n == o && n == a) continue;
    out += "\n  " + name + ": now " + n.substr(0, 8) + " old " + o.substr(0, 8) + " new " +
           a.substr(0, 8) +
           (n == o   ? " (old)"
            : n == a ? " (new)"
                     : " (NEITHER)");
  }
  return out;
}

// Compares the whole ref namespace with the two allowed states.
inline Side classify(const RefMap& now, const TxPlan& plan) {
  if (now == plan.before) return Side::old_values;
  if (now == plan.after) return Side::new_values;
  return Side::mixed;
}

// ---------------------------------------------------------------------------------------------
// Process helpers.

// `reftx apply -m <message>` of the plan's script, run to completion.
inline RunResult apply_plan(const TempRepo& repo, const TxPlan& plan) {
  RunOptions options;
  options.input = plan.script();
  return repo.reftx({"apply", "-m", plan.message}, options);
}

// `reftx -C <repo> apply -m <message>` of the plan's script, started in the background with
// `options` (their input is replaced by the script).
inline Child start_apply(const TempRepo& repo, const TxPlan& plan, RunOptions options = {}) {
  options.input = plan.script();
  return Child::start({reftx_binary(), "-C", repo.path(), "apply", "-m", plan.message}, options);
}

// Whether the process has exited. Does not reap it, so its pid cannot be reused meanwhile.
inline bool exited(pid_t pid) {
  siginfo_t info{};
  info.si_pid = 0;
  return ::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
         info.si_pid == pid;
}

// Waits for the child (started with new_process_group) to die, then SIGKILLs its whole process
// group, which kills its git child if that has not finished or aborted by itself yet. Waits
// without reaping, so that the group id cannot be reused before the kill.
inline void kill_group_once_dead(const Child& child) {
  siginfo_t info{};
  while (::waitid(P_PID, static_cast<id_t>(child.pid()), &info, WEXITED | WNOWAIT) != 0 &&
         errno == EINTR) {
  }
  ::kill(-child.pid(), SIGKILL);
}

// Waits until no owner of the journal and no git child of one is alive (<name>.owner and
// <name>.child under <journal>/owners can be flocked). A reftx killed by SIGKILL may leave its
// git child running for a moment. Recovery waits for that child by itself; tests call this only
// where they need a quiescent repository (e.g. before an outside writer touches a ref).
inline void wait_for_dead_owners(const TempRepo& repo) {
  const std::string dir = repo.git_dir() + "/reftx/owners";
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  std::vector<std::string> files;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (dirent* e = ::readdir(d)) {
      std::string name = e->d_name;
      if (name.ends_with(".owner") || name.ends_with(".child")) files.push_back(dir + "/" + name);
    }
    ::closedir(d);
  }
  for (const std::string& file : files) {
    int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;  // swept meanwhile
    while (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      if (errno != EWOULDBLOCK && errno != EINTR) break;
      if (std::chrono::steady_clock::now() > deadline) {
        ::close(fd);
        FAIL("owner lock ", file, " still held after 60 s");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    ::close(fd);  // releases it again
  }
}

// Lines of `reftx recover` expected for the in-flight records in `records` (none of them may
// have a live owner and no outside writer may have touched their refs).
inline std::vector<std::string> expected_recover_lines(const std::vector<JournalRecord>& records) {
  std::vector<std::string> lines;
  for (const JournalRecord& r : records) {
    if (is_terminal_state(r.state)) continue;
    lines.push_back((r.state == "committing" ? "rolled-forward " : "rolled-back ") +
                    std::to_string(r.id));
  }
  return lines;
}

// Runs `reftx recover` after a crash and checks that it names exactly the transactions that were
// in flight, each with the direction its journal state dictates. Returns the records seen before.
// It does not wait for a killed apply's git child: recovery must do that itself (a transaction
// of a dead owner must never be skipped as live).
inline std::vector<JournalRecord> recover_and_check(const TempRepo& repo) {
  std::vector<JournalRecord> before = journal_list(repo);
  RunResult r = repo.reftx({"recover"});
  CHECK_MESSAGE(r.exit_code == 0, "recover exit ", r.exit_code, " signal ", r.signal, ": ", r.err);
  CHECK_MESSAGE(r.err.empty(), "recover stderr: ", r.err);
  std::vector<std::string> got = split_lines(r.out);
  std::vector<std::string> want = expected_recover_lines(before);
  std::string want_text;
  for (const auto& l : want) want_text += l + "\n";
  CHECK_MESSAGE(got == want, "recover printed:\n", r.out, "expected:\n", want_text);
  return before;
}

inline void check_second_recover_is_noop(const TempRepo& repo) {
  RunResult again = repo.reftx({"recover"});
  CHECK_MESSAGE(again.exit_code == 0, "second recover exit ", again.exit_code, ": ", again.err);
  CHECK_MESSAGE(again.out.empty(), "second recover printed: ", again.out);
  CHECK_MESSAGE(again.err.empty(), "second recover stderr: ", again.err);
}

// Number of *.lock / packed-refs.new files under the git dir. Unlike TempRepo::lock_files() it
// tolerates files vanishing during the scan (a git child may still be running).
inline int count_lock_files(const TempRepo& repo) {
  namespace fs = std::filesystem;
  std::error_code ec;
  int n = 0;
  for (fs::recursive_directory_iterator it(repo.git_dir(), ec), end; !ec && it != end;
       it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if ((name.size() > 5 && name.ends_with(".lock")) || name == "packed-refs.new") ++n;
  }
  return n;
}

inline void check_no_locks(const TempRepo& repo) {
  std::vector<std::string> locks = repo.lock_files();
  std::string list;
  for (const auto& l : locks) list += " " + l;
  CHECK_MESSAGE(locks.empty(), "lock files left:", list);
  // Nor a witness link of a packed-refs.lock (reftx-<id>.packed-refs-witness in the git dir).
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(repo.git_dir(), ec)) {
    const std::string name = entry.path().filename().string();
    CHECK_MESSAGE(!name.ends_with(".packed-refs-witness"), "witness link left: ", name);
  }
}

inline void check_fsck(const TempRepo& repo) {
  RunResult r = repo.git_result({"fsck", "--no-dangling", "--no-progress"});
  CHECK_MESSAGE(r.exit_code == 0, "git fsck exit ", r.exit_code, ": ", r.out, r.err);
  CHECK_MESSAGE(r.out + r.err == "", "git fsck output: ", r.out, r.err);
}

// The journal record of `plan` agrees with the refs: committed <=> all new, aborted <=> all old,
// and it journals the real old and new values. Returns the record (nullopt: the process died
// before recording anything, so nothing may have changed).
inline std::optional<JournalRecord> check_journal_agrees(const TempRepo& repo, const TxPlan& plan,
                                                         Side side) {
  std::vector<JournalRecord> records = journal_list(repo);
  for (const JournalRecord& r : records) {
    CHECK_MESSAGE(is_terminal_state(r.state), "record not terminal after recovery: ", r.raw);
  }
  std::optional<JournalRecord> rec = find_by_message(records, plan.message);
  if (!rec) {
    CHECK_MESSAGE(side == Side::old_values, "refs changed but no journal record for '",
                  plan.message, "'");
    return rec;
  }
  if (rec->state == "committed") {
    CHECK_MESSAGE(side == Side::new_values, "journal says committed but refs are ", to_string(side),
                  ": ", rec->raw);
  } else if (rec->state == "aborted") {
    CHECK_MESSAGE(side == Side::old_values, "journal says aborted but refs are ", to_string(side),
                  ": ", rec->raw);
    CHECK_MESSAGE(!rec->reason.empty(), "aborted record without a reason: ", rec->raw);
  }
  CHECK_MESSAGE(rec->conflicts.empty(), "unexpected conflicts: ", rec->raw);
  // What the record says was changed is exactly what the plan changes.
  std::set<std::string> journaled;
  for (const JournalRef& ref : rec->refs) {
    journaled.insert(ref.name);
    REQUIRE_MESSAGE(ref.old_oid.has_value(), "old value unknown in a terminal record: ", rec->raw);
    CHECK_MESSAGE(*ref.old_oid == value_of(plan.before, ref.name), "journaled old of ", ref.name,
                  " wrong: ", rec->raw);
    CHECK_MESSAGE(ref.new_oid == value_of(plan.after, ref.name), "journaled new of ", ref.name,
                  " wrong: ", rec->raw);
  }
  for (const auto& [name, oid] : plan.after) {
    if (value_of(plan.before, name) != oid) CHECK_MESSAGE(journaled.count(name), name);
  }
  for (const auto& [name, oid] : plan.before) {
    if (value_of(plan.after, name) != oid) CHECK_MESSAGE(journaled.count(name), name);
  }
  std::map<std::string, std::string> verified(rec->verified.begin(), rec->verified.end());
  CHECK(verified == plan.verified);
  // `journal show` prints the same record as `journal list`.
  JournalRecord shown = journal_show(repo, rec->id);
  CHECK(shown.raw == rec->raw);
  return rec;
}

// Names whose value the plan changes if it commits (verify lines change nothing).
inline std::set<std::string> changed_names(const TxPlan& plan) {
  std::set<std::string> names;
  for (const auto* m : {&plan.before, &plan.after}) {
    for (const auto& [name, oid] : *m) {
      if (value_of(plan.before, name) != value_of(plan.after, name)) names.insert(name);
    }
  }
  return names;
}

// All-old or all-new on the plan's changed refs only.
inline Side classify_subset(const RefMap& now, const TxPlan& plan) {
  bool all_old = true, all_new = true;
  for (const std::string& name : changed_names(plan)) {
    all_old = all_old && value_of(now, name) == value_of(plan.before, name);
    all_new = all_new && value_of(now, name) == value_of(plan.after, name);
  }
  return all_old ? Side::old_values : all_new ? Side::new_values : Side::mixed;
}

// Everything that must hold once recovery ran after transactions were interrupted anywhere:
// each all-or-nothing, journal agreement, no lock files, fsck clean, HEAD intact, and a second
// recovery that has nothing to do. `printed_id`: the apply exited 0 and printed this id.
struct Checked {
  Side side = Side::mixed;
  std::optional<JournalRecord> record;
};

struct Interrupted {
  const TxPlan* plan;
  std::optional<std::uint64_t> printed_id;
};

// Several transactions started from the same ref state on disjoint refs. Every ref outside
// them must be unchanged.
inline std::vector<Checked> check_recovered_all(const TempRepo& repo,
                                                const std::vector<Interrupted>& txs) {
  std::vector<Checked> out;
  RefMap now = repo.refs();
  RefMap expected = txs.front().plan->before;
  for (const Interrupted& tx : txs) {
    const TxPlan& plan = *tx.plan;
    Checked c;
    c.side = classify_subset(now, plan);
    CHECK_MESSAGE(c.side != Side::mixed, "'", plan.message,
                  "' left a mix of old and new refs:", describe_diff(now, plan));
    if (c.side == Side::new_values) {
      for (const std::string& name : changed_names(plan)) {
        if (value_of(plan.after, name) == kZeroOid) {
          expected.erase(name);
        } else {
          expected[name] = plan.after.at(name);
        }
      }
    }
    c.record = check_journal_agrees(repo, plan, c.side);
    if (tx.printed_id) {
      REQUIRE_MESSAGE(c.record.has_value(), "printed id ", *tx.printed_id, " has no record");
      CHECK(c.record->id == *tx.printed_id);
      CHECK_MESSAGE(c.record->state == "committed",
                    "a committed transaction was lost: ", c.record->raw);
      CHECK(c.side == Side::new_values);
    }
    out.push_back(std::move(c));
  }
  if (now != expected) {
    TxPlan whole;
    whole.before = txs.front().plan->before;
    whole.after = expected;
    CHECK_MESSAGE(now == expected,
                  "refs outside the transactions changed:", describe_diff(now, whole));
  }
  check_no_locks(repo);
  check_fsck(repo);
  CHECK(repo.git({"symbolic-ref", "HEAD"}) == "refs/heads/main");
  check_second_recover_is_noop(repo);
  return out;
}

inline Checked check_recovered(const TempRepo& repo, const TxPlan& plan,
                               std::optional<std::uint64_t> printed_id = std::nullopt) {
  return check_recovered_all(repo, {{&plan, printed_id}}).front();
}

// Parses the id printed by a successful apply.
inline std::optional<std::uint64_t> printed_id(const RunResult& r) {
  if (r.exit_code != 0) return std::nullopt;
  std::string s = r.out;
  while (!s.empty() && (s.back() == '\n')) s.pop_back();
  if (s.empty() || s.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
  return std::stoull(s);
}

inline std::string describe(const RunResult& r) {
  return "exit " + std::to_string(r.exit_code) + " signal " + std::to_string(r.signal) +
         " stdout '" + r.out + "' stderr '" + r.err + "'";
}

// Seed of a randomized test: REFTX_KILL_SEED if set, else random; printed so a failure can be
// replayed. `suite` prefixes the line ("random_kill", "files_kill").
inline std::uint64_t seed_for(const char* suite, const char* test_name) {
  std::uint64_t seed;
  if (const char* s = std::getenv("REFTX_KILL_SEED"); s != nullptr && *s != '\0') {
    seed = std::stoull(s);
  } else {
    seed = (static_cast<std::uint64_t>(std::random_device{}()) << 32) ^ std::random_device{}();
  }
  std::cout << "[" << suite << "] " << test_name << ": seed " << seed
            << " (rerun with REFTX_KILL_SEED=" << seed << ")" << std::endl;
  return seed;
}

// What happened to the processes a randomized test killed.
struct KillCounts {
  int iterations = 0;
  int killed = 0;
  int finished = 0;  // exited before the kill landed
};

// SIGKILLs the child (or its process group) and collects it. The child may have exited
// already: it is not reaped before wait(), so its pid (and group id) cannot have been reused.
// Counts the iteration as killed or as finished first; one that finished first must have
// succeeded.
inline RunResult kill_and_wait(Child& child, bool group, KillCounts& counts) {
  ::kill(group ? -child.pid() : child.pid(), SIGKILL);
  RunResult r = child.wait();
  ++counts.iterations;
  if (r.signal == SIGKILL) {
    ++counts.killed;
  } else {
    ++counts.finished;
    REQUIRE_MESSAGE(r.exit_code == 0, "finished before the kill, but failed: ", describe(r));
  }
  return r;
}

// Environment-variable override of an iteration count.
inline int env_count(const char* name, int fallback) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return fallback;
  int n = std::atoi(v);
  return n > 0 ? n : fallback;
}

// ---------------------------------------------------------------------------------------------
// Transactions that mix refs, working-tree files and tool state (files_crash_test,
// files_kill_test). The whole repository is compared: every ref, every file of the work tree
// (bytes and executable bit) and directory, every state key.
namespace files {

struct FileImage {
  std::string content;
  bool executable = false;  // the owner's execute bit
  bool operator==(const FileImage&) const = default;
};

// Everything under a work tree except its top-level .git, by path relative to the root.
struct WorkTree {
  std::map<std::string, FileImage> files;
  std::set<std::string> dirs;
  std::set<std::string> others;  // symbolic links, fifos, ...: never expected
  bool operator==(const WorkTree&) const = default;
};

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::ostringstream content;
  content << in.rdbuf();
  return content.str();
}

inline WorkTree snapshot_work_tree(const std::string& root) {
  namespace fs = std::filesystem;
  WorkTree tree;
  const std::size_t skip = root.size() + 1;
  for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator();
       ++it) {
    const std::string rel = it->path().string().substr(skip);
    if (rel == ".git") {
      it.disable_recursion_pending();
      continue;
    }
    struct stat st {};
    if (::lstat(it->path().c_str(), &st) != 0) throw std::runtime_error("cannot lstat " + rel);
    if (S_ISDIR(st.st_mode)) {
      tree.dirs.insert(rel);
    } else if (S_ISREG(st.st_mode)) {
      tree.files[rel] = FileImage{read_file(it->path().string()), (st.st_mode & S_IXUSR) != 0};
    } else {
      tree.others.insert(rel);
    }
  }
  return tree;
}

inline std::string basename_of(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// Paths of the work tree named like reftx's temp files (.reftx-*).
inline std::vector<std::string> temp_files(const WorkTree& tree) {
  std::vector<std::string> found;
  auto is_temp = [](const std::string& path) { return basename_of(path).starts_with(".reftx-"); };
  for (const auto& [path, image] : tree.files) {
    if (is_temp(path)) found.push_back(path);
  }
  for (const std::set<std::string>* paths : {&tree.dirs, &tree.others}) {
    for (const std::string& path : *paths) {
      if (is_temp(path)) found.push_back(path);
    }
  }
  return found;
}

using KeyMap = std::map<std::string, std::string>;

// `reftx state list --json`, parsed. Read-only: never recovers anything.
inline KeyMap state_list(const TempRepo& repo) {
  RunResult r = repo.reftx({"state", "list", "--json"});
  REQUIRE_MESSAGE(r.exit_code == 0, "state list failed: ", r.err);
  KeyMap keys;
  for (const std::string& line : split_lines(r.out)) {
    Json j = parse_json(line);
    CHECK_MESSAGE(keys.emplace(j["key"].str(), j["value"].str()).second,
                  "key listed twice: ", line);
  }
  return keys;
}

struct RepoSnapshot {
  RefMap refs;
  WorkTree tree;
  KeyMap keys;
  bool operator==(const RepoSnapshot&) const = default;
};

inline RepoSnapshot snapshot(const TempRepo& repo) {
  return RepoSnapshot{repo.refs(), snapshot_work_tree(repo.path()), state_list(repo)};
}

// git with the repository's work tree (TempRepo::git names only the git dir).
inline std::string git_wt(const TempRepo& repo, std::vector<std::string> args,
                          const std::string& input = "") {
  args.insert(args.begin(), "--work-tree=" + repo.path());
  return repo.git(args, input);
}

inline std::string write_blob(const TempRepo& repo, const std::string& content) {
  return repo.git({"hash-object", "-w", "--stdin"}, content);
}

inline std::string blob_id(const TempRepo& repo, const std::string& content) {
  return repo.git({"hash-object", "--stdin"}, content);
}

inline std::vector<std::string> git_status(const TempRepo& repo) {
  return split_lines(git_wt(repo, {"status", "--porcelain", "--untracked-files=all"}));
}

// What `git status --porcelain --untracked-files=all` prints for work tree `now` when HEAD and
// the index both hold exactly the files of `head` (paths need no quoting): changed tracked
// files in path order, then untracked files in path order.
inline std::vector<std::string> expected_status(const WorkTree& head, const WorkTree& now) {
  std::vector<std::string> lines;
  for (const auto& [path, image] : head.files) {
    auto it = now.files.find(path);
    if (it == now.files.end()) {
      lines.push_back(" D " + path);
    } else if (!(it->second == image)) {
      lines.push_back(" M " + path);
    }
  }
  for (const auto& [path, image] : now.files) {
    if (!head.files.count(path)) lines.push_back("?? " + path);
  }
  return lines;
}

// The journal's mode of a file: "100755" / "100644", nullopt when absent.
inline std::optional<std::string> git_mode_of(const WorkTree& tree, const std::string& path) {
  auto it = tree.files.find(path);
  if (it == tree.files.end()) return std::nullopt;
  return std::string(it->second.executable ? "100755" : "100644");
}

// One `reftx apply` script mixing refs, files and keys, with the whole repository state before
// it and after it. Lines are added with the effect they have if the transaction commits.
struct MixedPlan {
  std::string message;  // unique in the journal: finds the record
  std::vector<std::string> lines;
  RepoSnapshot before, after;
  TxPlan refs;                     // the ref lines alone, with the ref maps before and after
  std::vector<std::string> paths;  // files, in script order
  std::map<std::string, std::string> old_blob, new_blob;  // by path; 40 zeros: absent
  std::vector<std::string> keys;                          // in script order
  std::map<std::string, std::optional<std::string>> old_value, new_value;
  std::set<std::string> created_dirs;  // the parents the transaction creates

  std::string script() const {
    std::string s;
    for (const std::string& l : lines) s += l + "\n";
    return s;
  }

  void update(const std::string& name, const std::string& new_oid,
              std::optional<std::string> old = std::nullopt) {
    refs.update(name, new_oid, std::move(old));
    take_ref_line();
  }
  void create(const std::string& name, const std::string& new_oid) {
    refs.create(name, new_oid);
    take_ref_line();
  }
  void delete_ref(const std::string& name, std::optional<std::string> old = std::nullopt) {
    refs.remove(name, std::move(old));
    take_ref_line();
  }

  // `write <path> <blob> [<cas>] [mode=<mode>]`; an empty mode keeps the file's mode.
  void write(const TempRepo& repo, const std::string& path, const std::string& content,
             std::optional<std::string> cas, const std::string& mode = "") {
    const std::string blob = write_blob(repo, content);
    lines.push_back("write " + path + " " + blob + (cas ? " " + *cas : "") +
                    (mode.empty() ? "" : " mode=" + mode));
    note_file(repo, path, blob);
    auto old = before.tree.files.find(path);
    const bool executable = mode == "100755" || (mode.empty() && old != before.tree.files.end() &&
                                                 old->second.executable);
    after.tree.files[path] = FileImage{content, executable};
    for (auto slash = path.find('/'); slash != std::string::npos;
         slash = path.find('/', slash + 1)) {
      const std::string dir = path.substr(0, slash);
      after.tree.dirs.insert(dir);
      if (!before.tree.dirs.count(dir)) created_dirs.insert(dir);
    }
  }
  void remove(const TempRepo& repo, const std::string& path, std::optional<std::string> cas) {
    lines.push_back("remove " + path + (cas ? " " + *cas : ""));
    note_file(repo, path, kZeroOid);
    after.tree.files.erase(path);
  }

  void set(const std::string& key, const std::string& value) {
    lines.push_back("set " + key + " " + value);
    note_key(key, value);
    after.keys[key] = value;
  }
  void unset(const std::string& key) {
    lines.push_back("unset " + key);
    note_key(key, std::nullopt);
    after.keys.erase(key);
  }

  // The blob the file holds before the transaction; 40 zeros: absent.
  std::string current_blob(const TempRepo& repo, const std::string& path) const {
    auto it = before.tree.files.find(path);
    return it == before.tree.files.end() ? kZeroOid : blob_id(repo, it->second.content);
  }

  // Changes made outside the transaction, which both of its outcomes include.
  void outside_key(const std::string& key, const std::string& value) {
    before.keys[key] = value;
    after.keys[key] = value;
  }
  void outside_ref(const std::string& name, const std::string& oid) {
    for (RefMap* m : {&before.refs, &after.refs, &refs.before, &refs.after}) (*m)[name] = oid;
  }

 private:
  void take_ref_line() {
    lines.push_back(refs.lines.back());
    after.refs = refs.after;
  }
  void note_file(const TempRepo& repo, const std::string& path, const std::string& blob) {
    paths.push_back(path);
    old_blob[path] = current_blob(repo, path);
    new_blob[path] = blob;
  }
  void note_key(const std::string& key, std::optional<std::string> value) {
    keys.push_back(key);
    auto old = before.keys.find(key);
    old_value[key] = old == before.keys.end() ? std::nullopt : std::optional(old->second);
    new_value[key] = std::move(value);
  }
};

inline MixedPlan start_mixed(const TempRepo& repo, const std::string& message) {
  MixedPlan p;
  p.message = message;
  p.before = snapshot(repo);
  p.after = p.before;
  p.refs.message = message;
  p.refs.before = p.refs.after = p.before.refs;
  return p;
}

inline RunResult apply_mixed(const TempRepo& repo, const MixedPlan& plan, RunOptions options = {}) {
  options.input = plan.script();
  return repo.reftx({"apply", "-m", plan.message}, options);
}

inline Child start_mixed_apply(const TempRepo& repo, const MixedPlan& plan,
                               RunOptions options = {}) {
  options.input = plan.script();
  return Child::start({reftx_binary(), "-C", repo.path(), "apply", "-m", plan.message}, options);
}

inline Side classify_mixed(const RepoSnapshot& now, const MixedPlan& plan) {
  if (now == plan.before) return Side::old_values;
  if (now == plan.after) return Side::new_values;
  return Side::mixed;
}

inline std::string describe_image(const std::map<std::string, FileImage>& files,
                                  const std::string& path) {
  auto it = files.find(path);
  if (it == files.end()) return "absent";
  char hash[32];
  std::snprintf(hash, sizeof hash, "%016zx", std::hash<std::string>{}(it->second.content));
  return std::to_string(it->second.content.size()) + " bytes " +
         (it->second.executable ? "755 #" : "644 #") + hash;
}

inline std::string describe_key(const KeyMap& keys, const std::string& key) {
  auto it = keys.find(key);
  return it == keys.end() ? "absent" : "'" + it->second + "'";
}

inline const char* which(const std::string& now, const std::string& old, const std::string& nw) {
  return now == old ? " (old)" : now == nw ? " (new)" : " (NEITHER)";
}

// Every difference between `now` and the plan's two outcomes.
inline std::string describe_mixed_diff(const RepoSnapshot& now, const MixedPlan& plan) {
  std::string out = describe_diff(now.refs, plan.refs);
  std::set<std::string> paths, dirs, keys;
  for (const RepoSnapshot* s : {&now, &plan.before, &plan.after}) {
    for (const auto& [path, image] : s->tree.files) paths.insert(path);
    dirs.insert(s->tree.dirs.begin(), s->tree.dirs.end());
    for (const auto& [key, value] : s->keys) keys.insert(key);
  }
  for (const std::string& path : paths) {
    const std::string n = describe_image(now.tree.files, path),
                      o = describe_image(plan.before.tree.files, path),
                      a = describe_image(plan.after.tree.files, path);
    if (n == o && n == a) continue;
    out += "\n  file " + path + ": now " + n + ", old " + o + ", new " + a + which(n, o, a);
  }
  for (const std::string& dir : dirs) {
    const std::string n = now.tree.dirs.count(dir) ? "present" : "absent",
                      o = plan.before.tree.dirs.count(dir) ? "present" : "absent",
                      a = plan.after.tree.dirs.count(dir) ? "present" : "absent";
    if (n == o && n == a) continue;
    out += "\n  directory " + dir + ": now " + n + ", old " + o + ", new " + a + which(n, o, a);
  }
  for (const std::string& other : now.tree.others) out += "\n  not a file: " + other;
  for (const std::string& key : keys) {
    const std::string n = describe_key(now.keys, key), o = describe_key(plan.before.keys, key),
                      a = describe_key(plan.after.keys, key);
    if (n == o && n == a) continue;
    out += "\n  key " + key + ": now " + n + ", old " + o + ", new " + a + which(n, o, a);
  }
  return out;
}

inline std::string joined(const std::vector<std::string>& lines) {
  std::string out;
  for (const std::string& l : lines) out += "\n  " + l;
  return out;
}

inline void check_no_temp_files(const WorkTree& tree) {
  std::vector<std::string> temps = temp_files(tree);
  CHECK_MESSAGE(temps.empty(), "temp files left in the work tree:", joined(temps));
}

inline void check_status(const TempRepo& repo, const WorkTree& head, const WorkTree& want) {
  std::vector<std::string> got = git_status(repo), expected = expected_status(head, want);
  CHECK_MESSAGE(got == expected, "git status:", joined(got), "\nexpected:", joined(expected));
}

// The record's refs: the real old values and the planned new ones.
inline void check_record_refs(const JournalRecord& rec, const TxPlan& refs) {
  std::set<std::string> journaled;
  for (const JournalRef& ref : rec.refs) {
    journaled.insert(ref.name);
    REQUIRE_MESSAGE(ref.old_oid.has_value(), "old value unknown in a terminal record: ", rec.raw);
    CHECK_MESSAGE(*ref.old_oid == value_of(refs.before, ref.name), ref.name, ": ", rec.raw);
    CHECK_MESSAGE(ref.new_oid == value_of(refs.after, ref.name), ref.name, ": ", rec.raw);
  }
  CHECK(journaled == changed_names(refs));
}

// The record's files and keys: the work tree, paths and keys in script order, the real old
// contents, modes and values, and the planned new ones (the new mode once committed: it is
// resolved from the old one only when the files are staged).
inline void check_record_files_and_keys(const TempRepo& repo, const JournalRecord& rec,
                                        const MixedPlan& plan) {
  INFO("record: ", rec.raw);
  if (plan.paths.empty()) {
    CHECK(!rec.work_tree.has_value());
  } else {
    CHECK(rec.work_tree == std::filesystem::canonical(repo.path()).string());
  }
  std::vector<std::string> paths;
  for (const JournalFile& f : rec.files) paths.push_back(f.path);
  CHECK(paths == plan.paths);
  for (const JournalFile& f : rec.files) {
    if (!plan.new_blob.count(f.path)) continue;
    INFO("file ", f.path);
    REQUIRE_MESSAGE(f.old_blob.has_value(), "old content unknown in a terminal record");
    CHECK(*f.old_blob == plan.old_blob.at(f.path));
    CHECK(f.old_mode == git_mode_of(plan.before.tree, f.path));
    CHECK(f.new_blob == plan.new_blob.at(f.path));
    if (rec.state == "committed") CHECK(f.mode == git_mode_of(plan.after.tree, f.path));
  }
  std::vector<std::string> keys;
  for (const JournalKey& k : rec.keys) keys.push_back(k.key);
  CHECK(keys == plan.keys);
  for (const JournalKey& k : rec.keys) {
    if (!plan.new_value.count(k.key)) continue;
    INFO("key ", k.key);
    CHECK_MESSAGE(k.old_known, "old value unknown in a terminal record");
    CHECK(k.old_value == plan.old_value.at(k.key));
    CHECK(k.new_value == plan.new_value.at(k.key));
  }
}

// A `reftx recover` right after recovery prints nothing and changes nothing: not a ref, file,
// directory, key or journal record.
inline void check_recover_changes_nothing(const TempRepo& repo, const RepoSnapshot& now) {
  const std::string journal = repo.reftx({"journal", "list", "--json"}).out;
  check_second_recover_is_noop(repo);
  const RepoSnapshot after = snapshot(repo);
  CHECK_MESSAGE(after == now, "a second recovery changed the repository");
  CHECK_MESSAGE(repo.reftx({"journal", "list", "--json"}).out == journal,
                "a second recovery changed the journal");
}

struct MixedChecked {
  Side side = Side::mixed;
  std::optional<JournalRecord> record;
};

// Everything that must hold once a mixed transaction was interrupted and recovered (nothing
// else in flight, no outside writer): the whole repository is the plan's before or after, the
// record is terminal and agrees (committed <=> all new, aborted <=> all old) with the real old
// and the new values, no temp file, the created directories gone if rolled back, `git status`
// exactly as expected (`head`: the files of HEAD and the index), no lock file, HEAD intact,
// and a second recovery that changes nothing. `printed_id`: the apply exited 0 with this id.
inline MixedChecked check_mixed_recovered(const TempRepo& repo, const MixedPlan& plan,
                                          const WorkTree& head,
                                          std::optional<std::uint64_t> printed_id = std::nullopt,
                                          bool fsck = true) {
  MixedChecked c;
  const RepoSnapshot now = snapshot(repo);
  c.side = classify_mixed(now, plan);
  CHECK_MESSAGE(c.side != Side::mixed, "'", plan.message,
                "' left neither all-old nor all-new:", describe_mixed_diff(now, plan));
  check_no_temp_files(now.tree);
  if (c.side == Side::old_values) {
    for (const std::string& dir : plan.created_dirs) {
      CHECK_MESSAGE(!now.tree.dirs.count(dir), "rolled back, but its directory is left: ", dir);
    }
  }
  check_status(repo, head, c.side == Side::new_values ? plan.after.tree : plan.before.tree);
  c.record = check_journal_agrees(repo, plan.refs, c.side);
  if (c.record) check_record_files_and_keys(repo, *c.record, plan);
  if (printed_id) {
    REQUIRE_MESSAGE(c.record.has_value(), "printed id ", *printed_id, " has no record");
    CHECK(c.record->id == *printed_id);
    CHECK_MESSAGE(c.record->state == "committed",
                  "a committed transaction was lost: ", c.record->raw);
    CHECK(c.side == Side::new_values);
  }
  check_no_locks(repo);
  if (fsck) check_fsck(repo);
  CHECK(repo.git({"symbolic-ref", "HEAD"}) == "refs/heads/main");
  check_recover_changes_nothing(repo, now);
  return c;
}

// The first transaction of a fixture: writes `tracked` (none may exist yet, modes as given)
// while moving HEAD's branch to a commit whose tree holds exactly those files (the index is
// filled to match), sets `keys` and runs `ref_lines`. Afterwards `git status` is clean. Returns
// the work tree, which is also HEAD's.
inline WorkTree commit_initial_state(const TempRepo& repo,
                                     const std::map<std::string, FileImage>& tracked,
                                     const KeyMap& keys,
                                     const std::vector<std::string>& ref_lines = {}) {
  std::string script;
  for (const auto& [path, image] : tracked) {
    const std::string blob = write_blob(repo, image.content);
    const std::string mode = image.executable ? "100755" : "100644";
    git_wt(repo, {"update-index", "--add", "--cacheinfo", mode + "," + blob + "," + path});
    script += "write " + path + " " + blob + " " + kZeroOid + " mode=" + mode + "\n";
  }
  const std::string tree = repo.git({"write-tree"});
  const std::optional<std::string> main = repo.ref("refs/heads/main");
  REQUIRE(main.has_value());
  const std::string commit = repo.git({"commit-tree", tree, "-p", *main, "-m", "tracked files"});
  script += "update refs/heads/main " + commit + " " + *main + "\n";
  for (const std::string& line : ref_lines) script += line + "\n";
  for (const auto& [key, value] : keys) script += "set " + key + " " + value + "\n";
  RunOptions options;
  options.input = script;
  RunResult r = repo.reftx({"apply", "-m", "initial state"}, options);
  REQUIRE_MESSAGE(r.exit_code == 0, "initial transaction: ", describe(r));
  std::vector<std::string> status = git_status(repo);
  REQUIRE_MESSAGE(status.empty(), "git status after the initial transaction:", joined(status));
  WorkTree now = snapshot_work_tree(repo.path());
  REQUIRE(now.files == tracked);
  REQUIRE(state_list(repo) == keys);
  return now;
}

// How a crashed transaction gets recovered: `reftx recover`, the next `reftx apply` (of an
// unrelated transaction), or a Store opened by the library.
enum class Recovery { command, next_apply, store_open };

inline std::string to_string(Recovery r) {
  return r == Recovery::command      ? "reftx recover"
         : r == Recovery::next_apply ? "the next reftx apply"
                                     : "Store::open";
}

// Recovers with `how`. The next apply sets the key "recovery/by" to the plan's message, a
// change outside the plan that both of its outcomes then include.
inline void recover_via(const TempRepo& repo, Recovery how, MixedPlan& plan) {
  switch (how) {
    case Recovery::command:
      recover_and_check(repo);
      return;
    case Recovery::next_apply: {
      RunOptions options;
      options.input = "set recovery/by " + plan.message + "\n";
      RunResult r = repo.reftx({"apply", "-m", "recovering " + plan.message}, options);
      REQUIRE_MESSAGE(r.exit_code == 0, "apply after the crash: ", describe(r));
      plan.outside_key("recovery/by", plan.message);
      return;
    }
    case Recovery::store_open: {
      Result<Store> store = Store::open(repo.path());
      REQUIRE_MESSAGE(store.ok(), "Store::open after the crash: ", store.error().describe());
      return;
    }
  }
}

}  // namespace files

}  // namespace reftx::test::crash
