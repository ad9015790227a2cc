// Test helper: a real git repository in a fresh temporary directory, removed afterwards.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "support/process.hpp"

namespace reftx::test {

class TempRepo {
 public:
  // `bare`: git init --bare. Makes `commits` empty commits on the default branch "main".
  explicit TempRepo(int commits = 3, bool bare = false);
  ~TempRepo();
  TempRepo(const TempRepo&) = delete;
  TempRepo& operator=(const TempRepo&) = delete;

  const std::string& path() const { return path_; }
  const std::string& git_dir() const { return git_dir_; }
  // Commit ids, oldest first.
  const std::vector<std::string>& commits() const { return commits_; }

  // Runs git in the repository; throws on non-zero exit.
  std::string git(const std::vector<std::string>& args, const std::string& input = "") const;
  // Runs git; returns the result whatever the exit code.
  RunResult git_result(const std::vector<std::string>& args) const;
  // Runs the reftx binary with -C <path>.
  RunResult reftx(const std::vector<std::string>& args, const RunOptions& options = {}) const;

  // Current value of a ref via `git rev-parse --verify -q`, nullopt if absent.
  std::optional<std::string> ref(const std::string& name) const;
  // All refs under refs/ (name -> oid) via `git for-each-ref`.
  std::map<std::string, std::string> refs() const;
  // Every *.lock / packed-refs.new file under the git dir (relative paths).
  std::vector<std::string> lock_files() const;
  // A new commit object (not on any branch).
  std::string make_commit(const std::string& message) const;

 private:
  std::string path_;
  std::string git_dir_;
  std::vector<std::string> commits_;
};

// A fresh empty temporary directory, removed with its content on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace reftx::test
