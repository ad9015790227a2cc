#include "git/update_ref_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <string_view>
#include <utility>
#include <vector>

#include "git/git_errors.hpp"
#include "util/fs.hpp"

namespace reftx::git {
namespace {

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

// argv of `git update-ref --stdin` for `config`.
std::vector<std::string> git_arguments(const UpdateRefConfig& config) {
  std::vector<std::string> args = {config.git_executable, "--git-dir=" + config.git_dir};
  if (config.durable) {
    args.push_back("-c");
    args.push_back("core.fsync=reference");
  }
  for (const char* a : {"update-ref", "-m", "reftx", "--stdin"}) args.emplace_back(a);
  return args;
}

// This process's environment with LC_ALL=C: git's messages are classified (git_errors.hpp), so
// they must stay untranslated.
std::vector<std::string> git_environment() {
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string_view var(*e);
    if (var.starts_with("LC_") || var.starts_with("LANG=") || var.starts_with("LANGUAGE=")) {
      continue;
    }
    env.emplace_back(var);
  }
  env.emplace_back("LC_ALL=C");
  return env;
}

std::vector<char*> pointers(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (auto& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

// The keeper, in the forked child: holds `keep` (and nothing else) exactly as long as git runs,
// so that neither git's hooks nor their descendants inherit the liveness lock. Only
// async-signal-safe calls. Never returns.
[[noreturn]] void run_keeper(const int (&in_pair)[2], const int (&out_pair)[2],
                             const int (&err_pipe)[2], char* const* argv, char* const* envp,
                             int keep) {
  pid_t git = ::fork();
  if (git == 0) {
    ::dup2(in_pair[1], 0);
    ::dup2(out_pair[1], 1);
    ::dup2(err_pipe[1], 2);
    ::close_range(3, ~0U, 0);
    ::execvpe(argv[0], argv, envp);
    ::_exit(127);
  }
  if (keep > 0) ::close_range(0, static_cast<unsigned>(keep - 1), 0);
  ::close_range(static_cast<unsigned>(keep + 1), ~0U, 0);  // keep < 0: closes everything
  if (git < 0) ::_exit(127);
  int status = 0;
  while (::waitpid(git, &status, 0) < 0 && errno == EINTR) {
  }
  ::_exit(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
}

void close_all(std::initializer_list<int> fds) {
  for (int fd : fds) ::close(fd);
}

}  // namespace

Result<UpdateRefProcess> UpdateRefProcess::spawn(const UpdateRefConfig& config) {
  int in_pair[2], out_pair[2], err_pipe[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in_pair) != 0) {
    return util::errno_error("socketpair", errno);
  }
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, out_pair) != 0) {
    int err = errno;
    close_all({in_pair[0], in_pair[1]});
    return util::errno_error("socketpair", err);
  }
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) {
    int err = errno;
    close_all({in_pair[0], in_pair[1], out_pair[0], out_pair[1]});
    return util::errno_error("pipe", err);
  }
  std::vector<std::string> args = git_arguments(config);
  std::vector<std::string> env = git_environment();
  std::vector<char*> argv = pointers(args);
  std::vector<char*> envp = pointers(env);
  pid_t pid = ::fork();
  if (pid < 0) {
    int err = errno;
    close_all({in_pair[0], in_pair[1], out_pair[0], out_pair[1], err_pipe[0], err_pipe[1]});
    return util::errno_error("fork", err);
  }
  if (pid == 0)
    run_keeper(in_pair, out_pair, err_pipe, argv.data(), envp.data(), config.inherit_fd);
  close_all({in_pair[1], out_pair[1], err_pipe[1]});
  UpdateRefProcess p;
  p.pid_ = pid;
  p.in_fd_ = in_pair[0];
  p.out_fd_ = out_pair[0];
  p.err_fd_ = err_pipe[0];
  return p;
}

UpdateRefProcess::UpdateRefProcess(UpdateRefProcess&& o) noexcept
    : pid_(std::exchange(o.pid_, -1)),
      in_fd_(std::exchange(o.in_fd_, -1)),
      out_fd_(std::exchange(o.out_fd_, -1)),
      err_fd_(std::exchange(o.err_fd_, -1)),
      cause_(std::exchange(o.cause_, GitCause::none)),
      out_buf_(std::move(o.out_buf_)),
      err_buf_(std::move(o.err_buf_)) {}

UpdateRefProcess& UpdateRefProcess::operator=(UpdateRefProcess&& o) noexcept {
  if (this != &o) {
    shutdown();
    pid_ = std::exchange(o.pid_, -1);
    in_fd_ = std::exchange(o.in_fd_, -1);
    out_fd_ = std::exchange(o.out_fd_, -1);
    err_fd_ = std::exchange(o.err_fd_, -1);
    cause_ = std::exchange(o.cause_, GitCause::none);
    out_buf_ = std::move(o.out_buf_);
    err_buf_ = std::move(o.err_buf_);
  }
  return *this;
}

UpdateRefProcess::~UpdateRefProcess() {
  shutdown();
}

bool UpdateRefProcess::alive() {
  if (pid_ <= 0) return false;
  int status = 0;
  if (::waitpid(pid_, &status, WNOHANG) == pid_) {  // died while idle
    pid_ = -1;
    close_fd(in_fd_);
    close_fd(out_fd_);
    close_fd(err_fd_);
    const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    cause_ = code != 0 ? GitCause::died : GitCause::other;
    return false;
  }
  return true;
}

void UpdateRefProcess::shutdown() {
  close_fd(in_fd_);  // EOF: git aborts an open transaction and exits
  close_fd(out_fd_);
  close_fd(err_fd_);
  if (pid_ > 0) {
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
  }
  pid_ = -1;
}

Status UpdateRefProcess::send(std::string_view text) {
  if (pid_ <= 0) return Error{ErrorKind::environment, "git update-ref is not running"};
  // A new transaction: what git said during earlier ones must not taint this one's errors.
  if (text.starts_with("start\n")) err_buf_.clear();
  while (!text.empty()) {
    ssize_t n = ::send(in_fd_, text.data(), text.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EPIPE || errno == ECONNRESET) return failure("write");
      return util::errno_error("write to git update-ref", errno);
    }
    text.remove_prefix(static_cast<std::size_t>(n));
  }
  return {};
}

Status UpdateRefProcess::expect_ok(std::string_view verb) {
  if (pid_ <= 0) return Error{ErrorKind::environment, "git update-ref is not running"};
  const std::string expected = std::string(verb) + ": ok";
  for (;;) {
    auto nl = out_buf_.find('\n');
    if (nl != std::string::npos) {
      std::string line = out_buf_.substr(0, nl);
      out_buf_.erase(0, nl + 1);
      if (line == expected) return {};
      cause_ = GitCause::other;
      return Error{ErrorKind::environment, "unexpected reply from git update-ref: '" + line + "'"};
    }
    pollfd fds[2] = {{out_fd_, POLLIN, 0}, {err_fd_, POLLIN, 0}};
    int nfds = err_fd_ >= 0 ? 2 : 1;
    if (::poll(fds, static_cast<nfds_t>(nfds), -1) < 0) {
      if (errno == EINTR) continue;
      return util::errno_error("poll", errno);
    }
    char buf[4096];
    if (nfds == 2 && (fds[1].revents & (POLLIN | POLLHUP))) {
      ssize_t n = ::read(err_fd_, buf, sizeof buf);
      if (n > 0) {
        err_buf_.append(buf, static_cast<std::size_t>(n));
      } else if (n == 0) {
        close_fd(err_fd_);
      }
    }
    if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t n = ::read(out_fd_, buf, sizeof buf);
      if (n > 0) {
        out_buf_.append(buf, static_cast<std::size_t>(n));
      } else if (n == 0 || (n < 0 && errno != EINTR)) {
        return failure(verb);
      }
    }
  }
}

Error UpdateRefProcess::failure(std::string_view verb) {
  // git exited (or is exiting): collect the rest of its stderr, then reap it.
  char buf[4096];
  while (err_fd_ >= 0) {
    ssize_t n = ::read(err_fd_, buf, sizeof buf);
    if (n > 0) {
      err_buf_.append(buf, static_cast<std::size_t>(n));
    } else if (n == 0 || errno != EINTR) {
      close_fd(err_fd_);
    }
  }
  int status = 0;
  if (pid_ > 0) {
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
  }
  pid_ = -1;
  close_fd(in_fd_);
  close_fd(out_fd_);
  std::string err = trim(std::move(err_buf_));
  err_buf_.clear();
  if (err.rfind("fatal: ", 0) == 0) err.erase(0, 7);
  const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  if (code == 127 && err.empty()) {
    cause_ = GitCause::other;
    return Error{ErrorKind::environment, "cannot run git update-ref (exit 127)"};
  }
  if (code != 128 && code != 0) {
    // Killed (or crashed): it cannot have released its locks. Never a plain refusal.
    cause_ = GitCause::died;
    return Error{ErrorKind::environment, "git update-ref died during " + std::string(verb) +
                                             " (exit " + std::to_string(code) + ")" +
                                             (err.empty() ? "" : ": " + err)};
  }
  if (err.empty()) {
    err = "git update-ref exited during " + std::string(verb) + " (status " +
          std::to_string(status) + ")";
  }
  cause_ = classify_refusal(err);
  return Error{kind_of(cause_), err};
}

}  // namespace reftx::git
