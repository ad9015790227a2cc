// Working-tree files and tool state through the `reftx` command, black-box: bad input for every
// file and state verb (exit 2, nothing changed), compare-and-swap on file content (exit 1),
// committed writes/removes/modes/keys and what the journal says about them, `reftx state`,
// bare repositories with --work-tree, the layered-config worked example, and streaming of a
// 200 MB file. Real repositories, the real binary and git.
#include <doctest/doctest.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>

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

// Commits everything in the work tree on main.
void commit_all(const TempRepo& repo, const std::string& message) {
  git_wt(repo, {"add", "-A"});
  git_wt(repo, {"commit", "-q", "-m", message});
}

void set_perms(const std::string& path, unsigned mode) {
  REQUIRE(::chmod(path.c_str(), mode) == 0);
}

// ---------------------------------------------------------------------------------------------
// The repository every bad-input case runs against.

// A work tree with hidden and untracked files, a directory, a regular file used as a parent,
// and symbolic links to inside and outside the work tree; a journal with one state key.
struct BadInputRepo {
  TempRepo repo;
  TempDir outside;   // what the escaping links point to
  std::string good;  // a blob
  std::string tree_id;
  BadInputRepo() {
    const std::string wt = repo.path();
    write_file(outside.path() + "/secret", "outside the work tree\n");
    write_file(wt + "/exists.txt", "a file\n");
    write_file(wt + "/.hidden", "hidden\n");
    fs::create_directories(wt + "/dir/sub");
    write_file(wt + "/dir/file", "in dir\n");
    write_file(wt + "/regular", "a regular file\n");
    fs::create_directory_symlink(outside.path(), wt + "/out-link");
    fs::create_directory_symlink(outside.path(), wt + "/dir/deep-out-link");
    fs::create_directory_symlink("dir", wt + "/in-link");
    fs::create_symlink(outside.path() + "/secret", wt + "/file-link");
    fs::create_symlink("exists.txt", wt + "/in-file-link");
    good = write_blob(repo, "good\n");
    tree_id = repo.git({"hash-object", "-t", "tree", "-w", "--stdin"}, "");
    committed_id(run_apply(repo, "set some/key before\n"));
  }
  Site site() const { return {repo, {}, {repo.path(), outside.path()}}; }

  // A path each file verb must refuse, and a word of the reason.
  std::vector<std::pair<std::string, std::string>> refused_paths() const {
    return {
        {"/abs.txt", "absolute"},
        {repo.path() + "/exists.txt", "absolute"},
        {"../escape.txt", "'..'"},
        {"..", "'..'"},
        {"dir/../exists.txt", "'..'"},
        {"dir/..", "'..'"},
        {".", "'.' component"},
        {"./exists.txt", "'.' component"},
        {"dir/./file", "'.' component"},
        {"dir//file", "'//'"},
        {"dir/", "ends with '/'"},
        {"new/", "ends with '/'"},
        {".git", ".git"},
        {".git/config", ".git"},
        {".git/refs/heads/main", ".git"},
        {"sub/.git/x", ".git"},
        {".GIT/x", ".git"},
        {"dir/.Git", ".git"},
        {".reftx-1-0.tmp", "reserved"},
        {"dir/.reftx-anything", "reserved"},
        {"out-link/secret", "symbolic link 'out-link'"},
        {"out-link/new.txt", "symbolic link 'out-link'"},
        {"dir/deep-out-link/secret", "symbolic link 'dir/deep-out-link'"},
        {"in-link/file", "symbolic link 'in-link'"},
        {"in-link/new.txt", "symbolic link 'in-link'"},
        {"file-link", "is a symbolic link"},
        {"in-file-link", "is a symbolic link"},
        {"dir", "is a directory"},
        {"dir/sub", "is a directory"},
        {"regular/x", "'regular', not a directory"},
        {"exists.txt/x/y", "'exists.txt', not a directory"},
    };
  }
};

}  // namespace

// ---------------------------------------------------------------------------------------------
// 1. Bad input: exit 2, the line and the problem named, nothing changed.

TEST_CASE("bad file and state commands in text scripts exit 2 and change nothing") {
  BadInputRepo fx;
  const TempRepo& repo = fx.repo;
  const auto& c = repo.commits();  // main = c[2]
  const std::string& b = fx.good;
  const std::string old = blob_id(repo, "a file\n");  // what exists.txt holds
  // Three valid lines that would change a file, a key and a ref; the bad command is line 4.
  const std::string ok = "write good.txt " + b + "\nset some/key changed\nupdate refs/heads/main " +
                         c[0] + " " + c[2] + "\n";
  auto at4 = [&](const std::string& bad, const std::string& problem) {
    return Refused{ok + bad + "\n", 4, problem};
  };
  std::vector<Refused> cases = {
      // missing arguments
      at4("write", "missing path"),
      at4("write \"\" " + b, "missing path"),
      at4("write f.txt", "missing blob"),
      at4("remove", "missing path"),
      at4("set", "missing key"),
      at4("set k", "missing value"),
      at4("unset", "missing key"),
      // bad blob ids
      at4("write f.txt 12345", "bad blob value"),
      at4("write f.txt " + b.substr(0, 39), "bad blob value"),
      at4("write f.txt " + b + "0", "bad blob value"),
      at4("write f.txt " + std::string(40, 'g'), "bad blob value"),
      at4("write f.txt HEAD", "bad blob value"),
      // old blobs that are not 40 hex digits
      at4("write f.txt " + b + " 1234", "bad old value"),
      at4("write f.txt " + b + " " + old.substr(0, 7), "bad old value"),
      at4("write f.txt " + b + " " + old.substr(0, 7) + " mode=100755", "bad old value"),
      at4("write f.txt " + b + " mode=100755 " + old, "bad old value"),  // mode goes last
      at4("remove exists.txt 1234", "bad old value"),
      at4("remove exists.txt " + std::string(40, 'x'), "bad old value"),
      // modes other than 100644 and 100755
      at4("write f.txt " + b + " mode=100600", "bad mode"),
      at4("write f.txt " + b + " " + kZero + " mode=100600", "bad mode"),
      at4("write f.txt " + b + " mode=120000", "bad mode"),
      at4("write f.txt " + b + " mode=755", "bad mode"),
      // too many arguments
      at4("write f.txt " + b + " " + kZero + " mode=100755 extra", "too many arguments"),
      at4("write f.txt " + b + " " + kZero + " extra", "'extra'"),  // where the mode goes
      at4("remove exists.txt " + old + " extra", "too many arguments"),
      at4("unset other extra", "too many arguments"),
      // objects that do not exist or are not blobs
      at4("write f.txt " + kMissing, "does not exist"),
      at4("write f.txt " + c[0], "is a commit, not a blob"),
      at4("write f.txt " + fx.tree_id, "is a tree, not a blob"),
      // a path or key twice, a path inside another one
      at4("write good.txt " + b, "more than once"),
      at4("remove good.txt", "more than once"),
      at4("write \"good.txt\" " + b, "more than once"),  // the same path, C-quoted
      at4("set some/key again", "more than once"),
      at4("unset some/key", "more than once"),
      at4("write good.txt/inner " + b, "inside 'good.txt'"),
      {"write a/b " + b + "\nwrite a " + b + "\n", 1, "'a/b' is inside 'a', which line 2"},
      {"write a " + b + "\nwrite a/b " + b + "\n", 2, "'a/b' is inside 'a', which line 1"},
      // "must not exist" on a remove
      at4("remove exists.txt " + kZero, "null old value"),
      // C quoting spells the same refused paths
      at4("write \"dir/\\056\\056/exists.txt\" " + b, "'..'"),
      at4("write \"\\056git/config\" " + b, ".git"),
      // a mixed script whose last line is bad: its good lines change nothing either
      {"remove exists.txt\nwrite .hidden " + b + "\nwrite new/deep/f " + b +
           "\nset k v\nunset some/key\nupdate refs/heads/main " + c[0] + "\nwrite /abs " + b + "\n",
       7, "absolute"},
  };
  for (const auto& [path, problem] : fx.refused_paths()) {
    cases.push_back(at4("write " + path + " " + b, problem));
    cases.push_back(at4("remove " + path, problem));
    cases.push_back(at4("write " + path + " " + b + " " + kZero + " mode=100755", problem));
  }
  check_refused(fx.site(), cases, {});
  CHECK(read_file(fx.outside.path() + "/secret") == "outside the work tree\n");

  // The valid lines alone do apply: the checks above would have seen them.
  committed_id(run_apply(repo, ok));
  CHECK(read_file(repo.path() + "/good.txt") == "good\n");
  CHECK(repo.ref("refs/heads/main") == c[0]);
}

TEST_CASE("bad file and state commands in -z scripts exit 2 and change nothing") {
  BadInputRepo fx;
  const TempRepo& repo = fx.repo;
  const auto& c = repo.commits();  // main = c[2]
  const std::string& b = fx.good;
  const std::string old = blob_id(repo, "a file\n");
  const std::string ok = nul({"write good.txt", b, "", "", "set some/key", "changed",
                              "update refs/heads/main", c[0], c[2]});
  auto at4 = [&](const std::string& bad, const std::string& problem) {
    return Refused{ok + bad, 4, problem};
  };
  std::vector<Refused> cases = {
      // missing and truncated commands
      at4(nul({"write", b, "", ""}), "missing path"),
      at4(nul({"write f.txt", "", "", ""}), "missing blob"),
      at4(nul({"write f.txt", b, ""}), "truncated"),  // no mode field
      at4(nul({"write f.txt", b}), "truncated"),
      at4(nul({"remove", ""}), "missing path"),
      at4(nul({"remove f.txt"}), "truncated"),
      at4(nul({"set", "v"}), "missing key"),
      at4(nul({"set k"}), "truncated"),  // no value
      at4(nul({"unset"}), "missing key"),
      at4("write f.txt", "not terminated"),
      at4(nul({"write f.txt", b, ""}) + kZero, "truncated"),  // last field unterminated
      // bad blob ids, old blobs and modes
      at4(nul({"write f.txt", "12345", "", ""}), "bad blob value"),
      at4(nul({"write f.txt", b + " ", "", ""}), "bad blob value"),
      at4(nul({"write f.txt", b, "1234", ""}), "bad old value"),
      at4(nul({"write f.txt", b, old.substr(0, 7), "mode=100755"}), "bad old value"),
      at4(nul({"remove exists.txt", "1234"}), "bad old value"),
      at4(nul({"write f.txt", b, "", "mode=100600"}), "bad mode"),
      at4(nul({"write f.txt", b, "", "100755"}), "bad mode"),
      // a field too many is read as the next command
      {ok + nul({"write f.txt", b, "", "", "extra"}), 5, "unknown command 'extra'"},
      // objects that do not exist or are not blobs
      at4(nul({"write f.txt", kMissing, "", ""}), "does not exist"),
      at4(nul({"write f.txt", c[0], "", ""}), "is a commit, not a blob"),
      at4(nul({"write f.txt", fx.tree_id, "", ""}), "is a tree, not a blob"),
      // twice, nested, "must not exist" on a remove
      at4(nul({"write good.txt", b, "", ""}), "more than once"),
      at4(nul({"remove good.txt", ""}), "more than once"),
      at4(nul({"set some/key", "again"}), "more than once"),
      at4(nul({"unset some/key"}), "more than once"),
      at4(nul({"write good.txt/inner", b, "", ""}), "inside 'good.txt'"),
      at4(nul({"remove exists.txt", kZero}), "null old value"),
      // raw bytes: no quoting hides '..' or .git
      at4(nul({"write dir\n/../x", b, "", ""}), "'..'"),
      at4(nul({"write \"dir/../x\"", b, "", ""}), "'..'"),
      // a mixed script whose last command is bad
      {nul({"remove exists.txt", ""}) + nul({"write .hidden", b, "", ""}) +
           nul({"write new/deep/f", b, "", ""}) + nul({"set k", "v"}) + nul({"unset some/key"}) +
           nul({"update refs/heads/main", c[0], ""}) + nul({"write /abs", b, "", ""}),
       7, "absolute"},
  };
  for (const auto& [path, problem] : fx.refused_paths()) {
    cases.push_back(at4(nul({"write " + path, b, "", ""}), problem));
    cases.push_back(at4(nul({"remove " + path, ""}), problem));
    cases.push_back(at4(nul({"write " + path, b, kZero, "mode=100755"}), problem));
  }
  check_refused(fx.site(), cases, {"-z"});
  CHECK(read_file(fx.outside.path() + "/secret") == "outside the work tree\n");

  committed_id(run_apply(repo, ok, {"-z"}));
  CHECK(read_file(repo.path() + "/good.txt") == "good\n");
}

TEST_CASE("file commands in a bare repository without --work-tree are refused: no work tree") {
  TempRepo bare(3, /*bare=*/true);
  const auto& c = bare.commits();
  const std::string b = write_blob(bare, "content\n");
  committed_id(run_apply(bare, "set k before\n"));
  const Site site{bare, {}, {bare.path()}, {"reftx"}};  // the journal lives in the git dir
  const std::string ok = "update refs/heads/main " + c[0] + " " + c[2] + "\nset k after\n";
  const std::string ok_z = nul({"update refs/heads/main", c[0], c[2], "set k", "after"});
  check_refused(site,
                {{ok + "write f.txt " + b + "\n", 3, "no work tree"},
                 {ok + "remove f.txt\n", 3, "no work tree"},
                 {"write f.txt " + b + "\n", 1, "no work tree"}},
                {});
  check_refused(site,
                {{ok_z + nul({"write f.txt", b, "", ""}), 3, "no work tree"},
                 {ok_z + nul({"remove f.txt", ""}), 3, "no work tree"}},
                {"-z"});
  // Refs and state alone need no work tree.
  committed_id(run_apply(bare, ok));
  CHECK(bare.ref("refs/heads/main") == c[0]);
}

// ---------------------------------------------------------------------------------------------
// 2. Compare-and-swap on file content.

TEST_CASE("a file that does not hold its expected old blob aborts everything with exit 1") {
  TempRepo repo;
  const auto& c = repo.commits();  // main = c[2]
  const std::string wt = repo.path();
  fs::create_directory(wt + "/conf");
  write_file(wt + "/conf/a.txt", "A\n");
  write_file(wt + "/conf/b.txt", "B\n");
  committed_id(run_apply(repo, "set k before\n"));
  const std::string a = blob_id(repo, "A\n");
  const std::string b_old = blob_id(repo, "B\n");
  const std::string n = write_blob(repo, "new\n");
  const std::string wrong = blob_id(repo, "what someone else expected\n");
  const Site site{repo, {}, {wt}};

  struct Stale {
    std::string script;
    int line;          // of the file whose check fails
    std::string path;  // that file
  };
  const std::vector<Stale> cases = {
      {"write conf/a.txt " + n + " " + wrong + "\n", 1, "conf/a.txt"},
      {"remove conf/a.txt " + wrong + "\n", 1, "conf/a.txt"},
      {"write conf/a.txt " + n + " " + kZero + "\n", 1, "conf/a.txt"},        // must not exist
      {"write conf/absent.txt " + n + " " + a + "\n", 1, "conf/absent.txt"},  // must exist
      {"remove conf/absent.txt " + a + "\n", 1, "conf/absent.txt"},
      {"write conf/a.txt " + n + " " + b_old + " mode=100755\n", 1, "conf/a.txt"},
      // Earlier files were staged (new directories, temp files, old content saved) before the
      // failing check: all of it is undone.
      {script_of({
           "write new/deep/x.txt " + n,
           "write conf/b.txt " + n,
           "remove conf/c.txt",
           "write conf/a.txt " + n + " " + wrong,
           "set k after",
           "update refs/heads/main " + c[0],
       }),
       4, "conf/a.txt"},
  };
  for (const Stale& k : cases) {
    CAPTURE(k.script);
    const Everything before = everything(site);
    RunResult r = run_apply(repo, k.script, {"-m", "stale"});
    CHECK(r.exit_code == 1);
    CHECK(r.out.empty());
    CHECK_MESSAGE(r.err.find("line " + std::to_string(k.line) + ":") != std::string::npos, r.err);
    CHECK_MESSAGE(r.err.find(k.path) != std::string::npos, r.err);
    // Nothing changed (no temp file, no new directory), and the journal has one more record:
    // aborted, with a reason naming the file.
    check_trees(site, before.dirs);
    CHECK(repo.refs() == before.git.refs);
    CHECK(state_of(site) == before.state);
    CHECK(repo.lock_files().empty());
    CHECK(journal_json(repo).size() == before.git.records + 1);
    const Json rec = last_aborted(repo);
    CHECK(rec["message"].str() == "stale");
    CHECK_MESSAGE(rec["reason"].str().find(k.path) != std::string::npos, rec["reason"].str());
    if (const Json* f = file_entry(rec, "conf/a.txt")) {
      CHECK((*f)["old"].str() == a);  // what the file really held
    }
  }
  CHECK(read_file(wt + "/conf/a.txt") == "A\n");
  CHECK_FALSE(fs::exists(wt + "/new"));

  // The right old values commit.
  const std::string id =
      committed_id(run_apply(repo, "write conf/a.txt " + n + " " + a + "\nremove conf/b.txt " +
                                       b_old + "\nwrite conf/c.txt " + n + " " + kZero + "\n"));
  CHECK(read_file(wt + "/conf/a.txt") == "new\n");
  CHECK_FALSE(fs::exists(wt + "/conf/b.txt"));
  CHECK(read_file(wt + "/conf/c.txt") == "new\n");
  const Json rec = show_json(repo, id);
  CHECK(rec["state"].str() == "committed");
  check_file(rec, "conf/a.txt", a, n, "100644", a);
  check_file(rec, "conf/b.txt", b_old, kZero, "", b_old);
  check_file(rec, "conf/c.txt", kZero, n, "100644", kZero);
}

// ---------------------------------------------------------------------------------------------
// 3. Committed file and state changes.

TEST_CASE("write, replace, remove, modes and keys commit together and are journaled") {
  TempRepo repo;
  const std::string wt = repo.path();
  write_file(wt + "/keep.txt", "keep\n");
  write_file(wt + "/edit.txt", "v1\n");
  write_file(wt + "/gone.txt", "gone v1\n");
  write_file(wt + "/private.txt", "private v1\n");
  write_file(wt + "/script.sh", "#!/bin/sh\necho v1\n");
  write_file(wt + "/plain.sh", "#!/bin/sh\necho plain\n");
  set_perms(wt + "/private.txt", 0600);
  set_perms(wt + "/script.sh", 0644);
  set_perms(wt + "/plain.sh", 0755);
  commit_all(repo, "base");
  // Uncommitted edits and an untracked file: content only the work tree has.
  write_file(wt + "/edit.txt", "user edit\n");
  write_file(wt + "/gone.txt", "user edit of gone\n");
  write_file(wt + "/notes.txt", "untracked notes\n");
  for (const char* content : {"user edit\n", "user edit of gone\n", "untracked notes\n"}) {
    REQUIRE_FALSE(has_object(repo, blob_id(repo, content)));
  }
  committed_id(run_apply(repo, "set k/old old value\nset k/gone x\n"));
  const unsigned edit_perms = perms(wt + "/edit.txt");

  const std::string n1 = write_blob(repo, "brand new\n");
  const std::string n2 = write_blob(repo, "edited by reftx\n");
  const std::string n3 = write_blob(repo, "notes by reftx\n");
  const std::string n4 = write_blob(repo, "private v2\n");
  const std::string n5 = write_blob(repo, "#!/bin/sh\necho v2\n");
  const std::string n6 = write_blob(repo, "#!/bin/sh\necho plain v2\n");
  const std::string script = script_of({
      "write new/deep/file.txt " + n1,  // parents created
      "write edit.txt " + n2,           // replaced, nothing checked
      "remove gone.txt",
      "write notes.txt " + n3,    // untracked, replaced
      "write private.txt " + n4,  // keeps 0600
      "write script.sh " + n5 + " mode=100755",
      "write plain.sh " + n6 + " mode=100644",
      "set k/old new value",
      "set k/new fresh",
      "unset k/gone",
      "unset k/never",
  });
  const std::string id = committed_id(run_apply(repo, script, {"-m", "files"}));

  CHECK(read_file(wt + "/new/deep/file.txt") == "brand new\n");
  CHECK(read_file(wt + "/edit.txt") == "edited by reftx\n");
  CHECK_FALSE(fs::exists(wt + "/gone.txt"));
  CHECK(read_file(wt + "/notes.txt") == "notes by reftx\n");
  CHECK(read_file(wt + "/private.txt") == "private v2\n");
  CHECK(read_file(wt + "/script.sh") == "#!/bin/sh\necho v2\n");
  CHECK(read_file(wt + "/plain.sh") == "#!/bin/sh\necho plain v2\n");
  CHECK(read_file(wt + "/keep.txt") == "keep\n");
  CHECK(perms(wt + "/new/deep/file.txt") == (0666 & ~current_umask()));
  CHECK(perms(wt + "/edit.txt") == edit_perms);
  CHECK(perms(wt + "/private.txt") == 0600);
  CHECK(perms(wt + "/script.sh") == 0755);
  CHECK(perms(wt + "/plain.sh") == 0644);
  // git sees exactly the intended changes (and no temp file).
  CHECK(git_status_entries(repo) ==
        std::set<std::string>{" M edit.txt", " D gone.txt", " M private.txt", " M script.sh",
                              " M plain.sh", "?? new/deep/file.txt", "?? notes.txt"});

  const Json rec = show_json(repo, id);
  CHECK(rec["state"].str() == "committed");
  CHECK(rec["message"].str() == "files");
  CHECK(rec["work_tree"].str() == fs::canonical(wt).string());
  REQUIRE(rec["files"].items.size() == 7);
  // Without a compare-and-swap value, "old" is still what the file really held.
  const std::string edit_old = blob_id(repo, "user edit\n");
  const std::string gone_old = blob_id(repo, "user edit of gone\n");
  const std::string notes_old = blob_id(repo, "untracked notes\n");
  check_file(rec, "new/deep/file.txt", kZero, n1, "100644");
  check_file(rec, "edit.txt", edit_old, n2, "100644");
  check_file(rec, "gone.txt", gone_old, kZero, "");
  check_file(rec, "notes.txt", notes_old, n3, "100644");
  check_file(rec, "private.txt", blob_id(repo, "private v1\n"), n4, "100644");
  check_file(rec, "script.sh", blob_id(repo, "#!/bin/sh\necho v1\n"), n5, "100755");
  check_file(rec, "plain.sh", blob_id(repo, "#!/bin/sh\necho plain\n"), n6, "100644");
  CHECK((*file_entry(rec, "script.sh"))["old_mode"].str() == "100644");
  CHECK((*file_entry(rec, "plain.sh"))["old_mode"].str() == "100755");
  CHECK((*file_entry(rec, "new/deep/file.txt"))["old_mode"].is_null());
  // The old content is in the object database, byte for byte.
  CHECK(blob_content(repo, edit_old) == "user edit\n");
  CHECK(blob_content(repo, gone_old) == "user edit of gone\n");
  CHECK(blob_content(repo, notes_old) == "untracked notes\n");

  REQUIRE(rec["keys"].items.size() == 4);
  check_key(rec, "k/old", "old value", "new value");
  check_key(rec, "k/new", std::nullopt, "fresh");
  check_key(rec, "k/gone", "x", std::nullopt);
  check_key(rec, "k/never", std::nullopt, std::nullopt);
  CHECK(repo.reftx({"state", "list"}).out == "k/new\tfresh\nk/old\tnew value\n");
}

TEST_CASE("paths with spaces, UTF-8, quotes and newlines, C-quoted or with -z") {
  TempRepo repo;
  const std::string wt = repo.path();
  const std::string b1 = write_blob(repo, "one\n");
  const std::string b2 = write_blob(repo, "two\n");
  const std::string b3 = write_blob(repo, "three\n");
  const std::string b4 = write_blob(repo, "four\n");
  const std::string quoted_path = "sp ace/\xc3\xa9t\xc3\xa9 \"q\".txt";  // sp ace/été "q".txt
  const std::string newline_path = "a\nb.txt";
  const std::string raw_path = "dir with space/na\xc3\xafve file.txt";  // naïve
  const std::string raw_newline_path = "line\nbreak/x\ty.txt";

  const std::string text = "write \"sp ace/\\303\\251t\\303\\251 \\\"q\\\".txt\" " + b1 + "\n" +
                           "write \"a\\nb.txt\" " + b2 + "\n";
  const std::string id1 = committed_id(run_apply(repo, text));
  const std::string id2 = committed_id(run_apply(
      repo, nul({"write " + raw_path, b3, "", "", "write " + raw_newline_path, b4, kZero, ""}),
      {"-z"}));

  CHECK(read_file(wt + "/" + quoted_path) == "one\n");
  CHECK(read_file(wt + "/" + newline_path) == "two\n");
  CHECK(read_file(wt + "/" + raw_path) == "three\n");
  CHECK(read_file(wt + "/" + raw_newline_path) == "four\n");
  CHECK(git_status_entries(repo) == std::set<std::string>{"?? " + quoted_path, "?? " + newline_path,
                                                          "?? " + raw_path,
                                                          "?? " + raw_newline_path});
  const Json rec1 = show_json(repo, id1);
  check_file(rec1, quoted_path, kZero, b1, "100644");
  check_file(rec1, newline_path, kZero, b2, "100644");
  const Json rec2 = show_json(repo, id2);
  check_file(rec2, raw_path, kZero, b3, "100644");
  check_file(rec2, raw_newline_path, kZero, b4, "100644", kZero);

  // Removing them by the same names, with their content as the expected old value.
  committed_id(run_apply(repo, "remove \"sp ace/\\303\\251t\\303\\251 \\\"q\\\".txt\" " + b1 +
                                   "\nremove \"a\\nb.txt\" " + b2 + "\n"));
  committed_id(
      run_apply(repo, nul({"remove " + raw_path, b3, "remove " + raw_newline_path, b4}), {"-z"}));
  CHECK(git_status_entries(repo).empty());
}

// ---------------------------------------------------------------------------------------------
// 4. `reftx state`.

TEST_CASE("state get prints a value exactly; state list prints keys in order, text or JSON") {
  TempRepo repo;
  committed_id(run_apply(repo, "set a/1 one\nset a/2 two  words, trailing space \nset b \n"));
  committed_id(
      run_apply(repo, nul({"set c/tab", "x\ty\nz", "set c/q\"uote", "back\\slash"}), {"-z"}));

  auto get = [&](const std::string& key) { return repo.reftx({"state", "get", key}); };
  for (const auto& [key, value] :
       std::vector<std::pair<std::string, std::string>>{{"a/1", "one"},
                                                        {"a/2", "two  words, trailing space "},
                                                        {"b", ""},
                                                        {"c/tab", "x\ty\nz"},
                                                        {"c/q\"uote", "back\\slash"}}) {
    CAPTURE(key);
    RunResult r = get(key);
    CHECK(r.exit_code == 0);
    CHECK(r.out == value + "\n");
    CHECK(r.err.empty());
  }
  RunResult absent = get("a/3");
  CHECK(absent.exit_code == 1);
  CHECK(absent.out.empty());
  CHECK(absent.err.find("a/3") != std::string::npos);

  const std::string a_lines = "a/1\tone\na/2\ttwo  words, trailing space \n";
  const std::string c_lines = "\"c/q\\\"uote\"\t\"back\\\\slash\"\nc/tab\t\"x\\ty\\nz\"\n";
  auto list = [&](const std::vector<std::string>& args) {
    std::vector<std::string> argv = {"state", "list"};
    argv.insert(argv.end(), args.begin(), args.end());
    RunResult r = repo.reftx(argv);
    CHECK_MESSAGE(r.exit_code == 0, r.err);
    return r.out;
  };
  CHECK(list({}) == a_lines + "b\t\n" + c_lines);
  CHECK(list({"--prefix", "a/"}) == a_lines);
  CHECK(list({"--prefix=c/"}) == c_lines);
  CHECK(list({"--prefix", "zzz"}).empty());

  std::vector<std::pair<std::string, std::string>> listed;
  for (const std::string& line : split_lines(list({"--json"}))) {
    const Json entry = parse_json(line);
    listed.emplace_back(entry["key"].str(), entry["value"].str());
  }
  CHECK(listed ==
        std::vector<std::pair<std::string, std::string>>{{"a/1", "one"},
                                                         {"a/2", "two  words, trailing space "},
                                                         {"b", ""},
                                                         {"c/q\"uote", "back\\slash"},
                                                         {"c/tab", "x\ty\nz"}});
  CHECK(split_lines(list({"--prefix", "c/", "--json"})).size() == 2);

  // An unset key is gone.
  committed_id(run_apply(repo, "unset a/1\n"));
  CHECK(get("a/1").exit_code == 1);
  CHECK(list({"--prefix", "a/"}) == "a/2\ttwo  words, trailing space \n");
}

TEST_CASE("state usage errors exit 2") {
  TempRepo repo;
  committed_id(run_apply(repo, "set k v\n"));
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"state"},
                                             {"state", "frob"},
                                             {"state", "frob", "k"},
                                             {"state", "get"},
                                             {"state", "get", "k", "extra"},
                                             {"state", "get", "k", "--json"},
                                             {"state", "get", "k", "--prefix", "x"},
                                             {"state", "list", "k"},
                                             {"state", "list", "--prefix"},
                                             {"state", "list", "--bogus"}}) {
    CAPTURE(join(args));
    RunResult r = repo.reftx(args);
    CHECK(r.exit_code == 2);
    CHECK(r.out.empty());
    CHECK_FALSE(r.err.empty());
  }
  CHECK(repo.reftx({"state", "get", "k"}).out == "v\n");
}

TEST_CASE("state on a repository where nothing ran: nothing to read, no journal created") {
  TempRepo repo;
  RunResult get = repo.reftx({"state", "get", "k"});
  CHECK(get.exit_code == 1);
  CHECK(get.out.empty());
  CHECK(get.err.find("'k'") != std::string::npos);
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"state", "list"}, {"state", "list", "--json"}, {"state", "list", "--prefix", "k"}}) {
    CAPTURE(join(args));
    RunResult r = repo.reftx(args);
    CHECK(r.exit_code == 0);
    CHECK(r.out.empty());
    CHECK(r.err.empty());
  }
  CHECK_FALSE(fs::exists(repo.git_dir() + "/reftx"));
}

// ---------------------------------------------------------------------------------------------
// 5. Bare repositories and --work-tree.

TEST_CASE("a bare repository writes files into --work-tree") {
  TempRepo bare(3, /*bare=*/true);
  const auto& c = bare.commits();  // main = c[2]
  TempDir project;
  const std::string b = write_blob(bare, "[app]\nname = demo\n");
  const std::vector<std::string> globals = {"--work-tree", project.path()};
  const Site site{bare, globals, {project.path(), bare.path()}, {"reftx"}};

  const std::string script =
      "update refs/heads/main " + c[0] + " " + c[2] + "\nwrite cfg/app.toml " + b + "\nset k v\n";
  const std::string id = committed_id(apply_at(site, script));
  CHECK(read_file(project.path() + "/cfg/app.toml") == "[app]\nname = demo\n");
  CHECK(bare.ref("refs/heads/main") == c[0]);
  CHECK_FALSE(fs::exists(bare.path() + "/cfg"));
  RunResult shown = reftx_at(site, {"journal", "show", id, "--json"});
  REQUIRE(shown.exit_code == 0);
  const Json rec = parse_json(split_lines(shown.out).at(0));
  CHECK(rec["work_tree"].str() == fs::canonical(project.path()).string());
  check_file(rec, "cfg/app.toml", kZero, b, "100644");
  CHECK(reftx_at(site, {"state", "get", "k"}).out == "v\n");

  // A --work-tree that is not a directory is invalid.
  write_file(project.path() + "/plain-file", "x");
  for (const std::string& dir : {project.path() + "/missing", project.path() + "/plain-file"}) {
    CAPTURE(dir);
    const Site wrong{bare, {"--work-tree", dir}, {project.path(), bare.path()}, {"reftx"}};
    const Everything before = everything(site);
    RunResult r = apply_at(wrong, "update refs/heads/main " + c[1] + "\nwrite cfg/x " + b + "\n");
    CHECK(r.exit_code == 2);
    CHECK(r.out.empty());
    CHECK_MESSAGE(r.err.find("not a directory") != std::string::npos, r.err);
    check_same(site, before);
  }
  CHECK_FALSE(fs::exists(project.path() + "/missing"));
}

TEST_CASE("a --work-tree that contains the git directory or the journal refuses paths into them") {
  TempDir project;
  const std::string git_dir = project.path() + "/state.git";
  REQUIRE(run({"git", "init", "-q", "--bare", git_dir}).exit_code == 0);
  RunResult hashed =
      run({"git", "--git-dir=" + git_dir, "hash-object", "-w", "--stdin"}, with_input("content\n"));
  REQUIRE(hashed.exit_code == 0);
  const std::string b = hashed.out.substr(0, 40);
  const std::vector<std::string> globals = {
      "-C", git_dir, "--work-tree", project.path(), "--journal", project.path() + "/journal"};
  auto apply = [&](const std::string& script) {
    std::vector<std::string> argv = globals;
    argv.push_back("apply");
    return reftx_raw(argv, with_input(script));
  };
  REQUIRE(apply("set k v\n").exit_code == 0);  // creates the journal
  const Tree before = tree(project.path(), {"state.git", "journal"});
  const Tree git_before = tree(git_dir, {});
  for (const std::string& path : std::vector<std::string>{
           "state.git", "state.git/config", "state.git/HEAD", "state.git/refs/heads/x",
           "state.git/new/file", "journal", "journal/data.mdb"}) {
    for (const std::string& script : {"write " + path + " " + b + "\n", "remove " + path + "\n"}) {
      CAPTURE(script);
      RunResult r = apply(script);
      CHECK(r.exit_code == 2);
      CHECK_MESSAGE(r.err.find("line 1:") != std::string::npos, r.err);
      CHECK_MESSAGE(r.err.find("inside the git directory") != std::string::npos, r.err);
    }
  }
  CHECK(tree(project.path(), {"state.git", "journal"}) == before);
  CHECK(tree(git_dir, {}) == git_before);
  // Next to them is fine.
  REQUIRE(
      apply("write state.git.txt " + b + "\nwrite other/state.git/config " + b + "\n").exit_code ==
      0);
  CHECK(read_file(project.path() + "/other/state.git/config") == "content\n");
}

// ---------------------------------------------------------------------------------------------
// 6. The worked example (README): a layered-config manager commits and applies in one step.

TEST_CASE(
    "worked example: two layer refs, three config files and a staging key in one transaction") {
  // The manager keeps its layers in a bare repository and writes the project's files.
  TempRepo jin(0, /*bare=*/true);
  TempDir project;
  // (An aborted transaction may leave the old content it saved as an unreachable blob in the
  // object database: the repository's own directory is not watched.)
  const Site site{jin, {"--work-tree", project.path()}, {project.path()}};
  const std::string global_v1 = jin.make_commit("global layer v1");
  const std::string global_v2 = jin.make_commit("global layer v2");
  const std::string project_v1 = jin.make_commit("project layer v1");
  const std::string project_v1b = jin.make_commit("project layer v1, changed elsewhere");
  const std::string project_v2 = jin.make_commit("project layer v2");
  const std::string editorconfig = write_blob(jin, "root = true\n[*]\nindent_size = 2\n");
  const std::string app = write_blob(jin, "[app]\nname = \"demo\"\n");
  const std::string db = write_blob(jin, "[db]\nurl = \"postgres://localhost/demo\"\n");
  write_file(project.path() + "/.editorconfig", "root = true\n");  // the user's own file

  // Earlier: the layers exist, and `jin add` staged two files.
  committed_id(apply_at(site, script_of({
                                  "create refs/jin/layers/global " + global_v1,
                                  "create refs/jin/layers/project/demo " + project_v1,
                                  "set jin/staging config/app.toml config/db.toml",
                              })));

  // `jin commit` + `jin apply` as one transaction: move both layers (each from the value jin
  // read), write the three files, clear the staging key and record what was applied.
  auto commit_and_apply = [&](const std::string& project_old) {
    return script_of({
        "update refs/jin/layers/global " + global_v2 + " " + global_v1,
        "update refs/jin/layers/project/demo " + project_v2 + " " + project_old,
        "write .editorconfig " + editorconfig,         // replaces the user's file, saved first
        "write config/app.toml " + app + " " + kZero,  // must not exist yet
        "write config/db.toml " + db + " " + kZero,
        "unset jin/staging",
        "set jin/applied/demo global=" + global_v2 + " project=" + project_v2,
    });
  };

  // Another jin process moved the project layer after this one read it: exit 1, and nothing
  // at all changes.
  jin.git({"update-ref", "refs/jin/layers/project/demo", project_v1b, project_v1});
  const Everything before = everything(site);
  RunResult stale = apply_at(site, commit_and_apply(project_v1), {"-m", "jin commit"});
  CHECK(stale.exit_code == 1);
  CHECK(stale.err.find("refs/jin/layers/project/demo") != std::string::npos);
  check_trees(site, before.dirs);  // no config/ directory, .editorconfig untouched
  CHECK(jin.refs() == before.git.refs);
  CHECK(state_of(site) == before.state);  // still staged
  CHECK(last_aborted(jin, site.globals)["message"].str() == "jin commit");

  // With the right old values everything happens at once.
  const std::string id =
      committed_id(apply_at(site, commit_and_apply(project_v1b), {"-m", "jin commit"}));
  CHECK(jin.refs() ==
        std::map<std::string, std::string>{{"refs/jin/layers/global", global_v2},
                                           {"refs/jin/layers/project/demo", project_v2}});
  CHECK(read_file(project.path() + "/.editorconfig") == "root = true\n[*]\nindent_size = 2\n");
  CHECK(read_file(project.path() + "/config/app.toml") == "[app]\nname = \"demo\"\n");
  CHECK(read_file(project.path() + "/config/db.toml") ==
        "[db]\nurl = \"postgres://localhost/demo\"\n");
  CHECK(reftx_at(site, {"state", "get", "jin/staging"}).exit_code == 1);
  CHECK(reftx_at(site, {"state", "get", "jin/applied/demo"}).out ==
        "global=" + global_v2 + " project=" + project_v2 + "\n");
  RunResult shown = reftx_at(site, {"journal", "show", id, "--json"});
  REQUIRE(shown.exit_code == 0);
  const Json rec = parse_json(split_lines(shown.out).at(0));
  CHECK(rec["state"].str() == "committed");
  CHECK(rec["refs"].items.size() == 2);
  const std::string user_editorconfig = blob_id(jin, "root = true\n");
  check_file(rec, ".editorconfig", user_editorconfig, editorconfig, "100644");
  check_file(rec, "config/app.toml", kZero, app, "100644", kZero);
  check_file(rec, "config/db.toml", kZero, db, "100644", kZero);
  check_key(rec, "jin/staging", "config/app.toml config/db.toml", std::nullopt);
  check_key(rec, "jin/applied/demo", std::nullopt,
            "global=" + global_v2 + " project=" + project_v2);
  CHECK(blob_content(jin, user_editorconfig) == "root = true\n");  // the user's file is kept

  // Later the user edits a file by hand; an apply that expects the old content changes nothing.
  write_file(project.path() + "/config/db.toml", "[db]\nurl = \"postgres://db.internal/demo\"\n");
  const std::string global_v3 = jin.make_commit("global layer v3");
  const Everything edited = everything(site);
  RunResult refused =
      apply_at(site, script_of({
                         "update refs/jin/layers/global " + global_v3 + " " + global_v2,
                         "write config/db.toml " + app + " " + db,
                         "set jin/applied/demo global=" + global_v3 + " project=" + project_v2,
                     }));
  CHECK(refused.exit_code == 1);
  CHECK(refused.err.find("config/db.toml") != std::string::npos);
  Everything expected = edited;
  expected.git.records += 1;  // the aborted attempt
  check_same(site, expected);
}

// ---------------------------------------------------------------------------------------------
// 7. Large files stream.

namespace {

// `size` bytes of incompressible pseudo-random data (xorshift64*) from `seed`, written to `path`.
// Incompressible, so that the object files are as large as the content: a reader that maps or
// loads a whole object shows up in the peak memory.
void write_noise(const std::string& path, std::size_t size, std::uint64_t seed) {
  std::ofstream out(path, std::ios::binary);
  std::vector<std::uint64_t> chunk(1 << 17);  // 1 MiB
  std::uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
  for (std::size_t done = 0; done < size;) {
    for (std::uint64_t& word : chunk) {
      x ^= x >> 12;
      x ^= x << 25;
      x ^= x >> 27;
      word = x * 0x2545F4914F6CDD1Dull;
    }
    const std::size_t n = std::min(size - done, chunk.size() * sizeof(std::uint64_t));
    out.write(reinterpret_cast<const char*>(chunk.data()), static_cast<std::streamsize>(n));
    done += n;
  }
  REQUIRE(out.good());
}

}  // namespace

TEST_CASE("a 200 MB file is written and its old content saved with peak memory under 64 MB") {
  constexpr std::size_t kSize = 200'000'000;
  constexpr long kLimitKb = 64 * 1024;
  TempRepo repo;
  TempDir scratch;
  const std::string target = repo.path() + "/big.bin";
  write_noise(target, kSize, 1);  // the old content: not in the object database
  const std::string old_blob = repo.git({"hash-object", target});
  write_noise(scratch.path() + "/new", kSize, 2);
  // Stored loose (uncompressed deflate keeps the test fast; the object is still 200 MB).
  const std::string new_blob =
      repo.git({"-c", "core.compression=0", "hash-object", "-w", scratch.path() + "/new"});
  fs::remove(scratch.path() + "/new");
  REQUIRE_FALSE(has_object(repo, old_blob));

  RunResult r = run_apply(repo, "write big.bin " + new_blob + " " + old_blob + "\n");
  const std::string id = committed_id(r);
  CHECK(repo.git({"hash-object", target}) == new_blob);
  CHECK(fs::file_size(target) == kSize);
  CHECK(r.max_rss_kb > 1000);  // the measurement works
  if (!kSanitized) {
    CHECK_MESSAGE(r.max_rss_kb < kLimitKb, "peak RSS " << r.max_rss_kb << " KB");
  }
  // The old content was saved as a blob of the right size.
  CHECK(repo.git({"cat-file", "-s", old_blob}) == std::to_string(kSize));
  check_file(show_json(repo, id), "big.bin", old_blob, new_blob, "100644", old_blob);
  CHECK(git_status_entries(repo) == std::set<std::string>{"?? big.bin"});

  // A blob stored in a pack (git writes files above core.bigFileThreshold straight to one)
  // streams too.
  write_noise(scratch.path() + "/packed", kSize, 3);
  const std::string packed_blob =
      repo.git({"-c", "core.bigFileThreshold=1m", "-c", "core.compression=0", "hash-object", "-w",
                scratch.path() + "/packed"});
  fs::remove(scratch.path() + "/packed");
  const std::string loose_path =
      repo.git_dir() + "/objects/" + packed_blob.substr(0, 2) + "/" + packed_blob.substr(2);
  REQUIRE_FALSE(fs::exists(loose_path));
  RunResult packed = run_apply(repo, "write big.bin " + packed_blob + " " + new_blob + "\n");
  committed_id(packed);
  CHECK(repo.git({"hash-object", target}) == packed_blob);
  if (!kSanitized) {
    CHECK_MESSAGE(packed.max_rss_kb < kLimitKb, "peak RSS " << packed.max_rss_kb << " KB");
  }
}
