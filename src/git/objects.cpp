// Object database access for working-tree files: blob types, hashing and storing file content,
// streaming blob content out. See repository.hpp for the contracts.
#include <fcntl.h>
#include <git2.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <memory>
#include <set>
#include <vector>

#include "git/repository.hpp"
#include "util/fs.hpp"

namespace reftx::git {
namespace {

constexpr std::size_t kChunk = std::size_t{1} << 20;

// An uninitialized buffer of min(kChunk, hint) bytes (at least 4 KiB): small files never pay
// for zeroing a large buffer.
std::unique_ptr<char[]> chunk_buffer(std::size_t hint, std::size_t& size) {
  size = std::clamp<std::size_t>(hint, 4096, kChunk);
  return std::make_unique_for_overwrite<char[]>(size);
}
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

// Runs `git cat-file blob <oid>` with its stdout copied to `fd`. git streams a packed blob only
// above core.bigFileThreshold and maps packs in core.packedGitWindowSize windows kept up to
// core.packedGitLimit (defaults: 512 MiB, 1 GiB, 8 GiB): small values keep its memory bounded.
Status cat_file(const std::string& git, const std::string& git_dir, const std::string& oid,
                int fd) {
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) return util::errno_error("pipe", errno);
  util::UniqueFd read_end(pipe_fds[0]), write_end(pipe_fds[1]);
  const std::string git_dir_arg = "--git-dir=" + git_dir;
  std::vector<const char*> argv = {git.c_str(), git_dir_arg.c_str()};
  for (const char* setting :
       {"core.bigFileThreshold=1m", "core.packedGitWindowSize=1m", "core.packedGitLimit=4m"}) {
    argv.insert(argv.end(), {"-c", setting});
  }
  argv.insert(argv.end(), {"cat-file", "blob", oid.c_str(), nullptr});
  pid_t pid = ::fork();
  if (pid < 0) return util::errno_error("fork", errno);
  if (pid == 0) {
    ::dup2(write_end.get(), STDOUT_FILENO);
    ::execvp(argv[0], const_cast<char* const*>(argv.data()));
    ::_exit(127);
  }
  write_end = util::UniqueFd();
  std::size_t buf_size = 0;
  auto buf = chunk_buffer(kChunk, buf_size);
  Status copied;
  for (;;) {
    ssize_t n = ::read(read_end.get(), buf.get(), buf_size);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      copied = util::errno_error("read from git cat-file", errno);
      break;
    }
    if (n == 0) break;
    if (copied = util::write_all(fd, buf.get(), static_cast<std::size_t>(n)); !copied) break;
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

// Copies the content of the loose blob object open at `object` (zlib: "blob <size>\0" then the
// content) to `fd`, reading and inflating one chunk at a time. libgit2's loose read stream and
// `git cat-file` both mmap the whole object file, which makes their resident size grow with it.
Status copy_loose_blob(int object, const std::string& oid, int fd) {
  z_stream z{};
  if (inflateInit(&z) != Z_OK) return Error{ErrorKind::environment, "inflateInit failed"};
  std::unique_ptr<z_stream, int (*)(z_stream*)> guard(&z, inflateEnd);
  const auto corrupt = [&oid](const std::string& why) {
    return Error{ErrorKind::environment, "loose object " + oid + " is corrupt: " + why};
  };
  struct stat st {};
  if (::fstat(object, &st) != 0) return util::errno_error("cannot stat loose object " + oid, errno);
  const auto compressed = static_cast<std::size_t>(st.st_size);
  std::size_t in_size = 0, out_size = 0;
  auto in_buf = chunk_buffer(compressed, in_size);
  auto out_buf = chunk_buffer(compressed * 8, out_size);
  auto* in = reinterpret_cast<unsigned char*>(in_buf.get());
  auto* out = reinterpret_cast<unsigned char*>(out_buf.get());
  std::string header;  // until its NUL has been seen
  bool in_header = true;
  std::uint64_t size = 0;  // from the header
  std::uint64_t written = 0;
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    if (z.avail_in == 0) {
      ssize_t n = ::read(object, in, in_size);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return util::errno_error("cannot read loose object " + oid, errno);
      if (n == 0) return corrupt("truncated");
      z.next_in = in;
      z.avail_in = static_cast<uInt>(n);
    }
    z.next_out = out;
    z.avail_out = static_cast<uInt>(out_size);
    rc = inflate(&z, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END && (rc != Z_BUF_ERROR || z.avail_in != 0)) {
      return corrupt(z.msg ? z.msg : "zlib");
    }
    const char* data = reinterpret_cast<const char*>(out);
    std::size_t len = out_size - z.avail_out;
    if (in_header) {
      const char* nul = static_cast<const char*>(std::memchr(data, '\0', len));
      header.append(data, nul ? static_cast<std::size_t>(nul - data) : len);
      if (header.size() > 64) return corrupt("bad header");
      if (!nul) continue;
      if (!header.starts_with("blob ")) return corrupt("not a blob");
      const char* first = header.data() + 5;
      const char* last = header.data() + header.size();
      auto [end, ec] = std::from_chars(first, last, size);
      if (ec != std::errc() || end != last || first == last) return corrupt("bad header");
      in_header = false;
      len -= static_cast<std::size_t>(nul + 1 - data);
      data = nul + 1;
    }
    if (len > size - written) return corrupt("longer than its header says");
    if (Status s = util::write_all(fd, data, len); !s) return s;
    written += len;
  }
  if (in_header || written != size) return corrupt("shorter than its header says");
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
  std::size_t buf_size = 0;
  auto buf = chunk_buffer(static_cast<std::size_t>(st.st_size), buf_size);
  off_t offset = 0;
  while (offset < st.st_size) {
    ssize_t n = ::pread(fd, buf.get(), buf_size, offset);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return util::errno_error("read", errno);
    if (n == 0) break;
    rc = git_odb_stream_write(stream.get(), buf.get(), static_cast<std::size_t>(n));
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

Status Repository::make_durable(const std::vector<std::string>& oids) {
  const std::string objects = common_dir_ + "/objects";
  std::set<std::string> dirs;
  std::vector<std::string> synced;
  for (const std::string& oid_hex : oids) {
    const std::string dir = objects + "/" + oid_hex.substr(0, 2);
    util::UniqueFd fd(::open((dir + "/" + oid_hex.substr(2)).c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.valid()) {
      if (errno == ENOENT) continue;  // packed (or in an alternate): not ours to sync
      return util::errno_error("cannot open object " + oid_hex, errno);
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0)
      return util::errno_error("cannot stat object " + oid_hex, errno);
    // The same object file (not one pruned and written again) was made durable before.
    std::string key = oid_hex + ":" + std::to_string(st.st_ino) + ":" +
                      std::to_string(st.st_mtim.tv_sec) + "." + std::to_string(st.st_mtim.tv_nsec);
    if (durable_objects_.count(key)) continue;
    if (Status s = util::fsync_fd(fd.get(), "object " + oid_hex); !s) return s;
    dirs.insert(dir);
    synced.push_back(std::move(key));
  }
  for (const std::string& dir : dirs) {
    if (Status s = util::fsync_dir(dir); !s) return s;
  }
  if (!dirs.empty()) {
    if (Status s = util::fsync_dir(objects); !s) return s;
  }
  if (durable_objects_.size() + synced.size() > kDurableObjectsRemembered) durable_objects_.clear();
  durable_objects_.insert(synced.begin(), synced.end());
  return {};
}

Status Repository::copy_blob(const std::string& oid_hex, int fd, const std::string& git) {
  git_oid oid;
  if (git_oid_fromstr(&oid, oid_hex.c_str()) != 0) {
    return Error{ErrorKind::invalid_input, "bad object id '" + oid_hex + "'"};
  }
  const std::string loose =
      common_dir_ + "/objects/" + oid_hex.substr(0, 2) + "/" + oid_hex.substr(2);
  util::UniqueFd loose_fd(::open(loose.c_str(), O_RDONLY | O_CLOEXEC));
  if (loose_fd.valid()) return copy_loose_blob(loose_fd.get(), oid_hex, fd);
  if (errno != ENOENT) return util::errno_error("cannot open loose object " + oid_hex, errno);
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
