// The power-cut suite's shared setup (host file system, base images, pool) and the cut loop.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "powercut/rig.hpp"
#include "powercut/workload.hpp"

namespace reftx::test::powercut {

struct Setup {
  std::string root;
  std::unique_ptr<Rig> rig;
  std::string pool_file;
  Pool pool;
  std::string reftx;
  bool crash_points = true;
  bool keep = false;
  std::uint64_t seed = 0;

  std::string base_image(const std::string& mode) const { return root + "/base-" + mode + ".img"; }
  std::string repo() const { return rig->guest() + "/repo"; }
};

// Builds the setup once: throws std::runtime_error (the reason) if power cuts cannot be
// simulated here. `why_not` gets a reason for a skip without throwing (not root, no tool).
bool can_cut_power(std::string& why_not);
Setup& setup();
void teardown();

struct Totals {
  int cuts = 0;
  int by_scenario[3] = {0, 0, 0};  // a, b, c
  int reported = 0;
  int journal_committed = 0;
  int journal_aborted = 0;
  int planned = 0;
  int crash_episodes = 0;
  int recovers_before_cut = 0;
  int cuts_during_recover = 0;  // scenario c: the workload's recover had not returned
  int cuts_after_recover = 0;
  int rolled_back = 0;
  int rolled_forward = 0;
  int violations = 0;
  int violating_cuts = 0;
  double seconds = 0;
};

struct CutOptions {
  std::string mode = "reftx";  // or "plain"
  int cuts = 60;
  int first = 0;
  double seconds = 300;
  bool stop_at_first_violation = false;
};

Totals run_cuts(Setup& s, const CutOptions& options);

}  // namespace reftx::test::powercut
