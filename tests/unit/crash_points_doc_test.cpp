#include <doctest/doctest.h>

#include <cstdlib>
#include <fstream>
#include <regex>
#include <string>
#include <vector>

#include "reftx/crash_points.hpp"

TEST_CASE("docs/crash-points.md lists exactly the built-in crash points, in order") {
  const char* root = std::getenv("REFTX_SOURCE_DIR");
  REQUIRE(root != nullptr);
  std::ifstream doc(std::string(root) + "/docs/crash-points.md");
  REQUIRE(doc.good());
  std::vector<std::string> documented;
  const std::regex row(R"(^\| `((apply|abort|recover)\.[a-z-]+)` \|)");
  for (std::string line; std::getline(doc, line);) {
    std::smatch m;
    if (std::regex_search(line, m, row)) documented.push_back(m[1]);
  }
  std::vector<std::string> built_in(reftx::crash_point_names().begin(),
                                    reftx::crash_point_names().end());
  CHECK(documented == built_in);
  for (const auto& name : built_in) {
    CHECK((name.starts_with("apply.") || name.starts_with("abort.") ||
           name.starts_with("recover.")));
  }
}
