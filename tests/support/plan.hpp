// Test helper: a ref transaction planned as a `reftx apply` script together with the whole ref
// namespace before it and after it, and the classification of a repository's refs as the
// plan's all-old or all-new state (or neither).
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "support/process.hpp"
#include "support/snapshot.hpp"
#include "support/temp_repo.hpp"

namespace reftx::test {

// Lines are added with the effect the transaction has if it commits.
struct TxPlan {
  std::string message;  // unique in the journal: finds the record
  std::vector<std::string> lines;
  RefMap before;
  RefMap after;
  std::map<std::string, std::string> verified;  // verify lines: name -> expected

  std::string script() const;

  void update(const std::string& name, const std::string& new_oid,
              std::optional<std::string> old = std::nullopt);
  void create(const std::string& name, const std::string& new_oid);
  void remove(const std::string& name, std::optional<std::string> old = std::nullopt);
  void verify(const std::string& name, const std::string& expected);

 private:
  void set_after(const std::string& name, const std::string& oid);
};

// Starts a plan from the repository's current refs.
TxPlan start_plan(const TempRepo& repo, std::string message);

enum class Side { old_values, new_values, mixed };

const char* to_string(Side s);

// Compares the whole ref namespace with the two allowed states.
Side classify(const RefMap& now, const TxPlan& plan);

// Names whose value the plan changes if it commits (verify lines change nothing).
std::set<std::string> changed_names(const TxPlan& plan);

// All-old or all-new on the plan's changed refs only.
Side classify_subset(const RefMap& now, const TxPlan& plan);

// Every ref whose value is not the same now, before and after, marked (old), (new), (NEITHER).
std::string describe_diff(const RefMap& now, const TxPlan& plan);

// `reftx -C <repo> apply -m <message>` of `script`, run to completion or started in the
// background with `options` (their input is replaced by the script).
RunResult apply_script(const TempRepo& repo, const std::string& message, const std::string& script,
                       RunOptions options = {});
Child start_script(const TempRepo& repo, const std::string& message, const std::string& script,
                   RunOptions options = {});

RunResult apply_plan(const TempRepo& repo, const TxPlan& plan);
Child start_apply(const TempRepo& repo, const TxPlan& plan, RunOptions options = {});

}  // namespace reftx::test
