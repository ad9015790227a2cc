// Child processes for reftx-bench: spawn one, feed its stdin, wait for it.
#pragma once

#include <string>
#include <vector>

namespace reftx_bench {

// Runs argv (argv[0] searched in PATH) with `input` on its stdin, stdout redirected to
// `stdout_path` (truncated; /dev/null when empty), stderr inherited, SIGPIPE at its default.
// Blocks until the child exits. Returns its exit status, or 128 + signal number if it was
// killed. Throws std::runtime_error if the child cannot be started.
int run_process(const std::vector<std::string>& argv, const std::string& input,
                const std::string& stdout_path = {});

// Absolute path of the executable `name`: taken as is when it contains '/', otherwise looked
// up in PATH. Empty when there is no such executable.
std::string find_executable(const std::string& name);

// Path of the running executable (/proc/self/exe resolved). Empty if unknown.
std::string self_executable();

}  // namespace reftx_bench
