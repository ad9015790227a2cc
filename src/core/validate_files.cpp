// Validation of working-tree file and tool-state changes (see validate.hpp).
#include <fcntl.h>
#include <limits.h>

#include <map>
#include <string_view>

#include "core/validate.hpp"
#include "core/work_tree.hpp"
#include "reftx/script.hpp"
#include "util/hex.hpp"

namespace reftx::core {
namespace {

Error bad(int line, const std::string& what) {
  return Error{ErrorKind::invalid_input, what, line};
}

bool inside(const std::string& path, const std::string& dir) {
  return !dir.empty() && (path == dir || path.starts_with(dir + "/"));
}

Status check_blob(git::Repository& repo, const FileChange& f) {
  auto type = repo.object_type(f.new_blob);
  if (!type) {
    if (type.error().kind != ErrorKind::not_found) return type.error();
    return bad(f.line, "write " + f.path + ": blob " + f.new_blob + " does not exist");
  }
  if (type.value() != "blob") {
    return bad(f.line, "write " + f.path + ": object " + f.new_blob + " is a " + type.value() +
                           ", not a blob");
  }
  return {};
}

// The limits of the file system, for a path that is lexically valid: each component within
// NAME_MAX, and the absolute path within PATH_MAX with its NUL, so that any program can still
// open it by name (reftx itself goes component by component).
std::string length_problem(const std::string& root, const std::string& path) {
  const std::size_t absolute = root.size() + 1 + path.size();
  if (absolute > PATH_MAX - 1) {
    return "of " + std::to_string(path.size()) + " bytes is too long: in the work tree '" + root +
           "' it is " + std::to_string(absolute) + " bytes, at most " +
           std::to_string(PATH_MAX - 1) + " (PATH_MAX with the NUL)";
  }
  std::size_t start = 0;
  for (;;) {
    const std::size_t slash = path.find('/', start);
    const std::size_t size = (slash == std::string::npos ? path.size() : slash) - start;
    if (size > NAME_MAX) {
      return "'" + path + "' has a component of " + std::to_string(size) + " bytes, at most " +
             std::to_string(NAME_MAX) + " (NAME_MAX)";
    }
    if (slash == std::string::npos) return {};
    start = slash + 1;
  }
}

Error at_line(Error e, int line) {
  e.line = line;
  return e;
}

// Where the path leads: inside the work tree, outside the git dirs and the journal.
Status check_place(const WorkTreeScope& tree, const FileChange& f) {
  if (tree.root.empty()) {
    return bad(f.line, "'" + f.path +
                           "': no work tree (the repository is bare; use --work-tree or "
                           "Options::work_tree)");
  }
  if (std::string problem = path_problem(f.path); !problem.empty()) {
    if (f.path.find('\0') != std::string::npos) return bad(f.line, "path " + problem);
    return bad(f.line, "path '" + f.path + "' " + problem);
  }
  if (std::string problem = length_problem(tree.root, f.path); !problem.empty()) {
    return bad(f.line, "path " + problem);
  }
  const std::string absolute = tree.root + "/" + f.path;
  for (const std::string& dir : tree.forbidden) {
    if (inside(absolute, dir) || inside(dir, absolute)) {
      return bad(f.line,
                 "path '" + f.path + "' names something inside the git directory '" + dir + "'");
    }
  }
  return {};
}

// An old blob need not be in the object database (a file's hash, never stored, is a valid
// compare value), but an object that is there and is not a blob can never match a file.
Status check_old_blob(git::Repository& repo, const FileChange& f) {
  if (*f.expected_old == kZeroOid) return {};
  auto type = repo.object_type(*f.expected_old);
  if (!type) return type.error().kind == ErrorKind::not_found ? Status() : Status(type.error());
  if (type.value() != "blob") {
    return bad(f.line, "'" + f.path + "': old blob " + *f.expected_old + " is a " + type.value() +
                           ", not a blob");
  }
  return {};
}

// Old blob, mode and new content: normalized, the content stored as a blob.
Status check_values(git::Repository& repo, FileChange& f) {
  if (f.expected_old) {
    if (!util::is_hex_oid(*f.expected_old)) {
      return bad(f.line, "'" + f.path + "': bad old blob '" + *f.expected_old + "'");
    }
    f.expected_old = util::normalize_oid(*f.expected_old);
    if (Status s = check_old_blob(repo, f); !s) return s;
  }
  if (f.mode != 0 && f.mode != 0100644 && f.mode != 0100755) {
    return bad(f.line, "'" + f.path + "': mode must be 100644 or 100755");
  }
  if (f.content) {
    auto blob = repo.write_blob(*f.content);
    if (!blob) return blob.error();
    f.new_blob = std::move(blob).value();
    f.content.reset();
  } else if (!util::is_hex_oid(f.new_blob)) {
    return bad(f.line, "'" + f.path + "': bad blob id '" + f.new_blob + "'");
  }
  f.new_blob = util::normalize_oid(f.new_blob);
  const bool removing = f.new_blob == kZeroOid;
  if (removing && f.expected_old == kZeroOid) {
    return bad(f.line, "remove " + f.path + " with a null old value");
  }
  if (removing && f.mode != 0) return bad(f.line, "remove " + f.path + " with a mode");
  return removing ? Status() : check_blob(repo, f);
}

// What is on disk: directories only on the way, a regular file or nothing at the end. Returns
// the missing parents.
Result<std::vector<std::string>> check_on_disk(const WorkTreeScope& tree, const FileChange& f) {
  auto probe = probe_path(tree.root, f.path);
  if (!probe) return at_line(probe.error(), f.line);
  return std::move(probe.value().missing);
}

using PathLines = std::map<std::string, int, std::less<>>;

// One path inside another ("a" and "a/b") cannot both be files.
Status check_nesting(const PathLines& seen) {
  for (const auto& [path, line] : seen) {
    for (auto slash = path.find('/'); slash != std::string::npos;
         slash = path.find('/', slash + 1)) {
      auto outer = seen.find(std::string_view(path).substr(0, slash));
      if (outer != seen.end()) {
        return bad(line, "path '" + path + "' is inside '" + outer->first + "', which line " +
                             std::to_string(outer->second) + " also changes");
      }
    }
  }
  return {};
}

}  // namespace

Result<std::vector<std::vector<std::string>>> validate_files(git::Repository& repo,
                                                             const WorkTreeScope& tree,
                                                             std::vector<FileChange>& files) {
  std::vector<std::vector<std::string>> created;
  PathLines seen;
  std::size_t created_bytes = 0;
  for (FileChange& f : files) {
    if (Status s = check_place(tree, f); !s) return s.error();
    if (auto [it, inserted] = seen.emplace(f.path, f.line); !inserted) {
      return bad(f.line, "path '" + f.path + "' appears more than once (first at line " +
                             std::to_string(it->second) + ")");
    }
    if (Status s = check_values(repo, f); !s) return s.error();
    auto missing = check_on_disk(tree, f);
    if (!missing) return missing.error();
    for (const std::string& dir : missing.value()) created_bytes += dir.size();
    if (created_bytes > kMaxCreatedDirBytes) {
      return bad(f.line, "path '" + f.path + "': the directories this transaction creates " +
                             "would have paths of more than " +
                             std::to_string(kMaxCreatedDirBytes) +
                             " bytes in all (the journal keeps each one to remove it on rollback)");
    }
    created.push_back(std::move(missing).value());
  }
  if (Status s = check_nesting(seen); !s) return s.error();
  return created;
}

Status validate_keys(std::size_t max, const std::vector<KeyChange>& keys) {
  std::map<std::string, int> seen;
  for (const KeyChange& k : keys) {
    if (k.key.empty()) return bad(k.line, "empty state key");
    if (k.key.find('\0') != std::string::npos) return bad(k.line, "state key contains a NUL byte");
    if (k.key.size() > max) {
      return bad(k.line, "state key of " + std::to_string(k.key.size()) + " bytes (at most " +
                             std::to_string(max) + ")");
    }
    if (k.value && k.value->size() > kMaxValueBytes) {
      return bad(k.line, "state key '" + k.key + "': value of " + std::to_string(k.value->size()) +
                             " bytes (at most " + std::to_string(kMaxValueBytes) + ")");
    }
    if (auto [it, inserted] = seen.emplace(k.key, k.line); !inserted) {
      return bad(k.line, "state key '" + k.key + "' appears more than once (first at line " +
                             std::to_string(it->second) + ")");
    }
  }
  return {};
}

Status validate_message(const std::string& message) {
  if (message.size() > kMaxMessageBytes) {
    return Error{ErrorKind::invalid_input, "message of " + std::to_string(message.size()) +
                                               " bytes (at most " +
                                               std::to_string(kMaxMessageBytes) + ")"};
  }
  return {};
}

}  // namespace reftx::core
