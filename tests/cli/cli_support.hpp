// Helpers for the black-box tests of the `reftx` command: parsed `journal --json` records (with
// support/json.hpp), NUL-separated scripts, and snapshots of a repository's observable state.
#pragma once

#include <doctest/doctest.h>

#include <cstdint>
#include <fstream>
#include <iterator>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "support/json.hpp"
#include "support/process.hpp"
#include "support/temp_repo.hpp"

namespace cli {

using reftx::test::Json;
using reftx::test::parse_json;
using reftx::test::RunOptions;
using reftx::test::RunResult;
using reftx::test::split_lines;
using reftx::test::TempDir;
using reftx::test::TempRepo;

inline const std::string kZero(40, '0');

// ---------------------------------------------------------------------------------------------
// Processes and repositories.

// "a b c", for CAPTURE of an argument list.
inline std::string join(const std::vector<std::string>& args) {
  std::string out;
  for (const std::string& a : args) out += (out.empty() ? "" : " ") + a;
  return out;
}

// A -z script: each field followed by NUL.
inline std::string nul(const std::vector<std::string>& fields) {
  std::string out;
  for (const std::string& f : fields) {
    out += f;
    out += '\0';
  }
  return out;
}

inline RunOptions with_input(std::string input, std::map<std::string, std::string> env = {}) {
  RunOptions o;
  o.input = std::move(input);
  o.env = std::move(env);
  return o;
}

// The reftx binary without the implicit -C of TempRepo::reftx.
inline RunResult reftx_raw(const std::vector<std::string>& args, const RunOptions& options = {}) {
  std::vector<std::string> argv = {reftx::test::reftx_binary()};
  argv.insert(argv.end(), args.begin(), args.end());
  return reftx::test::run(argv, options);
}

// `reftx -C <repo> apply <extra...>` with `script` on stdin.
inline RunResult run_apply(const TempRepo& repo, const std::string& script,
                       const std::vector<std::string>& extra = {},
                       std::map<std::string, std::string> env = {}) {
  std::vector<std::string> args = {"apply"};
  args.insert(args.end(), extra.begin(), extra.end());
  return repo.reftx(args, with_input(script, std::move(env)));
}

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline void write_file(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary);
  out << content;
}

// Every record of `reftx [globals] -C <repo> journal list --json`, parsed.
inline std::vector<Json> journal(const TempRepo& repo,
                                 const std::vector<std::string>& globals = {}) {
  std::vector<std::string> argv = {reftx::test::reftx_binary()};
  argv.insert(argv.end(), globals.begin(), globals.end());
  for (const char* a : {"-C", repo.path().c_str(), "journal", "list", "--json"}) {
    argv.emplace_back(a);
  }
  RunResult r = reftx::test::run(argv);
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  std::vector<Json> out;
  for (const std::string& line : split_lines(r.out)) {
    try {
      out.push_back(parse_json(line));
    } catch (const std::exception& e) {
      FAIL_CHECK(e.what() << " in line: " << line);
    }
  }
  return out;
}

// `journal show <id> --json`, parsed; REQUIREs success and exactly one line.
inline Json show(const TempRepo& repo, const std::string& id) {
  RunResult r = repo.reftx({"journal", "show", id, "--json"});
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  std::vector<std::string> lines = split_lines(r.out);
  REQUIRE(lines.size() == 1);
  return parse_json(lines[0]);
}

// The first line of a successful apply's stdout: the transaction id.
inline std::string committed_id(const RunResult& r) {
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  std::vector<std::string> lines = split_lines(r.out);
  REQUIRE_FALSE(lines.empty());
  const std::string& id = lines.front();
  REQUIRE_FALSE(id.empty());
  REQUIRE(id.find_first_not_of("0123456789") == std::string::npos);
  return id;
}

// The ref entry of a record (in "refs"), by name; nullptr if absent.
inline const Json* ref_entry(const Json& record, const std::string& name) {
  for (const Json& r : record["refs"].items) {
    if (r.find("name") && r["name"].text == name) return &r;
  }
  return nullptr;
}

// What a rejected command must leave alone.
struct Snapshot {
  std::map<std::string, std::string> refs;
  std::string head;
  std::size_t records = 0;
  std::vector<std::string> locks;
};

inline Snapshot snapshot(const TempRepo& repo) {
  return {repo.refs(), read_file(repo.git_dir() + "/HEAD"), journal(repo).size(),
          repo.lock_files()};
}

// Refs, HEAD, journal size and lock files are as in `before`.
inline void check_unchanged(const TempRepo& repo, const Snapshot& before) {
  CHECK(repo.refs() == before.refs);
  CHECK(read_file(repo.git_dir() + "/HEAD") == before.head);
  CHECK(journal(repo).size() == before.records);
  CHECK(repo.lock_files() == before.locks);
}

}  // namespace cli
