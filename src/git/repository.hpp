// In-process read access to a repository through libgit2: discovery, ref values, objects.
// Never writes refs (all writes go through `git update-ref`).
// Thread-safety: not thread-safe; owned and serialized by a Store. Move-only.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "reftx/error.hpp"

struct git_repository;

namespace reftx::git {

class Repository {
 public:
  // Discovers the repository containing `path`, like `git -C path`. Bare or not.
  static Result<Repository> discover(const std::string& path);

  Repository() = default;  // empty; only for assignment from discover()
  Repository(Repository&&) noexcept;
  Repository& operator=(Repository&&) noexcept;
  ~Repository();

  const std::string& git_dir() const { return git_dir_; }        // no trailing slash
  const std::string& common_dir() const { return common_dir_; }  // where refs/ lives

  // Current value of a direct ref; nullopt if it does not exist. A symbolic ref is
  // invalid_input (reftx only moves direct refs).
  Result<std::optional<std::string>> read_ref(const std::string& name);
  // True if the object is in the object database (re-scanning packs on a miss).
  Result<bool> has_object(const std::string& oid_hex);
  // The ref HEAD points to, if HEAD is symbolic.
  std::optional<std::string> head_target();

 private:
  git_repository* repo_ = nullptr;
  std::string git_dir_;
  std::string common_dir_;
};

// git's ref-name rules (libgit2) plus reftx's: must start with "refs/". Returns the problem
// ("is not a valid ref name", ...) or empty if fine.
std::string ref_name_problem(const std::string& name);

// Error from libgit2's last error, naming the call.
Error libgit2_error(const char* call, int rc);

}  // namespace reftx::git
