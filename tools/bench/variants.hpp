// The ways of applying one all-or-nothing ref transaction that reftx-bench compares.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "reftx/reftx.hpp"

namespace reftx_bench {

// The repository every variant works on.
struct Fixture {
  std::string work_dir;  // work tree of a non-bare repository
  std::string git_dir;   // its .git
};

// External programs the variants run.
struct Tools {
  std::string git;    // git executable
  std::string reftx;  // reftx CLI executable
};

// One way of applying a transaction. Not thread-safe.
class Variant {
 public:
  virtual ~Variant() = default;
  // Moves every ref of `refs` from `old_oid` to `new_oid` (40-hex ids) in one transaction whose
  // preconditions are the old values. Throws std::runtime_error if it fails.
  virtual void apply(const std::vector<std::string>& refs, const std::string& old_oid,
                     const std::string& new_oid) = 0;
};

struct VariantInfo {
  std::string key;    // for --variants and the probe child
  std::string label;  // table row
};

// Every variant, in table order. The first two are the `git update-ref` baselines.
const std::vector<VariantInfo>& all_variants();
inline const std::string kGitDefaultKey = "git";
inline const std::string kGitFsyncKey = "git-fsync";

// Builds variant `key` (one of all_variants()) ready to apply transactions: in-process variants
// open their repository or Store here. Throws std::runtime_error on failure or unknown key.
std::unique_ptr<Variant> make_variant(const std::string& key, const Fixture& fixture,
                                      const Tools& tools);

// The reftx Store of the repository at `path`, default options (durable). Throws
// std::runtime_error if it cannot be opened.
reftx::Store open_store(const std::string& path);

// `git update-ref --stdin` script with one "update <ref> <new> <old>" line per ref.
std::string update_script(const std::vector<std::string>& refs, const std::string& old_oid,
                          const std::string& new_oid);

}  // namespace reftx_bench
