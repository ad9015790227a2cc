// Test helper: a transaction mixing refs, work-tree files and tool-state keys, planned as a
// `reftx apply` script with the whole repository (refs, files, keys) before and after it, and
// the classification of a repository as the plan's all-old or all-new state.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "support/plan.hpp"
#include "support/process.hpp"
#include "support/snapshot.hpp"
#include "support/temp_repo.hpp"

namespace reftx::test {

// Lines are added with the effect they have if the transaction commits.
struct MixedPlan {
  std::string message;  // unique in the journal: finds the record
  std::vector<std::string> lines;
  RepoSnapshot before, after;
  TxPlan refs;                     // the ref lines alone, with the ref maps before and after
  std::vector<std::string> paths;  // files, in script order
  std::map<std::string, std::string> old_blob, new_blob;  // by path; 40 zeros: absent
  std::vector<std::string> keys;                          // in script order
  std::map<std::string, std::optional<std::string>> old_value, new_value;
  std::set<std::string> created_dirs;  // the parents the transaction creates

  std::string script() const;

  void update(const std::string& name, const std::string& new_oid,
              std::optional<std::string> old = std::nullopt);
  void create(const std::string& name, const std::string& new_oid);
  void delete_ref(const std::string& name, std::optional<std::string> old = std::nullopt);

  // `write <path> <blob> [<cas>] [mode=<mode>]`; an empty mode keeps the file's mode.
  void write(const TempRepo& repo, const std::string& path, const std::string& content,
             std::optional<std::string> cas, const std::string& mode = "");
  void remove(const TempRepo& repo, const std::string& path, std::optional<std::string> cas);
  void set(const std::string& key, const std::string& value);
  void unset(const std::string& key);

  // The blob the file holds before the transaction; 40 zeros: absent.
  std::string current_blob(const TempRepo& repo, const std::string& path) const;

  // Changes made outside the transaction, which both of its outcomes include.
  void outside_key(const std::string& key, const std::string& value);
  void outside_ref(const std::string& name, const std::string& oid);

 private:
  void take_ref_line();
  void note_file(const TempRepo& repo, const std::string& path, const std::string& blob);
  void note_key(const std::string& key, std::optional<std::string> value);
};

MixedPlan start_mixed(const TempRepo& repo, const std::string& message);

RunResult apply_mixed(const TempRepo& repo, const MixedPlan& plan, RunOptions options = {});
Child start_mixed_apply(const TempRepo& repo, const MixedPlan& plan, RunOptions options = {});

Side classify_mixed(const RepoSnapshot& now, const MixedPlan& plan);

// Every difference between `now` and the plan's two outcomes.
std::string describe_mixed_diff(const RepoSnapshot& now, const MixedPlan& plan);

// The first transaction of a fixture: writes `tracked` (none may exist yet, modes as given)
// while moving HEAD's branch to a commit whose tree holds exactly those files (the index is
// filled to match), sets `keys` and runs `ref_lines`. Afterwards `git status` is clean. Returns
// the work tree, which is also HEAD's.
WorkTree commit_initial_state(const TempRepo& repo, const std::map<std::string, FileImage>& tracked,
                              const KeyMap& keys, const std::vector<std::string>& ref_lines = {});

}  // namespace reftx::test
