// `reftx apply`, black-box: commits (text and -z scripts), failed preconditions (exit 1) and
// invalid input (exit 2). Real repositories, the real binary and git.
#include <doctest/doctest.h>

#include <filesystem>

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

// 40 hex digits naming no object of any test repository.
const std::string kMissing = "0123456789abcdef0123456789abcdef01234567";

std::size_t count_state(const std::vector<Json>& records, const std::string& state) {
  std::size_t n = 0;
  for (const Json& r : records) n += r["state"].str() == state;
  return n;
}

void check_entry(const Json& record, const std::string& name, const std::string& old_oid,
                 const std::string& new_oid) {
  CAPTURE(name);
  const Json* e = ref_entry(record, name);
  REQUIRE(e != nullptr);
  CHECK((*e)["old"].str() == old_oid);
  CHECK((*e)["new"].str() == new_oid);
}

struct Invalid {
  std::string script;
  int line;             // the line (command) the message must name
  std::string problem;  // a word of the message naming the problem
};

// Every case exits 2, names its line and problem on stderr, and changes nothing.
void check_invalid(const TempRepo& repo, const std::vector<Invalid>& cases,
                   const std::vector<std::string>& extra) {
  GitSnapshot before = snapshot_git(repo);
  for (const Invalid& k : cases) {
    CAPTURE(k.script);
    RunResult r = run_apply(repo, k.script, extra);
    CHECK(r.exit_code == 2);
    CHECK(r.out.empty());
    CHECK_MESSAGE(r.err.find("line " + std::to_string(k.line) + ":") != std::string::npos, r.err);
    CHECK_MESSAGE(r.err.find(k.problem) != std::string::npos, r.err);
  }
  check_unchanged(repo, before);
}

}  // namespace

TEST_CASE("apply commits every kind of change, prints the id and journals real old values") {
  TempRepo repo;
  const auto& c = repo.commits();  // main = c[2]
  repo.git({"update-ref", "refs/heads/old", c[0]});
  repo.git({"update-ref", "refs/tags/gone", c[0]});
  repo.git({"update-ref", "refs/heads/del2", c[1]});
  repo.git({"update-ref", "refs/heads/stay", c[0]});
  repo.git({"update-ref", "refs/heads/zap", c[2]});
  const std::string head = read_file(repo.git_dir() + "/HEAD");

  const std::string script = "update refs/heads/main " + c[0] + " " + c[2] + "\n" +  // checked
                             "update refs/heads/old " + c[1] + "\n" +                // unchecked
                             "create refs/heads/new " + c[2] + "\n" + "delete refs/tags/gone " +
                             c[0] + "\n" +                   // checked
                             "delete refs/heads/del2\n" +    // unchecked
                             "verify refs/heads/absent\n" +  // must not exist
                             "verify refs/heads/stay " + c[0] + "\n" + "update refs/heads/fresh " +
                             c[1] + " " + kZero + "\n" +                     // absent
                             "update refs/heads/zap " + kZero + "\n" +       // zero new deletes
                             "create \"refs/heads/quoted\" " + c[1] + "\n";  // C-quoted name
  RunResult r = run_apply(repo, script, {"-m", "everything"});
  const std::string id = committed_id(r);
  CHECK(split_lines(r.out).size() == 1);
  CHECK(r.err.empty());

  CHECK(repo.refs() == std::map<std::string, std::string>{{"refs/heads/main", c[0]},
                                                          {"refs/heads/old", c[1]},
                                                          {"refs/heads/new", c[2]},
                                                          {"refs/heads/stay", c[0]},
                                                          {"refs/heads/fresh", c[1]},
                                                          {"refs/heads/quoted", c[1]}});
  CHECK(repo.lock_files().empty());
  CHECK(read_file(repo.git_dir() + "/HEAD") == head);

  std::vector<Json> records = journal_json(repo);
  REQUIRE(records.size() == 1);
  const Json& rec = records[0];
  CHECK(rec["id"].str() == id);
  CHECK(rec["state"].str() == "committed");
  CHECK(rec["message"].str() == "everything");
  CHECK(rec["refs"].is_array());
  check_entry(rec, "refs/heads/main", c[2], c[0]);
  check_entry(rec, "refs/heads/old", c[0], c[1]);  // not checked, still the real old value
  check_entry(rec, "refs/heads/new", kZero, c[2]);
  check_entry(rec, "refs/tags/gone", c[0], kZero);
  check_entry(rec, "refs/heads/del2", c[1], kZero);  // not checked, still the real old value
  check_entry(rec, "refs/heads/fresh", kZero, c[1]);
  check_entry(rec, "refs/heads/zap", c[2], kZero);
  check_entry(rec, "refs/heads/quoted", kZero, c[1]);

  // Ids go up; the journal lists them in order.
  RunResult second = run_apply(repo, "update refs/heads/main " + c[1] + "\n");
  const std::string id2 = committed_id(second);
  CHECK(std::stoull(id2) > std::stoull(id));
  records = journal_json(repo);
  REQUIRE(records.size() == 2);
  CHECK(records[1]["id"].str() == id2);
  check_entry(records[1], "refs/heads/main", c[0], c[1]);
}

TEST_CASE("apply -z reads NUL-separated commands like git update-ref -z") {
  TempRepo repo;
  const auto& c = repo.commits();
  repo.git({"update-ref", "refs/heads/old", c[0]});
  repo.git({"update-ref", "refs/heads/gone", c[0]});
  repo.git({"update-ref", "refs/heads/gone2", c[1]});
  repo.git({"update-ref", "refs/heads/stay", c[1]});
  const std::string script = nul({"update refs/heads/main",     c[0],  c[2],  // checked
                                  "update refs/heads/old",      c[1],  "",  // empty old: unchecked
                                  "create refs/heads/new",      c[2],       //
                                  "delete refs/heads/gone",     c[0],       // checked
                                  "delete refs/heads/gone2",    "",         // unchecked
                                  "verify refs/heads/stay",     c[1],       //
                                  "verify refs/heads/absent",   "",         // must not exist
                                  "verify refs/heads/absent2",  kZero,      // must not exist
                                  "update refs/heads/a b/../c", c[0],  kZero});
  // The last command has an invalid name: first check that it is rejected as a whole...
  GitSnapshot before = snapshot_git(repo);
  RunResult bad = run_apply(repo, script, {"-z"});
  CHECK(bad.exit_code == 2);
  CHECK(bad.err.find("line 9:") != std::string::npos);
  check_unchanged(repo, before);

  // ...then apply it without that command.
  const std::string good = script.substr(0, script.find("update refs/heads/a b"));
  RunResult r = run_apply(repo, good, {"-z", "-m", "nul"});
  const std::string id = committed_id(r);
  CHECK(r.err.empty());
  CHECK(repo.refs() == std::map<std::string, std::string>{{"refs/heads/main", c[0]},
                                                          {"refs/heads/old", c[1]},
                                                          {"refs/heads/new", c[2]},
                                                          {"refs/heads/stay", c[1]}});
  CHECK(repo.lock_files().empty());
  Json rec = show_json(repo, id);
  CHECK(rec["state"].str() == "committed");
  CHECK(rec["message"].str() == "nul");
  check_entry(rec, "refs/heads/main", c[2], c[0]);
  check_entry(rec, "refs/heads/old", c[0], c[1]);
  check_entry(rec, "refs/heads/new", kZero, c[2]);
  check_entry(rec, "refs/heads/gone", c[0], kZero);
  check_entry(rec, "refs/heads/gone2", c[1], kZero);

  // A failed precondition in -z mode: exit 1, nothing applied.
  GitSnapshot mid = snapshot_git(repo);
  RunResult stale = run_apply(
      repo, nul({"update refs/heads/old", c[2], "", "update refs/heads/main", c[1], c[2]}), {"-z"});
  CHECK(stale.exit_code == 1);
  CHECK_FALSE(stale.err.empty());
  CHECK(repo.refs() == mid.refs);
  CHECK(repo.lock_files().empty());
}

TEST_CASE("a failed precondition exits 1 and applies nothing") {
  TempRepo repo;
  const auto& c = repo.commits();  // main = c[2]
  repo.git({"update-ref", "refs/heads/other", c[1]});
  const std::string head = read_file(repo.git_dir() + "/HEAD");
  const auto refs = repo.refs();
  const std::string prefix = "update refs/heads/other " + c[0] + " " + c[1] +
                             "\ncreate refs/heads/brand-new " + c[0] +
                             "\n";  // valid: must not be applied either

  const std::vector<std::string> cases = {
      "update refs/heads/main " + c[0] + " " + c[1] + "\n",    // wrong old value
      "update refs/heads/main " + c[0] + " " + kZero + "\n",   // must not exist, but does
      "create refs/heads/main " + c[0] + "\n",                 // exists
      "delete refs/heads/main " + c[1] + "\n",                 // wrong old value
      "verify refs/heads/main " + c[1] + "\n",                 // wrong value
      "verify refs/heads/main\n",                              // must not exist, but does
      "verify refs/heads/main " + kZero + "\n",                // must not exist, but does
      "verify refs/heads/absent " + c[1] + "\n",               // does not exist
      "update refs/heads/absent " + c[0] + " " + c[1] + "\n",  // does not exist
      "delete refs/heads/absent " + c[1] + "\n",               // does not exist
  };
  for (const std::string& bad : cases) {
    for (const std::string& script : {bad, prefix + bad}) {
      CAPTURE(script);
      const std::size_t committed_before = count_state(journal_json(repo), "committed");
      RunResult r = run_apply(repo, script, {"-m", "doomed"});
      CHECK(r.exit_code == 1);
      CHECK_FALSE(r.err.empty());
      CHECK(repo.refs() == refs);
      CHECK(repo.lock_files().empty());
      CHECK(read_file(repo.git_dir() + "/HEAD") == head);
      CHECK(count_state(journal_json(repo), "committed") == committed_before);
    }
  }
}

TEST_CASE("an old-value mismatch is journaled as aborted with a reason and the real old value") {
  TempRepo repo;
  const auto& c = repo.commits();  // main = c[2]
  repo.git({"update-ref", "refs/heads/other", c[1]});
  RunResult r = run_apply(
      repo,
      "update refs/heads/other " + c[0] + "\nupdate refs/heads/main " + c[0] + " " + c[1] + "\n",
      {"-m", "stale"});
  REQUIRE(r.exit_code == 1);
  CHECK(repo.ref("refs/heads/main") == c[2]);
  CHECK(repo.ref("refs/heads/other") == c[1]);
  CHECK(repo.lock_files().empty());

  std::vector<Json> records = journal_json(repo);
  REQUIRE(records.size() == 1);
  const Json& rec = records[0];
  CHECK(rec["state"].str() == "aborted");
  CHECK(rec["message"].str() == "stale");
  REQUIRE(rec.has("reason"));
  CHECK_FALSE(rec["reason"].str().empty());
  CHECK(rec["reason"].str().find("refs/heads/main") != std::string::npos);
  check_entry(rec, "refs/heads/main", c[2], c[0]);   // old: what main really was
  check_entry(rec, "refs/heads/other", c[1], c[0]);  // old: unchecked, still the real value
  // show agrees with list.
  Json shown = show_json(repo, rec["id"].str());
  CHECK(shown["state"].str() == "aborted");
  CHECK(shown["reason"].str() == rec["reason"].str());

  // The same script with the right old value now commits.
  RunResult ok = run_apply(repo, "update refs/heads/other " + c[0] + "\nupdate refs/heads/main " +
                                     c[0] + " " + c[2] + "\n");
  committed_id(ok);
  CHECK(repo.ref("refs/heads/main") == c[0]);
  CHECK(repo.ref("refs/heads/other") == c[0]);
}

TEST_CASE("a ref locked by another writer fails with exit 1 and the lock is left alone") {
  TempRepo repo;
  const auto& c = repo.commits();  // main = c[2]
  repo.git({"update-ref", "refs/heads/other", c[1]});
  const auto refs = repo.refs();

  SUBCASE("existing ref") {
    const std::string lock = repo.git_dir() + "/refs/heads/main.lock";
    write_file(lock, c[0] + "\n");
    const std::string script =
        "update refs/heads/other " + c[0] + "\nupdate refs/heads/main " + c[0] + " " + c[2] + "\n";
    RunResult r = run_apply(repo, script);
    CHECK(r.exit_code == 1);
    CHECK_FALSE(r.err.empty());
    CHECK(repo.refs() == refs);
    CHECK(read_file(lock) == c[0] + "\n");  // not ours: untouched
    CHECK(repo.lock_files() == std::vector<std::string>{"refs/heads/main.lock"});
    CHECK(count_state(journal_json(repo), "committed") == 0);
    // Without the foreign lock the same script commits.
    fs::remove(lock);
    committed_id(run_apply(repo, script));
    CHECK(repo.ref("refs/heads/main") == c[0]);
    CHECK(repo.ref("refs/heads/other") == c[0]);
  }
  SUBCASE("new ref") {
    fs::create_directories(repo.git_dir() + "/refs/heads/topic");
    const std::string lock = repo.git_dir() + "/refs/heads/topic/x.lock";
    write_file(lock, "");
    const std::string script =
        "update refs/heads/other " + c[0] + "\ncreate refs/heads/topic/x " + c[0] + "\n";
    RunResult r = run_apply(repo, script);
    CHECK(r.exit_code == 1);
    CHECK(repo.refs() == refs);
    CHECK(fs::exists(lock));
    CHECK(repo.lock_files() == std::vector<std::string>{"refs/heads/topic/x.lock"});
    fs::remove(lock);
    committed_id(run_apply(repo, script));
    CHECK(repo.ref("refs/heads/topic/x") == c[0]);
  }
  SUBCASE("packed-refs.lock blocks deleting a packed ref") {
    repo.git({"pack-refs", "--all"});
    const std::string lock = repo.git_dir() + "/packed-refs.lock";
    write_file(lock, "");
    const std::string script = "delete refs/heads/other " + c[1] + "\n";
    RunResult r = run_apply(repo, script);
    CHECK(r.exit_code == 1);
    CHECK(repo.refs() == refs);
    CHECK(repo.lock_files() == std::vector<std::string>{"packed-refs.lock"});
    fs::remove(lock);
    committed_id(run_apply(repo, script));
    CHECK_FALSE(repo.ref("refs/heads/other").has_value());
    CHECK(repo.lock_files().empty());
  }
}

TEST_CASE("a name clash fails with exit 1 and applies nothing") {
  TempRepo repo;
  const auto& c = repo.commits();  // main = c[2]
  repo.git({"update-ref", "refs/heads/dir/leaf", c[1]});
  const std::string valid = "update refs/heads/main " + c[0] + " " + c[2] + "\n";

  auto check_clash = [&](const std::string& script) {
    CAPTURE(script);
    const auto refs = repo.refs();
    for (const std::string& s : {script, valid + script}) {
      RunResult r = run_apply(repo, s);
      CHECK(r.exit_code == 1);
      CHECK_FALSE(r.err.empty());
      CHECK(repo.refs() == refs);
      CHECK(repo.lock_files().empty());
    }
  };
  check_clash("create refs/heads/main/sub " + c[0] + "\n");  // refs/heads/main exists
  check_clash("update refs/heads/dir " + c[0] + "\n");       // refs/heads/dir/leaf exists
  check_clash("create refs/heads/w " + c[0] + "\ncreate refs/heads/w/x " + c[0] + "\n");  // both
  repo.git({"pack-refs", "--all"});
  check_clash("create refs/heads/main/sub " + c[0] + "\n");  // packed this time
  check_clash("create refs/heads/dir " + c[0] + "\n");
  CHECK(count_state(journal_json(repo), "committed") == 0);
  // A sibling of the blockers is no clash.
  committed_id(run_apply(repo, valid + "create refs/heads/dir2/leaf " + c[0] + "\n"));
  CHECK(repo.lock_files().empty());
}

TEST_CASE("invalid text scripts exit 2, name the line and the problem, and change nothing") {
  TempRepo repo;
  const auto& c = repo.commits();  // main = c[2]
  repo.git({"symbolic-ref", "refs/heads/sym", "refs/heads/main"});
  const std::string ok = "update refs/heads/main " + c[0] + " " + c[2] + "\n";  // valid line 1
  auto at2 = [&](const std::string& bad, const std::string& problem) {
    return Invalid{ok + bad + "\n", 2, problem};
  };
  const std::string n = " " + c[0];
  const std::vector<Invalid> cases = {
      // unknown verbs and malformed lines
      {"frob refs/heads/x" + n + "\n", 1, "frob"},
      at2("frob refs/heads/x" + n, "frob"),
      at2("Update refs/heads/x" + n, "Update"),
      at2("start", "start"),
      at2("commit", "commit"),
      at2("option no-deref", "option"),
      at2("update", "missing ref"),
      at2("update refs/heads/x", "missing new value"),
      at2("create refs/heads/x", "missing new value"),
      at2("delete", "missing ref"),
      at2("verify", "missing ref"),
      at2("update refs/heads/x" + n + " " + c[1] + " " + c[2], "too many arguments"),
      at2("create refs/heads/x" + n + " " + c[1], "too many arguments"),
      at2("delete refs/heads/main " + c[2] + " " + c[1], "too many arguments"),
      at2("verify refs/heads/main " + c[2] + " " + c[1], "too many arguments"),
      at2("update refs/heads/x  " + c[0], "empty argument"),
      at2("update refs/heads/x" + n + " ", "empty argument"),
      at2("", "empty command"),
      {ok + "\n" + ok, 2, "empty command"},
      at2("update \"refs/heads/x" + n, "quoted"),
      at2("update refs/heads/x" + n + "\r", "bad new value"),
      // bad ref names
      at2("update heads/x" + n, "refs/"),
      at2("update main" + n, "refs/"),
      at2("update HEAD" + n, "refs/"),
      at2("delete HEAD", "refs/"),
      at2("verify HEAD " + c[2], "refs/"),
      at2("update \"refs/heads/a b\"" + n, "not a valid ref name"),
      at2("update refs/heads/a..b" + n, "not a valid ref name"),
      at2("update refs/heads/x.lock" + n, "not a valid ref name"),
      at2("update refs/heads/x.lock/y" + n, "not a valid ref name"),
      at2("update refs/heads/x~1" + n, "not a valid ref name"),
      at2("update refs/heads/x^" + n, "not a valid ref name"),
      at2("update refs/heads/a:b" + n, "not a valid ref name"),
      at2("update refs/heads/a?b" + n, "not a valid ref name"),
      at2("update refs/heads/a*b" + n, "not a valid ref name"),
      at2("update refs/heads/a[b" + n, "not a valid ref name"),
      at2("update \"refs/heads/a\\\\b\"" + n, "not a valid ref name"),
      at2("update \"refs/heads/a\\tb\"" + n, "not a valid ref name"),
      at2("update \"refs/heads/a\\177b\"" + n, "not a valid ref name"),
      at2("update refs/heads/x@{1}" + n, "not a valid ref name"),
      at2("update refs/heads/x/" + n, "not a valid ref name"),
      at2("update refs/heads/x." + n, "not a valid ref name"),
      at2("update refs/heads//x" + n, "not a valid ref name"),
      at2("update refs/heads/.x" + n, "not a valid ref name"),
      at2("update refs/" + n, "not a valid ref name"),
      at2("update refs/heads/sym" + n, "symbolic"),
      // bad object ids
      at2("update refs/heads/x 12345", "bad new value"),
      at2("update refs/heads/x " + c[0].substr(0, 7), "bad new value"),
      at2("update refs/heads/x " + c[0].substr(0, 12), "bad new value"),
      at2("update refs/heads/x " + c[0].substr(0, 39), "bad new value"),
      at2("update refs/heads/x " + c[0] + "0", "bad new value"),
      at2("update refs/heads/x " + std::string(40, 'g'), "bad new value"),
      at2("update refs/heads/x main", "bad new value"),
      at2("update refs/heads/x HEAD", "bad new value"),
      at2("create refs/heads/x " + c[0].substr(0, 10), "bad new value"),
      at2("update refs/heads/x" + n + " " + c[1].substr(0, 7), "bad old value"),
      at2("delete refs/heads/main " + c[2].substr(0, 7), "bad old value"),
      at2("verify refs/heads/main " + c[2].substr(0, 7), "bad old value"),
      at2("verify refs/heads/main xyz", "bad old value"),
      at2("update refs/heads/x " + kMissing, "does not exist"),
      at2("create refs/heads/x " + kMissing, "does not exist"),
      at2("create refs/heads/x " + kZero, "null new value"),
      at2("delete refs/heads/x " + kZero, "null old value"),
      // the same ref twice
      at2("update refs/heads/main " + c[1], "more than once"),
      at2("verify refs/heads/main " + c[2], "more than once"),
      {"create refs/heads/x" + n + "\nverify refs/heads/y\ndelete refs/heads/x\n", 3,
       "more than once"},
      // a bad line after many good ones
      {ok + "create refs/heads/a" + n + "\ncreate refs/heads/b" + n + "\ncreate refs/heads/c" + n +
           "\nfrob\n",
       5, "frob"},
  };
  check_invalid(repo, cases, {});
}

TEST_CASE("an empty script is invalid") {
  TempRepo repo;
  GitSnapshot before = snapshot_git(repo);
  for (const std::vector<std::string>& extra :
       {std::vector<std::string>{}, std::vector<std::string>{"-z"}}) {
    RunResult r = run_apply(repo, "", extra);
    CHECK(r.exit_code == 2);
    CHECK(r.out.empty());
    CHECK(r.err.find("empty") != std::string::npos);
  }
  check_unchanged(repo, before);
}

TEST_CASE("invalid -z scripts exit 2, name the command and the problem, and change nothing") {
  TempRepo repo;
  const auto& c = repo.commits();  // main = c[2]
  const std::string ok = nul({"update refs/heads/main", c[0], c[2]});
  auto at2 = [&](const std::string& bad, const std::string& problem) {
    return Invalid{ok + bad, 2, problem};
  };
  const std::vector<Invalid> cases = {
      {nul({"frob refs/heads/x", c[0], ""}), 1, "frob"},
      at2(nul({"frob refs/heads/x", c[0], ""}), "frob"),
      at2(nul({""}), "empty command"),
      at2(nul({"update", c[0], ""}), "missing ref"),
      at2(nul({"update refs/heads/x", c[0]}), "truncated"),  // old field missing
      at2(nul({"update refs/heads/x"}), "truncated"),
      at2("update refs/heads/x", "not terminated"),                 // no NUL at all
      at2(nul({"update refs/heads/x", c[0]}) + c[1], "truncated"),  // last field unterminated
      at2(nul({"update refs/heads/x", "", ""}), "bad new value"),   // empty new value
      at2(nul({"create refs/heads/x", ""}), "bad new value"),
      at2(nul({"update refs/heads/x", c[0].substr(0, 7), ""}), "bad new value"),
      at2(nul({"update refs/heads/x", c[0] + " ", ""}), "bad new value"),
      at2(nul({"update refs/heads/x", "main", ""}), "bad new value"),
      at2(nul({"update refs/heads/x", c[0], c[1].substr(0, 7)}), "bad old value"),
      at2(nul({"verify refs/heads/main", "xyz"}), "bad old value"),
      at2(nul({"update HEAD", c[0], ""}), "refs/"),
      at2(nul({"update heads/x", c[0], ""}), "refs/"),
      at2(nul({"update refs/heads/a b", c[0], ""}), "not a valid ref name"),
      at2(nul({"update refs/heads/a..b", c[0], ""}), "not a valid ref name"),
      at2(nul({"update refs/heads/x.lock", c[0], ""}), "not a valid ref name"),
      at2(nul({"update \"refs/heads/v", c[0], ""}), "refs/"),  // git -z would create it
      at2(nul({"update refs/heads/x\nupdate", c[0], ""}), "not a valid ref name"),
      at2(nul({"update refs/heads/x", kMissing, ""}), "does not exist"),
      at2(nul({"create refs/heads/x", kZero}), "null new value"),
      at2(nul({"delete refs/heads/x", kZero}), "null old value"),
      at2(nul({"update refs/heads/main", c[1], ""}), "more than once"),
      // a text script given to -z
      {"update refs/heads/main " + c[0] + "\n", 1, "not terminated"},
  };
  check_invalid(repo, cases, {"-z"});
}

TEST_CASE("HEAD is never touched") {
  TempRepo repo;
  const auto& c = repo.commits();  // main = c[2]
  const std::string head_path = repo.git_dir() + "/HEAD";

  SUBCASE("symbolic HEAD pointing at the branch being changed") {
    const std::string head = read_file(head_path);
    REQUIRE(head == "ref: refs/heads/main\n");
    committed_id(run_apply(repo, "update refs/heads/main " + c[0] + " " + c[2] + "\n"));
    CHECK(read_file(head_path) == head);
    CHECK(run_apply(repo, "update refs/heads/main " + c[1] + " " + c[2] + "\n").exit_code == 1);
    CHECK(read_file(head_path) == head);
    committed_id(run_apply(repo, "delete refs/heads/main " + c[0] + "\n"));
    CHECK(read_file(head_path) == head);
    CHECK_FALSE(repo.ref("refs/heads/main").has_value());
    committed_id(run_apply(repo, "create refs/heads/main " + c[1] + "\n"));
    CHECK(read_file(head_path) == head);
    CHECK(repo.ref("refs/heads/main") == c[1]);
    CHECK(run_apply(repo, "update HEAD " + c[0] + "\n").exit_code == 2);
    CHECK(read_file(head_path) == head);
  }
  SUBCASE("detached HEAD") {
    write_file(head_path, c[1] + "\n");
    committed_id(
        run_apply(repo, "update refs/heads/main " + c[0] + "\ncreate refs/heads/b " + c[2] + "\n"));
    CHECK(read_file(head_path) == c[1] + "\n");
    CHECK(repo.ref("HEAD") == c[1]);
    CHECK(run_apply(repo, nul({"update HEAD", c[2], ""}), {"-z"}).exit_code == 2);
    CHECK(read_file(head_path) == c[1] + "\n");
  }
  CHECK(repo.lock_files().empty());
}

TEST_CASE("deleting packed and loose refs leaves no lock or packed-refs.new behind") {
  TempRepo repo;
  const auto& c = repo.commits();
  repo.git({"update-ref", "refs/heads/p1", c[0]});
  repo.git({"update-ref", "refs/heads/p2", c[1]});
  repo.git({"pack-refs", "--all"});
  repo.git({"update-ref", "refs/heads/p2", c[2]});  // loose over packed
  repo.git({"update-ref", "refs/heads/l1", c[0]});  // loose only
  committed_id(run_apply(
      repo, "delete refs/heads/p1 " + c[0] + "\ndelete refs/heads/p2\ndelete refs/heads/l1\n"));
  CHECK(repo.refs() == std::map<std::string, std::string>{{"refs/heads/main", c[2]}});
  CHECK(repo.lock_files().empty());
  CHECK_FALSE(fs::exists(repo.git_dir() + "/packed-refs.new"));
}
