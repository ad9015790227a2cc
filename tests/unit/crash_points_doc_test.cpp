#include <doctest/doctest.h>

#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "core/steps.hpp"

TEST_CASE("docs/crash-points.md lists exactly the built-in crash points, in order") {
  const char* root = std::getenv("REFTX_SOURCE_DIR");
  REQUIRE(root != nullptr);
  std::ifstream doc(std::string(root) + "/docs/crash-points.md");
  REQUIRE(doc.good());
  std::vector<std::string> documented;
  // Table rows of the form "| `name` | ...".
  for (std::string line; std::getline(doc, line);) {
    if (!line.starts_with("| `")) continue;
    auto end = line.find('`', 3);
    if (end == std::string::npos || line.compare(end, 3, "` |") != 0) continue;
    documented.push_back(line.substr(3, end - 3));
  }
  std::vector<std::string> built_in(reftx::core::crash_point_names().begin(),
                                    reftx::core::crash_point_names().end());
  CHECK(documented == built_in);
  for (const auto& name : built_in) {
    CHECK(
        (name.starts_with("apply.") || name.starts_with("abort.") || name.starts_with("recover.")));
  }
}
