// Checks a transaction before anything is recorded or locked.
#pragma once

#include <string>
#include <vector>

#include "git/repository.hpp"
#include "reftx/error.hpp"
#include "reftx/types.hpp"

namespace reftx::core {

// Normalizes oids to lowercase and `verify` without old to kZeroOid, then checks: ref names
// (refs/ prefix, no NUL, git's rules, short enough for git to store: `<common dir>/<name>.lock`
// within PATH_MAX, components within NAME_MAX; not symbolic), 40-hex oids, operation-specific
// null values, no ref twice, every new object present (a commit for refs/heads/, as git
// requires). Errors are invalid_input naming the change's line.
Status validate_changes(git::Repository& repo, std::vector<RefChange>& changes);

// Where file changes may go: the work tree (absolute, symbolic links resolved; empty: none)
// and the directories no path may lead into (the git dir, the common dir and the journal,
// realpaths).
struct WorkTreeScope {
  std::string root;
  std::vector<std::string> forbidden;
};

// Checks file changes: a work tree exists; each path is lexically valid (path_problem), within
// NAME_MAX per component and PATH_MAX as an absolute path (root + "/" + path, with the NUL), not
// inside the git dir or the journal, reached through directories only (no symbolic link), and
// names a regular file or nothing; no path twice or inside another's; blobs exist and are blobs
// (content given by the library is stored as a blob here), an old blob that exists is a blob;
// remove has no null old value; the new directories within kMaxCreatedDirBytes.
// Returns, per file, the parent directories that do not exist yet (outermost first).
Result<std::vector<std::vector<std::string>>> validate_files(git::Repository& repo,
                                                             const WorkTreeScope& tree,
                                                             std::vector<FileChange>& files);

// Checks keys: 1..max_key_size bytes, no NUL, no key twice; values of at most kMaxValueBytes
// (reftx/script.hpp).
Status validate_keys(std::size_t max_key_size, const std::vector<KeyChange>& keys);

// Checks a journal message: at most kMaxMessageBytes (reftx/script.hpp).
Status validate_message(const std::string& message);

// The new directories of one transaction: the journal records each one's path (so that a
// rollback removes it), so their paths, summed, are limited. One path of PATH_MAX bytes made of
// 1-byte components creates about 2,000 directories whose paths total 4 MiB.
inline constexpr std::size_t kMaxCreatedDirBytes = std::size_t{16} << 20;

// The `git update-ref --stdin` line for one validated change.
std::string update_ref_line(const RefChange& change);

}  // namespace reftx::core
