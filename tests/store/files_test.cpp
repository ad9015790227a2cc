// Library API: working-tree files and tool state in one transaction, against real repositories,
// the real git binary and LMDB. Concurrent writers are played by git's reference-transaction
// hook, which runs inside git's prepare/commit, i.e. inside reftx's protocol.
#include <doctest/doctest.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "reftx/reftx.hpp"
#include "support/process.hpp"
#include "support/temp_repo.hpp"

using namespace reftx;
using test::TempRepo;
namespace fs = std::filesystem;

namespace {

Store open_store(const std::string& path, Options options = {}) {
  auto store = Store::open(path, options);
  REQUIRE_MESSAGE(store.ok(), store.error().message);
  return std::move(store).value();
}

void put(const std::string& path, const std::string& content) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream out(path, std::ios::binary);
  out << content;
}

std::optional<std::string> slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string blob_of(const TempRepo& repo, const std::string& content) {
  std::string id = repo.git({"hash-object", "-w", "--stdin"}, content);
  return id.substr(0, 40);
}

bool executable(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && (st.st_mode & S_IXUSR) != 0;
}

// Installs a reference-transaction hook running `script` when git reaches `phase`
// (prepared / committed), once.
void hook_once(const TempRepo& repo, const std::string& phase, const std::string& script) {
  const std::string marker = repo.path() + "/.git/hook-once";
  put(marker, "");
  const std::string hook = repo.git_dir() + "/hooks/reference-transaction";
  put(hook, "#!/bin/sh\nif [ \"$1\" = " + phase + " ] && [ -f '" + marker + "' ]; then\n  rm -f '" +
                marker + "'\n" + script + "\nfi\nexit 0\n");
  fs::permissions(hook, fs::perms::owner_all);
}

std::vector<std::string> temp_files(const std::string& root) {
  std::vector<std::string> found;
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    if (e.path().filename().string().rfind(".reftx-", 0) == 0) found.push_back(e.path());
  }
  return found;
}

}  // namespace

TEST_CASE("refs, files and state change together; the journal keeps old and new") {
  TempRepo repo;
  const auto& c = repo.commits();
  const std::string root = repo.path();
  put(root + "/keep.txt", "old keep\n");
  put(root + "/gone.txt", "to be removed\n");
  ::chmod((root + "/keep.txt").c_str(), 0600);
  Store store = open_store(root);
  const std::string run_sh = blob_of(repo, "#!/bin/sh\necho hi\n");

  auto id = store.commit(Batch("mixed")
                             .update("refs/jin/layers/global", c[1])
                             .write_file_content("keep.txt", "new keep\n")
                             .write_file("bin/tools/run.sh", run_sh, kZeroOid, 0100755)
                             .remove_file("gone.txt")
                             .set("jin/staging", "layer=global"));
  REQUIRE_MESSAGE(id.ok(), id.error().message);
  CHECK(repo.ref("refs/jin/layers/global") == c[1]);
  CHECK(slurp(root + "/keep.txt") == "new keep\n");
  CHECK(slurp(root + "/bin/tools/run.sh") == "#!/bin/sh\necho hi\n");
  CHECK(executable(root + "/bin/tools/run.sh"));
  CHECK_FALSE(fs::exists(root + "/gone.txt"));
  struct stat st {};
  REQUIRE(::stat((root + "/keep.txt").c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0600);  // the existing mode is kept
  CHECK(store.get_state("jin/staging").value() == "layer=global");
  CHECK(temp_files(root).empty());

  auto rec = store.get(id.value());
  REQUIRE(rec.ok());
  const TxRecord& r = rec.value();
  CHECK(r.state == TxState::committed);
  CHECK(r.work_tree == fs::canonical(root).string());
  REQUIRE(r.files.size() == 3);
  CHECK(r.files[0].old_blob == blob_of(repo, "old keep\n"));
  CHECK(r.files[0].new_blob == blob_of(repo, "new keep\n"));
  CHECK(r.files[1].old_blob == kZeroOid);
  CHECK(r.files[1].created_dirs == std::vector<std::string>{"bin", "bin/tools"});
  CHECK(r.files[2].new_blob == kZeroOid);
  // Nothing a user had is lost: the removed file's content is a blob now.
  CHECK(repo.git({"cat-file", "-p", r.files[2].old_blob}).starts_with("to be removed"));
  REQUIRE(r.keys.size() == 1);
  CHECK(r.keys[0].old_known);
  CHECK_FALSE(r.keys[0].old_value.has_value());
  CHECK(r.keys[0].new_value == "layer=global");
}

TEST_CASE("state reads: get, prefix lists in byte order, unset") {
  TempRepo repo;
  Store store = open_store(repo.path());
  CHECK_FALSE(store.get_state("a").value().has_value());
  REQUIRE(store.commit(Batch().set("app/b", "2").set("app/a", "1").set("other", "x")).ok());
  auto listed = store.list_state("app/");
  REQUIRE(listed.ok());
  REQUIRE(listed.value().size() == 2);
  CHECK(listed.value()[0].key == "app/a");
  CHECK(listed.value()[1].value == "2");
  CHECK(store.list_state().value().size() == 3);
  REQUIRE(store.commit(Batch().unset("app/a").set("app/b", std::string("bin\0ary", 7))).ok());
  CHECK_FALSE(store.get_state("app/a").value().has_value());
  CHECK(store.get_state("app/b").value() == std::string("bin\0ary", 7));
  CHECK(store.list_state("zzz").value().empty());
}

TEST_CASE("a transaction that aborts changes no file and no state") {
  TempRepo repo;
  const auto& c = repo.commits();
  put(repo.path() + "/f.txt", "original\n");
  Store store = open_store(repo.path());
  REQUIRE(store.commit(Batch().set("k", "before")).ok());
  auto id = store.commit(Batch("wrong old ref")
                             .update("refs/heads/main", c[0], c[1])  // main is at c[2]
                             .write_file_content("new/dir/f.txt", "x")
                             .write_file_content("f.txt", "replaced\n")
                             .set("k", "after"));
  REQUIRE_FALSE(id.ok());
  CHECK(id.error().kind == ErrorKind::conflict);
  CHECK(slurp(repo.path() + "/f.txt") == "original\n");
  CHECK_FALSE(fs::exists(repo.path() + "/new"));  // created parents are removed again
  CHECK(store.get_state("k").value() == "before");
  CHECK(temp_files(repo.path()).empty());
  auto rec = store.get(id.error().transaction_id);
  REQUIRE(rec.ok());
  CHECK(rec.value().state == TxState::aborted);
  CHECK(rec.value().keys[0].old_value == "before");  // what it really held is journaled
}

TEST_CASE("a file compare-and-swap failure aborts with a conflict naming the file") {
  TempRepo repo;
  put(repo.path() + "/cfg", "v1\n");
  Store store = open_store(repo.path());
  const std::string v1 = blob_of(repo, "v1\n");
  const std::string other = blob_of(repo, "other\n");
  auto bad = store.commit(Batch().write_file_content("cfg", "v2\n", other).set("k", "v"));
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().kind == ErrorKind::conflict);
  CHECK(bad.error().message.find("cfg") != std::string::npos);
  CHECK(slurp(repo.path() + "/cfg") == "v1\n");
  CHECK_FALSE(store.get_state("k").value().has_value());

  auto must_not_exist = store.commit(Batch().write_file_content("cfg", "v2\n", kZeroOid));
  REQUIRE_FALSE(must_not_exist.ok());
  CHECK(must_not_exist.error().kind == ErrorKind::conflict);

  auto good = store.commit(Batch().write_file_content("cfg", "v2\n", v1));
  REQUIRE_MESSAGE(good.ok(), good.error().message);
  CHECK(slurp(repo.path() + "/cfg") == "v2\n");
}

TEST_CASE("a file changed by another writer after it was checked is never overwritten") {
  TempRepo repo;
  const auto& c = repo.commits();
  const std::string cfg = repo.path() + "/cfg";
  put(cfg, "v1\n");
  Store store = open_store(repo.path());

  SUBCASE("before the decision (during git's prepare): the transaction aborts") {
    hook_once(repo, "prepared", "  echo outside > '" + cfg + "'");
    auto id = store.commit(
        Batch().update("refs/heads/main", c[0]).write_file_content("cfg", "v2\n").set("k", "v"));
    REQUIRE_FALSE(id.ok());
    CHECK_MESSAGE(id.error().kind == ErrorKind::conflict, id.error().message);
    CHECK(slurp(cfg) == "outside\n");
    CHECK(repo.ref("refs/heads/main") == c[2]);
    CHECK_FALSE(store.get_state("k").value().has_value());
    CHECK(temp_files(repo.path()).empty());
  }
  SUBCASE("after the decision (during git's commit): the file is left alone and reported") {
    hook_once(repo, "committed", "  echo outside > '" + cfg + "'");
    auto id = store.commit(Batch()
                               .update("refs/heads/main", c[0])
                               .write_file_content("cfg", "v2\n")
                               .write_file_content("other", "o\n"));
    REQUIRE_FALSE(id.ok());
    CHECK(id.error().message.find("cfg") != std::string::npos);
    CHECK(slurp(cfg) == "outside\n");
    CHECK(slurp(repo.path() + "/other") == "o\n");
    CHECK(repo.ref("refs/heads/main") == c[0]);
    auto rec = store.get(id.error().transaction_id);
    REQUIRE(rec.ok());
    CHECK(rec.value().state == TxState::committed);
    REQUIRE(rec.value().conflicts.size() == 1);
    CHECK(rec.value().conflicts[0].find("cfg") != std::string::npos);
    CHECK(temp_files(repo.path()).empty());
  }
}

TEST_CASE("a file another live transaction is changing is refused, not raced") {
  TempRepo repo;
  const auto& c = repo.commits();
  put(repo.path() + "/cfg", "v1\n");
  const std::string ready = repo.path() + "/.git/first-prepared";
  const std::string go = repo.path() + "/.git/first-may-go";
  // The first transaction's git waits inside prepare until the second one has been refused.
  hook_once(repo, "prepared",
            "  touch '" + ready + "'\n  i=0\n  while [ ! -f '" + go +
                "' ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done");
  Store first = open_store(repo.path());
  Store second = open_store(repo.path());
  Result<std::uint64_t> first_id = Error{ErrorKind::environment, "not run"};
  std::thread t([&] {
    first_id =
        first.commit(Batch().update("refs/heads/main", c[0]).write_file_content("cfg", "first\n"));
  });
  for (int i = 0; i < 300 && !fs::exists(ready); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  CHECK(fs::exists(ready));
  auto second_id = second.commit(Batch().write_file_content("cfg", "second\n"));
  put(go, "");
  t.join();
  REQUIRE_FALSE(second_id.ok());
  CHECK(second_id.error().kind == ErrorKind::locked);
  CHECK_MESSAGE(second_id.error().message.find("being changed by transaction") != std::string::npos,
                second_id.error().message);
  REQUIRE_MESSAGE(first_id.ok(), first_id.error().message);
  CHECK(slurp(repo.path() + "/cfg") == "first\n");
}

TEST_CASE("a commit git fails after prepare restores files and state") {
  TempRepo repo;
  const auto& c = repo.commits();
  put(repo.path() + "/cfg", "v1\n");
  hook_once(repo, "prepared",
            "  mkdir -p '" + repo.git_dir() + "/refs/heads/n1'\n  echo " + c[1] + " > '" +
                repo.git_dir() + "/refs/heads/n1/sub'");
  Store store = open_store(repo.path());
  REQUIRE(store.commit(Batch().set("k", "before")).ok());
  auto id = store.commit(Batch("clash")
                             .update("refs/heads/main", c[0], c[2])
                             .create("refs/heads/n1", c[0])
                             .write_file_content("cfg", "v2\n")
                             .write_file_content("made/new", "n\n")
                             .set("k", "after"));
  REQUIRE_FALSE(id.ok());
  CHECK_MESSAGE(id.error().kind == ErrorKind::conflict, id.error().message);
  CHECK(repo.ref("refs/heads/main") == c[2]);
  CHECK(slurp(repo.path() + "/cfg") == "v1\n");
  CHECK_FALSE(fs::exists(repo.path() + "/made"));
  CHECK(store.get_state("k").value() == "before");
  CHECK(temp_files(repo.path()).empty());
  auto rec = store.get(id.error().transaction_id);
  REQUIRE(rec.ok());
  CHECK(rec.value().state == TxState::aborted);
}

TEST_CASE("files and state without refs need no git process and are journaled alike") {
  TempRepo repo;
  Store store = open_store(repo.path());
  auto id = store.commit(Batch("no refs").write_file_content("a", "1").set("k", "v"));
  REQUIRE_MESSAGE(id.ok(), id.error().message);
  CHECK(slurp(repo.path() + "/a") == "1");
  CHECK(store.get(id.value()).value().refs.empty());
  auto keys_only = store.commit(Batch().unset("k"));
  REQUIRE(keys_only.ok());
  CHECK_FALSE(store.get_state("k").value().has_value());
}

TEST_CASE("a bare repository writes files only into the work tree it is given") {
  TempRepo repo(2, /*bare=*/true);
  test::TempDir project;
  {
    Store store = open_store(repo.path());
    CHECK(store.work_tree().empty());
    auto refused = store.commit(Batch().write_file_content("a", "1"));
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().kind == ErrorKind::invalid_input);
    CHECK(refused.error().message.find("no work tree") != std::string::npos);
    // State alone needs no work tree.
    CHECK(store.commit(Batch().set("k", "v")).ok());
  }
  Options options;
  options.work_tree = project.path();
  Store store = open_store(repo.path(), options);
  auto id = store.commit(Batch()
                             .update("refs/jin/layers/project", repo.commits()[0])
                             .write_file_content(".editorconfig", "root = true\n"));
  REQUIRE_MESSAGE(id.ok(), id.error().message);
  CHECK(slurp(project.path() + "/.editorconfig") == "root = true\n");

  options.work_tree = project.path() + "/missing";
  auto missing = Store::open(repo.path(), options);
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().kind == ErrorKind::invalid_input);
}

TEST_CASE("paths are checked before anything is recorded") {
  TempRepo repo;
  test::TempDir outside;
  put(outside.path() + "/secret", "s\n");
  fs::create_symlink(outside.path(), repo.path() + "/escape");
  fs::create_symlink(outside.path() + "/secret", repo.path() + "/link");
  fs::create_directories(repo.path() + "/dir");
  put(repo.path() + "/plain", "p");
  Store store = open_store(repo.path());
  const std::string blob = blob_of(repo, "x");
  const std::string commit = repo.commits()[0];
  struct Case {
    FileChange change;
    const char* problem;
  };
  const std::vector<Case> cases = {
      {{"/etc/passwd", blob, {}, {}, 0, 0}, "absolute"},
      {{"a/../b", blob, {}, {}, 0, 0}, "'..'"},
      {{".git/config", blob, {}, {}, 0, 0}, ".git"},
      {{"sub/.Git/x", blob, {}, {}, 0, 0}, ".git"},
      {{"escape/secret", blob, {}, {}, 0, 0}, "symbolic link"},
      {{"link", blob, {}, {}, 0, 0}, "symbolic link"},
      {{"dir", blob, {}, {}, 0, 0}, "directory"},
      {{"plain/x", blob, {}, {}, 0, 0}, "not a directory"},
      {{"a//b", blob, {}, {}, 0, 0}, "empty component"},
      {{"x/.reftx-1-0.tmp", blob, {}, {}, 0, 0}, "reserved"},
      {{"f", commit, {}, {}, 0, 0}, "not a blob"},
      {{"f", std::string(40, '1'), {}, {}, 0, 0}, "does not exist"},
      {{"f", kZeroOid, {}, kZeroOid, 0, 0}, "null old value"},
  };
  for (const Case& k : cases) {
    CAPTURE(k.change.path);
    auto id = store.commit(Batch().set("k", "v").add(k.change));
    REQUIRE_FALSE(id.ok());
    CHECK(id.error().kind == ErrorKind::invalid_input);
    CHECK(id.error().line == 2);
    CHECK_MESSAGE(id.error().message.find(k.problem) != std::string::npos, id.error().message);
  }
  CHECK(store.list().value().empty());
  CHECK(slurp(outside.path() + "/secret") == "s\n");
  auto twice = store.commit(Batch().write_file("a", blob).write_file("a/b", blob));
  REQUIRE_FALSE(twice.ok());
  CHECK(twice.error().message.find("inside 'a'") != std::string::npos);
  auto long_key = store.commit(Batch().set(std::string(600, 'k'), "v"));
  REQUIRE_FALSE(long_key.ok());
  CHECK(long_key.error().kind == ErrorKind::invalid_input);
}

TEST_CASE("a non-durable store applies files and state all the same") {
  TempRepo repo;
  Options options;
  options.durable = false;
  Store store = open_store(repo.path(), options);
  REQUIRE(store.commit(Batch().write_file_content("a/b", "1").set("k", "v")).ok());
  CHECK(slurp(repo.path() + "/a/b") == "1");
  CHECK(store.get_state("k").value() == "v");
}

TEST_CASE("a 200 MB file goes through the library with peak memory under 64 MB") {
  constexpr std::size_t kSize = 200'000'000;
  TempRepo repo;
  test::TempDir scratch;
  // Incompressible content, so a reader that maps or loads a whole object shows in the peak.
  auto noise = [](const std::string& path, std::uint64_t seed) {
    std::ofstream out(path, std::ios::binary);
    std::vector<std::uint64_t> chunk(1 << 17);
    std::uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
    for (std::size_t done = 0; done < kSize; done += chunk.size() * 8) {
      for (std::uint64_t& w : chunk) {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        w = x * 0x2545F4914F6CDD1Dull;
      }
      out.write(reinterpret_cast<const char*>(chunk.data()),
                static_cast<std::streamsize>(std::min(kSize - done, chunk.size() * 8)));
    }
  };
  noise(repo.path() + "/big.bin", 1);  // the old content, not in the object database yet
  noise(scratch.path() + "/new", 2);
  const std::string blob =
      repo.git({"-c", "core.compression=0", "hash-object", "-w", scratch.path() + "/new"})
          .substr(0, 40);
  fs::remove(scratch.path() + "/new");

  // The transaction runs in a child process, so that its peak resident size is its own.
  pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    auto store = Store::open(repo.path());
    if (!store) ::_exit(2);
    auto id = store.value().commit(Batch("big").write_file("big.bin", blob));
    ::_exit(id ? 0 : 1);
  }
  int status = 0;
  struct rusage usage {};
  REQUIRE(::wait4(child, &status, 0, &usage) == child);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  CHECK(repo.git({"hash-object", repo.path() + "/big.bin"}).substr(0, 40) == blob);
  // The test process's own pages before fork() count too; it is far below the limit.
  if (!test::kSanitized) {
    CHECK_MESSAGE(usage.ru_maxrss < 64 * 1024, "peak RSS " << usage.ru_maxrss << " KB");
  }
  Store store = open_store(repo.path());
  auto last = store.list().value().back();
  CHECK(last.state == TxState::committed);
  CHECK(repo.git({"cat-file", "-s", last.files[0].old_blob}).substr(0, 9) == "200000000");
}
