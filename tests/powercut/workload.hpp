// The power-cut workload: the items a writer changes, the transactions it plans, the log it
// keeps outside the image, and the worker process that runs them (through `reftx apply`, or in
// the "plain" mode through `git update-ref --stdin` and plain file writes, with no fsync).
//
// Every value a transaction writes is unique within a cut (commits and blobs come from a pool
// made once in the base image, key values carry the writer and the transaction number), so the
// checker can tell from any value which transaction wrote it.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace reftx::test::powercut {

inline const std::string kZero(40, '0');

enum class Kind { ref, file, key };

// One change of a transaction. `value` is what the item holds afterwards (nullopt: absent).
struct Change {
  Kind kind = Kind::ref;
  std::string op;                    // create update delete write remove set unset
  std::string name;                  // ref name, work-tree path or key
  std::optional<std::string> value;  // ref oid, blob oid or key value
  std::string mode = "keep";         // files: "755", "644" or "keep"
  std::optional<std::string> old;    // a compare-and-swap old value given to the command
};

struct Plan {
  std::string message;  // unique within a cut: "pc w<writer> t<seq>"
  std::vector<Change> changes;
};

struct FileState {
  std::string blob;
  bool exec = false;
  bool operator==(const FileState&) const = default;
};

// What the items hold (present ones only).
struct State {
  std::map<std::string, std::string> refs;
  std::map<std::string, FileState> files;
  std::map<std::string, std::string> keys;
};

void apply_to(State& state, const Plan& plan);

// The items one writer owns; the two writers' sets are disjoint.
struct Universe {
  std::vector<std::string> refs, files, keys;
};
Universe universe_of(int writer);

// Commits and blobs made once in the base image. The first kBase of each belong to the base
// state; writer w draws from its own slice after them.
struct Pool {
  static constexpr int kBase = 16;
  static constexpr int kPerWriter = 1500;
  std::vector<std::string> commits, blobs;
  std::string blob_content(int index) const;  // the bytes of blobs[index]
};
std::string pool_blob_content(int index);
Pool read_pool(const std::string& path);

// The base state's transaction (both writers' items).
Plan base_plan(const Pool& pool);

// The text (or -z) script of `reftx apply` for a plan.
std::string reftx_script(const Plan& plan, bool nul);

// ---- the log --------------------------------------------------------------------------------
// A plan is written as one block, in one write(), before its transaction starts:
//   plan\t<msg> / ref\t<name>\t<value|-> / file\t<path>\t<blob|->\t<mode> / key\t<key>\t<value|->
//   / end\t<msg>
// and afterwards one of
//   committed\t<msg>\t<id>          (reftx apply exited 0 and printed <id>)
//   failed\t<msg>\t<exit>\t<stderr>   (exited non-zero, nothing applied)
//   crash\t<msg>\t<kind>\t<result>    (a crash episode: crash point or kill)
//   recover-start\t<n> / recover-done\t<n>\t<exit>\t<output>
// Fields are escaped (\t, \n, \\).

struct LoggedTx {
  Plan plan;
  std::optional<std::uint64_t> reported_id;
  std::optional<int> failed_exit;
  std::string failed_error;
  std::string crash_kind;    // empty: not a crash episode
  std::string crash_result;  // "signal 9", "exit 0", ...
};

struct WriterLog {
  std::vector<LoggedTx> txs;
  int recovers_started = 0;
  int recovers_done = 0;
  std::vector<std::string> recover_outputs;
};

WriterLog read_log(const std::string& path);

// ---- the worker -----------------------------------------------------------------------------

struct WorkerConfig {
  std::string mode = "reftx";  // or "plain"
  int writer = 0;
  char scenario = 'a';  // 'a': a stream of applies; 'c': crash episodes followed by recover
  std::uint64_t seed = 1;
  std::string repo;
  std::string log;
  std::string pool;
  std::string reftx;
  int max_tx = 150;
  bool crash_points = true;
};

// argv: worker --mode M --writer W --scenario S --seed N --repo R --log L --pool P --reftx B
//       [--max-tx N] [--crash-points 0|1]
int worker_main(int argc, char** argv);

// The plain mode's way of applying a plan (also used to build the plain base image).
bool plain_apply(const std::string& repo, const Plan& plan, State& state, std::string& error);

// The plain mode's key file, inside the git dir.
std::string plain_key_file(const std::string& repo);
std::map<std::string, std::string> read_plain_keys(const std::string& repo);

// Pre-decision crash points: a transaction killed there must be rolled back.
bool is_pre_decision(const std::string& kind);
bool is_post_decision(const std::string& kind);

}  // namespace reftx::test::powercut
