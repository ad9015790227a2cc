// Power cuts simulated at the block level (docs/powercut.md): reftx keeps every promise, and the
// same workload done with plain git and plain files is caught by the same checks.
#include <doctest/doctest.h>

#include <cstdlib>
#include <iostream>

#include "powercut/suite.hpp"

namespace reftx::test::powercut {
namespace {

int env_int(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::atoi(v) : fallback;
}

void print(const char* what, const Totals& t) {
  std::cout << "powercut " << what << ": " << t.cuts << " cuts (a " << t.by_scenario[0] << ", b "
            << t.by_scenario[1] << ", c " << t.by_scenario[2] << "), " << t.planned
            << " transactions planned, " << t.reported << " reported committed, "
            << t.journal_committed << " committed and " << t.journal_aborted
            << " aborted in the journals, " << t.crash_episodes << " crash episodes ("
            << t.recovers_before_cut << " recoveries finished before the cut; cut during a recover "
            << t.cuts_during_recover << ", right after one " << t.cuts_after_recover
            << "), first recover after "
            << "the cut: " << t.rolled_forward << " rolled-forward, " << t.rolled_back
            << " rolled-back; " << t.violations << " violations in " << t.violating_cuts
            << " cuts; " << static_cast<int>(t.seconds) << " s" << std::endl;
}

}  // namespace

TEST_CASE("plain git update-ref and plain file writes are caught by the checks") {
  CutOptions o;
  o.mode = "plain";
  o.cuts = env_int("REFTX_POWERCUT_PLAIN_CUTS", 6);
  o.seconds = 120;
  o.stop_at_first_violation = true;
  Totals t = run_cuts(setup(), o);
  print("plain", t);
  MESSAGE("plain: " << t.violations << " violations in " << t.violating_cuts << " of " << t.cuts
                    << " cuts");
  CHECK(t.violating_cuts >= 1);
}

TEST_CASE("reftx: every promise holds across power cuts") {
  CutOptions o;
  o.cuts = env_int("REFTX_POWERCUT_CUTS", 60);
  o.first = env_int("REFTX_POWERCUT_FIRST", 0);
  o.seconds = env_int("REFTX_POWERCUT_SECONDS", 300);
  Totals t = run_cuts(setup(), o);
  print("reftx", t);
  MESSAGE("reftx: " << t.cuts << " cuts, " << t.reported << " reported committed, " << t.violations
                    << " violations");
  CHECK(t.cuts > 0);
  CHECK(t.violating_cuts == 0);
}

}  // namespace reftx::test::powercut
