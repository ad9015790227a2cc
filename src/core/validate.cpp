#include "core/validate.hpp"

#include <map>

#include "util/hex.hpp"

namespace reftx::core {
namespace {

Error bad(const RefChange& c, const std::string& what) {
  return Error{ErrorKind::invalid_input, what, c.line};
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
    if (std::string problem = git::ref_name_problem(c.name); !problem.empty()) {
      return bad(c, "'" + c.name + "' " + problem);
    }
    // libgit2 1.5 accepts DEL (0x7f), which git rejects like every control character.
    if (c.name.find('\x7f') != std::string::npos) {
      return bad(c, "'" + c.name + "' is not a valid ref name");
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
      auto found = repo.has_object(c.new_oid);
      if (!found) return found.error();
      if (!found.value()) return bad(c, "object " + c.new_oid + " does not exist");
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
