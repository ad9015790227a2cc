// The checks run on the recovered copy after each cut (docs/powercut.md, "What is checked").
#pragma once

#include <string>
#include <vector>

#include "powercut/workload.hpp"

namespace reftx::test::powercut {

struct CheckInput {
  std::string mode;   // "reftx" or "plain"
  std::string repo;   // the repository in the mounted copy
  std::string reftx;  // the binary
  Pool pool;
  std::vector<WriterLog> logs;  // one per writer of the cut
};

struct CutReport {
  std::vector<std::string> violations;
  std::vector<std::string> notes;
  int reported = 0;           // transactions reported committed by the workload
  int journal_committed = 0;  // committed records of the workload (reftx mode)
  int journal_aborted = 0;
  int planned = 0;
  int crash_episodes = 0;
  int recovers_done = 0;  // recoveries of the workload that returned before the cut
  int rolled_back = 0;    // lines of the first `reftx recover` after the cut
  int rolled_forward = 0;
  std::string first_recover;  // its output
};

// Runs `reftx recover` once (reftx mode), then every check.
CutReport check_cut(const CheckInput& in);

}  // namespace reftx::test::powercut
