// In-process access to a repository through libgit2: discovery, ref values, objects.
// Never writes refs (all ref writes go through `git update-ref`); writes objects only:
// blobs of saved and given file contents (write_blob, store_file).
// Thread-safety: not thread-safe; owned and serialized by a Store. Move-only.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include "reftx/error.hpp"

struct git_repository;

namespace reftx::git {

// What a ref name holds right now.
struct RefValue {
  enum class Kind { absent, direct, symbolic };
  Kind kind = Kind::absent;
  std::string oid;     // direct: 40 hex digits
  std::string target;  // symbolic: the ref it points to
  // kZeroOid when absent, the oid when direct. REQUIRES: kind != symbolic.
  const std::string& oid_or_zero() const;
};

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

  // What `name` holds: absent, a direct oid or a symbolic target. Errors: environment.
  Result<RefValue> read_ref(const std::string& name);
  // True if the object is in the object database (re-scanning packs on a miss).
  Result<bool> has_object(const std::string& oid_hex);
  // The ref HEAD points to, if HEAD is symbolic.
  std::optional<std::string> head_target();
  // The repository's work tree (no trailing slash); empty if bare.
  const std::string& work_dir() const { return work_dir_; }

  // Objects (src/git/objects.cpp). Blob content is always streamed: memory use does not grow
  // with the blob's size (loose objects are inflated chunk by chunk, packed ones larger than
  // 8 MiB go through `git cat-file`; a deltified packed blob is rebuilt in memory by git).
  //
  // Type name of an object ("blob", "commit", ...); not_found if it is not in the database.
  Result<std::string> object_type(const std::string& oid_hex);
  // Stores `content` as a blob; returns its id. Not yet durable: see make_durable.
  Result<std::string> write_blob(std::string_view content);
  // Id of the blob whose content is the regular file open at `fd` (read from its start).
  Result<std::string> hash_file(int fd);
  // Stores the content of the file open at `fd` as blob `hash` (from hash_file) unless the
  // object exists already. A conflict error if the content no longer hashes to `hash`.
  Status store_file(int fd, const std::string& hash);
  // fsyncs the loose object files of `oids` that are loose in this repository (packs are written
  // durably by git), then each of their fan-out directories and objects/ once. An object file
  // this Repository already made durable is skipped (objects are immutable).
  Status make_durable(const std::vector<std::string>& oids);
  // Writes the content of blob `oid` to `fd` (at its current offset).
  Status copy_blob(const std::string& oid_hex, int fd, const std::string& git_executable);

 private:
  git_repository* repo_ = nullptr;
  std::string git_dir_;
  std::string common_dir_;
  std::string work_dir_;
  static constexpr std::size_t kDurableObjectsRemembered = 4096;
  std::unordered_set<std::string> durable_objects_;  // "<oid>:<inode>:<mtime>"
};

// git's ref-name rules (libgit2) plus reftx's: must start with "refs/". Returns the problem
// ("is not a valid ref name", ...) or empty if fine.
std::string ref_name_problem(const std::string& name);

// Error from libgit2's last error, naming the call.
Error libgit2_error(const char* call, int rc);

}  // namespace reftx::git
