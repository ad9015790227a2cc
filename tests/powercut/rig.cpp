#include "powercut/rig.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <thread>
#include <utility>

namespace fs = std::filesystem;

namespace reftx::test::powercut {
namespace {

int g_janitor_fd = -1;

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

bool under(const std::string& path, const std::string& dir) {
  return path == dir || path.rfind(dir + "/", 0) == 0;
}

std::string link_of(const std::string& path) {
  char buf[4096];
  ssize_t n = ::readlink(path.c_str(), buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
}

bool uses(const std::string& pid, const std::string& dir) {
  const std::string base = "/proc/" + pid;
  for (const char* l : {"/cwd", "/root", "/exe"}) {
    if (under(link_of(base + l), dir)) return true;
  }
  if (DIR* d = ::opendir((base + "/fd").c_str())) {
    bool found = false;
    while (dirent* e = ::readdir(d)) {
      if (e->d_name[0] != '.' && under(link_of(base + "/fd/" + e->d_name), dir)) found = true;
    }
    ::closedir(d);
    if (found) return true;
  }
  std::ifstream maps(base + "/maps");
  std::string line;
  while (std::getline(maps, line)) {
    std::size_t slash = line.find('/');
    if (slash != std::string::npos && under(line.substr(slash), dir)) return true;
  }
  return false;
}

bool mounted_under(const std::string& dir) {
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line)) {
    // Field 5 is the mount point.
    std::size_t pos = 0;
    for (int i = 0; i < 4 && pos != std::string::npos; ++i) pos = line.find(' ', pos + 1);
    if (pos == std::string::npos) continue;
    std::size_t end = line.find(' ', pos + 1);
    if (under(line.substr(pos + 1, end - pos - 1), dir)) return true;
  }
  return false;
}

void sleep_ms(int ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
}

// Unmounts `dir`, killing whatever still uses it; lazily as a last resort.
bool unmount_hard(const std::string& dir) {
  for (int i = 0; i < 50; ++i) {
    kill_users_of(dir);
    if (run({"umount", dir}).exit_code == 0) return true;
    sleep_ms(100);
  }
  (void)run({"umount", "-l", dir});
  return false;
}

// The janitor: records what is registered, undoes it at EOF.
[[noreturn]] void janitor_loop(int fd) {
  std::vector<std::pair<std::string, std::string>> items;
  std::string buf;
  char chunk[4096];
  for (;;) {
    ssize_t n = ::read(fd, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    buf.append(chunk, static_cast<std::size_t>(n));
    std::size_t nl;
    while ((nl = buf.find('\n')) != std::string::npos) {
      std::string line = buf.substr(0, nl);
      buf.erase(0, nl + 1);
      std::size_t sp = line.find(' ');
      if (line.size() < 2 || sp == std::string::npos) continue;
      std::pair<std::string, std::string> item{line.substr(1, sp - 1), line.substr(sp + 1)};
      if (line[0] == '+') {
        items.push_back(item);
      } else {
        auto it = std::find(items.rbegin(), items.rend(), item);
        if (it != items.rend()) items.erase(std::next(it).base());
      }
    }
  }
  for (const auto& [kind, value] : items) {
    if (kind == "pgid") ::kill(-std::stoi(value), SIGKILL);
  }
  for (const auto& [kind, value] : items) {
    if (kind == "freeze") (void)run({"fsfreeze", "-u", value});
  }
  for (auto it = items.rbegin(); it != items.rend(); ++it) {
    if (it->first == "mount") unmount_hard(it->second);
    if (it->first == "loop") (void)run({"losetup", "-d", it->second});
  }
  for (const auto& [kind, value] : items) {
    std::error_code ec;
    if (kind == "dir" && !mounted_under(value)) fs::remove_all(value, ec);
  }
  ::_exit(0);
}

}  // namespace

void start_janitor() {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
  pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    ::setsid();
    for (int s : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE}) ::signal(s, SIG_IGN);
    int null = ::open("/dev/null", O_RDWR);
    ::dup2(null, 0);
    ::dup2(null, 1);
    ::dup2(null, 2);
    ::close(p[1]);
    janitor_loop(p[0]);
  }
  ::close(p[0]);
  g_janitor_fd = p[1];
}

void janitor_note(const std::string& line) {
  if (g_janitor_fd < 0) return;
  const std::string l = line + "\n";
  (void)!::write(g_janitor_fd, l.data(), l.size());
}

RunResult must(const std::vector<std::string>& argv) {
  RunResult r = run(argv);
  if (r.exit_code != 0) {
    std::string cmd;
    for (const auto& a : argv) cmd += (cmd.empty() ? "" : " ") + a;
    throw std::runtime_error("`" + cmd + "` failed (exit " + std::to_string(r.exit_code) +
                             ", signal " + std::to_string(r.signal) + "): " + trim(r.err));
  }
  return r;
}

int kill_users_of(const std::string& dir) {
  int killed = 0;
  const std::string self = std::to_string(::getpid());
  DIR* d = ::opendir("/proc");
  if (d == nullptr) return 0;
  while (dirent* e = ::readdir(d)) {
    const std::string pid = e->d_name;
    if (pid.empty() || !std::all_of(pid.begin(), pid.end(), ::isdigit) || pid == self) continue;
    if (uses(pid, dir)) {
      ::kill(std::stoi(pid), SIGKILL);
      ++killed;
    }
  }
  ::closedir(d);
  return killed;
}

pid_t spawn_group(const std::vector<std::string>& argv, const std::string& out_file) {
  std::vector<std::string> args = argv;
  std::vector<char*> cargv;
  for (auto& a : args) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    ::setpgid(0, 0);
    int out = ::open(out_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int null = ::open("/dev/null", O_RDONLY);
    ::dup2(null, 0);
    ::dup2(out, 1);
    ::dup2(out, 2);
    ::execv(cargv[0], cargv.data());
    ::_exit(127);
  }
  ::setpgid(pid, pid);
  janitor_note("+pgid " + std::to_string(pid));
  return pid;
}

void kill_group(pid_t pid) {
  ::kill(-pid, SIGKILL);
}

int reap(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  janitor_note("-pgid " + std::to_string(pid));
  return status;
}

Rig::Rig(std::string root) : root_(std::move(root)), guest_(root_ + "/guest") {
  fs::create_directories(guest_);
}

Rig::~Rig() {
  try {
    if (frozen_) thaw();
    if (!guest_dev_.empty()) unmount_guest();
    if (!live_img_.empty()) fs::remove(live_img_);
    if (!host_dev_.empty()) {
      unmount(host_mnt_);
      detach(host_dev_);
    }
  } catch (const std::exception&) {
    // The janitor undoes what is left.
  }
}

std::string Rig::attach(const std::string& image) {
  std::string dev = trim(must({"losetup", "--direct-io=off", "-f", "--show", image}).out);
  janitor_note("+loop " + dev);
  return dev;
}

void Rig::detach(const std::string& dev) {
  must({"losetup", "-d", dev});
  janitor_note("-loop " + dev);
}

void Rig::mount(const std::string& dev, const std::string& dir, const std::string& options) {
  janitor_note("+mount " + dir);
  if (options.empty()) {
    must({"mount", dev, dir});
  } else {
    must({"mount", "-o", options, dev, dir});
  }
}

void Rig::unmount(const std::string& dir) {
  if (!unmount_hard(dir)) throw std::runtime_error("cannot unmount " + dir);
  janitor_note("-mount " + dir);
}

void Rig::make_host(int mib) {
  host_img_ = root_ + "/host.img";
  host_mnt_ = root_ + "/host";
  fs::create_directories(host_mnt_);
  must({"truncate", "-s", std::to_string(mib) + "M", host_img_});
  must({"mkfs.ext4", "-q", "-F", host_img_});
  host_dev_ = attach(host_img_);
  mount(host_dev_, host_mnt_, "noatime");
}

void Rig::make_image_and_mount(const std::string& path, int mib) {
  must({"truncate", "-s", std::to_string(mib) + "M", path});
  must({"mkfs.ext4", "-q", "-F", path});
  guest_dev_ = attach(path);
  mount(guest_dev_, guest_, "");
}

void Rig::unmount_guest() {
  unmount(guest_);
  std::string dev = std::exchange(guest_dev_, "");
  detach(dev);
}

void Rig::start_live(const std::string& image) {
  live_img_ = host_mnt_ + "/guest.img";
  must({"cp", "--sparse=always", image, live_img_});
  guest_dev_ = attach(live_img_);
  mount(guest_dev_, guest_, "");
}

void Rig::cut(const std::string& copy) {
  janitor_note("+freeze " + host_mnt_);
  frozen_ = true;
  must({"fsfreeze", "-f", host_mnt_});
  must({"cp", "--sparse=always", live_img_, copy});
}

void Rig::thaw() {
  must({"fsfreeze", "-u", host_mnt_});
  frozen_ = false;
  janitor_note("-freeze " + host_mnt_);
}

void Rig::stop_live() {
  unmount_guest();
  fs::remove(std::exchange(live_img_, ""));
}

int Rig::open_copy(const std::string& copy) {
  guest_dev_ = attach(copy);
  int rc = run({"e2fsck", "-fy", guest_dev_}).exit_code;
  mount(guest_dev_, guest_, "");
  return rc;
}

}  // namespace reftx::test::powercut
