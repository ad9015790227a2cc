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

Status check_blob(detail::StoreState& store, const FileChange& f) {
  auto type = store.repo.object_type(f.new_blob);
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

}  // namespace

Result<std::vector<std::vector<std::string>>> validate_files(detail::StoreState& store,
                                                             std::vector<FileChange>& files) {
  std::vector<std::vector<std::string>> created;
  if (files.empty()) return created;
  std::map<std::string, int> seen;
  for (FileChange& f : files) {
    if (store.work_tree.empty()) {
      return bad(f.line, "'" + f.path +
                             "': no work tree (the repository is bare; use --work-tree or "
                             "Options::work_tree)");
    }
    if (std::string problem = path_problem(f.path); !problem.empty()) {
      return bad(f.line, "path '" + f.path + "' " + problem);
    }
    const std::string absolute = store.work_tree + "/" + f.path;
    for (const std::string* dir :
         {&store.git_dir_real, &store.common_dir_real, &store.journal_dir_real}) {
      if (inside(absolute, *dir) || inside(*dir, absolute)) {
        return bad(f.line,
                   "path '" + f.path + "' names something inside the git directory '" + *dir + "'");
      }
    }
    if (auto [it, inserted] = seen.emplace(f.path, f.line); !inserted) {
      return bad(f.line, "path '" + f.path + "' appears more than once (first at line " +
                             std::to_string(it->second) + ")");
    }
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
      auto blob = store.repo.write_blob(*f.content);
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
    if (!removing) {
      if (Status s = check_blob(store, f); !s) return s.error();
    }
    auto missing = missing_parents(store.work_tree, f.path);
    if (!missing) {
      Error e = missing.error();
      e.line = f.line;
      return e;
    }
    if (missing.value().empty()) {
      auto parent = open_parent(store.work_tree, f.path, false, false);
      if (!parent) return parent.error();
      auto state = stat_file(parent.value()->get(), path_components(f.path).back(), f.path);
      if (!state) {
        Error e = state.error();
        e.line = f.line;
        return e;
      }
    }
    created.push_back(std::move(missing).value());
  }
  // One path inside another ("a" and "a/b") cannot both be files.
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
  return created;
}

Status validate_keys(const detail::StoreState& store, const std::vector<KeyChange>& keys) {
  std::map<std::string, int> seen;
  const std::size_t max = store.journal.max_key_size();
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
