// `reftx journal list|show [--json]` and `reftx recover`, black-box: JSON Lines fields, unknown
// and malformed ids, message round-trips (also under LC_ALL=C), quiet recovery.
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

bool is_oid(const std::string& s) {
  return s.size() == 40 && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

void check_quiet_recover(const TempRepo& repo) {
  for (int run = 0; run < 2; ++run) {
    CAPTURE(run);
    RunResult r = repo.reftx({"recover"});
    CHECK(r.exit_code == 0);
    CHECK(r.out.empty());
    CHECK(r.err.empty());
  }
}

// journal list / list --json: exit 0, nothing printed.
void check_empty_journal(const TempRepo& repo) {
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"journal", "list"},
        std::vector<std::string>{"journal", "list", "--json"},
        std::vector<std::string>{"journal", "--json", "list"}}) {
    RunResult r = repo.reftx(args);
    CHECK(r.exit_code == 0);
    CHECK(r.out.empty());
    CHECK(r.err.empty());
  }
  for (const char* id : {"1", "0", "2"}) {
    RunResult r = repo.reftx({"journal", "show", id, "--json"});
    CHECK(r.exit_code == 1);
    CHECK(r.out.empty());
    CHECK_FALSE(r.err.empty());
  }
}

}  // namespace

TEST_CASE("on a repository where nothing ran, journal prints nothing and exits 0") {
  TempRepo repo;
  check_empty_journal(repo);
  check_quiet_recover(repo);  // may create the journal: still nothing in it
  check_empty_journal(repo);
  // Rejected scripts record nothing either.
  const auto& c = repo.commits();
  CHECK(run_apply(repo, "frob\n").exit_code == 2);
  CHECK(run_apply(repo, "update refs/heads/main 0123456789abcdef0123456789abcdef01234567\n")
            .exit_code == 2);
  CHECK(run_apply(repo, "update HEAD " + c[0] + "\n").exit_code == 2);
  check_empty_journal(repo);

  TempRepo bare(1, /*bare=*/true);
  check_empty_journal(bare);
}

TEST_CASE("journal show: unknown ids exit 1, malformed ids exit 2") {
  TempRepo repo;
  const auto& c = repo.commits();
  const std::string id = committed_id(run_apply(repo, "update refs/heads/main " + c[0] + "\n"));
  REQUIRE(id == "1");  // ids start at 1 on a fresh journal

  for (const std::string& unknown :
       {std::string("0"), std::string("2"), std::string("999"), std::string("18446744073709551615"),
        std::string("99999999999999999999999999")}) {
    CAPTURE(unknown);
    for (const std::vector<std::string>& args :
         {std::vector<std::string>{"journal", "show", unknown},
          std::vector<std::string>{"journal", "show", unknown, "--json"}}) {
      RunResult r = repo.reftx(args);
      CHECK(r.exit_code == 1);
      CHECK(r.out.empty());
      CHECK_FALSE(r.err.empty());
    }
  }
  for (const std::string& bad : {std::string("abc"), std::string("1x"), std::string("x1"),
                                 std::string("-1"), std::string("+1"), std::string("1.0"),
                                 std::string(" 1"), std::string(""), std::string("0x1")}) {
    CAPTURE(bad);
    RunResult r = repo.reftx({"journal", "show", "--json", "--", bad});
    CHECK(r.exit_code == 2);
    CHECK(r.out.empty());
    CHECK_FALSE(r.err.empty());
  }
  // On a repository without any journal too.
  TempRepo fresh;
  RunResult unknown = fresh.reftx({"journal", "show", "1"});
  CHECK(unknown.exit_code == 1);
  CHECK_FALSE(unknown.err.empty());
  RunResult bad = fresh.reftx({"journal", "show", "one"});
  CHECK(bad.exit_code == 2);
  CHECK_FALSE(bad.err.empty());
  // Leading zeros are still the number.
  RunResult padded = repo.reftx({"journal", "show", "001", "--json"});
  CHECK(padded.exit_code == 0);
  CHECK(parse_json(split_lines(padded.out).at(0))["id"].str() == "1");
}

TEST_CASE("journal --json prints one JSON object per line; list and show agree") {
  TempRepo repo;
  const auto& c = repo.commits();  // main = c[2]
  repo.git({"update-ref", "refs/heads/other", c[0]});
  committed_id(
      run_apply(repo, "update refs/heads/main " + c[1] + " " + c[2] + "\ndelete refs/heads/other\n",
                {"-m", "first"}));
  CHECK(run_apply(repo, "update refs/heads/main " + c[0] + " " + c[2] + "\n", {"-m", "second"})
            .exit_code == 1);
  committed_id(run_apply(repo,
                         "create refs/tags/t " + c[0] + "\nverify refs/heads/main " + c[1] + "\n",
                         {"-m", "third"}));

  RunResult list = repo.reftx({"journal", "list", "--json"});
  REQUIRE(list.exit_code == 0);
  CHECK(list.err.empty());
  REQUIRE_FALSE(list.out.empty());
  CHECK(list.out.back() == '\n');
  std::vector<std::string> lines = split_lines(list.out);
  REQUIRE(lines.size() == 3);
  const std::vector<std::string> states = {"committed", "aborted", "committed"};
  const std::vector<std::string> messages = {"first", "second", "third"};
  std::uint64_t previous = 0;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    CAPTURE(lines[i]);
    Json rec;
    REQUIRE_NOTHROW(rec = parse_json(lines[i]));
    REQUIRE(rec.is_object());
    REQUIRE(rec["id"].is_string());
    const std::string& id = rec["id"].str();
    REQUIRE_FALSE(id.empty());
    REQUIRE(id.find_first_not_of("0123456789") == std::string::npos);
    CHECK(std::stoull(id) > previous);  // in id order
    previous = std::stoull(id);
    CHECK(rec["state"].str() == states[i]);
    CHECK(rec["message"].str() == messages[i]);
    CHECK(rec.has("created"));
    CHECK(rec.has("updated"));
    REQUIRE(rec["refs"].is_array());
    for (const Json& ref : rec["refs"].items) {
      REQUIRE(ref.is_object());
      CHECK(ref["name"].str().rfind("refs/", 0) == 0);
      CHECK(is_oid(ref["old"].str()));
      CHECK(is_oid(ref["new"].str()));
    }
    if (states[i] == "aborted") {
      REQUIRE(rec.has("reason"));
      CHECK_FALSE(rec["reason"].str().empty());
    }
    // show --json prints exactly the same line.
    RunResult shown = repo.reftx({"journal", "show", id, "--json"});
    CHECK(shown.exit_code == 0);
    CHECK(shown.err.empty());
    CHECK(shown.out == lines[i] + "\n");
    // Human-readable show names the transaction.
    RunResult human = repo.reftx({"journal", "show", id});
    CHECK(human.exit_code == 0);
    CHECK(human.out.find(id) != std::string::npos);
  }
  Json first = parse_json(lines[0]);
  REQUIRE(first["refs"].items.size() == 2);
  const Json* main_ref = ref_entry(first, "refs/heads/main");
  REQUIRE(main_ref != nullptr);
  CHECK((*main_ref)["old"].str() == c[2]);
  CHECK((*main_ref)["new"].str() == c[1]);
  const Json* other = ref_entry(first, "refs/heads/other");
  REQUIRE(other != nullptr);
  CHECK((*other)["old"].str() == c[0]);
  CHECK((*other)["new"].str() == kZero);
  const Json third = parse_json(lines[2]);
  const Json* tag = ref_entry(third, "refs/tags/t");
  REQUIRE(tag != nullptr);
  CHECK((*tag)["old"].str() == kZero);
  CHECK((*tag)["new"].str() == c[0]);

  RunResult human = repo.reftx({"journal", "list"});
  CHECK(human.exit_code == 0);
  CHECK(human.err.empty());
  CHECK(split_lines(human.out).size() == 3);
}

TEST_CASE("messages round-trip exactly through journal --json, also under LC_ALL=C") {
  TempRepo repo;
  const auto& c = repo.commits();
  const std::vector<std::string> messages = {
      "plain",
      "",
      "two\nlines\n",
      "\n",
      "tab\there, \"double\" and 'single' quotes, back\\slash\\\\, /slash/, \\n not a newline",
      "emoji \xF0\x9F\x98\x80\xF0\x9F\x8E\x89 \xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x91\xA9",
      "\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E "
      "\xCE\x95\xCE\xBB\xCE\xBB\xCE\xB7\xCE\xBD\xCE\xB9\xCE\xBA"
      "\xCE\xAC \xD7\xA2\xD7\x91\xD7\xA8\xD7\x99\xD7\xAA e\xCC\x81 \xEF\xBB\xBF \xE2\x80\xAE",
      "controls \x01\x02\x1b[31m\x1f\x7f and \r\n crlf",
      "{\"json\": [1, 2, null], \"k\": \"v\"}",
      "-z",
      "--message=x",
      "-m",
      " leading and trailing spaces ",
      "\xF4\x8F\xBF\xBF max code point, \xEF\xBF\xBF U+FFFF, \xC2\x80 U+0080",
      std::string(5000, 'x') + "\xC3\xA9",
  };
  const std::vector<std::map<std::string, std::string>> envs = {
      {}, {{"LC_ALL", "C"}, {"LANG", "C"}}, {{"LC_ALL", "C.UTF-8"}}};
  std::size_t n = 0;
  for (const auto& env : envs) {
    for (const std::string& message : messages) {
      CAPTURE(message);
      CAPTURE(n);
      const std::string oid = c[n++ % 3];
      RunResult r = run_apply(repo, "update refs/heads/main " + oid + "\n", {"-m", message}, env);
      const std::string id = committed_id(r);

      RunOptions o;
      o.env = env;
      RunResult shown = repo.reftx({"journal", "show", id, "--json"}, o);
      REQUIRE(shown.exit_code == 0);
      REQUIRE(split_lines(shown.out).size() == 1);  // newlines are escaped
      Json rec = parse_json(shown.out);
      CHECK(rec["message"].str() == message);

      RunResult list = repo.reftx({"journal", "list", "--json"}, o);
      REQUIRE(list.exit_code == 0);
      std::vector<std::string> lines = split_lines(list.out);
      REQUIRE(lines.size() == n);
      CHECK(lines.back() + "\n" == shown.out);
      CHECK(parse_json(lines.back())["message"].str() == message);
    }
  }
  // -z scripts take messages the same way.
  RunResult z = run_apply(repo, nul({"update refs/heads/main", c[0], ""}),
                          {"-z", "-m", messages[4]}, {{"LC_ALL", "C"}});
  CHECK(show_json(repo, committed_id(z))["message"].str() == messages[4]);
}

TEST_CASE("recover exits 0 and prints nothing on a clean repository, every time") {
  SUBCASE("fresh non-bare repository") {
    TempRepo repo;
    check_quiet_recover(repo);
  }
  SUBCASE("fresh bare repository") {
    TempRepo repo(2, /*bare=*/true);
    check_quiet_recover(repo);
  }
  SUBCASE("after committed, aborted and rejected transactions") {
    TempRepo repo;
    const auto& c = repo.commits();
    const std::string head = read_file(repo.git_dir() + "/HEAD");
    committed_id(
        run_apply(repo, "update refs/heads/main " + c[0] + "\ncreate refs/heads/x " + c[1] + "\n"));
    CHECK(run_apply(repo, "update refs/heads/main " + c[1] + " " + c[2] + "\n").exit_code == 1);
    CHECK(run_apply(repo, "update refs/heads/main\n").exit_code == 2);
    write_file(repo.git_dir() + "/refs/heads/x.lock", "");
    CHECK(run_apply(repo, "delete refs/heads/x\n").exit_code == 1);
    const auto refs = repo.refs();
    const std::size_t records = journal_json(repo).size();
    check_quiet_recover(repo);
    CHECK(repo.refs() == refs);
    CHECK(journal_json(repo).size() == records);
    CHECK(read_file(repo.git_dir() + "/HEAD") == head);
    // recover never removes a lock it does not own.
    CHECK(repo.lock_files() == std::vector<std::string>{"refs/heads/x.lock"});
    fs::remove(repo.git_dir() + "/refs/heads/x.lock");
    CHECK(repo.lock_files().empty());
  }
}
