// A long-lived `git update-ref --stdin` child driven with start / updates / prepare / commit /
// abort, so git takes part in reftx's two-phase commit.
//
// Liveness contract: a small keeper process holds exactly one descriptor (`inherit_fd`,
// typically the owner's flock) for as long as git runs, so the lock is released only when both
// the parent and git are gone; git itself (and its hooks) inherit only stdin/stdout/stderr.
// git runs with LC_ALL=C so that its messages can be classified.
// If the parent dies, git reads EOF: before `commit` it aborts and removes its locks; after
// `commit` it finishes the commit by itself (docs/facts.md, "git update-ref --stdin").
// Thread-safety: not thread-safe. Move-only. The destructor closes git's stdin and reaps it.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>

#include "git/git_errors.hpp"
#include "reftx/error.hpp"

namespace reftx::git {

struct UpdateRefConfig {
  std::string git_executable = "git";
  std::string git_dir;
  bool durable = true;  // -c core.fsync=reference: lock files are fsynced during prepare
  int inherit_fd = -1;  // descriptor the child keeps open (not close-on-exec), or -1
};

class UpdateRefProcess {
 public:
  static Result<UpdateRefProcess> spawn(const UpdateRefConfig& config);

  UpdateRefProcess(UpdateRefProcess&& other) noexcept;
  UpdateRefProcess& operator=(UpdateRefProcess&& other) noexcept;
  ~UpdateRefProcess();

  // True until git has exited (it exits after any failing verb, or may have been killed).
  bool alive();
  // Why the last verb failed (git_errors.hpp); none while nothing failed. GitCause::died: git
  // did not exit by itself (killed, crashed), so the lock files it held may be left behind.
  GitCause cause() const { return cause_; }

  // Writes raw protocol text. Never raises SIGPIPE.
  Status send(std::string_view text);
  // Waits for the "<verb>: ok" line. If git exits instead, reaps it and returns its stderr as
  // the message, with the kind of its cause (git::kind_of): conflict, locked or environment.
  Status expect_ok(std::string_view verb);

 private:
  UpdateRefProcess() = default;
  void shutdown();
  Error failure(std::string_view verb);
  pid_t pid_ = -1;
  int in_fd_ = -1;   // git's stdin (socket)
  int out_fd_ = -1;  // git's stdout (socket)
  int err_fd_ = -1;  // git's stderr (pipe)
  GitCause cause_ = GitCause::none;
  std::string out_buf_;
  std::string err_buf_;
};

}  // namespace reftx::git
