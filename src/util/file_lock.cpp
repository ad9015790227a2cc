#include "util/file_lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

#include "util/fs.hpp"

namespace reftx::util {

FileLock::FileLock(FileLock&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      held_(std::exchange(other.held_, false)),
      path_(std::move(other.path_)) {}

FileLock& FileLock::operator=(FileLock&& other) noexcept {
  if (this != &other) {
    release();
    fd_ = std::exchange(other.fd_, -1);
    held_ = std::exchange(other.held_, false);
    path_ = std::move(other.path_);
  }
  return *this;
}

FileLock::~FileLock() {
  release();
}

Result<FileLock> FileLock::acquire(const std::string& path, bool wait, bool shared) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0666);
  if (fd < 0) return errno_error("cannot open lock file '" + path + "'", errno);
  FileLock lock;
  lock.fd_ = fd;
  lock.path_ = path;
  int rc;
  do {
    rc = ::flock(fd, (shared ? LOCK_SH : LOCK_EX) | (wait ? 0 : LOCK_NB));
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) {
    if (errno == EWOULDBLOCK) return lock;  // held elsewhere
    return errno_error("cannot lock '" + path + "'", errno);
  }
  lock.held_ = true;
  return lock;
}

Result<FileLock> FileLock::open_existing(const std::string& path, bool wait) {
  FileLock lock;
  lock.path_ = path;
  int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return lock;
    return errno_error("cannot open lock file '" + path + "'", errno);
  }
  lock.fd_ = fd;
  int rc;
  do {
    rc = ::flock(fd, LOCK_EX | (wait ? 0 : LOCK_NB));
  } while (rc != 0 && errno == EINTR);
  if (rc == 0) {
    lock.held_ = true;
  } else if (errno != EWOULDBLOCK) {
    return errno_error("cannot lock '" + path + "'", errno);
  }
  return lock;
}

Result<FileLock> FileLock::try_existing(const std::string& path) {
  return open_existing(path, false);
}

Result<FileLock> FileLock::wait_existing(const std::string& path) {
  return open_existing(path, true);
}

void FileLock::remove_and_release() {
  if (held()) ::unlink(path_.c_str());
  release();
}

void FileLock::release() {
  if (fd_ >= 0) ::close(fd_);  // closing the last descriptor drops the flock
  fd_ = -1;
  held_ = false;
}

Status FileLock::make_exclusive() {
  int rc = 0;
  do {
    rc = ::flock(fd_, LOCK_EX);
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) {
    held_ = false;
    return errno_error("cannot lock '" + path_ + "'", errno);
  }
  held_ = true;
  return {};
}

}  // namespace reftx::util
