#include "support/unchanged.hpp"

#include <doctest/doctest.h>

#include "support/journal_json.hpp"
#include "support/reftx_cli.hpp"
#include "support/text.hpp"

namespace reftx::test {
namespace {

std::vector<Tree> watched_trees(const Site& site) {
  std::vector<Tree> out;
  for (const std::string& dir : site.watched) out.push_back(tree(dir, site.skip));
  return out;
}

}  // namespace

GitSnapshot snapshot_git(const TempRepo& repo, const std::vector<std::string>& globals) {
  return {repo.refs(), read_file(repo.git_dir() + "/HEAD"), journal_json(repo, globals).size(),
          repo.lock_files()};
}

void check_unchanged(const TempRepo& repo, const GitSnapshot& before,
                     const std::vector<std::string>& globals) {
  CHECK(repo.refs() == before.refs);
  CHECK(read_file(repo.git_dir() + "/HEAD") == before.head);
  CHECK(journal_json(repo, globals).size() == before.records);
  CHECK(repo.lock_files() == before.locks);
}

RunResult reftx_at(const Site& site, const std::vector<std::string>& args,
                   const std::string& input) {
  std::vector<std::string> argv = site.globals;
  argv.insert(argv.end(), {"-C", site.repo.path()});
  argv.insert(argv.end(), args.begin(), args.end());
  return reftx_raw(argv, with_input(input));
}

RunResult apply_at(const Site& site, const std::string& script,
                   const std::vector<std::string>& flags) {
  std::vector<std::string> args = {"apply"};
  args.insert(args.end(), flags.begin(), flags.end());
  return reftx_at(site, args, script);
}

std::string state_of(const Site& site) {
  RunResult r = reftx_at(site, {"state", "list", "--json"});
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  return r.out;
}

Everything everything(const Site& site) {
  return {snapshot_git(site.repo, site.globals), watched_trees(site), state_of(site)};
}

void check_trees(const Site& site, const std::vector<Tree>& before) {
  const std::vector<Tree> now = watched_trees(site);
  REQUIRE(now.size() == before.size());
  for (std::size_t i = 0; i < now.size(); ++i) {
    CHECK_MESSAGE(now[i] == before[i], site.watched[i] << diff(before[i], now[i]));
  }
}

void check_same(const Site& site, const Everything& before) {
  check_unchanged(site.repo, before.git, site.globals);
  check_trees(site, before.dirs);
  CHECK(state_of(site) == before.state);
}

void check_refused(const Site& site, const std::vector<Refused>& cases,
                   const std::vector<std::string>& flags) {
  const Everything before = everything(site);
  for (const Refused& k : cases) {
    CAPTURE(k.script);
    RunResult r = apply_at(site, k.script, flags);
    CHECK(r.exit_code == 2);
    CHECK(r.out.empty());
    CHECK_MESSAGE(r.err.find("line " + std::to_string(k.line) + ":") != std::string::npos, r.err);
    CHECK_MESSAGE(r.err.find(k.problem) != std::string::npos, r.err);
    check_trees(site, before.dirs);
  }
  check_same(site, before);
}

}  // namespace reftx::test
