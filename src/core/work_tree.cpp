#include "core/work_tree.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <strings.h>
#include <cerrno>
#include <cstring>

namespace reftx::core {
namespace {

constexpr int kDirFlags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;

Error bad_path(const std::string& path, const std::string& what) {
  return Error{ErrorKind::invalid_input, "path '" + path + "' " + what};
}

std::string join(const std::vector<std::string>& parts, std::size_t count) {
  std::string out;
  for (std::size_t i = 0; i < count; ++i) out += (i ? "/" : "") + parts[i];
  return out;
}

// Why openat(dir, name, O_NOFOLLOW|O_DIRECTORY) failed, as an error naming the component.
// (With O_DIRECTORY, Linux reports a symbolic link as ENOTDIR rather than ELOOP.)
Error open_error(int dir, const std::string& name, const std::string& path,
                 const std::string& prefix, int err) {
  struct stat st {};
  if (err == ENOTDIR && ::fstatat(dir, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
      S_ISLNK(st.st_mode)) {
    err = ELOOP;
  }
  if (err == ELOOP) return bad_path(path, "passes through the symbolic link '" + prefix + "'");
  if (err == ENOTDIR) return bad_path(path, "passes through '" + prefix + "', not a directory");
  return util::errno_error("cannot open directory '" + prefix + "'", err);
}

Result<util::UniqueFd> open_root(const std::string& root) {
  util::UniqueFd fd(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) return util::errno_error("cannot open work tree '" + root + "'", errno);
  return fd;
}

}  // namespace

std::string path_problem(std::string_view path) {
  if (path.empty()) return "is empty";
  if (path.find('\0') != std::string_view::npos) return "contains a NUL byte";
  if (path.front() == '/') return "is absolute (paths are relative to the work tree)";
  if (path.back() == '/') return "ends with '/' (names a directory)";
  std::size_t start = 0;
  std::string_view last;
  while (start <= path.size()) {
    std::size_t slash = path.find('/', start);
    std::string_view part =
        path.substr(start, slash == std::string_view::npos ? path.npos : slash - start);
    if (part.empty()) return "contains an empty component ('//')";
    if (part == ".") return "contains a '.' component";
    if (part == "..") return "contains '..'";
    if (part.size() == 4 && ::strncasecmp(part.data(), ".git", 4) == 0) {
      return "names something inside .git";
    }
    last = part;
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  if (is_reserved_name(last)) return "uses a name reserved for reftx temp files (.reftx-*)";
  return {};
}

std::vector<std::string> path_components(const std::string& path) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  for (;;) {
    std::size_t slash = path.find('/', start);
    parts.push_back(path.substr(start, slash == std::string::npos ? slash : slash - start));
    if (slash == std::string::npos) return parts;
    start = slash + 1;
  }
}

std::string temp_name(std::uint64_t id, std::size_t index) {
  return ".reftx-" + std::to_string(id) + "-" + std::to_string(index) + ".tmp";
}

bool is_reserved_name(std::string_view basename) {
  return basename.starts_with(".reftx-");
}

Result<std::optional<util::UniqueFd>> open_parent(const std::string& root, const std::string& path,
                                                  bool create, bool durable) {
  auto dir = open_root(root);
  if (!dir) return dir.error();
  util::UniqueFd current = std::move(dir).value();
  const std::vector<std::string> parts = path_components(path);
  for (std::size_t i = 0; i + 1 < parts.size(); ++i) {
    util::UniqueFd next(::openat(current.get(), parts[i].c_str(), kDirFlags));
    if (!next.valid() && errno == ENOENT) {
      if (!create) return std::optional<util::UniqueFd>{};
      if (::mkdirat(current.get(), parts[i].c_str(), 0777) != 0 && errno != EEXIST) {
        return util::errno_error("cannot create directory '" + join(parts, i + 1) + "'", errno);
      }
      if (durable) {
        if (Status s = util::fsync_fd(current.get(), "directory of '" + path + "'"); !s) {
          return s.error();
        }
      }
      next = util::UniqueFd(::openat(current.get(), parts[i].c_str(), kDirFlags));
    }
    if (!next.valid()) return open_error(current.get(), parts[i], path, join(parts, i + 1), errno);
    current = std::move(next);
  }
  return std::optional<util::UniqueFd>(std::move(current));
}

Result<std::vector<std::string>> missing_parents(const std::string& root, const std::string& path) {
  auto dir = open_root(root);
  if (!dir) return dir.error();
  util::UniqueFd current = std::move(dir).value();
  const std::vector<std::string> parts = path_components(path);
  std::vector<std::string> missing;
  for (std::size_t i = 0; i + 1 < parts.size(); ++i) {
    util::UniqueFd next(::openat(current.get(), parts[i].c_str(), kDirFlags));
    if (!next.valid() && errno == ENOENT) {
      for (std::size_t k = i; k + 1 < parts.size(); ++k) missing.push_back(join(parts, k + 1));
      return missing;
    }
    if (!next.valid()) return open_error(current.get(), parts[i], path, join(parts, i + 1), errno);
    current = std::move(next);
  }
  return missing;
}

Result<FileState> stat_file(int dir, const std::string& name, const std::string& path) {
  struct stat st {};
  if (::fstatat(dir, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) return FileState{};
    return util::errno_error("cannot stat '" + path + "'", errno);
  }
  if (S_ISLNK(st.st_mode)) return bad_path(path, "is a symbolic link");
  if (S_ISDIR(st.st_mode)) return bad_path(path, "is a directory");
  if (!S_ISREG(st.st_mode)) return bad_path(path, "is not a regular file");
  FileState state;
  state.exists = true;
  state.mode = st.st_mode;
  state.identity = std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino) + ":" +
                   std::to_string(st.st_size) + ":" + std::to_string(st.st_mtim.tv_sec) + "." +
                   std::to_string(st.st_mtim.tv_nsec) + ":" + std::to_string(st.st_ctim.tv_sec) +
                   "." + std::to_string(st.st_ctim.tv_nsec) + ":" + std::to_string(st.st_mode);
  return state;
}

Result<util::UniqueFd> open_file(int dir, const std::string& name, const std::string& path) {
  util::UniqueFd fd(::openat(dir, name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  if (!fd.valid()) {
    if (errno == ELOOP) return bad_path(path, "is a symbolic link");
    return util::errno_error("cannot open '" + path + "'", errno);
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return util::errno_error("cannot stat '" + path + "'", errno);
  if (!S_ISREG(st.st_mode)) return bad_path(path, "is not a regular file");
  return fd;
}

void remove_empty_dirs(const std::string& root, const std::vector<std::string>& dirs) {
  auto base = open_root(root);
  if (!base) return;
  for (auto it = dirs.rbegin(); it != dirs.rend(); ++it) {
    auto parent = open_parent(root, *it, false, false);
    if (!parent || !parent.value()) continue;
    const std::string name = path_components(*it).back();
    if (::unlinkat(parent.value()->get(), name.c_str(), AT_REMOVEDIR) == 0) {
      (void)util::fsync_fd(parent.value()->get(), "directory of '" + *it + "'");
    }
  }
}

}  // namespace reftx::core
