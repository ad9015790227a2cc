// RAII flock(2) on a file. The lock dies with the last process holding the descriptor, so a
// SIGKILLed owner releases it at once. Descriptors are O_CLOEXEC: a child process keeps the
// lock only when it is handed the descriptor explicitly (git::UpdateRefConfig::inherit_fd).
// Not thread-safe; move-only.
#pragma once

#include <string>

#include "reftx/error.hpp"

namespace reftx::util {

class FileLock {
 public:
  FileLock() = default;
  FileLock(FileLock&& other) noexcept;
  FileLock& operator=(FileLock&& other) noexcept;
  ~FileLock();

  // Opens (creating) `path` and takes an exclusive lock, waiting if `wait`.
  // Returns a lock with held() == false if !wait and another process holds it.
  // `shared`: LOCK_SH instead of LOCK_EX.
  static Result<FileLock> acquire(const std::string& path, bool wait, bool shared = false);

  // Opens an existing file and tries the exclusive lock without waiting.
  // nullopt-like: held() false and exists() false when the file does not exist.
  static Result<FileLock> try_existing(const std::string& path);
  // Opens an existing file and waits for the exclusive lock. exists() false if there is no file.
  static Result<FileLock> wait_existing(const std::string& path);

  bool held() const { return fd_ >= 0 && held_; }
  bool exists() const { return fd_ >= 0; }
  int fd() const { return fd_; }
  const std::string& path() const { return path_; }

  // Turns a held shared lock into an exclusive one, waiting for other holders to let go.
  // Not atomic (flock(2)): another process may take the lock in between, so the caller must
  // not rely on anything the shared hold protected continuing to hold.
  Status make_exclusive();

  // Unlinks the file while still holding the lock, then releases it.
  void remove_and_release();
  void release();

 private:
  static Result<FileLock> open_existing(const std::string& path, bool wait);
  int fd_ = -1;
  bool held_ = false;
  std::string path_;
};

}  // namespace reftx::util
