// Disk full: on a small, full tmpfs and a small, full ext4 image (root only; skipped with a
// message where mount is not permitted), `apply`, `recover`, `journal list` and `state list`,
// with and without an existing journal, with 0 to 64 KiB left: never a signal, exit 0 or 3 (a
// message naming the file), and afterwards, with space again, the journal is not corrupt, the
// refs and state are those of the transactions that reported success.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <iostream>
#include <memory>

#include "journal_damage/damage_support.hpp"

using namespace damage;

namespace {

// A small file system mounted on a fresh directory, unmounted on destruction.
class SmallFs {
 public:
  static std::unique_ptr<SmallFs> mount(const std::string& type) {
    auto fs = std::unique_ptr<SmallFs>(new SmallFs());
    fs->mnt_ = fs->dir_.path() + "/mnt";
    ::mkdir(fs->mnt_.c_str(), 0755);
    RunResult r;
    if (type == "tmpfs") {
      r = reftx::test::run({"mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", fs->mnt_});
    } else {
      const std::string image = fs->dir_.path() + "/image";
      if (reftx::test::run({"truncate", "-s", "4M", image}).exit_code != 0 ||
          reftx::test::run({"mkfs.ext4", "-q", "-F", image}).exit_code != 0) {
        return nullptr;
      }
      r = reftx::test::run({"mount", "-o", "loop", image, fs->mnt_});
    }
    if (r.exit_code != 0) {
      MESSAGE("skipped: cannot mount a " << type << " (" << r.err << ")");
      return nullptr;
    }
    fs->mounted_ = true;
    return fs;
  }
  ~SmallFs() {
    if (mounted_) (void)reftx::test::run({"umount", "-l", mnt_});
  }
  const std::string& path() const { return mnt_; }

  // Fills the file system, then frees `leave` bytes.
  void fill(std::size_t leave) {
    const std::string filler = mnt_ + "/filler";
    int fd = ::open(filler.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    REQUIRE(fd >= 0);
    std::string chunk(65536, 'f');
    for (std::size_t size = chunk.size(); size >= 512; size /= 2) {
      while (::write(fd, chunk.data(), size) == static_cast<ssize_t>(size)) {
      }
    }
    ::fsync(fd);
    const off_t end = ::lseek(fd, 0, SEEK_END);
    REQUIRE(::ftruncate(
                fd, end > static_cast<off_t>(leave) ? end - static_cast<off_t>(leave) : 0) == 0);
    ::fsync(fd);
    ::close(fd);
  }
  void unfill() { ::unlink((mnt_ + "/filler").c_str()); }

 private:
  SmallFs() = default;
  TempDir dir_;
  std::string mnt_;
  bool mounted_ = false;
};

RunResult reftx_at(const std::string& repo, const std::string& journal,
                   std::vector<std::string> args, const std::string& input = "") {
  std::vector<std::string> argv = {reftx::test::reftx_binary(), "-C", repo, "--journal", journal};
  argv.insert(argv.end(), args.begin(), args.end());
  RunOptions o;
  o.input = input;
  return reftx::test::run(argv, o);
}

struct Tally {
  int runs = 0, ok = 0, no_space = 0;
};

// One scenario: the journal (and with `repo_on_fs`, the repository too) on `fs`.
void scenario(const std::string& type, bool existing, bool repo_on_fs, std::size_t leave,
              Tally& tally) {
  auto fs = SmallFs::mount(type);
  if (!fs) return;
  CAPTURE(type);
  CAPTURE(existing);
  CAPTURE(repo_on_fs);
  CAPTURE(leave);
  std::unique_ptr<TempRepo> outside;
  std::string repo;
  std::string commit;
  if (repo_on_fs) {
    repo = fs->path() + "/repo";
    TempRepo seed(2);
    REQUIRE(reftx::test::run({"cp", "-a", seed.path(), repo}).exit_code == 0);
    commit = seed.commits()[0];
  } else {
    outside = std::make_unique<TempRepo>(2);
    repo = outside->path();
    commit = outside->commits()[0];
  }
  const std::string journal = repo_on_fs ? repo + "/.git/reftx" : fs->path() + "/journal";
  if (existing) {
    REQUIRE(reftx_at(repo, journal, {"apply"},
                     "update refs/heads/before " + commit + "\nset before yes\n")
                .exit_code == 0);
  }
  fs->fill(leave);
  const std::string big(200000, 'v');  // makes the journal grow
  bool applied = false;
  for (int round = 0; round < 2; ++round) {
    for (const std::vector<std::string>& args :
         {std::vector<std::string>{"journal", "list"}, std::vector<std::string>{"state", "list"},
          std::vector<std::string>{"apply"}, std::vector<std::string>{"recover"}}) {
      const bool apply = args[0] == "apply";
      RunResult r = reftx_at(repo, journal, args,
                             apply ? "update refs/heads/full" + std::to_string(round) + " " +
                                         commit + "\nset big " + big + "\n"
                                   : "");
      CAPTURE(args[0]);
      CAPTURE(r.err);
      ++tally.runs;
      CHECK(r.signal == 0);
      CHECK((r.exit_code == 0 || r.exit_code == 3));
      if (r.exit_code == 3) {
        ++tally.no_space;
        CHECK(r.err.find("'") != std::string::npos);  // names a file or directory
      } else {
        ++tally.ok;
      }
      if (apply && r.exit_code == 0) applied = true;
    }
  }
  // With space again: not corrupt, consistent, and usable.
  fs->unfill();
  RunResult rec = reftx_at(repo, journal, {"recover"});
  CHECK_MESSAGE(rec.exit_code == 0, rec.err);
  RunResult list = reftx_at(repo, journal, {"journal", "list"});
  CHECK_MESSAGE(list.exit_code == 0, list.err);
  CHECK(list.out.find("pending") == std::string::npos);
  CHECK(list.out.find("committing") == std::string::npos);
  RunResult check = reftx_at(repo, journal, {"journal", "check"});
  CHECK_MESSAGE(check.exit_code == 0, check.err);
  RunResult state = reftx_at(repo, journal, {"state", "get", "big"});
  const std::string full0 =
      reftx::test::run({"git", "-C", repo, "rev-parse", "-q", "--verify", "refs/heads/full0"}).out;
  const std::string full1 =
      reftx::test::run({"git", "-C", repo, "rev-parse", "-q", "--verify", "refs/heads/full1"}).out;
  // All or nothing: the key is set exactly when a transaction that sets it committed.
  CHECK((state.exit_code == 0) == (!full0.empty() || !full1.empty()));
  if (applied) CHECK(state.exit_code == 0);
  if (existing) CHECK(reftx_at(repo, journal, {"state", "get", "before"}).out == "yes\n");
  RunResult again = reftx_at(repo, journal, {"apply"}, "update refs/heads/after " + commit + "\n");
  CHECK_MESSAGE(again.exit_code == 0, again.err);
}

void run_all(const std::string& type) {
  if (::geteuid() != 0) {
    MESSAGE("skipped: disk-full tests need root (mount)");
    return;
  }
  Tally tally;
  for (bool existing : {false, true}) {
    for (bool repo_on_fs : {false, true}) {
      for (std::size_t leave : {std::size_t{0}, std::size_t{4096}, std::size_t{8192},
                                std::size_t{16384}, std::size_t{32768}, std::size_t{65536}}) {
        scenario(type, existing, repo_on_fs, leave, tally);
      }
    }
  }
  std::cerr << "disk full (" << type << "): " << tally.runs << " runs, " << tally.ok << " exit 0, "
            << tally.no_space << " exit 3, no signal\n";
}

}  // namespace

TEST_CASE("disk full on tmpfs: exit 3 with a message, never a signal, never corrupt") {
  run_all("tmpfs");
}

TEST_CASE("disk full on ext4: exit 3 with a message, never a signal, never corrupt") {
  run_all("ext4");
}
