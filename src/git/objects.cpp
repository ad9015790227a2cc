// Object database access for working-tree files: blob types, hashing and storing file content,
// streaming blob content out. See repository.hpp for the contracts.
#include <fcntl.h>
#include <git2.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <vector>

#include "git/repository.hpp"
#include "util/fs.hpp"

namespace reftx::git {
namespace {

constexpr std::size_t kChunk = std::size_t{1} << 20;
// Above this size a blob that libgit2 cannot stream (packed) is read through `git cat-file`.
constexpr std::size_t kInMemoryLimit = std::size_t{8} << 20;

struct OdbDeleter {
  void operator()(git_odb* odb) const { git_odb_free(odb); }
};
using OdbPtr = std::unique_ptr<git_odb, OdbDeleter>;

struct StreamDeleter {
  void operator()(git_odb_stream* s) const { git_odb_stream_free(s); }
};
using StreamPtr = std::unique_ptr<git_odb_stream, StreamDeleter>;

Result<OdbPtr> open_odb(git_repository* repo) {
  git_odb* odb = nullptr;
  int rc = git_repository_odb(&odb, repo);
  if (rc != 0) return libgit2_error("git_repository_odb", rc);
  return OdbPtr(odb);
}

std::string to_hex(const git_oid& oid) {
  char hex[GIT_OID_HEXSZ + 1] = {};
  git_oid_tostr(hex, sizeof hex, &oid);
  return hex;
}

// Runs `git cat-file blob <oid>` with its stdout copied to `fd`.
Status cat_file(const std::string& git, const std::string& git_dir, const std::string& oid,
                int fd) {
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) return util::errno_error("pipe", errno);
  util::UniqueFd read_end(pipe_fds[0]), write_end(pipe_fds[1]);
  const std::string git_dir_arg = "--git-dir=" + git_dir;
  std::vector<const char*> argv = {git.c_str(), git_dir_arg.c_str(), "cat-file", "blob",
                                   oid.c_str(), nullptr};
  pid_t pid = ::fork();
  if (pid < 0) return util::errno_error("fork", errno);
  if (pid == 0) {
    ::dup2(write_end.get(), STDOUT_FILENO);
    ::execvp(argv[0], const_cast<char* const*>(argv.data()));
    ::_exit(127);
  }
  write_end = util::UniqueFd();
  std::vector<char> buf(kChunk);
  Status copied;
  for (;;) {
    ssize_t n = ::read(read_end.get(), buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      copied = util::errno_error("read from git cat-file", errno);
      break;
    }
    if (n == 0) break;
    if (copied = util::write_all(fd, buf.data(), static_cast<std::size_t>(n)); !copied) break;
  }
  read_end = util::UniqueFd();
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!copied) return copied;
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return Error{ErrorKind::environment, "git cat-file blob " + oid + " failed"};
  }
  return {};
}

}  // namespace

Result<std::string> Repository::object_type(const std::string& oid_hex) {
  git_oid oid;
  if (git_oid_fromstr(&oid, oid_hex.c_str()) != 0) {
    return Error{ErrorKind::invalid_input, "bad object id '" + oid_hex + "'"};
  }
  auto odb = open_odb(repo_);
  if (!odb) return odb.error();
  std::size_t size = 0;
  git_object_t type = GIT_OBJECT_INVALID;
  int rc = git_odb_read_header(&size, &type, odb.value().get(), &oid);
  if (rc == GIT_ENOTFOUND && git_odb_refresh(odb.value().get()) == 0) {
    rc = git_odb_read_header(&size, &type, odb.value().get(), &oid);
  }
  if (rc == GIT_ENOTFOUND) {
    return Error{ErrorKind::not_found, "object " + oid_hex + " does not exist"};
  }
  if (rc != 0) return libgit2_error("git_odb_read_header", rc);
  return std::string(git_object_type2string(type));
}

Result<std::string> Repository::write_blob(std::string_view content) {
  auto odb = open_odb(repo_);
  if (!odb) return odb.error();
  git_oid oid;
  int rc = git_odb_write(&oid, odb.value().get(), content.data(), content.size(), GIT_OBJECT_BLOB);
  if (rc != 0) return libgit2_error("git_odb_write", rc);
  return to_hex(oid);
}

Result<std::string> Repository::hash_file(int fd) {
  // The /proc path reopens this very file: no path lookup, no symlink to follow.
  const std::string self = "/proc/self/fd/" + std::to_string(fd);
  git_oid oid;
  int rc = git_odb_hashfile(&oid, self.c_str(), GIT_OBJECT_BLOB);
  if (rc != 0) return libgit2_error("git_odb_hashfile", rc);
  return to_hex(oid);
}

Status Repository::store_file(int fd, const std::string& hash) {
  auto odb = open_odb(repo_);
  if (!odb) return odb.error();
  git_oid oid;
  if (git_oid_fromstr(&oid, hash.c_str()) != 0) {
    return Error{ErrorKind::invalid_input, "bad object id '" + hash + "'"};
  }
  if (git_odb_exists(odb.value().get(), &oid) == 1) return {};

  struct stat st {};
  if (::fstat(fd, &st) != 0) return util::errno_error("fstat", errno);
  git_odb_stream* raw = nullptr;
  int rc = git_odb_open_wstream(&raw, odb.value().get(), static_cast<git_object_size_t>(st.st_size),
                                GIT_OBJECT_BLOB);
  if (rc != 0) return libgit2_error("git_odb_open_wstream", rc);
  StreamPtr stream(raw);
  std::vector<char> buf(kChunk);
  off_t offset = 0;
  while (offset < st.st_size) {
    ssize_t n = ::pread(fd, buf.data(), buf.size(), offset);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return util::errno_error("read", errno);
    if (n == 0) break;
    rc = git_odb_stream_write(stream.get(), buf.data(), static_cast<std::size_t>(n));
    if (rc != 0) return libgit2_error("git_odb_stream_write", rc);
    offset += n;
  }
  rc = git_odb_stream_finalize_write(&oid, stream.get());
  struct stat after {};
  if (rc != 0 && ::fstat(fd, &after) == 0 && after.st_size == st.st_size) {
    return libgit2_error("git_odb_stream_finalize_write", rc);
  }
  if (rc != 0) {
    return Error{ErrorKind::conflict, "file changed while its old content was being saved"};
  }
  if (to_hex(oid) != hash) {
    return Error{ErrorKind::conflict, "file changed while its old content was being saved"};
  }
  return {};
}

Status Repository::make_durable(const std::string& oid_hex) {
  const std::string objects = common_dir_ + "/objects";
  const std::string dir = objects + "/" + oid_hex.substr(0, 2);
  util::UniqueFd fd(::open((dir + "/" + oid_hex.substr(2)).c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    if (errno == ENOENT) return {};  // packed (or in an alternate): not ours to sync
    return util::errno_error("cannot open object " + oid_hex, errno);
  }
  if (Status s = util::fsync_fd(fd.get(), "object " + oid_hex); !s) return s;
  if (Status s = util::fsync_dir(dir); !s) return s;
  return util::fsync_dir(objects);
}

Status Repository::copy_blob(const std::string& oid_hex, int fd, const std::string& git) {
  git_oid oid;
  if (git_oid_fromstr(&oid, oid_hex.c_str()) != 0) {
    return Error{ErrorKind::invalid_input, "bad object id '" + oid_hex + "'"};
  }
  auto odb = open_odb(repo_);
  if (!odb) return odb.error();
  git_odb_stream* raw = nullptr;
  std::size_t len = 0;
  git_object_t type = GIT_OBJECT_INVALID;
  if (git_odb_open_rstream(&raw, &len, &type, odb.value().get(), &oid) == 0) {
    StreamPtr stream(raw);
    std::vector<char> buf(kChunk);
    for (;;) {
      int n = git_odb_stream_read(stream.get(), buf.data(), buf.size());
      if (n < 0) return libgit2_error("git_odb_stream_read", n);
      if (n == 0) return {};
      if (Status s = util::write_all(fd, buf.data(), static_cast<std::size_t>(n)); !s) return s;
    }
  }
  // Not streamable by libgit2 (packed): small blobs in memory, large ones through git.
  int rc = git_odb_read_header(&len, &type, odb.value().get(), &oid);
  if (rc != 0) return libgit2_error("git_odb_read_header", rc);
  if (len > kInMemoryLimit) return cat_file(git, git_dir_, oid_hex, fd);
  git_odb_object* object = nullptr;
  rc = git_odb_read(&object, odb.value().get(), &oid);
  if (rc != 0) return libgit2_error("git_odb_read", rc);
  Status s = util::write_all(fd, static_cast<const char*>(git_odb_object_data(object)),
                             git_odb_object_size(object));
  git_odb_object_free(object);
  return s;
}

}  // namespace reftx::git
