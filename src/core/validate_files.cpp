// Validation of working-tree file and tool-state changes (see validate.hpp).
#include <fcntl.h>

#include <map>

#include "core/validate.hpp"
#include "core/work_tree.hpp"
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
    return bad(f.line, "path '" + f.path + "' " + problem);
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

// Old blob, mode and new content: normalized, the content stored as a blob.
Status check_values(git::Repository& repo, FileChange& f) {
  if (f.expected_old) {
    if (!util::is_hex_oid(*f.expected_old)) {
      return bad(f.line, "'" + f.path + "': bad old blob '" + *f.expected_old + "'");
    }
    f.expected_old = util::normalize_oid(*f.expected_old);
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
  auto missing = missing_parents(tree.root, f.path);
  if (!missing) return at_line(missing.error(), f.line);
  if (missing.value().empty()) {
    auto parent = open_parent(tree.root, f.path, false, false);
    if (!parent) return parent.error();
    auto state = stat_file(parent.value()->get(), path_components(f.path).back(), f.path);
    if (!state) return at_line(state.error(), f.line);
  }
  return missing;
}

// One path inside another ("a" and "a/b") cannot both be files.
Status check_nesting(const std::map<std::string, int>& seen) {
  for (const auto& [path, line] : seen) {
    for (auto slash = path.find('/'); slash != std::string::npos;
         slash = path.find('/', slash + 1)) {
      auto outer = seen.find(path.substr(0, slash));
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
  std::map<std::string, int> seen;
  for (FileChange& f : files) {
    if (Status s = check_place(tree, f); !s) return s.error();
    if (auto [it, inserted] = seen.emplace(f.path, f.line); !inserted) {
      return bad(f.line, "path '" + f.path + "' appears more than once (first at line " +
                             std::to_string(it->second) + ")");
    }
    if (Status s = check_values(repo, f); !s) return s.error();
    auto missing = check_on_disk(tree, f);
    if (!missing) return missing.error();
    created.push_back(std::move(missing).value());
  }
  if (Status s = check_nesting(seen); !s) return s.error();
  return created;
}

Status validate_keys(std::size_t max, const std::vector<KeyChange>& keys) {
  std::map<std::string, int> seen;
  for (const KeyChange& k : keys) {
    if (k.key.empty()) return bad(k.line, "empty state key");
    if (k.key.size() > max) {
      return bad(k.line, "state key of " + std::to_string(k.key.size()) + " bytes (at most " +
                             std::to_string(max) + ")");
    }
    if (auto [it, inserted] = seen.emplace(k.key, k.line); !inserted) {
      return bad(k.line, "state key '" + k.key + "' appears more than once (first at line " +
                             std::to_string(it->second) + ")");
    }
  }
  return {};
}

}  // namespace reftx::core
