// Owner liveness (core/owners.hpp) with real processes: an owner is alive exactly while a
// process holds its lock, dead the moment that process is SIGKILLed; its git child's lock is
// waited for; remove_dead_owner never removes a live owner's files.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <doctest/doctest.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>

#include "core/owners.hpp"
#include "support/temp_repo.hpp"

namespace fs = std::filesystem;
using namespace reftx;

namespace {

// Reads exactly `n` bytes; false on EOF or error.
bool read_exactly(int fd, char* buf, std::size_t n) {
  for (std::size_t got = 0; got < n;) {
    ssize_t r = ::read(fd, buf + got, n - got);
    if (r <= 0) return false;
    got += static_cast<std::size_t>(r);
  }
  return true;
}

// A forked process that creates an owner in `journal`, reports its name and sleeps until it is
// killed. With `keeper`, it first forks a keeper holding only the owner's child lock (as the
// keeper of its git child does), which exits when `release_keeper()` is called.
class OwnerProcess {
 public:
  OwnerProcess(const std::string& journal, bool keeper) {
    int names[2], gate[2];
    REQUIRE(::pipe(names) == 0);
    REQUIRE(::pipe(gate) == 0);
    pid_ = ::fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) run_child(journal, keeper, names[1], gate[0], gate[1]);  // never returns
    ::close(names[1]);
    ::close(gate[0]);
    gate_ = gate[1];
    char buf[64] = {};
    unsigned char len = 0;
    REQUIRE(read_exactly(names[0], reinterpret_cast<char*>(&len), 1));
    REQUIRE(len > 0);
    REQUIRE(read_exactly(names[0], buf, len));
    ::close(names[0]);
    name_.assign(buf, len);
  }
  ~OwnerProcess() {
    release_keeper();
    kill();
  }

  const std::string& name() const { return name_; }

  // SIGKILLs the owner's process and reaps it.
  void kill() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }

  // Lets the keeper exit (it reads EOF from the gate).
  void release_keeper() {
    if (gate_ >= 0) ::close(gate_);
    gate_ = -1;
  }

 private:
  [[noreturn]] static void run_child(const std::string& journal, bool keeper, int names,
                                     int gate_read, int gate_write) {
    ::close(gate_write);
    auto owner = core::create_owner(journal);
    if (!owner) ::_exit(2);
    int ready[2];
    if (::pipe(ready) != 0) ::_exit(4);
    if (keeper && ::fork() == 0) {
      // Like the keeper of a git child: the child lock only (the owner lock is close-on-exec
      // and would not reach git).
      ::close(owner.value().process.fd());
      ::close(names);
      if (::write(ready[1], "k", 1) != 1) ::_exit(4);  // the owner lock is let go of now
      char c;
      while (::read(gate_read, &c, 1) > 0) {
      }
      ::_exit(0);
    }
    char k;
    if (keeper && ::read(ready[0], &k, 1) != 1) ::_exit(4);  // before the name is reported
    const std::string& name = owner.value().name;
    const auto len = static_cast<unsigned char>(name.size());
    if (::write(names, &len, 1) != 1 || ::write(names, name.data(), len) != len) ::_exit(3);
    for (;;) ::pause();
  }

  pid_t pid_ = -1;
  int gate_ = -1;
  std::string name_;
};

bool alive(const std::string& journal, const std::string& name) {
  auto a = core::owner_alive(journal, name);
  REQUIRE_MESSAGE(a.ok(), a.error().describe());
  return a.value();
}

bool files_exist(const std::string& journal, const std::string& name) {
  const bool owner = fs::exists(core::owner_path(journal, name));
  const bool child = fs::exists(core::owner_child_path(journal, name));
  CHECK(owner == child);  // created and removed together
  return owner && child;
}

}  // namespace

TEST_CASE("an owner is alive while its process holds it and dead once that process is killed") {
  test::TempDir dir;
  const std::string journal = dir.path() + "/journal";
  OwnerProcess holder(journal, /*keeper=*/false);
  CHECK(holder.name().size() == 24);  // 12 random bytes, hex
  CHECK(alive(journal, holder.name()));
  CHECK(files_exist(journal, holder.name()));

  core::remove_dead_owner(journal, holder.name());  // alive: left alone
  CHECK(files_exist(journal, holder.name()));
  CHECK(alive(journal, holder.name()));

  holder.kill();
  CHECK_FALSE(alive(journal, holder.name()));
  CHECK(files_exist(journal, holder.name()));  // a dead owner's files stay until removed
  REQUIRE(core::wait_for_owner_child(journal, holder.name()).ok());  // no git child: at once
  core::remove_dead_owner(journal, holder.name());
  CHECK_FALSE(files_exist(journal, holder.name()));
  CHECK_FALSE(alive(journal, holder.name()));  // no files: not alive either
}

TEST_CASE("a dead owner's git child keeps the child lock: waited for, and its files are kept") {
  test::TempDir dir;
  const std::string journal = dir.path() + "/journal";
  OwnerProcess holder(journal, /*keeper=*/true);
  holder.kill();
  CHECK_FALSE(alive(journal, holder.name()));  // the keeper does not hold the owner lock

  // The keeper still holds the child lock: the owner's files are not removed yet, and
  // wait_for_owner_child does not return before the keeper is gone.
  core::remove_dead_owner(journal, holder.name());
  CHECK(files_exist(journal, holder.name()));
  const auto start = std::chrono::steady_clock::now();
  std::thread release([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    holder.release_keeper();
  });
  Status waited = core::wait_for_owner_child(journal, holder.name());
  const auto waited_for = std::chrono::steady_clock::now() - start;
  release.join();
  REQUIRE_MESSAGE(waited.ok(), waited.error().describe());
  CHECK(waited_for >= std::chrono::milliseconds(250));
  core::remove_dead_owner(journal, holder.name());
  CHECK_FALSE(files_exist(journal, holder.name()));
}

TEST_CASE("owners are independent; one created by this process is alive to other descriptors") {
  test::TempDir dir;
  const std::string journal = dir.path() + "/journal";
  OwnerProcess other(journal, /*keeper=*/false);
  std::string mine_name;
  {
    auto mine = core::create_owner(journal);
    REQUIRE_MESSAGE(mine.ok(), mine.error().describe());
    mine_name = mine.value().name;
    CHECK(mine_name != other.name());
    CHECK(alive(journal, mine_name));  // flock: another open file description conflicts
    core::remove_dead_owner(journal, mine_name);
    CHECK(files_exist(journal, mine_name));
  }  // released: the owner is dead
  CHECK_FALSE(alive(journal, mine_name));
  CHECK(alive(journal, other.name()));
  core::remove_dead_owner(journal, mine_name);
  CHECK_FALSE(files_exist(journal, mine_name));
  CHECK(files_exist(journal, other.name()));
  CHECK(alive(journal, other.name()));
}
