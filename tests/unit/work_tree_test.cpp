// The work-tree path walk (core/work_tree.hpp) on a real directory: lexical refusals, parents
// opened without following links, missing parents created on request, and what stat_file
// accepts.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <doctest/doctest.h>

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "core/work_tree.hpp"
#include "support/temp_repo.hpp"
#include "support/text.hpp"

namespace fs = std::filesystem;
using namespace reftx;

namespace {

// root/dir/sub, root/file, root/link -> dir, root/dir/sub-link -> sub, root/out -> outside.
struct Root {
  test::TempDir dir;
  test::TempDir outside;
  std::string root = dir.path();

  Root() {
    fs::create_directories(root + "/dir/sub");
    test::write_file(root + "/file", "a file\n");
    test::write_file(root + "/dir/f", "in dir\n");
    fs::create_directory_symlink("dir", root + "/link");
    fs::create_directory_symlink("sub", root + "/dir/sub-link");
    fs::create_directory_symlink(outside.path(), root + "/out");
    fs::create_symlink("file", root + "/file-link");
  }
};

// Inode of what `fd` is open on, and of `path` (not following links).
bool same_inode(int fd, const std::string& path) {
  struct stat a {
  }, b{};
  return ::fstat(fd, &a) == 0 && ::lstat(path.c_str(), &b) == 0 && a.st_ino == b.st_ino &&
         a.st_dev == b.st_dev;
}

// `result` failed as invalid_input with a message containing every one of `words`.
template <class T>
void check_refused(const Result<T>& result, const std::vector<std::string>& words) {
  REQUIRE_FALSE(result.ok());
  CHECK(result.error().kind == ErrorKind::invalid_input);
  for (const std::string& w : words) {
    CHECK_MESSAGE(result.error().message.find(w) != std::string::npos, result.error().message);
  }
}

}  // namespace

TEST_CASE("path_problem refuses every form that does not name a plain path below the root") {
  const std::vector<std::pair<std::string, std::string>> refused = {
      {"", "is empty"},
      {std::string("a\0b", 3), "NUL"},
      {"/etc/passwd", "absolute"},
      {"/", "absolute"},
      {"dir/", "ends with '/'"},
      {"a//b", "empty component"},
      {".", "'.' component"},
      {"./a", "'.' component"},
      {"a/./b", "'.' component"},
      {"a/.", "'.' component"},
      {"..", "'..'"},
      {"../a", "'..'"},
      {"a/../b", "'..'"},
      {"a/..", "'..'"},
      {".git", ".git"},
      {".git/config", ".git"},
      {"sub/.GIT/x", ".git"},
      {"a/.Git", ".git"},
      {".reftx-1-0.tmp", "reserved"},
      {"dir/.reftx-anything", "reserved"},
  };
  for (const auto& [path, word] : refused) {
    CAPTURE(path);
    const std::string problem = core::path_problem(path);
    CHECK_MESSAGE(problem.find(word) != std::string::npos, problem);
  }
  for (const char* fine : {"a", "a/b.txt", ".gitignore", "x.git", "dir/.github/ci.yml", "..a",
                           "a..", ".reftx", "reftx-x", "sp ace/\xc3\xa9t\xc3\xa9", ".hidden"}) {
    CAPTURE(fine);
    CHECK(core::path_problem(fine).empty());
  }
  CHECK(core::path_components("a/b/c") == std::vector<std::string>{"a", "b", "c"});
  CHECK(core::is_reserved_name(".reftx-1-0.tmp"));
  CHECK_FALSE(core::is_reserved_name("x.reftx-1"));
}

TEST_CASE("open_parent opens the parent without following a link or passing through a file") {
  Root r;
  SUBCASE("an existing parent") {
    auto parent = core::open_parent(r.root, "dir/sub/new.txt", false, false);
    REQUIRE_MESSAGE(parent.ok(), parent.error().describe());
    REQUIRE(parent.value().has_value());
    CHECK(same_inode(parent.value()->get(), r.root + "/dir/sub"));
    auto top = core::open_parent(r.root, "top.txt", false, false);
    REQUIRE(top.ok());
    CHECK(same_inode(top.value()->get(), r.root));
  }
  SUBCASE("a symbolic link on the way is refused, naming it") {
    check_refused(core::open_parent(r.root, "link/f", false, false), {"link/f", "'link'"});
    check_refused(core::open_parent(r.root, "dir/sub-link/x", true, false),
                  {"symbolic link 'dir/sub-link'"});
    check_refused(core::open_parent(r.root, "out/secret", true, false), {"symbolic link 'out'"});
    check_refused(core::open_parent(r.root, "file-link/x", true, false),
                  {"symbolic link 'file-link'"});
    CHECK(fs::is_empty(r.outside.path()));
  }
  SUBCASE("a file on the way is refused, naming it") {
    check_refused(core::open_parent(r.root, "file/x", true, false), {"'file', not a directory"});
    check_refused(core::open_parent(r.root, "dir/f/g/h", true, false),
                  {"'dir/f', not a directory"});
  }
  SUBCASE("missing parents: nullopt, or created when asked") {
    auto absent = core::open_parent(r.root, "new/deep/f", false, false);
    REQUIRE(absent.ok());
    CHECK_FALSE(absent.value().has_value());
    CHECK_FALSE(fs::exists(r.root + "/new"));
    for (bool durable : {false, true}) {
      CAPTURE(durable);
      const std::string top = durable ? "/made-durable" : "/made";
      auto made = core::open_parent(r.root, top.substr(1) + "/deep/f", true, durable);
      REQUIRE_MESSAGE(made.ok(), made.error().describe());
      REQUIRE(made.value().has_value());
      CHECK(fs::is_directory(fs::symlink_status(r.root + top + "/deep")));
      CHECK(same_inode(made.value()->get(), r.root + top + "/deep"));
      CHECK(test::perms(r.root + top) == (0777 & ~test::current_umask()));
    }
  }
}

// The missing parents of a path, outermost first, through probe_path (one walk).
Result<std::vector<std::string>> missing_parents(const std::string& root, const std::string& path) {
  auto probe = core::probe_path(root, path);
  if (!probe) return probe.error();
  return probe.value().missing;
}

TEST_CASE("probe_path lists the parents that do not exist, outermost first") {
  Root r;
  auto none = missing_parents(r.root, "dir/sub/x");
  REQUIRE(none.ok());
  CHECK(none.value().empty());
  auto top = missing_parents(r.root, "x");
  REQUIRE(top.ok());
  CHECK(top.value().empty());
  auto some = missing_parents(r.root, "dir/a/b/c/f");
  REQUIRE(some.ok());
  CHECK(some.value() == std::vector<std::string>{"dir/a", "dir/a/b", "dir/a/b/c"});
  CHECK_FALSE(fs::exists(r.root + "/dir/a"));  // only listed, not created
  check_refused(missing_parents(r.root, "link/new/f"), {"symbolic link 'link'"});
  check_refused(missing_parents(r.root, "file/new/f"), {"'file', not a directory"});
}

TEST_CASE("stat_file accepts an absent or regular file and refuses links, directories, FIFOs") {
  Root r;
  REQUIRE(::mkfifo((r.root + "/fifo").c_str(), 0600) == 0);
  util::UniqueFd dir(::open(r.root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  REQUIRE(dir.valid());

  auto regular = core::stat_file(dir.get(), "file", "file");
  REQUIRE_MESSAGE(regular.ok(), regular.error().describe());
  CHECK(regular.value().exists);
  CHECK(S_ISREG(regular.value().mode));
  CHECK_FALSE(regular.value().identity.empty());
  // Rewritten: the identity changes.
  test::write_file(r.root + "/file", "another content, another size\n");
  auto rewritten = core::stat_file(dir.get(), "file", "file");
  REQUIRE(rewritten.ok());
  CHECK(rewritten.value().identity != regular.value().identity);

  auto absent = core::stat_file(dir.get(), "absent", "absent");
  REQUIRE(absent.ok());
  CHECK_FALSE(absent.value().exists);

  check_refused(core::stat_file(dir.get(), "file-link", "file-link"),
                {"'file-link'", "symbolic link"});
  check_refused(core::stat_file(dir.get(), "link", "link"), {"'link'", "symbolic link"});
  check_refused(core::stat_file(dir.get(), "dir", "dir"), {"'dir'", "is a directory"});
  check_refused(core::stat_file(dir.get(), "fifo", "a/fifo"), {"'a/fifo'", "not a regular file"});
}
