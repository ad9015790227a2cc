// Shared checks of the crash-safety suites (crash_matrix_test, random_kill_test,
// concurrency_test): what must hold after a transaction was interrupted and recovered.
//
// Everything goes through real processes: `reftx journal list/show --json`, `reftx recover`,
// git. Header-only so that each suite executable can include it without a build change.
#pragma once

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
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
#include <map>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

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

struct JournalRecord {
  std::uint64_t id = 0;
  std::string state;
  std::string message;
  std::string reason;
  std::vector<JournalRef> refs;                              // changed refs
  std::vector<std::pair<std::string, std::string>> verified;  // name, expected
  std::vector<std::string> conflicts;
  std::string raw;  // the JSON line
};

inline bool is_terminal_state(const std::string& state) {
  return state == "committed" || state == "aborted";
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
           a.substr(0, 8) + (n == o ? " (old)" : n == a ? " (new)" : " (NEITHER)");
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
  return Child::start({reftx_binary(), "-C", repo.path(), "apply", "-m", plan.message},
                      options);
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
  CHECK_MESSAGE(r.exit_code == 0, "recover exit ", r.exit_code, " signal ", r.signal, ": ",
                r.err);
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
}

inline void check_fsck(const TempRepo& repo) {
  RunResult r = repo.git_result({"fsck", "--no-dangling", "--no-progress"});
  CHECK_MESSAGE(r.exit_code == 0, "git fsck exit ", r.exit_code, ": ", r.out, r.err);
  CHECK_MESSAGE(r.out + r.err == "", "git fsck output: ", r.out, r.err);
}

// The journal record of `plan` agrees with the refs: committed <=> all new, aborted <=> all old,
// and it journals the real old and new values. Returns the record (nullopt: the process died
// before recording anything, so nothing may have changed).
inline std::optional<JournalRecord> check_journal_agrees(const TempRepo& repo,
                                                         const TxPlan& plan, Side side) {
  std::vector<JournalRecord> records = journal_list(repo);
  for (const JournalRecord& r : records) {
    CHECK_MESSAGE(is_terminal_state(r.state), "record not terminal after recovery: ", r.raw);
  }
  std::optional<JournalRecord> rec = find_by_message(records, plan.message);
  if (!rec) {
    CHECK_MESSAGE(side == Side::old_values,
                  "refs changed but no journal record for '", plan.message, "'");
    return rec;
  }
  if (rec->state == "committed") {
    CHECK_MESSAGE(side == Side::new_values, "journal says committed but refs are ",
                  to_string(side), ": ", rec->raw);
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
      CHECK_MESSAGE(c.record->state == "committed", "a committed transaction was lost: ",
                    c.record->raw);
      CHECK(c.side == Side::new_values);
    }
    out.push_back(std::move(c));
  }
  if (now != expected) {
    TxPlan whole;
    whole.before = txs.front().plan->before;
    whole.after = expected;
    CHECK_MESSAGE(now == expected, "refs outside the transactions changed:",
                  describe_diff(now, whole));
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

// Environment-variable override of an iteration count.
inline int env_count(const char* name, int fallback) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return fallback;
  int n = std::atoi(v);
  return n > 0 ? n : fallback;
}

}  // namespace reftx::test::crash
