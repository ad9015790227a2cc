// Safe access to files under a work tree: every path is resolved component by component with
// O_NOFOLLOW relative to the work tree's directory descriptor, so a symbolic link anywhere on
// the way is refused, never followed, even if it appears after validation.
// Thread-safety: stateless functions.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "reftx/error.hpp"
#include "util/fs.hpp"

namespace reftx::core {

// Lexical problems of a work-tree path ("is absolute", "contains '..'", ...), or "" if fine.
std::string path_problem(std::string_view path);

// "a/b/c" -> {"a", "b", "c"}. REQUIRES: path_problem(path) is empty.
std::vector<std::string> path_components(const std::string& path);

// Name of the temp file that stages file `index` of transaction `id`, next to its target.
std::string temp_name(std::uint64_t id, std::size_t index);
bool is_reserved_name(std::string_view basename);

// The directory holding `path` (every component but the last), opened without following links.
// Missing directories: created when `create` (mode 0777 & ~umask, each parent fsynced when
// `durable`), else nullopt. A component that is a symbolic link or not a directory is an
// invalid_input error naming it; other failures are environment errors.
Result<std::optional<util::UniqueFd>> open_parent(const std::string& root, const std::string& path,
                                                  bool create, bool durable);

// What a work-tree file is right now. `identity` changes whenever the file is replaced,
// written or chmodded (device, inode, size, mtime, ctime).
struct FileState {
  bool exists = false;
  std::uint32_t mode = 0;  // st_mode
  std::string identity;
};

// lstat of `name` in `dir`: absent, or a regular file. A symbolic link, directory or other
// non-regular file is an invalid_input error naming `path`.
Result<FileState> stat_file(int dir, const std::string& name, const std::string& path);

// What validation needs to know of `path`, from one walk down from the work tree: its parents
// that do not exist yet (outermost first: "a", "a/b"), and, when they all exist, what the path
// names (stat_file). The existing parents are checked like open_parent's.
struct PathProbe {
  std::vector<std::string> missing;
  FileState target;  // absent when a parent is missing
};
Result<PathProbe> probe_path(const std::string& root, const std::string& path);

// Opens the regular file `name` in `dir` for reading without following a link.
Result<util::UniqueFd> open_file(int dir, const std::string& name, const std::string& path);

// Removes directories `dirs` (relative to root, outermost first) from the innermost out, each
// only if it is empty. Never fails: what cannot be removed stays. Linear in the depth when each
// dir is the previous one plus a component (as open_parent creates them).
void remove_empty_dirs(const std::string& root, const std::vector<std::string>& dirs);

}  // namespace reftx::core
