// 8 writer processes × REFTX_SOAK_INCREMENTS (default 200) compare-and-swap increments of one
// counter ref and one tool-state key, changed together in each transaction, while the writers'
// process groups (the writer, its reftx and reftx's git) are SIGKILLed at random instants and
// restarted. At the end, after one `reftx recover`: the counter ref and the key agree; the
// journal has exactly one committed transaction per increment, forming one unbroken chain;
// every increment a writer saw reported is among them (none lost); nothing is left in flight;
// no lock file is left; a second recover has nothing to do.
// REFTX_SOAK_WRITERS (8), REFTX_SOAK_INCREMENTS (200), REFTX_KILL_SEED (random) replay a run.
#include <doctest/doctest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "soak/soak.hpp"
#include "support/journal_json.hpp"
#include "support/kill.hpp"
#include "support/reftx_cli.hpp"
#include "support/temp_repo.hpp"

namespace reftx::test::soak {
namespace {

// Commits 0..count, distinct, made in one git fast-import; returns their ids in order.
std::vector<std::string> prepare_values(const TempRepo& repo, const TempDir& scratch, int count) {
  std::ostringstream stream;
  for (int k = 0; k <= count; ++k) {
    stream << "commit refs/soak-scratch\nmark :" << (k + 1)
           << "\ncommitter soak <soak@example.com> 1700000000 +0000\ndata "
           << ("value " + std::to_string(k)).size() << "\nvalue " << k << "\n\n";
  }
  const std::string marks = scratch.path() + "/marks";
  repo.git({"fast-import", "--quiet", "--export-marks=" + marks}, stream.str());
  repo.git({"update-ref", "-d", "refs/soak-scratch"});
  std::map<int, std::string> by_mark;
  for (const std::string& line : read_lines(marks)) {
    by_mark[std::stoi(line.substr(1))] = line.substr(line.find(' ') + 1);
  }
  std::vector<std::string> values;
  for (const auto& [mark, oid] : by_mark) values.push_back(oid);
  REQUIRE(values.size() == static_cast<std::size_t>(count + 1));
  return values;
}

struct Writer {
  std::string log;
  std::optional<Child> process;
  int restarts = 0;
};

Child start_writer(const TempRepo& repo, const std::string& values, const Writer& w, int quota) {
  RunOptions options;
  options.new_process_group = true;
  return Child::start(
      {"/proc/self/exe", "worker", repo.path(), values, w.log, std::to_string(quota)}, options);
}

}  // namespace

TEST_CASE("soak: writers killed and restarted at random lose no increment") {
  const int writers = env_count("REFTX_SOAK_WRITERS", 8);
  const int quota = env_count("REFTX_SOAK_INCREMENTS", 200);
  std::mt19937_64 rng(seed_for("soak", "soak"));
  TempRepo repo(1);
  TempDir scratch;  // outside the repository: values, marks and the writers' logs
  const std::vector<std::string> values = prepare_values(repo, scratch, 2 * writers * quota + 8);
  const std::string values_file = scratch.path() + "/values";
  {
    std::ofstream out(values_file);
    for (const std::string& v : values) out << v << "\n";
  }
  repo.git({"update-ref", kCounterRef, values[0]});

  std::vector<Writer> pool(static_cast<std::size_t>(writers));
  for (std::size_t i = 0; i < pool.size(); ++i) {
    pool[i].log = scratch.path() + "/log-" + std::to_string(i);
    pool[i].process = start_writer(repo, values_file, pool[i], quota);
  }
  KillCounts kills;
  std::size_t running = pool.size();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(20);
  while (running > 0) {
    REQUIRE_MESSAGE(std::chrono::steady_clock::now() < deadline, "soak did not finish in time");
    std::this_thread::sleep_for(std::chrono::milliseconds(20 + rng() % 180));
    running = 0;
    for (Writer& w : pool) {
      if (!w.process) continue;
      if (exited(w.process->pid())) {
        RunResult r = w.process->wait();
        REQUIRE_MESSAGE(r.exit_code == 0, "writer failed: ", r.err);
        w.process.reset();
        continue;
      }
      ++running;
    }
    if (running == 0) break;
    Writer& victim = pool[rng() % pool.size()];
    if (!victim.process) continue;
    ++kills.iterations;
    RunResult r = kill_and_wait(*victim.process, /*group=*/true, kills);
    victim.process.reset();
    if (r.signal == 0) continue;  // it had finished its quota
    ++victim.restarts;
    victim.process = start_writer(repo, values_file, victim, quota);
  }
  MESSAGE("soak: ", writers, " writers x ", quota, " increments, ", kills.killed,
          " group kills landed, ", kills.finished, " finished first");
  CHECK(kills.killed > 0);

  RunResult recovered = repo.reftx({"recover"});
  REQUIRE_MESSAGE(recovered.exit_code == 0, recovered.err);

  // The chain of committed increments: exactly one per value, in order, none foreign.
  std::map<std::string, std::size_t> value_of;
  for (std::size_t k = 0; k < values.size(); ++k) value_of[values[k]] = k;
  std::map<std::size_t, std::uint64_t> committed;  // value -> id that set it
  for (const JournalRecord& rec : journal_list(repo)) {
    CHECK_MESSAGE(is_terminal_state(rec.state), "record ", rec.id, " is ", rec.state);
    if (rec.state != "committed") continue;
    REQUIRE(rec.refs.size() == 1);
    REQUIRE(rec.refs[0].old_oid.has_value());
    const std::size_t from = value_of.at(*rec.refs[0].old_oid);
    const std::size_t to = value_of.at(rec.refs[0].new_oid);
    CHECK(to == from + 1);
    CHECK_MESSAGE(committed.emplace(to, rec.id).second, "value ", to, " committed twice");
  }
  const std::size_t final_value = value_of.at(*repo.ref(kCounterRef));
  CHECK(committed.size() == final_value);
  if (!committed.empty()) CHECK(committed.rbegin()->first == final_value);
  CHECK(state_list(repo)[kCounterKey] == std::to_string(final_value));
  CHECK(final_value >= static_cast<std::size_t>(writers * quota));  // every quota was met

  // Every increment a writer saw reported is in the journal, committed, with its value.
  std::size_t reported = 0;
  for (const Writer& w : pool) {
    for (const std::string& line : read_lines(w.log)) {
      std::istringstream in(line);
      std::uint64_t id = 0;
      std::size_t value = 0;
      REQUIRE(static_cast<bool>(in >> id >> value));
      ++reported;
      auto it = committed.find(value);
      CHECK_MESSAGE((it != committed.end() && it->second == id), "reported ", line, " lost");
    }
  }
  CHECK(reported == static_cast<std::size_t>(writers * quota));
  MESSAGE("soak: ", reported, " increments reported, ", final_value, " committed");
  CHECK(repo.lock_files().empty());
  RunResult again = repo.reftx({"recover"});
  CHECK(again.exit_code == 0);
  CHECK(again.out.empty());
}

}  // namespace reftx::test::soak
