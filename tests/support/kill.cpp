#include "support/kill.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <doctest/doctest.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace reftx::test {
namespace {

// <name>.owner and <name>.child files under `dir`.
std::vector<std::string> owner_files(const std::string& dir) {
  std::vector<std::string> files;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (dirent* e = ::readdir(d)) {
      std::string name = e->d_name;
      if (name.ends_with(".owner") || name.ends_with(".child")) files.push_back(dir + "/" + name);
    }
    ::closedir(d);
  }
  return files;
}

// Takes and releases the flock of `file`, waiting until `deadline`.
void wait_for_flock(const std::string& file, std::chrono::steady_clock::time_point deadline) {
  int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;  // swept meanwhile
  while (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK && errno != EINTR) break;
    if (std::chrono::steady_clock::now() > deadline) {
      ::close(fd);
      FAIL("owner lock ", file, " still held after 60 s");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  ::close(fd);  // releases it again
}

}  // namespace

bool exited(pid_t pid) {
  siginfo_t info{};
  info.si_pid = 0;
  return ::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
         info.si_pid == pid;
}

void kill_group_once_dead(const Child& child) {
  siginfo_t info{};
  while (::waitid(P_PID, static_cast<id_t>(child.pid()), &info, WEXITED | WNOWAIT) != 0 &&
         errno == EINTR) {
  }
  ::kill(-child.pid(), SIGKILL);
}

void wait_for_dead_owners(const TempRepo& repo) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  for (const std::string& file : owner_files(repo.git_dir() + "/reftx/owners")) {
    wait_for_flock(file, deadline);
  }
}

int count_lock_files(const TempRepo& repo) {
  namespace fs = std::filesystem;
  std::error_code ec;
  int n = 0;
  for (fs::recursive_directory_iterator it(repo.git_dir(), ec), end; !ec && it != end;
       it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if ((name.size() > 5 && name.ends_with(".lock")) || name == "packed-refs.new") ++n;
  }
  return n;
}

RunResult kill_and_wait(Child& child, bool group, KillCounts& counts) {
  ::kill(group ? -child.pid() : child.pid(), SIGKILL);
  RunResult r = child.wait();
  ++counts.iterations;
  if (r.signal == SIGKILL) {
    ++counts.killed;
  } else {
    ++counts.finished;
    REQUIRE_MESSAGE(r.exit_code == 0, "finished before the kill, but failed: ", describe(r));
  }
  return r;
}

void check_share(const char* suite, const char* what, int landed, int kills, int min_percent) {
  constexpr int kEnoughKills = 10;
  std::cout << "[" << suite << "] " << what << ": " << landed << " of " << kills << " kills ("
            << (kills > 0 ? 100 * landed / kills : 0) << "%), at least " << min_percent
            << "% required" << (kills < kEnoughKills ? " (too few kills to check)" : "")
            << std::endl;
  if (kills < kEnoughKills) return;
  CHECK_MESSAGE(100 * landed >= min_percent * kills, suite, " ", what, ": only ", landed, " of ",
                kills, " kills, less than ", min_percent, "%");
}

std::uint64_t seed_for(const char* suite, const char* test_name) {
  std::uint64_t seed;
  if (const char* s = std::getenv("REFTX_KILL_SEED"); s != nullptr && *s != '\0') {
    seed = std::stoull(s);
  } else {
    seed = (static_cast<std::uint64_t>(std::random_device{}()) << 32) ^ std::random_device{}();
  }
  std::cout << "[" << suite << "] " << test_name << ": seed " << seed
            << " (rerun with REFTX_KILL_SEED=" << seed << ")" << std::endl;
  return seed;
}

int env_count(const char* name, int fallback) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return fallback;
  int n = std::atoi(v);
  return n > 0 ? n : fallback;
}

}  // namespace reftx::test
