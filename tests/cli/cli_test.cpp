// The `reftx` command, black-box: global options (-C, --journal, --help, --version), repository
// discovery, usage errors and `crash-points`. Real repositories, the real binary.
#include <doctest/doctest.h>

#include <filesystem>
#include <set>

#include "core/steps.hpp"
#include "reftx/reftx.hpp"
#include "support/git_helpers.hpp"
#include "support/journal_json.hpp"
#include "support/record_checks.hpp"
#include "support/reftx_cli.hpp"
#include "support/snapshot.hpp"
#include "support/text.hpp"
#include "support/unchanged.hpp"

namespace fs = std::filesystem;
using namespace reftx::test;

namespace {

// A directory that is certainly not inside a git repository.
void require_not_a_repository(const std::string& dir) {
  RunResult git = reftx::test::run({"git", "-C", dir, "rev-parse", "--git-dir"});
  REQUIRE_MESSAGE(git.exit_code != 0, (std::string("inside a git repository: ") + dir));
}

bool dir_is_empty(const std::string& dir) {
  return fs::is_empty(dir);
}

}  // namespace

TEST_CASE("-C finds a non-bare repository from its top, a sub-directory and its git dir") {
  TempRepo repo;
  const auto& c = repo.commits();
  fs::create_directories(repo.path() + "/sub/dir");
  const std::string head = read_file(repo.git_dir() + "/HEAD");

  SUBCASE("top level") {
    RunResult r = reftx_raw({"-C", repo.path(), "apply"},
                            with_input("update refs/heads/main " + c[0] + " " + c[2] + "\n"));
    committed_id(r);
  }
  SUBCASE("sub-directory of the work tree") {
    RunResult r = reftx_raw({"-C", repo.path() + "/sub/dir", "apply"},
                            with_input("update refs/heads/main " + c[0] + " " + c[2] + "\n"));
    committed_id(r);
  }
  SUBCASE("the .git directory") {
    RunResult r = reftx_raw({"-C", repo.git_dir(), "apply"},
                            with_input("update refs/heads/main " + c[0] + " " + c[2] + "\n"));
    committed_id(r);
  }
  SUBCASE("no -C: the current directory, here a sub-directory") {
    RunOptions o = with_input("update refs/heads/main " + c[0] + " " + c[2] + "\n");
    o.cwd = repo.path() + "/sub/dir";
    committed_id(reftx_raw({"apply"}, o));
  }
  CHECK(repo.ref("refs/heads/main") == c[0]);
  CHECK(read_file(repo.git_dir() + "/HEAD") == head);
  CHECK(repo.lock_files().empty());
  // Whatever directory found it, the repository has one journal.
  std::vector<Json> records = journal_json(repo);
  REQUIRE(records.size() == 1);
  CHECK(records[0]["state"].str() == "committed");
  RunResult from_sub = reftx_raw({"-C", repo.path() + "/sub", "journal", "list", "--json"});
  CHECK(from_sub.exit_code == 0);
  CHECK(split_lines(from_sub.out).size() == 1);
}

TEST_CASE("a bare repository works for every command") {
  TempRepo repo(3, /*bare=*/true);
  const auto& c = repo.commits();
  const std::string head = read_file(repo.git_dir() + "/HEAD");

  RunResult r = run_apply(
      repo, "update refs/heads/main " + c[1] + " " + c[2] + "\ncreate refs/tags/v1 " + c[0] + "\n",
      {"-m", "bare"});
  const std::string id = committed_id(r);
  CHECK(repo.ref("refs/heads/main") == c[1]);
  CHECK(repo.ref("refs/tags/v1") == c[0]);

  RunResult bad = run_apply(repo, "update refs/heads/main " + c[0] + " " + c[2] + "\n");
  CHECK(bad.exit_code == 1);
  CHECK(repo.ref("refs/heads/main") == c[1]);

  std::vector<Json> records = journal_json(repo);
  REQUIRE(records.size() == 2);
  CHECK(records[0]["id"].str() == id);
  CHECK(records[0]["message"].str() == "bare");
  CHECK(records[1]["state"].str() == "aborted");
  CHECK(show_json(repo, id)["state"].str() == "committed");

  RunResult rec = repo.reftx({"recover"});
  CHECK(rec.exit_code == 0);
  CHECK(rec.out.empty());
  CHECK(read_file(repo.git_dir() + "/HEAD") == head);
  CHECK(repo.lock_files().empty());
}

TEST_CASE("-C on a directory that is not a repository fails for every command") {
  TempDir dir;
  require_not_a_repository(dir.path());
  const std::string oid(40, 'a');
  const std::string missing = dir.path() + "/does/not/exist";

  struct Case {
    std::vector<std::string> args;
    std::string input;
  };
  const std::vector<Case> cases = {
      {{"apply"}, "update refs/heads/main " + oid + "\n"},
      {{"apply", "-m", "msg"}, "create refs/heads/x " + oid + "\n"},
      {{"apply", "-z"}, nul({"update refs/heads/main", oid, ""})},
      {{"recover"}, ""},
      {{"journal", "list"}, ""},
      {{"journal", "list", "--json"}, ""},
      {{"journal", "show", "1"}, ""},
      {{"journal", "show", "1", "--json"}, ""},
      {{"crash-points"}, ""},
  };
  for (const std::string& where : {dir.path(), missing}) {
    for (const Case& c : cases) {
      std::vector<std::string> args = {"-C", where};
      args.insert(args.end(), c.args.begin(), c.args.end());
      RunResult r = reftx_raw(args, with_input(c.input));
      CAPTURE(where);
      const std::string args_text = join(c.args);
      CAPTURE(args_text);
      CHECK(r.exit_code > 0);
      CHECK(r.signal == 0);
      CHECK_FALSE(r.err.empty());
      CHECK(r.out.empty());
    }
  }
  CHECK(dir_is_empty(dir.path()));  // nothing created in a non-repository
  CHECK_FALSE(fs::exists(missing));
}

TEST_CASE("--journal puts the journal in the given directory") {
  TempRepo repo;
  const auto& c = repo.commits();
  TempDir dir;
  const std::string jdir = dir.path() + "/nested/journal";

  RunResult r = reftx_raw({"--journal", jdir, "-C", repo.path(), "apply", "-m", "elsewhere"},
                          with_input("update refs/heads/main " + c[1] + "\n"));
  const std::string id = committed_id(r);
  CHECK(repo.ref("refs/heads/main") == c[1]);
  CHECK(fs::is_directory(jdir));
  CHECK_FALSE(dir_is_empty(jdir));

  // Both spellings read it; the default journal does not have it.
  for (const std::vector<std::string>& globals : {std::vector<std::string>{"--journal", jdir},
                                                  std::vector<std::string>{"--journal=" + jdir}}) {
    std::vector<Json> records = journal_json(repo, globals);
    REQUIRE(records.size() == 1);
    CHECK(records[0]["id"].str() == id);
    CHECK(records[0]["message"].str() == "elsewhere");
  }
  CHECK(journal_json(repo).empty());
  RunResult shown =
      reftx_raw({"--journal", jdir, "-C", repo.path(), "journal", "show", id, "--json"});
  CHECK(shown.exit_code == 0);
  CHECK(parse_json(split_lines(shown.out).at(0))["id"].str() == id);
  RunResult not_default = repo.reftx({"journal", "show", id});
  CHECK(not_default.exit_code == 1);

  // -C after --journal, and the global options in either order.
  RunResult second = reftx_raw({"-C", repo.path(), "--journal=" + jdir, "apply"},
                               with_input("update refs/heads/main " + c[2] + " " + c[1] + "\n"));
  committed_id(second);
  CHECK(journal_json(repo, {"--journal", jdir}).size() == 2);
  CHECK(journal_json(repo).empty());

  RunResult rec = reftx_raw({"--journal", jdir, "-C", repo.path(), "recover"});
  CHECK(rec.exit_code == 0);
  CHECK(rec.out.empty());
  CHECK(repo.lock_files().empty());
}

TEST_CASE("--help and --version print to stdout and exit 0") {
  SUBCASE("--help") {
    for (const std::vector<std::string>& args :
         {std::vector<std::string>{"--help"}, std::vector<std::string>{"-C", "/", "--help"}}) {
      RunResult r = reftx_raw(args);
      CHECK(r.exit_code == 0);
      CHECK(r.err.empty());
      CHECK(r.out.find("usage") != std::string::npos);
      for (const char* word : {"apply", "recover", "journal", "crash-points", "-C", "--journal"}) {
        CHECK_MESSAGE(r.out.find(word) != std::string::npos, word);
      }
    }
  }
  SUBCASE("--version") {
    RunResult r = reftx_raw({"--version"});
    CHECK(r.exit_code == 0);
    CHECK(r.err.empty());
    REQUIRE(split_lines(r.out).size() == 1);
    CHECK(r.out.find(reftx::version()) != std::string::npos);
  }
  SUBCASE("subcommand --help does not apply anything") {
    TempRepo repo;
    const auto& c = repo.commits();
    GitSnapshot before = snapshot_git(repo);
    RunResult r = run_apply(repo, "update refs/heads/main " + c[0] + "\n", {"--help"});
    CHECK(r.exit_code == 0);
    CHECK(r.out.find("-m") != std::string::npos);
    check_unchanged(repo, before);
  }
}

TEST_CASE("usage errors exit 2 with a message on stderr and change nothing") {
  TempRepo repo;
  const auto& c = repo.commits();
  const std::string script = "update refs/heads/main " + c[0] + "\n";
  GitSnapshot before = snapshot_git(repo);

  struct Case {
    std::vector<std::string> args;  // after -C <repo>
    std::string input;
  };
  const std::vector<Case> cases = {
      {{}, ""},                             // no command
      {{"frobnicate"}, ""},                 // unknown command
      {{"--frobnicate", "apply"}, script},  // unknown global option
      {{"apply", "--frobnicate"}, script},  // unknown apply option
      {{"apply", "-x"}, script},            // unknown short option
      {{"apply", "extra"}, script},         // too many arguments
      {{"apply", "-m"}, script},            // -m without its value
      {{"recover", "extra"}, ""},
      {{"recover", "--frobnicate"}, ""},
      {{"journal"}, ""},
      {{"journal", "frob"}, ""},
      {{"journal", "list", "extra"}, ""},
      {{"journal", "list", "--frobnicate"}, ""},
      {{"journal", "show"}, ""},
      {{"journal", "show", "1", "2"}, ""},
      {{"crash-points", "extra"}, ""},
  };
  for (const Case& k : cases) {
    RunResult r = repo.reftx(k.args, with_input(k.input));
    const std::string args_text = join(k.args);
    CAPTURE(args_text);
    CHECK(r.exit_code == 2);
    CHECK_FALSE(r.err.empty());
    CHECK(r.out.empty());
  }
  RunResult no_value = reftx_raw({"-C"});
  CHECK(no_value.exit_code == 2);
  CHECK_FALSE(no_value.err.empty());
  check_unchanged(repo, before);
}

TEST_CASE("crash-points lists the built-in crash points, one per line") {
  RunResult r = reftx_raw({"crash-points"});
  REQUIRE(r.exit_code == 0);
  CHECK(r.err.empty());
  REQUIRE_FALSE(r.out.empty());
  CHECK(r.out.back() == '\n');
  std::vector<std::string> names = split_lines(r.out);
  std::set<std::string> seen;
  std::set<std::string> prefixes;
  for (const std::string& name : names) {
    CAPTURE(name);
    const std::string prefix = name.substr(0, name.find('.') + 1);
    CHECK((prefix == "apply." || prefix == "abort." || prefix == "recover."));
    CHECK(name.size() > prefix.size());
    CHECK(name.find_first_of(" \t\r") == std::string::npos);
    CHECK(seen.insert(name).second);  // no duplicates
    prefixes.insert(prefix);
  }
  CHECK(prefixes == std::set<std::string>{"apply.", "abort.", "recover."});
  // The same list wherever it runs, and it matches the library's.
  TempRepo repo;
  RunResult in_repo = repo.reftx({"crash-points"});
  CHECK(in_repo.exit_code == 0);
  CHECK(in_repo.out == r.out);
  std::vector<std::string> lib;
  for (std::string_view n : reftx::core::crash_point_names()) lib.emplace_back(n);
  CHECK(names == lib);
}
