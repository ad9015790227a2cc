#include "replace_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace reftx_bench {
namespace {

[[noreturn]] void fail(const std::string& what, const std::string& path) {
  throw std::runtime_error(what + " '" + path + "': " + std::strerror(errno));
}

// Closes a descriptor on every exit.
class Fd {
 public:
  Fd(const std::string& path, int flags, mode_t mode = 0) : fd_(::open(path.c_str(), flags, mode)) {
    if (fd_ < 0) fail("cannot open", path);
  }
  ~Fd() { ::close(fd_); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

void write_all(int fd, std::string_view content, const std::string& path) {
  while (!content.empty()) {
    const ssize_t n = ::write(fd, content.data(), content.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail("cannot write", path);
    content.remove_prefix(static_cast<std::size_t>(n));
  }
}

std::string parent_of(const std::string& path) {
  const std::size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? std::string("/") : path.substr(0, slash);
}

}  // namespace

void replace_file(const std::string& path, std::string_view content, bool sync) {
  const std::string tmp = path + ".tmp";
  {
    Fd file(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    write_all(file.get(), content, tmp);
    if (sync && ::fsync(file.get()) != 0) fail("cannot fsync", tmp);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) fail("cannot rename over", path);
  if (!sync) return;
  const std::string dir = parent_of(path);
  Fd parent(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (::fsync(parent.get()) != 0) fail("cannot fsync", dir);
}

}  // namespace reftx_bench
