// tests/meson.build compiles each public header alone from its list of them; that list must be
// every header in include/reftx/, so that a new header cannot skip the check.
#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <set>
#include <sstream>
#include <string>

TEST_CASE("the self-contained header check covers exactly include/reftx/*.hpp") {
  const char* root = std::getenv("REFTX_SOURCE_DIR");
  REQUIRE(root != nullptr);
  std::set<std::string> on_disk;
  for (const auto& entry :
       std::filesystem::directory_iterator(std::string(root) + "/include/reftx")) {
    if (entry.path().extension() == ".hpp") on_disk.insert(entry.path().filename().string());
  }
  std::set<std::string> checked;
  std::istringstream list(REFTX_PUBLIC_HEADERS);
  for (std::string name; list >> name;) checked.insert(name);
  CHECK(!checked.empty());
  CHECK(checked == on_disk);
}
