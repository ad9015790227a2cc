#include "git/repository.hpp"

#include <git2.h>
#include <git2/sys/refdb_backend.h>

#include <mutex>
#include <utility>

#include "reftx/types.hpp"

namespace reftx::git {
namespace {

void init_libgit2() {
  static std::once_flag once;
  std::call_once(once, [] { git_libgit2_init(); });  // never shut down: process lifetime
}

std::string strip_slash(const char* path) {
  std::string s = path ? path : "";
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  return s;
}

// libgit2 1.5's git_reference_lookup normalizes the name into a git_refname_t, a fixed
// char[GIT_REFNAME_MAX] (1024 with the NUL), and fails "the provided buffer is too short" above
// that, though git stores longer names. Its files backend reads loose and packed refs through
// growable buffers: longer (already validated) names are looked up there directly.
constexpr std::size_t kLookupNameMax = 1023;

int lookup_long(git_reference** out, git_repository* repo, const std::string& name,
                const char*& call) {
  git_refdb_backend* backend = nullptr;
  call = "git_refdb_backend_fs";
  int rc = git_refdb_backend_fs(&backend, repo);
  if (rc != 0) return rc;
  call = "git_refdb_backend lookup";
  rc = backend->lookup(out, backend, name.c_str());
  backend->free(backend);
  return rc;
}

}  // namespace

Error libgit2_error(const char* call, int rc) {
  const git_error* e = git_error_last();  // may be NULL in libgit2 1.5
  std::string detail = e && e->message ? e->message : ("error " + std::to_string(rc));
  return Error{ErrorKind::environment, std::string(call) + " failed: " + detail};
}

std::string ref_name_problem(const std::string& name) {
  init_libgit2();
  if (name.rfind("refs/", 0) != 0) return "ref name must start with 'refs/'";
  int valid = 0;
  if (git_reference_name_is_valid(&valid, name.c_str()) != 0 || !valid) {
    return "is not a valid ref name";
  }
  return {};
}

Result<Repository> Repository::discover(const std::string& path) {
  init_libgit2();
  Repository r;
  int rc = git_repository_open_ext(&r.repo_, path.c_str(), 0, nullptr);
  if (rc == GIT_ENOTFOUND) {
    return Error{ErrorKind::environment,
                 "not a git repository (or any of the parent directories): '" + path + "'"};
  }
  if (rc != 0) return libgit2_error("git_repository_open_ext", rc);
  r.git_dir_ = strip_slash(git_repository_path(r.repo_));
  r.common_dir_ = strip_slash(git_repository_commondir(r.repo_));
  if (const char* work = git_repository_workdir(r.repo_)) r.work_dir_ = strip_slash(work);
  return r;
}

Repository::Repository(Repository&& o) noexcept
    : repo_(std::exchange(o.repo_, nullptr)),
      git_dir_(std::move(o.git_dir_)),
      common_dir_(std::move(o.common_dir_)),
      work_dir_(std::move(o.work_dir_)),
      durable_objects_(std::move(o.durable_objects_)) {}

Repository& Repository::operator=(Repository&& o) noexcept {
  if (this != &o) {
    if (repo_) git_repository_free(repo_);
    repo_ = std::exchange(o.repo_, nullptr);
    git_dir_ = std::move(o.git_dir_);
    common_dir_ = std::move(o.common_dir_);
    work_dir_ = std::move(o.work_dir_);
    durable_objects_ = std::move(o.durable_objects_);
  }
  return *this;
}

Repository::~Repository() {
  if (repo_) git_repository_free(repo_);
}

const std::string& RefValue::oid_or_zero() const {
  return kind == Kind::direct ? oid : kZeroOid;
}

Result<RefValue> Repository::read_ref(const std::string& name) {
  git_reference* ref = nullptr;
  const char* call = "git_reference_lookup";
  int rc = name.size() <= kLookupNameMax ? git_reference_lookup(&ref, repo_, name.c_str())
                                         : lookup_long(&ref, repo_, name, call);
  if (rc == GIT_ENOTFOUND) return RefValue{};
  if (rc != 0) return libgit2_error(call, rc);
  RefValue value;
  if (git_reference_type(ref) == GIT_REFERENCE_DIRECT) {
    char hex[GIT_OID_HEXSZ + 1] = {};
    git_oid_tostr(hex, sizeof hex, git_reference_target(ref));
    value.kind = RefValue::Kind::direct;
    value.oid = hex;
  } else {
    value.kind = RefValue::Kind::symbolic;
    value.target = git_reference_symbolic_target(ref);
  }
  git_reference_free(ref);
  return value;
}

Result<bool> Repository::has_object(const std::string& oid_hex) {
  git_oid oid;
  if (git_oid_fromstr(&oid, oid_hex.c_str()) != 0) return false;
  git_odb* odb = nullptr;
  int rc = git_repository_odb(&odb, repo_);
  if (rc != 0) return libgit2_error("git_repository_odb", rc);
  bool found = git_odb_exists(odb, &oid) == 1;
  if (!found && git_odb_refresh(odb) == 0) found = git_odb_exists(odb, &oid) == 1;
  git_odb_free(odb);
  return found;
}

std::optional<std::string> Repository::head_target() {
  git_reference* head = nullptr;
  if (git_reference_lookup(&head, repo_, "HEAD") != 0) return std::nullopt;
  std::optional<std::string> target;
  if (git_reference_type(head) == GIT_REFERENCE_SYMBOLIC) {
    target = git_reference_symbolic_target(head);
  }
  git_reference_free(head);
  return target;
}

}  // namespace reftx::git
