#include "support/record_checks.hpp"

#include <doctest/doctest.h>

#include "support/journal_json.hpp"

namespace reftx::test {

void check_file(const Json& record, const std::string& path, const std::string& old_blob,
                const std::string& new_blob, const std::string& mode,
                const std::optional<std::string>& expected) {
  CAPTURE(path);
  const Json* f = file_entry(record, path);
  REQUIRE(f != nullptr);
  CHECK((*f)["old"].str() == old_blob);
  CHECK((*f)["new"].str() == new_blob);
  if (mode.empty()) {
    CHECK((*f)["mode"].is_null());
  } else {
    CHECK((*f)["mode"].str() == mode);
  }
  CHECK(f->has("expected_old") == expected.has_value());
  if (expected) CHECK((*f)["expected_old"].str() == *expected);
}

void check_key(const Json& record, const std::string& key, const std::optional<std::string>& old,
               const std::optional<std::string>& value) {
  CAPTURE(key);
  const Json* k = key_entry(record, key);
  REQUIRE(k != nullptr);
  CHECK((*k)["old_known"].boolean);
  CHECK((*k)["old"].is_null() == !old.has_value());
  if (old) CHECK((*k)["old"].str() == *old);
  CHECK((*k)["new"].is_null() == !value.has_value());
  if (value) CHECK((*k)["new"].str() == *value);
}

Json last_aborted(const TempRepo& repo, const std::vector<std::string>& globals) {
  std::vector<Json> records = journal_json(repo, globals);
  REQUIRE_FALSE(records.empty());
  const Json& rec = records.back();
  CHECK(rec["state"].str() == "aborted");
  REQUIRE(rec.has("reason"));
  return rec;
}

}  // namespace reftx::test
