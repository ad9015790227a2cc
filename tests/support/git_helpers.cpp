#include "support/git_helpers.hpp"

#include <doctest/doctest.h>

#include "support/text.hpp"

namespace reftx::test {

std::string write_blob(const TempRepo& repo, const std::string& content) {
  return repo.git({"hash-object", "-w", "--stdin"}, content);
}

std::string blob_id(const TempRepo& repo, const std::string& content) {
  return repo.git({"hash-object", "--stdin"}, content);
}

bool has_object(const TempRepo& repo, const std::string& id) {
  return repo.git_result({"cat-file", "-e", id}).exit_code == 0;
}

std::string blob_content(const TempRepo& repo, const std::string& id) {
  RunResult r = repo.git_result({"cat-file", "blob", id});
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  return r.out;
}

std::string git_wt(const TempRepo& repo, std::vector<std::string> args, const std::string& input) {
  args.insert(args.begin(), "--work-tree=" + repo.path());
  return repo.git(args, input);
}

std::vector<std::string> git_status(const TempRepo& repo) {
  return split_lines(git_wt(repo, {"status", "--porcelain", "--untracked-files=all"}));
}

std::set<std::string> git_status_entries(const TempRepo& repo) {
  RunResult r = repo.git_result(
      {"--work-tree=" + repo.path(), "status", "--porcelain", "-z", "--untracked-files=all"});
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  std::set<std::string> out;
  for (std::size_t start = 0; start < r.out.size();) {
    const std::size_t end = r.out.find('\0', start);
    out.insert(r.out.substr(start, end - start));
    start = end == std::string::npos ? r.out.size() : end + 1;
  }
  return out;
}

}  // namespace reftx::test
