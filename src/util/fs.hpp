// Small POSIX file helpers. All paths are absolute or relative to the cwd.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "reftx/error.hpp"

namespace reftx::util {

// Error of kind environment: "<what>: <strerror(err)>".
Error errno_error(const std::string& what, int err);

// fsync(2) of a directory, so that renames and unlinks inside it are durable.
// A missing directory, or a path that is not one, is not an error (nothing to make durable).
Status fsync_dir(const std::string& path);

// Creates the directory and its parents (mode 0777 & ~umask). Existing is fine.
Status make_dirs(const std::string& path);

// Whole content of a small file; nullopt if it does not exist. Other errors -> environment.
Result<std::optional<std::string>> read_file(const std::string& path);

// Modification time in ns since the epoch; nullopt if the file does not exist.
std::optional<std::int64_t> mtime_ns(const std::string& path);

// unlink(2); a missing file is not an error.
Status remove_file(const std::string& path);

// Writes all of [data, data+size) to fd, retrying short writes and EINTR.
Status write_all(int fd, const char* data, std::size_t size);

// fsync(2) of an open file or directory.
Status fsync_fd(int fd, const std::string& what);

// An owned file descriptor, closed on destruction. Move-only.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& o) noexcept : fd_(o.release()) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept;
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd();
  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }

 private:
  int fd_ = -1;
};

// CLOCK_REALTIME in nanoseconds.
std::int64_t now_ns();

// "a/b/c" -> "a/b"; "c" -> ".".
std::string parent_dir(const std::string& path);

}  // namespace reftx::util
