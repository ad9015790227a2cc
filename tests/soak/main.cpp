// The soak suite's main: `soak_tests worker <repo> <counter file> <log> <quota>` runs one writer
// (started by the suite itself); otherwise the doctest cases.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <string>

#include "soak/soak.hpp"

int main(int argc, char** argv) {
  if (argc > 1 && std::string(argv[1]) == "worker")
    return reftx::test::soak::worker_main(argc, argv);
  doctest::Context context(argc, argv);
  return context.run();
}
