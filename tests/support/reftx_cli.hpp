// Test helper: running the `reftx` command under test and reading what it prints.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "reftx/types.hpp"
#include "support/process.hpp"
#include "support/temp_repo.hpp"

namespace reftx::test {

inline const std::string& kZero = kZeroOid;  // 40 zeros: "absent" in scripts and records

using KeyMap = std::map<std::string, std::string>;  // tool state: key -> value

RunOptions with_input(std::string input, std::map<std::string, std::string> env = {});

// The reftx binary without the implicit -C of TempRepo::reftx.
RunResult reftx_raw(const std::vector<std::string>& args, const RunOptions& options = {});

// `reftx -C <repo> apply <extra...>` with `script` on stdin.
RunResult run_apply(const TempRepo& repo, const std::string& script,
                    const std::vector<std::string>& extra = {},
                    std::map<std::string, std::string> env = {});

// The first line of a successful apply's stdout: the transaction id. REQUIREs exit 0 and a
// decimal id.
std::string committed_id(const RunResult& r);

// The id printed by an apply that exited 0 and printed exactly one decimal number; else nullopt.
std::optional<std::uint64_t> printed_id(const RunResult& r);

// `reftx crash-points`: the crash points of the binary under test; REQUIREs exit 0 and at least
// one point.
std::vector<std::string> binary_crash_points();

// `reftx state list --json`, parsed; CHECKs that no key is listed twice. Read-only: never
// recovers anything.
KeyMap state_list(const TempRepo& repo);

}  // namespace reftx::test
