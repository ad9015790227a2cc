// Soak: writers that increment one counter with compare-and-swap transactions while being
// SIGKILLed and restarted at random. The counter is a ref that walks a list of prepared
// commits (value k = commit k) and a tool-state key holding k, changed in one transaction.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace reftx::test::soak {

inline constexpr const char* kCounterRef = "refs/heads/soak/counter";
inline constexpr const char* kCounterKey = "soak/counter";

// One writer: until its log holds `quota` increments, reads the counter (k), applies
// `update <ref> commit[k+1] commit[k]` + `set <key> k+1`, retries on exit 1 (another writer
// won), and appends "<id> <k+1>" to its log after each commit reftx reported. Exit 0 when done,
// 1 on any unexpected result (printed).
int worker_main(int argc, char** argv);

// Commit ids of the counter's values, one per line (value 0 first).
std::vector<std::string> read_lines(const std::string& path);

}  // namespace reftx::test::soak
