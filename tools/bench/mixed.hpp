// The mixed-transaction section of reftx-bench (mixed_workload.hpp): sync probes, warm-up,
// timed transactions and its Markdown table.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "stats.hpp"
#include "sync_probe.hpp"
#include "variants.hpp"

namespace reftx_bench {

struct MixedConfig {
  int iterations = 50;                // timed transactions per variant
  int warmup = 1;                     // untimed transactions per variant before timing
  int probe_transactions = 3;         // transactions traced per variant for the sync counts
  std::vector<std::string> variants;  // keys of all_mixed_variants(), table order
  std::string ref_prefix;
  Tools tools;
  std::string strace;  // empty: sync counts n/a
};

struct MixedRow {
  std::string key;
  Stats stats;
  std::optional<SyncCounts> syncs;
  int probed = 0;  // transactions the sync counts cover
};

// Sets the workload up on `fixture` (refs alternating between `commits`), runs every variant
// (timed transactions interleaved round-robin) and returns one row per variant. `scratch` holds
// the strace logs. Throws std::runtime_error on failure, or if the refs, files or reftx keys do
// not end where the last transaction put them.
std::vector<MixedRow> run_mixed(const MixedConfig& config, const Fixture& fixture,
                                const std::vector<std::string>& commits,
                                const std::string& scratch);

// Prints the section of `rows` (Markdown) on stdout.
void print_mixed_report(const MixedConfig& config, const std::vector<MixedRow>& rows);

// The probe child: `count` transactions of variant `key` between the strace marks.
void run_mixed_probe(const std::string& key, const MixedConfig& config, const Fixture& fixture,
                     const std::vector<std::string>& commits, int count);

}  // namespace reftx_bench
