#include "support/temp_repo.hpp"

#include <stdlib.h>

#include <filesystem>
#include <sstream>
#include <stdexcept>

namespace fs = std::filesystem;

namespace reftx::test {
namespace {

std::string make_temp_dir() {
  std::string tmpl = (fs::temp_directory_path() / "reftx-test-XXXXXX").string();
  if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  return tmpl;
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

// Deterministic identity and no user/system config, so tests do not depend on the machine.
std::map<std::string, std::string> git_env() {
  return {{"GIT_AUTHOR_NAME", "reftx test"},    {"GIT_AUTHOR_EMAIL", "test@example.invalid"},
          {"GIT_COMMITTER_NAME", "reftx test"}, {"GIT_COMMITTER_EMAIL", "test@example.invalid"},
          {"GIT_CONFIG_NOSYSTEM", "1"},         {"GIT_CONFIG_GLOBAL", "/dev/null"}};
}

}  // namespace

TempDir::TempDir() : path_(make_temp_dir()) {}
TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

TempRepo::TempRepo(int commits, bool bare) : path_(make_temp_dir()) {
  std::vector<std::string> init = {"git", "init", "-q", "-b", "main"};
  if (bare) init.push_back("--bare");
  init.push_back(path_);
  RunOptions options;
  options.env = git_env();
  RunResult r = run(init, options);
  if (r.exit_code != 0) throw std::runtime_error("git init failed: " + r.err);
  git_dir_ = bare ? path_ : path_ + "/.git";
  std::string parent;
  for (int i = 0; i < commits; ++i) {
    std::string c = make_commit("commit " + std::to_string(i));
    commits_.push_back(c);
  }
  if (!commits_.empty()) git({"update-ref", "refs/heads/main", commits_.back()});
}

TempRepo::~TempRepo() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

RunResult TempRepo::git_result(const std::vector<std::string>& args) const {
  std::vector<std::string> argv = {"git", "--git-dir=" + git_dir_};
  argv.insert(argv.end(), args.begin(), args.end());
  RunOptions options;
  options.env = git_env();
  return run(argv, options);
}

std::string TempRepo::git(const std::vector<std::string>& args, const std::string& input) const {
  std::vector<std::string> argv = {"git", "--git-dir=" + git_dir_};
  argv.insert(argv.end(), args.begin(), args.end());
  RunOptions options;
  options.input = input;
  options.env = git_env();
  RunResult r = run(argv, options);
  if (r.exit_code != 0) {
    std::string cmd;
    for (const auto& a : args) cmd += a + " ";
    throw std::runtime_error("git " + cmd + "failed: " + r.err);
  }
  return trim(r.out);
}

RunResult TempRepo::reftx(const std::vector<std::string>& args, const RunOptions& options) const {
  std::vector<std::string> argv = {reftx_binary(), "-C", path_};
  argv.insert(argv.end(), args.begin(), args.end());
  return run(argv, options);
}

std::optional<std::string> TempRepo::ref(const std::string& name) const {
  RunResult r = git_result({"rev-parse", "--verify", "-q", name});
  if (r.exit_code != 0) return std::nullopt;
  return trim(r.out);
}

std::map<std::string, std::string> TempRepo::refs() const {
  std::map<std::string, std::string> out;
  std::istringstream lines(git({"for-each-ref", "--format=%(refname) %(objectname)", "refs/"}));
  std::string line;
  while (std::getline(lines, line)) {
    auto space = line.rfind(' ');
    out[line.substr(0, space)] = line.substr(space + 1);
  }
  return out;
}

std::vector<std::string> TempRepo::lock_files() const {
  std::vector<std::string> out;
  for (const auto& entry : fs::recursive_directory_iterator(git_dir_)) {
    const std::string name = entry.path().filename().string();
    if (name.size() > 5 && (name.ends_with(".lock") || name == "packed-refs.new")) {
      out.push_back(fs::relative(entry.path(), git_dir_).string());
    }
  }
  return out;
}

std::string TempRepo::make_commit(const std::string& message) const {
  std::string tree = git({"hash-object", "-t", "tree", "-w", "--stdin"}, "");
  return git({"commit-tree", tree, "-m", message});
}

}  // namespace reftx::test
