#include "core/git_session.hpp"

namespace reftx::core {

Status GitSession::checked(Status status) {
  if (status) return status;
  cause_ = process_ ? process_->cause() : git::GitCause::other;
  if (cause_ == git::GitCause::none) cause_ = git::GitCause::other;
  process_.reset();  // never reuse a child in an unknown state
  open_ = false;
  return status;
}

Status GitSession::start(const std::string& lines) {
  cause_ = git::GitCause::none;
  if (!process_ || !process_->alive()) {
    process_.reset();
    auto spawned = git::UpdateRefProcess::spawn(config_);
    if (!spawned) return checked(spawned.error());
    process_ = std::move(spawned).value();
  }
  open_ = true;
  return checked(process_->send("start\n" + lines));
}

namespace {
Error not_running() {
  return Error{ErrorKind::environment, "git update-ref is not running"};
}
}  // namespace

Status GitSession::prepare() {
  if (!process_) return checked(not_running());
  Status s = process_->send("prepare\n");
  if (s) s = process_->expect_ok("start");
  if (s) s = process_->expect_ok("prepare");
  return checked(s);
}

Status GitSession::send_commit() {
  if (!process_) return checked(not_running());
  return checked(process_->send("commit\n"));
}

Status GitSession::await_commit() {
  if (!process_) return checked(not_running());
  Status s = checked(process_->expect_ok("commit"));
  if (s) open_ = false;
  return s;
}

void GitSession::abort() {
  if (!open_) return;
  process_.reset();  // EOF: git aborts and removes its locks; the destructor reaps it
  open_ = false;
}

}  // namespace reftx::core
