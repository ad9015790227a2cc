// The Store's long-lived `git update-ref --stdin` child: one git transaction at a time, the
// participant of the commit protocol (docs/protocol.md, "Commit, step by step").
//
// git is started on first use and again after it has exited. After any failed verb the child is
// gone (git exits after a failure); cause() says why (git/git_errors.hpp), in particular
// GitCause::died when its locks may be left behind.
// Thread-safety: not thread-safe; owned by a Store and used under its mutex. Move-only.
#pragma once

#include <optional>
#include <string>

#include "git/update_ref_process.hpp"
#include "reftx/error.hpp"

namespace reftx::core {

class GitSession {
 public:
  explicit GitSession(git::UpdateRefConfig config) : config_(std::move(config)) {}

  // Starts git if it is not running, then sends `start` and `lines` (update-ref commands).
  Status start(const std::string& lines);
  // Sends `prepare` and reads `start: ok` and `prepare: ok`: git then holds every lock.
  Status prepare();
  // Sends `commit`; await_commit() reads `commit: ok`.
  Status send_commit();
  Status await_commit();
  // Ends an open git transaction by closing git's stdin: git aborts it, releases its locks and
  // exits; returns once it has. Nothing happens when no transaction is open.
  void abort();

  git::GitCause cause() const { return cause_; }

 private:
  Status checked(Status status);
  git::UpdateRefConfig config_;
  std::optional<git::UpdateRefProcess> process_;
  bool open_ = false;  // a git transaction was started and not ended
  git::GitCause cause_ = git::GitCause::none;
};

}  // namespace reftx::core
