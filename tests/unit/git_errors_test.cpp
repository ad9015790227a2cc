// git::classify_refusal and git::kind_of on the real stderr of `git update-ref --stdin`
// (LC_ALL=C) for each way git refuses a transaction, produced in a temporary repository.
#include <doctest/doctest.h>

#include <filesystem>
#include <string>

#include "git/git_errors.hpp"
#include "support/process.hpp"
#include "support/temp_repo.hpp"
#include "support/text.hpp"

using namespace reftx;
using git::GitCause;
using test::RunResult;
using test::TempRepo;

namespace {

// `git update-ref --stdin` of `script` in the C locale.
RunResult update_ref(const TempRepo& repo, const std::string& script) {
  test::RunOptions options;
  options.input = script;
  options.env = {{"LC_ALL", "C"}, {"LANGUAGE", ""}};
  return test::run({"git", "--git-dir=" + repo.git_dir(), "update-ref", "--stdin"}, options);
}

// git refuses `script` (exit 128, after releasing its locks), and its stderr means `cause`.
void check_refusal(const TempRepo& repo, const std::string& script, GitCause cause,
                   ErrorKind kind) {
  CAPTURE(script);
  const RunResult r = update_ref(repo, script);
  CAPTURE(r.err);
  REQUIRE(r.exit_code == 128);
  CHECK(git::classify_refusal(r.err) == cause);
  CHECK(git::kind_of(git::classify_refusal(r.err)) == kind);
  CHECK(git::is_refusal(git::classify_refusal(r.err)));
  CHECK(repo.lock_files().empty());  // a refusal leaves no lock of git's own
}

}  // namespace

TEST_CASE("git's real refusals map to their cause and public kind") {
  TempRepo repo;
  const auto& c = repo.commits();  // main = c[2]
  repo.git({"update-ref", "refs/heads/a", c[0]});
  repo.git({"update-ref", "refs/heads/d/e", c[0]});

  SUBCASE("stale old value: update with a wrong old value") {
    check_refusal(repo, "update refs/heads/main " + c[0] + " " + c[1] + "\n",
                  GitCause::stale_old_value, ErrorKind::conflict);
  }
  SUBCASE("stale old value: create of a ref that exists") {
    check_refusal(repo, "create refs/heads/main " + c[0] + "\n", GitCause::stale_old_value,
                  ErrorKind::conflict);
  }
  SUBCASE("stale old value: verify of a missing ref with an old value") {
    check_refusal(repo, "verify refs/heads/missing " + c[0] + "\n", GitCause::stale_old_value,
                  ErrorKind::conflict);
  }
  SUBCASE("a lock held by another writer") {
    const std::string lock = repo.git_dir() + "/refs/heads/x.lock";
    test::write_file(lock, "");
    const RunResult r = update_ref(repo, "update refs/heads/x " + c[0] + "\n");
    CAPTURE(r.err);
    REQUIRE(r.exit_code == 128);
    CHECK(r.err.find("Unable to create") != std::string::npos);
    CHECK(git::classify_refusal(r.err) == GitCause::locked);
    CHECK(git::kind_of(GitCause::locked) == ErrorKind::locked);
    CHECK(git::is_refusal(GitCause::locked));
    CHECK(std::filesystem::exists(lock));  // not git's: left
  }
  SUBCASE("name clash: refs/heads/a exists, create refs/heads/a/b") {
    check_refusal(repo, "create refs/heads/a/b " + c[0] + "\n", GitCause::name_clash,
                  ErrorKind::conflict);
  }
  SUBCASE("name clash: refs/heads/d/e exists, create refs/heads/d") {
    check_refusal(repo, "create refs/heads/d " + c[0] + "\n", GitCause::name_clash,
                  ErrorKind::conflict);
  }
  SUBCASE("a reference-transaction hook that refuses at prepared") {
    const std::string hook = repo.git_dir() + "/hooks/reference-transaction";
    test::write_file(hook, "#!/bin/sh\n[ \"$1\" = prepared ] && exit 1\nexit 0\n");
    std::filesystem::permissions(hook, std::filesystem::perms::owner_all);
    check_refusal(repo, "update refs/heads/main " + c[0] + "\n", GitCause::hook_refused,
                  ErrorKind::conflict);
  }
  // Nothing was applied by any of them.
  CHECK(repo.ref("refs/heads/main") == c[2]);
}

TEST_CASE("an unknown message is other; died, none and other are no refusals") {
  CHECK(git::classify_refusal("fatal: something git never said\n") == GitCause::other);
  CHECK(git::classify_refusal("") == GitCause::other);
  CHECK(git::kind_of(GitCause::other) == ErrorKind::environment);
  CHECK(git::kind_of(GitCause::died) == ErrorKind::environment);
  CHECK(git::kind_of(GitCause::none) == ErrorKind::environment);
  for (GitCause cause : {GitCause::other, GitCause::died, GitCause::none}) {
    CAPTURE(git::to_string(cause));
    CHECK_FALSE(git::is_refusal(cause));
  }
  CHECK(std::string(git::to_string(GitCause::stale_old_value)) == "stale-old-value");
  CHECK(std::string(git::to_string(GitCause::locked)) == "locked");
  CHECK(std::string(to_string(ErrorKind::locked)) == "locked");
  CHECK(std::string(to_string(ErrorKind::conflict)) == "conflict");
}
