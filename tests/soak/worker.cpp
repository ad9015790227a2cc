#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <string>

#include "soak/soak.hpp"
#include "support/process.hpp"

namespace reftx::test::soak {
namespace {

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

int fail(const std::string& what) {
  std::cerr << "soak worker " << ::getpid() << ": " << what << std::endl;
  return 1;
}

}  // namespace

std::vector<std::string> read_lines(const std::string& path) {
  std::vector<std::string> lines;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) lines.push_back(line);
  }
  return lines;
}

int worker_main(int argc, char** argv) {
  if (argc != 6) return fail("usage: worker <repo> <commits file> <log> <quota>");
  const std::string repo = argv[2], log_path = argv[4];
  const int quota = std::atoi(argv[5]);
  const std::vector<std::string> commits = read_lines(argv[3]);
  std::map<std::string, std::size_t> value_of;
  for (std::size_t k = 0; k < commits.size(); ++k) value_of[commits[k]] = k;
  int done = static_cast<int>(read_lines(log_path).size());  // restarted: keep counting
  while (done < quota) {
    RunResult rev = run({"git", "-C", repo, "rev-parse", "--verify", "-q", kCounterRef});
    auto found = value_of.find(trim(rev.out));
    if (rev.exit_code != 0 || found == value_of.end())
      return fail("counter unreadable: " + rev.out);
    const std::size_t k = found->second;
    if (k + 1 >= commits.size()) return fail("counter ran past its prepared values");
    const std::string script = "update " + std::string(kCounterRef) + " " + commits[k + 1] + " " +
                               commits[k] + "\nset " + kCounterKey + " " + std::to_string(k + 1) +
                               "\n";
    RunOptions options;
    options.input = script;
    RunResult r = run({reftx_binary(), "-C", repo, "apply", "-m", "soak"}, options);
    if (r.exit_code == 1) continue;  // another writer moved the counter first: read it again
    if (r.exit_code != 0) return fail("apply exited " + std::to_string(r.exit_code) + ": " + r.err);
    std::FILE* log = std::fopen(log_path.c_str(), "a");
    if (log == nullptr) return fail("cannot open " + log_path);
    std::fprintf(log, "%s %zu\n", trim(r.out).c_str(), k + 1);
    std::fclose(log);
    ++done;
  }
  return 0;
}

}  // namespace reftx::test::soak
