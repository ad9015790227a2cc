// One journal, one repository: a journal records the repository it belongs to, and another
// repository (a symlinked .git/reftx, --journal) is refused with exit 3 naming both; a moved or
// copied repository keeps its journal; a journal without the record is adopted. And what "no
// journal yet" means: no journal directory, or an empty one.
#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "journal/journal.hpp"
#include "journal_damage/damage_support.hpp"

using namespace damage;

namespace {

RunResult reftx_in(const std::string& repo, std::vector<std::string> args,
                   const std::string& input = "", std::map<std::string, std::string> env = {}) {
  std::vector<std::string> argv = {reftx::test::reftx_binary(), "-C", repo};
  argv.insert(argv.end(), args.begin(), args.end());
  RunOptions o;
  o.input = input;
  o.env = std::move(env);
  return reftx::test::run(argv, o);
}

std::string real(const std::string& p) {
  char* r = ::realpath(p.c_str(), nullptr);
  std::string out = r ? r : p;
  ::free(r);
  return out;
}

}  // namespace

TEST_CASE("a journal symlinked into another repository is refused; its recovery stays home") {
  TempRepo a(2), b(2);
  const std::string c = a.commits()[0];
  REQUIRE(reftx_in(a.path(), {"apply"}, "update refs/heads/one " + c + "\n").exit_code == 0);
  // A dies right after its decision: A's journal holds a decided transaction.
  RunResult killed = reftx_in(a.path(), {"apply"}, "update refs/heads/decided " + c + "\n",
                              {{"REFTX_CRASH_AT", "apply.decided"}});
  const bool crashed = killed.signal != 0;
  REQUIRE(::symlink((a.git_dir() + "/reftx").c_str(), (b.git_dir() + "/reftx").c_str()) == 0);
  const auto b_refs = b.refs();
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"recover"}, std::vector<std::string>{"journal", "list"},
        std::vector<std::string>{"journal", "show", "1"},
        std::vector<std::string>{"state", "list"}}) {
    CAPTURE(args[0]);
    RunResult r = reftx_in(b.path(), args);
    CHECK(r.signal == 0);
    CHECK(r.exit_code == 3);
    CHECK(r.out.empty());
    CHECK(r.err.find("belongs to the repository '" + real(a.git_dir()) + "'") != std::string::npos);
    CHECK(r.err.find(real(b.git_dir())) != std::string::npos);
  }
  RunResult applied = reftx_in(b.path(), {"apply"}, "update refs/heads/other " + c + "\n");
  CHECK(applied.exit_code == 3);
  CHECK(b.refs() == b_refs);  // B got nothing, A's transaction was not rolled into B
  CHECK_FALSE(b.ref("refs/heads/decided"));
  // A itself recovers its own transaction.
  RunResult rec = reftx_in(a.path(), {"recover"});
  CHECK(rec.exit_code == 0);
  if (crashed) {
    CHECK(rec.out.find("rolled-forward 2") != std::string::npos);
    CHECK(a.ref("refs/heads/decided") == c);
  }
}

TEST_CASE("--journal naming another repository's journal is refused") {
  TempRepo a(1), b(1);
  TempDir shared;
  const std::string j = shared.path() + "/journal";
  const std::string c = a.commits()[0];
  REQUIRE(
      reftx_in(a.path(), {"--journal", j, "apply"}, "update refs/heads/x " + c + "\n").exit_code ==
      0);
  RunResult r = reftx_in(b.path(), {"--journal", j, "journal", "list"});
  CHECK(r.exit_code == 3);
  CHECK(r.err.find("one journal serves one repository") != std::string::npos);
  RunResult w = reftx_in(b.path(), {"--journal", j, "apply"}, "update refs/heads/x " + c + "\n");
  CHECK(w.exit_code == 3);
  CHECK_FALSE(b.ref("refs/heads/x"));
  CHECK(reftx_in(a.path(), {"--journal", j, "journal", "list"}).exit_code == 0);
}

TEST_CASE("a moved repository keeps its journal, even an external one; so does a copy") {
  TempRepo a(1);
  TempDir where, ext;
  const std::string c = a.commits()[0];
  const std::string j = ext.path() + "/journal";
  REQUIRE(reftx_in(a.path(), {"apply"}, "update refs/heads/x " + c + "\n").exit_code == 0);
  REQUIRE(
      reftx_in(a.path(), {"--journal", j, "apply"}, "update refs/heads/y " + c + "\n").exit_code ==
      0);
  const std::string moved = where.path() + "/moved";
  REQUIRE(::rename(a.path().c_str(), moved.c_str()) == 0);
  for (const std::vector<std::string>& extra :
       {std::vector<std::string>{}, std::vector<std::string>{"--journal", j}}) {
    std::vector<std::string> list = extra;
    list.insert(list.end(), {"journal", "list"});
    RunResult r = reftx_in(moved, list);
    CHECK_MESSAGE(r.exit_code == 0, r.err);
    CHECK(split_lines(r.out).size() == 1);
    std::vector<std::string> apply = extra;
    apply.push_back("apply");
    CHECK(reftx_in(moved, apply, "update refs/heads/z " + c + "\n").exit_code == 0);
  }
  // A copy of the repository with its own (embedded) journal works on its own.
  const std::string copy = where.path() + "/copy";
  REQUIRE(reftx::test::run({"cp", "-a", moved, copy}).exit_code == 0);
  RunResult r = reftx_in(copy, {"apply"}, "update refs/heads/only-in-copy " + c + "\n");
  CHECK_MESSAGE(r.exit_code == 0, r.err);
  REQUIRE(::rename(moved.c_str(), a.path().c_str()) == 0);  // so TempRepo cleans up
  CHECK_FALSE(a.ref("refs/heads/only-in-copy"));
}

TEST_CASE("a journal without a repository record is adopted by the first read-write open") {
  TempRepo a(1), b(1);
  TempDir ext;
  const std::string j = ext.path() + "/journal";
  {
    auto old = reftx::journal::Journal::open(j, false, true);  // no `meta` entries: as before
    REQUIRE(old);
    auto rec = old.value().get_meta("repository");
    REQUIRE(rec);
    CHECK_FALSE(rec.value());
  }
  CHECK(reftx_in(b.path(), {"--journal", j, "journal", "list"}).exit_code == 0);  // read-only
  const std::string c = a.commits()[0];
  CHECK(reftx_in(a.path(), {"--journal", j, "recover"}).exit_code == 0);  // adopts
  CHECK(reftx_in(b.path(), {"--journal", j, "journal", "list"}).exit_code == 3);
  CHECK(
      reftx_in(a.path(), {"--journal", j, "apply"}, "update refs/heads/x " + c + "\n").exit_code ==
      0);
}

TEST_CASE("no journal yet: a missing or empty journal directory; anything else is damage") {
  TempRepo repo(1);
  TempDir ext;
  const std::string c = repo.commits()[0];
  const std::string empty = ext.path() + "/empty";
  REQUIRE(::mkdir(empty.c_str(), 0755) == 0);
  for (const std::string& j : {ext.path() + "/missing", empty}) {
    CAPTURE(j);
    RunResult list = reftx_in(repo.path(), {"--journal", j, "journal", "list"});
    CHECK(list.exit_code == 0);
    CHECK(list.out.empty());
    CHECK(reftx_in(repo.path(), {"--journal", j, "state", "list"}).exit_code == 0);
    RunResult check = reftx_in(repo.path(), {"--journal", j, "journal", "check"});
    CHECK(check.exit_code == 0);
    // Read-only commands create nothing.
    struct stat st {};
    if (j == empty) {
      CHECK(::rmdir(empty.c_str()) == 0);
      REQUIRE(::mkdir(empty.c_str(), 0755) == 0);
    } else {
      CHECK(::lstat(j.c_str(), &st) != 0);
    }
    CHECK(reftx_in(repo.path(), {"--journal", j, "apply"}, "update refs/heads/x " + c + "\n")
              .exit_code == 0);
    CHECK(::lstat((j + "/data.mdb").c_str(), &st) == 0);
    CHECK(reftx_in(repo.path(), {"--journal", j, "journal", "check"}).exit_code == 0);
  }
  // Nothing is left beside the journals (the creation's temporary directory is renamed).
  int entries = 0;
  for (const char* name : {"missing", "empty"}) {
    struct stat st {};
    entries += ::lstat((ext.path() + "/" + name).c_str(), &st) == 0;
  }
  CHECK(entries == 2);
  CHECK(split_lines(reftx::test::run({"ls", "-A", ext.path()}).out).size() == 2);
  // A journal directory that is not empty but has no data.mdb is damage.
  const std::string partial = ext.path() + "/partial";
  REQUIRE(::mkdir(partial.c_str(), 0755) == 0);
  spit(partial + "/lock.mdb", std::string(8192, '\0'));
  RunResult r = reftx_in(repo.path(), {"--journal", partial, "journal", "list"});
  CHECK(r.exit_code == 4);
  CHECK(r.err.find("data.mdb is missing") != std::string::npos);
}

TEST_CASE("the fault handlers do not hide a crash outside the journal") {
  // A SIGSEGV, SIGBUS or SIGABRT that is not a journal read (here: sent while reftx waits for
  // its script on stdin, before any journal is open) still kills the process with its signal.
  TempRepo repo(1);
  for (const char* sig : {"SEGV", "BUS", "ABRT"}) {
    CAPTURE(sig);
    const std::string script = "(sleep 3) | \"$0\" -C \"$1\" apply & pid=$!; sleep 0.5; kill -" +
                               std::string(sig) + " $pid; wait $pid; echo $?";
    RunResult r =
        reftx::test::run({"bash", "-c", script, reftx::test::reftx_binary(), repo.path()});
    const int expected = 128 + (std::string(sig) == "SEGV"  ? 11
                                : std::string(sig) == "BUS" ? 7
                                                            : 6);
    CHECK(r.out == std::to_string(expected) + "\n");
    CHECK(r.err.find("is corrupt") == std::string::npos);
  }
}
