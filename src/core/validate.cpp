#include "core/validate.hpp"

#include <limits.h>

#include <map>

#include "util/hex.hpp"

namespace reftx::core {
namespace {

Error bad(const RefChange& c, const std::string& what) {
  return Error{ErrorKind::invalid_input, what, c.line};
}

// git keeps a ref as the file <common dir>/<name>, written through <name>.lock (its reflog,
// <common dir>/logs/<name>, is as long): each must be a path the kernel takes. git 2.39 fails
// with "File name too long" at prepare otherwise.
std::string ref_length_problem(const std::string& common_dir, const std::string& name) {
  constexpr std::size_t kLock = 5;                          // ".lock"
  const std::size_t fixed = common_dir.size() + 1 + kLock;  // "<common dir>/" and ".lock"
  const std::size_t longest = fixed < PATH_MAX - 1 ? PATH_MAX - 1 - fixed : 0;
  if (name.size() > longest) {
    return "is " + std::to_string(name.size()) + " bytes long: git can store at most " +
           std::to_string(longest) + " here (its lock file '" + common_dir + "/<name>.lock' " +
           "must fit PATH_MAX, " + std::to_string(PATH_MAX) + " bytes with the NUL)";
  }
  std::size_t start = 0;
  for (;;) {
    const std::size_t slash = name.find('/', start);
    const bool last = slash == std::string::npos;
    const std::size_t size = (last ? name.size() : slash) - start;
    const std::size_t most = last ? NAME_MAX - kLock : NAME_MAX;
    if (size > most) {
      return "has a component of " + std::to_string(size) + " bytes: git can store at most " +
             std::to_string(most) + (last ? " in the last one (NAME_MAX, " : " (NAME_MAX, ") +
             std::to_string(NAME_MAX) + (last ? ", with '.lock')" : ")");
    }
    if (last) return {};
    start = slash + 1;
  }
}

// What git accepts as the new value of `name`: a commit for a branch (git's "trying to write
// non-commit object ... to branch"), any existing object elsewhere.
Status check_new_object(git::Repository& repo, const RefChange& c) {
  if (!c.name.starts_with("refs/heads/")) {
    auto found = repo.has_object(c.new_oid);
    if (!found) return found.error();
    if (!found.value()) return bad(c, "object " + c.new_oid + " does not exist");
    return {};
  }
  auto type = repo.object_type(c.new_oid);
  if (!type) {
    if (type.error().kind != ErrorKind::not_found) return type.error();
    return bad(c, "object " + c.new_oid + " does not exist");
  }
  if (type.value() != "commit") {
    return bad(c, "'" + c.name + "' is a branch: its new value " + c.new_oid + " is a " +
                      type.value() + ", not a commit");
  }
  return {};
}

Status normalize_oid(const RefChange& c, std::string& oid, const char* role) {
  if (!util::is_hex_oid(oid)) {
    return bad(c, std::string("bad ") + role + " value '" + oid + "' (expected 40 hex digits)");
  }
  oid = util::normalize_oid(oid);
  return {};
}

}  // namespace

Status validate_changes(git::Repository& repo, std::vector<RefChange>& changes) {
  std::map<std::string, int> seen;
  for (RefChange& c : changes) {
    // libgit2 reads the name as a C string: "refs/h\0eads/x" would pass as "refs/h".
    if (c.name.find('\0') != std::string::npos) {
      return bad(c, "ref name contains a NUL byte");
    }
    if (std::string problem = git::ref_name_problem(c.name); !problem.empty()) {
      return bad(c, "'" + c.name + "' " + problem);
    }
    // libgit2 1.5 accepts DEL (0x7f), which git rejects like every control character.
    if (c.name.find('\x7f') != std::string::npos) {
      return bad(c, "'" + c.name + "' is not a valid ref name");
    }
    if (std::string problem = ref_length_problem(repo.common_dir(), c.name); !problem.empty()) {
      return bad(c, "ref name " + problem);
    }
    // These live in each worktree's own git dir, not with the shared refs reftx journals.
    for (const char* prefix : {"refs/worktree/", "refs/bisect/", "refs/rewritten/"}) {
      if (c.name.starts_with(prefix)) {
        return bad(c, "'" + c.name + "' is a per-worktree ref, which reftx does not handle");
      }
    }
    if (auto [it, inserted] = seen.emplace(c.name, c.line); !inserted) {
      return bad(c, "ref '" + c.name + "' appears more than once (first at line " +
                        std::to_string(it->second) + ")");
    }
    if (c.op == RefOp::remove || c.op == RefOp::verify) c.new_oid = kZeroOid;
    if (c.op == RefOp::verify && !c.expected_old) c.expected_old = kZeroOid;
    if (c.op == RefOp::create) c.expected_old = kZeroOid;
    if (Status s = normalize_oid(c, c.new_oid, "new"); !s) return s;
    if (c.expected_old) {
      if (Status s = normalize_oid(c, *c.expected_old, "old"); !s) return s;
    }
    if (c.op == RefOp::create && c.new_oid == kZeroOid) {
      return bad(c, "create '" + c.name + "' with a null new value");
    }
    if (c.op == RefOp::remove && c.expected_old == kZeroOid) {
      return bad(c, "delete '" + c.name + "' with a null old value");
    }
    if (c.new_oid != kZeroOid) {
      if (Status s = check_new_object(repo, c); !s) return s;
    }
    auto current = repo.read_ref(c.name);
    if (!current) {
      Error e = current.error();
      e.line = c.line;
      return e;
    }
    if (current.value().kind == git::RefValue::Kind::symbolic) {
      return bad(c, "'" + c.name + "' is a symbolic ref");
    }
  }
  return {};
}

std::string update_ref_line(const RefChange& c) {
  switch (c.op) {
    case RefOp::create:
      return "create " + c.name + " " + c.new_oid + "\n";
    case RefOp::remove:
      return "delete " + c.name + (c.expected_old ? " " + *c.expected_old : "") + "\n";
    case RefOp::verify:
      return "verify " + c.name + " " + *c.expected_old + "\n";
    case RefOp::update:
      break;
  }
  return "update " + c.name + " " + c.new_oid + (c.expected_old ? " " + *c.expected_old : "") +
         "\n";
}

}  // namespace reftx::core
