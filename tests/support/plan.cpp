#include "support/plan.hpp"

#include <utility>

#include "support/text.hpp"

namespace reftx::test {

std::string TxPlan::script() const {
  return script_of(lines);
}

void TxPlan::update(const std::string& name, const std::string& new_oid,
                    std::optional<std::string> old) {
  lines.push_back("update " + name + " " + new_oid + (old ? " " + *old : ""));
  set_after(name, new_oid);
}

void TxPlan::create(const std::string& name, const std::string& new_oid) {
  lines.push_back("create " + name + " " + new_oid);
  set_after(name, new_oid);
}

void TxPlan::remove(const std::string& name, std::optional<std::string> old) {
  lines.push_back("delete " + name + (old ? " " + *old : ""));
  set_after(name, kZeroOid);
}

void TxPlan::verify(const std::string& name, const std::string& expected) {
  lines.push_back("verify " + name + " " + expected);
  verified[name] = expected;
}

void TxPlan::set_after(const std::string& name, const std::string& oid) {
  if (oid == kZeroOid) {
    after.erase(name);
  } else {
    after[name] = oid;
  }
}

TxPlan start_plan(const TempRepo& repo, std::string message) {
  TxPlan plan;
  plan.message = std::move(message);
  plan.before = repo.refs();
  plan.after = plan.before;
  return plan;
}

const char* to_string(Side s) {
  return s == Side::old_values ? "all-old" : s == Side::new_values ? "all-new" : "MIXED";
}

Side classify(const RefMap& now, const TxPlan& plan) {
  if (now == plan.before) return Side::old_values;
  if (now == plan.after) return Side::new_values;
  return Side::mixed;
}

std::set<std::string> changed_names(const TxPlan& plan) {
  std::set<std::string> names;
  for (const auto* m : {&plan.before, &plan.after}) {
    for (const auto& [name, oid] : *m) {
      if (value_of(plan.before, name) != value_of(plan.after, name)) names.insert(name);
    }
  }
  return names;
}

Side classify_subset(const RefMap& now, const TxPlan& plan) {
  bool all_old = true, all_new = true;
  for (const std::string& name : changed_names(plan)) {
    all_old = all_old && value_of(now, name) == value_of(plan.before, name);
    all_new = all_new && value_of(now, name) == value_of(plan.after, name);
  }
  return all_old ? Side::old_values : all_new ? Side::new_values : Side::mixed;
}

std::string describe_diff(const RefMap& now, const TxPlan& plan) {
  std::set<std::string> names;
  for (const auto* m : {&now, &plan.before, &plan.after}) {
    for (const auto& [name, oid] : *m) names.insert(name);
  }
  std::string out;
  for (const std::string& name : names) {
    std::string n = value_of(now, name), o = value_of(plan.before, name),
                a = value_of(plan.after, name);
    if (n == o && n == a) continue;
    out += "\n  " + name + ": now " + n.substr(0, 8) + " old " + o.substr(0, 8) + " new " +
           a.substr(0, 8) +
           (n == o   ? " (old)"
            : n == a ? " (new)"
                     : " (NEITHER)");
  }
  return out;
}

RunResult apply_script(const TempRepo& repo, const std::string& message, const std::string& script,
                       RunOptions options) {
  options.input = script;
  return repo.reftx({"apply", "-m", message}, options);
}

Child start_script(const TempRepo& repo, const std::string& message, const std::string& script,
                   RunOptions options) {
  options.input = script;
  return Child::start({reftx_binary(), "-C", repo.path(), "apply", "-m", message}, options);
}

RunResult apply_plan(const TempRepo& repo, const TxPlan& plan) {
  return apply_script(repo, plan.message, plan.script());
}

Child start_apply(const TempRepo& repo, const TxPlan& plan, RunOptions options) {
  return start_script(repo, plan.message, plan.script(), std::move(options));
}

}  // namespace reftx::test
