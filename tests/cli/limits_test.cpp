// `reftx apply` at its limits (README, "Limits"), black-box: every limit at its value (accepted)
// and one byte over (exit 2, the line named, nothing journaled, nothing changed), in text and
// -z mode; NUL bytes; objects of the wrong type; peak memory and time of big legal inputs and of
// the deep path that used to grow quadratically.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>

#include "core/validate.hpp"
#include "reftx/script.hpp"
#include "support/git_helpers.hpp"
#include "support/journal_json.hpp"
#include "support/reftx_cli.hpp"
#include "support/snapshot.hpp"
#include "support/temp_repo.hpp"
#include "support/text.hpp"

namespace fs = std::filesystem;
using namespace reftx;
using namespace reftx::test;

namespace {

// Everything a refused apply must leave as it was: the journal as `journal list` prints it,
// refs, HEAD, lock files, tool state and the work tree (every path and its bytes).
struct World {
  std::string journal;
  std::string state;
  std::map<std::string, std::string> refs;
  std::string head;
  std::vector<std::string> locks;
  std::map<std::string, std::string> tree;

  bool operator==(const World&) const = default;
};

World world(const TempRepo& repo) {
  World w;
  RunResult list = repo.reftx({"journal", "list"});
  REQUIRE_MESSAGE(list.exit_code == 0, describe(list));
  w.journal = list.out;
  RunResult state = repo.reftx({"state", "list"});
  REQUIRE_MESSAGE(state.exit_code == 0, describe(state));
  w.state = state.out;
  w.refs = repo.refs();
  w.head = read_file(repo.git_dir() + "/HEAD");
  w.locks = repo.lock_files();
  // Breadth first, one directory open at a time: the tree may be 2,000 levels deep.
  std::vector<std::string> dirs = {""};
  while (!dirs.empty()) {
    const std::string dir = std::move(dirs.back());
    dirs.pop_back();
    for (const fs::directory_entry& e : fs::directory_iterator(repo.path() + "/" + dir)) {
      const std::string rel = (dir.empty() ? "" : dir + "/") + e.path().filename().string();
      if (rel == ".git") continue;
      if (e.is_directory()) {
        w.tree[rel] = "<dir>";
        dirs.push_back(rel);
      } else {
        w.tree[rel] = read_file(e.path().string());
      }
    }
  }
  return w;
}

struct Refused {
  std::string name;
  std::string script;
  bool nul = false;
  int line = 0;         // the line (command) stderr must name
  std::string problem;  // words of the message
};

// Each case exits 2, names its line and problem, prints nothing on stdout and changes nothing.
void check_refused(const TempRepo& repo, const std::vector<Refused>& cases) {
  const World before = world(repo);
  for (const Refused& k : cases) {
    CAPTURE(k.name);
    RunResult r = run_apply(repo, k.script,
                            k.nul ? std::vector<std::string>{"-z"} : std::vector<std::string>{});
    CHECK_MESSAGE(r.exit_code == 2, describe(r));
    CHECK(r.out.empty());
    const std::string head = r.err.substr(0, 2000);
    CHECK_MESSAGE(r.err.starts_with("reftx: line " + std::to_string(k.line) + ": "), head);
    CHECK_MESSAGE(r.err.find(k.problem) != std::string::npos, head);
    CHECK(world(repo) == before);
  }
}

// A run measured without the test process: the peak RSS a child reports includes what it
// shared with its parent at fork(), so the input comes from a file (never held here whole) and
// the parent stays small.
struct Measured {
  int exit_code = -1;
  long max_rss_kb = -1;
  double seconds = 0;
  std::string out;
  std::string err;
};

Measured apply_from_file(const TempRepo& repo, const std::string& input,
                         const std::vector<std::string>& extra = {}) {
  std::vector<std::string> args = {reftx::test::reftx_binary(), "-C", repo.path(), "apply"};
  args.insert(args.end(), extra.begin(), extra.end());
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const std::string out_path = input + ".out";
  const std::string err_path = input + ".err";
  const auto start = std::chrono::steady_clock::now();
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    const int in = ::open(input.c_str(), O_RDONLY);
    const int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    const int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (in < 0 || out < 0 || err < 0) ::_exit(126);
    ::dup2(in, 0);
    ::dup2(out, 1);
    ::dup2(err, 2);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  int status = 0;
  struct rusage usage {};
  while (::wait4(pid, &status, 0, &usage) < 0 && errno == EINTR) {
  }
  Measured m;
  m.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  m.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  m.max_rss_kb = usage.ru_maxrss;
  m.out = read_file(out_path);
  m.err = read_file(err_path);
  return m;
}

// Applies `script`; REQUIREs a commit.
std::string accepted(const TempRepo& repo, const std::string& script, bool nul = false,
                     const std::vector<std::string>& extra = {}) {
  std::vector<std::string> args = extra;
  if (nul) args.push_back("-z");
  RunResult r = run_apply(repo, script, args);
  INFO(describe(r));
  return committed_id(r);
}

// Peak RSS bounds (not checked under ASan): the 64 MiB script (measured: about 500 MB, the
// values copied through batch, record, encoding and LMDB), the legal deep path, the refused
// 1 MiB deep path and 100,000 small commands.
constexpr long kScriptRssKb = 640 * 1024;
constexpr long kDeepRssKb = 64 * 1024;
constexpr long kRefusedRssKb = 32 * 1024;
constexpr long kCommandsRssKb = 128 * 1024;

std::string real_root(const TempRepo& repo) {
  return fs::canonical(repo.path()).string();
}

// A relative path of exactly `size` bytes, components of at most `component` bytes of `c`
// (the last one may be shorter; never empty).
std::string path_of(std::size_t size, std::size_t component, char c) {
  std::string out;
  while (out.size() < size) {
    if (!out.empty()) out += '/';
    std::size_t left = size - out.size();
    // Never leave room for only a '/' and nothing after it: the last component may be one
    // byte longer.
    std::size_t take = left <= component + 1 ? left : std::min(component, left - 2);
    out.append(take, c);
  }
  REQUIRE(out.size() == size);
  return out;
}

std::string blob(const TempRepo& repo, const std::string& content) {
  return repo.git({"hash-object", "-w", "--stdin"}, content);
}

// The longest ref name git can store in `repo`: its lock file fits PATH_MAX.
std::size_t longest_ref(const TempRepo& repo) {
  const std::string common = fs::canonical(repo.git_dir()).string();
  return PATH_MAX - 1 - common.size() - 1 - 5;
}

std::string ref_of(std::size_t size) {
  return "refs/l/" + path_of(size - 7, 200, 'r');
}

}  // namespace

TEST_CASE("work-tree paths: PATH_MAX as an absolute path and NAME_MAX per component") {
  TempRepo repo;
  const std::string b = blob(repo, "content\n");
  const std::size_t longest = PATH_MAX - 1 - real_root(repo).size() - 1;

  const std::string at_limit = path_of(longest, 200, 'p');
  const std::string one_over = path_of(longest + 1, 200, 'q');
  const std::string name255 = std::string(255, 'n');
  const std::string name256 = std::string(256, 'o');
  const std::string first = "write ok " + b + "\n";

  check_refused(
      repo, {
                {"path one byte over PATH_MAX", first + "write " + one_over + " " + b + "\n", false,
                 2, "PATH_MAX"},
                {"-z path one byte over PATH_MAX",
                 nul({"write ok", b, "", ""}) + nul({"write " + one_over, b, "", ""}), true, 2,
                 "PATH_MAX"},
                {"component of 256 bytes", first + "write d/" + name256 + " " + b + "\n", false, 2,
                 "NAME_MAX"},
                {"directory of 256 bytes", first + "write " + name256 + "/f " + b + "\n", false, 2,
                 "NAME_MAX"},
                {"-z component of 256 bytes",
                 nul({"write ok", b, "", ""}) + nul({"write " + name256, b, "", ""}), true, 2,
                 "NAME_MAX"},
                {"remove one byte over", first + "remove " + one_over + "\n", false, 2, "PATH_MAX"},
            });

  accepted(repo, "write " + at_limit + " " + b + "\n");
  CHECK(read_file(repo.path() + "/" + at_limit) == "content\n");
  accepted(repo, nul({"write " + name255, b, "", ""}) + nul({"write d/" + name255, b, "", ""}),
           true);
  CHECK(read_file(repo.path() + "/" + name255) == "content\n");
  accepted(repo, "remove " + at_limit + " " + b + "\n");
  CHECK_FALSE(fs::exists(repo.path() + "/" + at_limit));
}

TEST_CASE("ref names: what git can store, and names over libgit2's 1,023 bytes are read") {
  TempRepo repo;
  const std::string c = repo.commits()[0];
  const std::string d = repo.commits()[1];
  const std::size_t longest = longest_ref(repo);
  REQUIRE(longest > 4000);

  const std::string at_limit = ref_of(longest);
  const std::string one_over = ref_of(longest + 1);
  const std::string last250 = "refs/c/" + std::string(250, 'l');
  const std::string last251 = "refs/c/" + std::string(251, 'l');
  const std::string mid255 = "refs/m/" + std::string(255, 'm') + "/x";
  const std::string mid256 = "refs/m/" + std::string(256, 'm') + "/x";
  const std::string first = "create refs/heads/fine " + c + "\n";

  // git itself refuses one byte more at prepare ("File name too long"): exit 2 before it.
  CHECK(repo.git_result({"update-ref", one_over, c}).exit_code != 0);
  check_refused(
      repo, {
                {"ref one byte over", first + "create " + one_over + " " + c + "\n", false, 2,
                 "PATH_MAX"},
                {"verify one byte over", first + "verify " + one_over + "\n", false, 2, "PATH_MAX"},
                {"-z ref one byte over",
                 nul({"create refs/heads/fine", c}) + nul({"create " + one_over, c}), true, 2,
                 "PATH_MAX"},
                {"last component of 251", first + "create " + last251 + " " + c + "\n", false, 2,
                 "NAME_MAX"},
                {"middle component of 256", first + "create " + mid256 + " " + c + "\n", false, 2,
                 "NAME_MAX"},
            });

  accepted(repo, "create " + at_limit + " " + c + "\ncreate " + last250 + " " + c + "\ncreate " +
                     mid255 + " " + c + "\n");
  CHECK(repo.ref(at_limit) == c);
  CHECK(repo.ref(last250) == c);
  CHECK(repo.ref(mid255) == c);

  // Long names are read (old values checked and journaled), loose and then packed.
  accepted(repo, "update " + at_limit + " " + d + " " + c + "\n");
  CHECK(repo.ref(at_limit) == d);
  RunResult stale = run_apply(repo, "update " + at_limit + " " + c + " " + c + "\n");
  CHECK(stale.exit_code == 1);
  repo.git({"pack-refs", "--all"});
  REQUIRE_FALSE(fs::exists(repo.git_dir() + "/" + at_limit));
  const std::string id = accepted(repo, "delete " + at_limit + " " + d + "\n");
  CHECK_FALSE(repo.ref(at_limit).has_value());
  const Json record = show_json(repo, id);
  const Json* entry = ref_entry(record, at_limit);
  REQUIRE(entry != nullptr);
  CHECK((*entry)["old"].str() == d);
}

TEST_CASE("state values, lines and messages: at the limit and one byte over") {
  TempRepo repo;
  const std::string value(reftx::kMaxValueBytes, 'v');
  const std::string key511(511, 'k');
  const std::string first = "set fine 1\n";
  REQUIRE(std::string("set ").size() + key511.size() + 1 + value.size() == reftx::kMaxLineBytes);

  check_refused(
      repo,
      {
          {"value one byte over", first + "set big " + value + "v\n", false, 2, "value of 1048577"},
          {"-z value one byte over", nul({"set fine", "1"}) + nul({"set big", value + "v"}), true,
           2, "value of 1048577"},
          {"line one byte over", first + "set " + key511 + "k " + value + "\n", false, 2,
           "line of 1049093 bytes"},
          {"-z command one byte over", nul({"set fine", "1"}) + nul({"set " + key511 + "k", value}),
           true, 2, "command of 1049093 bytes"},
          {"key of 512 bytes", first + "set " + key511 + "k 1\n", false, 2, "512 bytes"},
      });

  // The longest line: a 511-byte key and a 1 MiB value, in both modes.
  accepted(repo, "set " + key511 + " " + value + "\n");
  RunResult got = repo.reftx({"state", "get", key511});
  CHECK(got.out == value + "\n");
  accepted(repo, nul({"set z", value}), true);
  CHECK(repo.reftx({"state", "get", "z"}).out == value + "\n");

  // -m: the message limit is checked before anything is read or recorded.
  const World before = world(repo);
  RunResult over =
      run_apply(repo, "set m 1\n", {"-m", std::string(reftx::kMaxMessageBytes + 1, 'm')});
  CHECK(over.exit_code == 2);
  CHECK_MESSAGE(over.err.find("message of 65537 bytes") != std::string::npos, over.err);
  CHECK(world(repo) == before);
  const std::string id =
      accepted(repo, "set m 1\n", false, {"-m", std::string(reftx::kMaxMessageBytes, 'm')});
  CHECK(show_json(repo, id)["message"].str().size() == reftx::kMaxMessageBytes);
}

TEST_CASE("a script of 64 MiB is applied; one byte more is refused at the line that crosses it") {
  TempRepo repo;
  TempDir scratch;
  // 63 lines "set kNN <1 MiB>" and a last one that fills the script to exactly the limit,
  // written to files (the test process never holds the script: see apply_from_file).
  const std::string value(reftx::kMaxValueBytes, 'x');
  const std::string path = scratch.path() + "/script";
  std::size_t size = 0;
  int lines = 0;
  {
    std::ofstream out(path, std::ios::binary);
    for (int i = 10; size + 8 + value.size() + 1 <= reftx::kMaxScriptBytes; ++i, ++lines) {
      out << "set k" << i << " " << value << "\n";
      size += 8 + value.size() + 1;
    }
    const std::size_t left = reftx::kMaxScriptBytes - size;
    REQUIRE(left > 10);
    out << "set last " << std::string(left - 10, 'y') << "\n";
    ++lines;
    size += left;
  }
  REQUIRE(fs::file_size(path) == reftx::kMaxScriptBytes);

  const World before = world(repo);
  fs::copy_file(path, path + ".over");
  std::ofstream(path + ".over", std::ios::binary | std::ios::app) << "u";
  Measured over = apply_from_file(repo, path + ".over");
  CHECK(over.exit_code == 2);
  CHECK_MESSAGE(over.err.starts_with("reftx: line " + std::to_string(lines + 1) +
                                     ": the script is longer than 67108864 bytes"),
                over.err);
  CHECK(world(repo) == before);
  fs::remove(path + ".over");

  Measured r = apply_from_file(repo, path);
  CHECK_MESSAGE(r.exit_code == 0, r.err);
  MESSAGE("64 MiB script of 1 MiB values: " << r.seconds << " s, peak RSS " << r.max_rss_kb
                                            << " KB");
  if (!reftx::test::kSanitized) {
    CHECK_MESSAGE(r.max_rss_kb < kScriptRssKb, "peak RSS " << r.max_rss_kb << " KB");
  }
  CHECK(repo.reftx({"state", "get", "k10"}).out == value + "\n");
}

TEST_CASE("a script of 100,000 commands is applied; one more is refused") {
  TempRepo repo;
  TempDir scratch;
  std::string script;
  for (int i = 0; i < reftx::kMaxCommands; ++i) script += "unset k" + std::to_string(i) + "\n";
  std::string z;
  for (int i = 0; i < reftx::kMaxCommands; ++i) z += nul({"unset k" + std::to_string(i)});
  check_refused(repo, {{"one command over", script + "unset x\n", false, reftx::kMaxCommands + 1,
                        "more than 100000 commands"},
                       {"-z one command over", z + nul({"unset x"}), true, reftx::kMaxCommands + 1,
                        "more than 100000 commands"}});
  accepted(repo, z, true);
  write_file(scratch.path() + "/script", script);
  script.clear();
  script.shrink_to_fit();
  Measured r = apply_from_file(repo, scratch.path() + "/script");
  CHECK_MESSAGE(r.exit_code == 0, r.err);
  MESSAGE("100,000 unset commands: " << r.seconds << " s, peak RSS " << r.max_rss_kb << " KB");
  if (!reftx::test::kSanitized) {
    CHECK_MESSAGE(r.max_rss_kb < kCommandsRssKb, "peak RSS " << r.max_rss_kb << " KB");
  }
}

TEST_CASE("NUL bytes in a ref name, path, key or oid are refused while parsing") {
  TempRepo repo;
  const std::string c = repo.commits()[0];
  const std::string b = blob(repo, "x\n");
  const std::string first = "verify refs/heads/main " + repo.commits().back() + "\n";
  using namespace std::string_literals;
  check_refused(
      repo,
      {
          {"ref name", first + "verify refs/h\0eads/main\n"s, false, 2, "NUL"},
          {"ref name of update", first + "update refs/heads/a\0b "s + c + "\n", false, 2, "NUL"},
          {"quoted ref name", first + "create \"refs/heads/a\\000b\" "s + c + "\n", false, 2,
           "NUL"},
          {"path", first + "write di\0r/f "s + b + "\n", false, 2, "NUL"},
          {"quoted path", first + "write \"a\\000b\" "s + b + "\n", false, 2, "NUL"},
          {"key", first + "set k\0ey v\n"s, false, 2, "NUL"},
          {"unset key", first + "unset k\0\n"s, false, 2, "NUL"},
          {"new oid", first + "update refs/heads/x "s + c.substr(0, 39) + "\0\n"s, false, 2,
           "bad new value"},
          {"old oid", first + "update refs/heads/x "s + c + " \0"s + c.substr(1) + "\n", false, 2,
           "bad old value"},
          {"old blob", first + "write f "s + b + " "s + "\0"s + b.substr(1) + "\n", false, 2,
           "bad old value"},
          // -z: a NUL ends a field; the other fields are still checked.
          {"-z ref with a newline",
           nul({"verify refs/heads/main", ""}) + nul({"create refs/heads/a\nb", c}), true, 2,
           "not a valid ref name"},
          {"-z oid with a space",
           nul({"verify refs/heads/main", ""}) +
               nul({"update refs/heads/x", c.substr(1) + " ", ""}),
           true, 2, "bad new value"},
          {"-z mode field",
           nul({"verify refs/heads/main", ""}) + nul({"write f", b, "", "mode=100755 "}), true, 2,
           "bad mode"},
      });
}

TEST_CASE("objects of the wrong type: what git refuses for a branch, non-blobs for files") {
  TempRepo repo;
  const std::string c = repo.commits()[0];
  const std::string tree = repo.git({"rev-parse", c + "^{tree}"});
  const std::string b = blob(repo, "blob\n");
  repo.git({"tag", "-a", "-m", "annotated", "atag", c});
  const std::string tag = repo.git({"rev-parse", "atag"});
  write_file(repo.path() + "/f", "blob\n");
  const std::string first = "set fine 1\n";

  check_refused(
      repo, {
                {"tree to a branch", first + "update refs/heads/main " + tree + "\n", false, 2,
                 "is a tree, not a commit"},
                {"blob to a new branch", first + "create refs/heads/new " + b + "\n", false, 2,
                 "is a blob, not a commit"},
                {"tag to a branch", first + "update refs/heads/main " + tag + "\n", false, 2,
                 "is a tag, not a commit"},
                {"-z tree to a branch",
                 nul({"set fine", "1"}) + nul({"update refs/heads/main", tree, ""}), true, 2,
                 "not a commit"},
                {"tree as a file's blob", first + "write f " + tree + "\n", false, 2, "not a blob"},
                {"commit as the old blob of write", first + "write f " + b + " " + c + "\n", false,
                 2, "old blob " + c + " is a commit, not a blob"},
                {"tree as the old blob of remove", first + "remove f " + tree + "\n", false, 2,
                 "is a tree, not a blob"},
            });

  // What git accepts outside refs/heads/, and an old blob that is not stored (a hash only).
  const std::string unstored = repo.git({"hash-object", "--stdin"}, "never stored\n");
  accepted(repo, "create refs/tags/t " + tree + "\ncreate refs/other/b " + b +
                     "\ncreate refs/notes/n " + tag + "\n");
  CHECK(repo.ref("refs/tags/t") == tree);
  CHECK(run_apply(repo, "write f " + b + " " + unstored + "\n").exit_code == 1);
}

TEST_CASE("deep paths: a legal one is fast and small, the 1 MiB one fails at once") {
  TempRepo repo;
  TempDir scratch;
  const std::string b = blob(repo, "deep\n");
  const std::size_t longest = PATH_MAX - 1 - real_root(repo).size() - 1;

  // d/d/.../f of 1-byte components up to PATH_MAX: about 2,000 new directories.
  const std::string deep = path_of(longest, 1, 'd');
  write_file(scratch.path() + "/deep", "write " + deep + " " + b + "\n");
  Measured r = apply_from_file(repo, scratch.path() + "/deep");
  CHECK_MESSAGE(r.exit_code == 0, r.err.substr(0, 300));
  MESSAGE("legal deep path (" << deep.size() << " bytes): " << r.seconds << " s, peak RSS "
                              << r.max_rss_kb << " KB");
  CHECK(read_file(repo.path() + "/" + deep) == "deep\n");
  if (!reftx::test::kSanitized) {
    CHECK_MESSAGE(r.max_rss_kb < kDeepRssKb, "peak RSS " << r.max_rss_kb << " KB");
  }

  // The input: one 1 MiB line, 524,288 components. It used to take 24 GB.
  std::string line = "write ";
  for (int i = 0; i < 524288; ++i) line += "d/";
  line += "f " + b + "\n";
  write_file(scratch.path() + "/huge", line);
  line.clear();
  line.shrink_to_fit();
  const World before = world(repo);
  Measured huge = apply_from_file(repo, scratch.path() + "/huge");
  MESSAGE("1 MiB deep path: " << huge.seconds << " s, peak RSS " << huge.max_rss_kb << " KB");
  CHECK(huge.exit_code == 2);
  CHECK_MESSAGE(huge.err.starts_with("reftx: line 1: path of 1048577 bytes"),
                huge.err.substr(0, 300));
  CHECK(world(repo) == before);
  if (!reftx::test::kSanitized) {
    CHECK(huge.seconds < 1.0);
    CHECK_MESSAGE(huge.max_rss_kb < kRefusedRssKb, "peak RSS " << huge.max_rss_kb << " KB");
  }
}

TEST_CASE("a rolled-back deep path leaves none of its directories") {
  TempRepo repo;
  const std::string b = blob(repo, "deep\n");
  const std::size_t longest = PATH_MAX - 1 - real_root(repo).size() - 1;
  // verify without an old value: main must not exist; it does, so git refuses after the file
  // was staged in its ~2,000 new directories.
  const std::string deep = "e/" + path_of(longest - 2, 1, 'e');
  RunResult rolled = run_apply(repo, "write " + deep + " " + b + "\nverify refs/heads/main\n");
  CHECK(rolled.exit_code == 1);
  CHECK_FALSE(fs::exists(repo.path() + "/e"));
}

TEST_CASE("the new directories of one transaction are limited in all") {
  TempRepo repo;
  const std::string b = blob(repo, "x\n");
  const std::size_t longest = PATH_MAX - 1 - real_root(repo).size() - 1;
  // Deep chains of 1-byte components, each under its own top directory, until their
  // directories' paths pass kMaxCreatedDirBytes.
  std::string script;
  std::size_t total = 0;
  int line = 0;
  for (char top = 'a'; total <= reftx::core::kMaxCreatedDirBytes; ++top) {
    const std::string path = std::string(1, top) + "/" + path_of(longest - 2, 1, 'd');
    for (std::size_t slash = path.find('/'); slash != std::string::npos;
         slash = path.find('/', slash + 1)) {
      total += slash;
    }
    script += "write " + path + " " + b + "\n";
    ++line;
  }
  check_refused(repo, {{"over kMaxCreatedDirBytes", script, false, line, "directories"}});
}
