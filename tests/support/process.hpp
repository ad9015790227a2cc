// Test helper: run real processes (git, reftx) with stdin, environment and captured output.
#pragma once

#include <sys/types.h>

#include <map>
#include <string>
#include <vector>

namespace reftx::test {

// True in an AddressSanitizer build, which keeps freed memory in quarantine and adds shadow
// memory: a peak resident size (RunResult::max_rss_kb) is only meaningful without it.
#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool kSanitized = true;
#else
inline constexpr bool kSanitized = false;
#endif

struct RunResult {
  int exit_code = -1;    // exit status, or -1 if killed by a signal
  int signal = 0;        // terminating signal, 0 if exited
  long max_rss_kb = -1;  // peak resident set size of the process and its reaped descendants
  std::string out;
  std::string err;
};

struct RunOptions {
  std::string input;                       // written to stdin, then closed
  std::map<std::string, std::string> env;  // added to / overriding the environment
  std::string cwd;                         // empty: current directory
  bool new_process_group = false;
};

// "exit 1 signal 0 stdout '...' stderr '...'", for failure messages.
std::string describe(const RunResult& r);

// Runs argv to completion.
RunResult run(const std::vector<std::string>& argv, const RunOptions& options = {});

// A process started in the background; wait() collects it.
class Child {
 public:
  static Child start(const std::vector<std::string>& argv, const RunOptions& options = {});
  Child(Child&&) noexcept;
  Child& operator=(Child&&) noexcept;
  ~Child();
  pid_t pid() const { return pid_; }
  RunResult wait();

 private:
  Child() = default;
  pid_t pid_ = -1;
  int out_fd_ = -1;
  int err_fd_ = -1;
};

// Path of the reftx binary under test (REFTX_BIN, set by meson).
std::string reftx_binary();

}  // namespace reftx::test
