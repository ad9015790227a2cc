// Latency statistics and the table cells shared by the tables of the reftx-bench report.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "sync_probe.hpp"

namespace reftx_bench {

struct Stats {
  std::size_t n = 0;
  double median_ms = 0;
  double p90_ms = 0;    // nearest rank
  double tx_per_s = 0;  // transactions / summed latency
};

Stats summarize(std::vector<double> ms);

// `value` with `decimals` digits after the point.
std::string fixed(double value, int decimals);

// total / transactions: an integer when exact, else one decimal; "n/a" without transactions.
std::string per_tx(long total, int transactions);

// "syncs/tx" cell: fsync-family calls per transaction, split by call when several kinds occur.
// "n/a" when `syncs` is empty.
std::string sync_cell(const std::optional<SyncCounts>& syncs, int transactions);

// "O_DSYNC writes/tx" cell; "n/a" when `syncs` is empty.
std::string dsync_cell(const std::optional<SyncCounts>& syncs, int transactions);

}  // namespace reftx_bench
