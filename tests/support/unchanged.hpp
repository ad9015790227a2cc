// Test helper: what a refused command must leave alone, for the black-box CLI tests. A snapshot
// of refs, HEAD, the journal's size and lock files; and a Site (a repository, global options and
// watched directories) whose whole observable state can be compared before and after.
#pragma once

#include <cstddef>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "support/process.hpp"
#include "support/snapshot.hpp"
#include "support/temp_repo.hpp"

namespace reftx::test {

struct GitSnapshot {
  std::map<std::string, std::string> refs;
  std::string head;  // the bytes of HEAD
  std::size_t records = 0;
  std::vector<std::string> locks;
};

// `globals` go before the command of `reftx journal list` (e.g. --journal <dir>).
GitSnapshot snapshot_git(const TempRepo& repo, const std::vector<std::string>& globals = {});

// Refs, HEAD, journal size and lock files are as in `before`.
void check_unchanged(const TempRepo& repo, const GitSnapshot& before,
                     const std::vector<std::string>& globals = {});

// Where commands run: the repository, global options (before the command), and the
// directories a refused command must leave exactly as they were.
struct Site {
  const TempRepo& repo;
  std::vector<std::string> globals;  // e.g. {"--work-tree", dir}
  std::vector<std::string> watched;  // e.g. the work tree, a directory links point to
  std::set<std::string> skip = {".git"};
};

// `reftx <globals> -C <repo> <args>` with `input` on stdin.
RunResult reftx_at(const Site& site, const std::vector<std::string>& args,
                   const std::string& input = "");
RunResult apply_at(const Site& site, const std::string& script,
                   const std::vector<std::string>& flags = {});

// `state list --json` at the site; REQUIREs exit 0.
std::string state_of(const Site& site);

struct Everything {
  GitSnapshot git;
  std::vector<Tree> dirs;  // the watched directories
  std::string state;       // `state list --json`
};

Everything everything(const Site& site);

// The watched directories are as in `before`; the message lists what changed.
void check_trees(const Site& site, const std::vector<Tree>& before);

// Everything is as in `before`.
void check_same(const Site& site, const Everything& before);

struct Refused {
  std::string script;
  int line;             // the line (command) the message must name
  std::string problem;  // words of the message naming the problem
};

// Every script exits 2 naming its line and problem, and changes nothing: the watched
// directories after each; refs, journal, locks and state once at the end.
void check_refused(const Site& site, const std::vector<Refused>& cases,
                   const std::vector<std::string>& flags);

}  // namespace reftx::test
