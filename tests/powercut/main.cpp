// The power-cut suite's main: `powercut_tests worker ...` runs one workload writer (started by
// the suite itself); otherwise it checks that power cuts can be simulated here (else exit 77,
// meson's skip), starts the janitor, builds the shared setup and runs the doctest cases.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdlib>
#include <exception>
#include <iostream>
#include <string>

#include "powercut/rig.hpp"
#include "powercut/suite.hpp"
#include "powercut/workload.hpp"

namespace pc = reftx::test::powercut;

int main(int argc, char** argv) {
  if (argc > 1 && std::string(argv[1]) == "worker") return pc::worker_main(argc, argv);
  ::setenv("GIT_CONFIG_NOSYSTEM", "1", 0);
  ::setenv("GIT_CONFIG_GLOBAL", "/dev/null", 0);
  std::string why_not;
  if (!pc::can_cut_power(why_not)) {
    std::cout << "SKIP powercut: " << why_not << std::endl;
    return 77;
  }
  pc::start_janitor();
  try {
    pc::setup();
  } catch (const std::exception& e) {
    std::cout << "SKIP powercut: cannot simulate a power cut here: " << e.what() << std::endl;
    pc::teardown();
    return 77;
  }
  doctest::Context context(argc, argv);
  int rc = context.run();
  pc::teardown();
  return rc;
}
