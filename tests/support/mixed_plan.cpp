#include "support/mixed_plan.hpp"

#include <doctest/doctest.h>

#include <cstdio>
#include <functional>
#include <utility>

#include "support/git_helpers.hpp"
#include "support/text.hpp"

namespace reftx::test {
namespace {

std::string describe_image(const std::map<std::string, FileImage>& files, const std::string& path) {
  auto it = files.find(path);
  if (it == files.end()) return "absent";
  char hash[32];
  std::snprintf(hash, sizeof hash, "%016zx", std::hash<std::string>{}(it->second.content));
  return std::to_string(it->second.content.size()) + " bytes " +
         (it->second.executable ? "755 #" : "644 #") + hash;
}

std::string describe_key(const KeyMap& keys, const std::string& key) {
  auto it = keys.find(key);
  return it == keys.end() ? "absent" : "'" + it->second + "'";
}

const char* which(const std::string& now, const std::string& old, const std::string& nw) {
  return now == old ? " (old)" : now == nw ? " (new)" : " (NEITHER)";
}

// One "\n  <what> <name>: now ..., old ..., new ... (which)" line, or "" if all three agree.
std::string diff_line(const std::string& what, const std::string& n, const std::string& o,
                      const std::string& a) {
  if (n == o && n == a) return "";
  return "\n  " + what + ": now " + n + ", old " + o + ", new " + a + which(n, o, a);
}

std::string present(const WorkTree& tree, const std::string& dir) {
  return tree.dirs.count(dir) ? "present" : "absent";
}

}  // namespace

std::string MixedPlan::script() const {
  return script_of(lines);
}

void MixedPlan::update(const std::string& name, const std::string& new_oid,
                       std::optional<std::string> old) {
  refs.update(name, new_oid, std::move(old));
  take_ref_line();
}

void MixedPlan::create(const std::string& name, const std::string& new_oid) {
  refs.create(name, new_oid);
  take_ref_line();
}

void MixedPlan::delete_ref(const std::string& name, std::optional<std::string> old) {
  refs.remove(name, std::move(old));
  take_ref_line();
}

void MixedPlan::write(const TempRepo& repo, const std::string& path, const std::string& content,
                      std::optional<std::string> cas, const std::string& mode) {
  const std::string blob = write_blob(repo, content);
  lines.push_back("write " + path + " " + blob + (cas ? " " + *cas : "") +
                  (mode.empty() ? "" : " mode=" + mode));
  note_file(repo, path, blob);
  auto old = before.tree.files.find(path);
  const bool executable = mode == "100755" || (mode.empty() && old != before.tree.files.end() &&
                                               old->second.executable);
  after.tree.files[path] = FileImage{content, executable};
  for (auto slash = path.find('/'); slash != std::string::npos; slash = path.find('/', slash + 1)) {
    const std::string dir = path.substr(0, slash);
    after.tree.dirs.insert(dir);
    if (!before.tree.dirs.count(dir)) created_dirs.insert(dir);
  }
}

void MixedPlan::remove(const TempRepo& repo, const std::string& path,
                       std::optional<std::string> cas) {
  lines.push_back("remove " + path + (cas ? " " + *cas : ""));
  note_file(repo, path, kZeroOid);
  after.tree.files.erase(path);
}

void MixedPlan::set(const std::string& key, const std::string& value) {
  lines.push_back("set " + key + " " + value);
  note_key(key, value);
  after.keys[key] = value;
}

void MixedPlan::unset(const std::string& key) {
  lines.push_back("unset " + key);
  note_key(key, std::nullopt);
  after.keys.erase(key);
}

std::string MixedPlan::current_blob(const TempRepo& repo, const std::string& path) const {
  auto it = before.tree.files.find(path);
  return it == before.tree.files.end() ? kZeroOid : blob_id(repo, it->second.content);
}

void MixedPlan::outside_key(const std::string& key, const std::string& value) {
  before.keys[key] = value;
  after.keys[key] = value;
}

void MixedPlan::outside_ref(const std::string& name, const std::string& oid) {
  for (RefMap* m : {&before.refs, &after.refs, &refs.before, &refs.after}) (*m)[name] = oid;
}

void MixedPlan::take_ref_line() {
  lines.push_back(refs.lines.back());
  after.refs = refs.after;
}

void MixedPlan::note_file(const TempRepo& repo, const std::string& path, const std::string& blob) {
  paths.push_back(path);
  old_blob[path] = current_blob(repo, path);
  new_blob[path] = blob;
}

void MixedPlan::note_key(const std::string& key, std::optional<std::string> value) {
  keys.push_back(key);
  auto old = before.keys.find(key);
  old_value[key] = old == before.keys.end() ? std::nullopt : std::optional(old->second);
  new_value[key] = std::move(value);
}

MixedPlan start_mixed(const TempRepo& repo, const std::string& message) {
  MixedPlan p;
  p.message = message;
  p.before = snapshot(repo);
  p.after = p.before;
  p.refs.message = message;
  p.refs.before = p.refs.after = p.before.refs;
  return p;
}

RunResult apply_mixed(const TempRepo& repo, const MixedPlan& plan, RunOptions options) {
  return apply_script(repo, plan.message, plan.script(), std::move(options));
}

Child start_mixed_apply(const TempRepo& repo, const MixedPlan& plan, RunOptions options) {
  return start_script(repo, plan.message, plan.script(), std::move(options));
}

Side classify_mixed(const RepoSnapshot& now, const MixedPlan& plan) {
  if (now == plan.before) return Side::old_values;
  if (now == plan.after) return Side::new_values;
  return Side::mixed;
}

std::string describe_mixed_diff(const RepoSnapshot& now, const MixedPlan& plan) {
  std::string out = describe_diff(now.refs, plan.refs);
  std::set<std::string> paths, dirs, keys;
  for (const RepoSnapshot* s : {&now, &plan.before, &plan.after}) {
    for (const auto& [path, image] : s->tree.files) paths.insert(path);
    dirs.insert(s->tree.dirs.begin(), s->tree.dirs.end());
    for (const auto& [key, value] : s->keys) keys.insert(key);
  }
  for (const std::string& path : paths) {
    out += diff_line("file " + path, describe_image(now.tree.files, path),
                     describe_image(plan.before.tree.files, path),
                     describe_image(plan.after.tree.files, path));
  }
  for (const std::string& dir : dirs) {
    out += diff_line("directory " + dir, present(now.tree, dir), present(plan.before.tree, dir),
                     present(plan.after.tree, dir));
  }
  for (const std::string& other : now.tree.others) out += "\n  not a file: " + other;
  for (const std::string& key : keys) {
    out += diff_line("key " + key, describe_key(now.keys, key), describe_key(plan.before.keys, key),
                     describe_key(plan.after.keys, key));
  }
  return out;
}

WorkTree commit_initial_state(const TempRepo& repo, const std::map<std::string, FileImage>& tracked,
                              const KeyMap& keys, const std::vector<std::string>& ref_lines) {
  std::string script;
  for (const auto& [path, image] : tracked) {
    const std::string blob = write_blob(repo, image.content);
    const std::string mode = image.executable ? "100755" : "100644";
    git_wt(repo, {"update-index", "--add", "--cacheinfo", mode + "," + blob + "," + path});
    script += "write " + path + " " + blob + " " + kZeroOid + " mode=" + mode + "\n";
  }
  const std::string tree = repo.git({"write-tree"});
  const std::optional<std::string> main = repo.ref("refs/heads/main");
  REQUIRE(main.has_value());
  const std::string commit = repo.git({"commit-tree", tree, "-p", *main, "-m", "tracked files"});
  script += "update refs/heads/main " + commit + " " + *main + "\n";
  for (const std::string& line : ref_lines) script += line + "\n";
  for (const auto& [key, value] : keys) script += "set " + key + " " + value + "\n";
  RunResult r = apply_script(repo, "initial state", script);
  REQUIRE_MESSAGE(r.exit_code == 0, "initial transaction: ", describe(r));
  std::vector<std::string> status = git_status(repo);
  REQUIRE_MESSAGE(status.empty(), "git status after the initial transaction:", joined(status));
  WorkTree now = snapshot_work_tree(repo.path());
  REQUIRE(now.files == tracked);
  REQUIRE(state_list(repo) == keys);
  return now;
}

}  // namespace reftx::test
