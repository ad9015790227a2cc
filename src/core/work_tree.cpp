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

Result<PathProbe> probe_path(const std::string& root, const std::string& path) {
  auto dir = open_root(root);
  if (!dir) return dir.error();
  util::UniqueFd current = std::move(dir).value();
  const std::vector<std::string> parts = path_components(path);
  PathProbe probe;
  std::size_t prefix = 0;  // bytes of path up to parts[i], without the '/' after it
  for (std::size_t i = 0; i + 1 < parts.size(); ++i) {
    prefix += (i ? 1 : 0) + parts[i].size();
    util::UniqueFd next(::openat(current.get(), parts[i].c_str(), kDirFlags));
    if (!next.valid() && errno == ENOENT) {
      for (std::size_t k = i; k + 1 < parts.size(); ++k) {
        probe.missing.push_back(path.substr(0, prefix));
        prefix += 1 + parts[k + 1].size();
      }
      return probe;
    }
    if (!next.valid()) {
      return open_error(current.get(), parts[i], path, path.substr(0, prefix), errno);
    }
    current = std::move(next);
  }
  auto state = stat_file(current.get(), parts.back(), path);
  if (!state) return state.error();
  probe.target = std::move(state).value();
  return probe;
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

namespace {

// True if every dir after the first is the one before it plus one component.
bool is_chain(const std::vector<std::string>& dirs) {
  for (std::size_t i = 1; i < dirs.size(); ++i) {
    const std::string& outer = dirs[i - 1];
    const std::string& inner = dirs[i];
    if (inner.size() <= outer.size() + 1 || !inner.starts_with(outer) ||
        inner[outer.size()] != '/' || inner.find('/', outer.size() + 1) != std::string::npos) {
      return false;
    }
  }
  return true;
}

void remove_in(int parent, const std::string& dir) {
  const std::string name = path_components(dir).back();
  if (::unlinkat(parent, name.c_str(), AT_REMOVEDIR) == 0) {
    (void)util::fsync_fd(parent, "directory of '" + dir + "'");
  }
}

// Directory descriptors along one path, from the work tree down, without holding one per
// level: a checkpoint every kStride levels, and the levels of one stride below a checkpoint.
// Asked for ever shallower depths (walking up), each level is opened at most twice: removing a
// chain of n dirs costs O(n) openat calls and holds at most n / kStride + kStride descriptors.
class PathDirs {
 public:
  PathDirs(util::UniqueFd root, std::vector<std::string> parts) : parts_(std::move(parts)) {
    checkpoints_.push_back(std::move(root));
  }

  // The directory made of the first `depth` components; -1 if it cannot be opened (missing,
  // or not a directory). REQUIRES: depth < number of components.
  int at(std::size_t depth) {
    const std::size_t base = depth / kStride * kStride;
    const int anchor = checkpoint(base / kStride);
    if (anchor < 0) return -1;
    if (depth == base) return anchor;
    if (base != block_base_) {
      block_.clear();
      block_base_ = base;
    }
    while (block_.size() < depth - base) {
      const int from = block_.empty() ? anchor : block_.back().get();
      if (from < 0) return -1;
      block_.emplace_back(::openat(from, parts_[base + block_.size()].c_str(), kDirFlags));
    }
    return block_[depth - base - 1].get();
  }

 private:
  static constexpr std::size_t kStride = 64;

  int checkpoint(std::size_t index) {
    while (checkpoints_.size() <= index) {
      util::UniqueFd next;
      int from = checkpoints_.back().get();
      const std::size_t first = (checkpoints_.size() - 1) * kStride;
      for (std::size_t i = first; i < first + kStride && from >= 0; ++i) {
        next = util::UniqueFd(::openat(from, parts_[i].c_str(), kDirFlags));
        from = next.get();
      }
      checkpoints_.push_back(std::move(next));
    }
    return checkpoints_[index].get();
  }

  std::vector<std::string> parts_;
  std::vector<util::UniqueFd> checkpoints_;  // [k]: the first k * kStride components
  std::size_t block_base_ = 0;
  std::vector<util::UniqueFd> block_;  // [i]: the first block_base_ + i + 1 components
};

}  // namespace

void remove_empty_dirs(const std::string& root, const std::vector<std::string>& dirs) {
  if (dirs.empty()) return;
  if (!is_chain(dirs)) {
    for (auto it = dirs.rbegin(); it != dirs.rend(); ++it) {
      auto parent = open_parent(root, *it, false, false);
      if (parent && parent.value()) remove_in(parent.value()->get(), *it);
    }
    return;
  }
  auto base = open_root(root);
  if (!base) return;
  std::vector<std::string> parts = path_components(dirs.back());
  const std::size_t innermost = parts.size();  // depth of dirs.back()
  PathDirs walk(std::move(base).value(), std::move(parts));
  for (std::size_t i = dirs.size(); i-- > 0;) {
    const std::size_t depth = innermost - (dirs.size() - 1 - i);  // of dirs[i]
    const int parent = walk.at(depth - 1);
    if (parent >= 0) remove_in(parent, dirs[i]);
  }
}

}  // namespace reftx::core
