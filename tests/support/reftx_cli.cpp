#include "support/reftx_cli.hpp"

#include <doctest/doctest.h>

#include <utility>

#include "support/json.hpp"
#include "support/text.hpp"

namespace reftx::test {

RunOptions with_input(std::string input, std::map<std::string, std::string> env) {
  RunOptions o;
  o.input = std::move(input);
  o.env = std::move(env);
  return o;
}

RunResult reftx_raw(const std::vector<std::string>& args, const RunOptions& options) {
  std::vector<std::string> argv = {reftx_binary()};
  argv.insert(argv.end(), args.begin(), args.end());
  return run(argv, options);
}

RunResult run_apply(const TempRepo& repo, const std::string& script,
                    const std::vector<std::string>& extra, std::map<std::string, std::string> env) {
  std::vector<std::string> args = {"apply"};
  args.insert(args.end(), extra.begin(), extra.end());
  return repo.reftx(args, with_input(script, std::move(env)));
}

std::string committed_id(const RunResult& r) {
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  std::vector<std::string> lines = split_lines(r.out);
  REQUIRE_FALSE(lines.empty());
  const std::string& id = lines.front();
  REQUIRE_FALSE(id.empty());
  REQUIRE(id.find_first_not_of("0123456789") == std::string::npos);
  return id;
}

std::optional<std::uint64_t> printed_id(const RunResult& r) {
  if (r.exit_code != 0) return std::nullopt;
  std::string s = r.out;
  while (!s.empty() && (s.back() == '\n')) s.pop_back();
  if (s.empty() || s.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
  return std::stoull(s);
}

std::vector<std::string> binary_crash_points() {
  RunResult r = run({reftx_binary(), "crash-points"});
  REQUIRE_MESSAGE(r.exit_code == 0, describe(r));
  std::vector<std::string> points = split_lines(r.out);
  REQUIRE(!points.empty());
  return points;
}

KeyMap state_list(const TempRepo& repo) {
  RunResult r = repo.reftx({"state", "list", "--json"});
  REQUIRE_MESSAGE(r.exit_code == 0, "state list failed: ", r.err);
  KeyMap keys;
  for (const std::string& line : split_lines(r.out)) {
    Json j = parse_json(line);
    CHECK_MESSAGE(keys.emplace(j["key"].str(), j["value"].str()).second,
                  "key listed twice: ", line);
  }
  return keys;
}

}  // namespace reftx::test
