#include "stats.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace reftx_bench {

Stats summarize(std::vector<double> ms) {
  Stats s;
  s.n = ms.size();
  if (ms.empty()) return s;
  std::sort(ms.begin(), ms.end());
  const std::size_t mid = ms.size() / 2;
  s.median_ms = ms.size() % 2 == 1 ? ms[mid] : (ms[mid - 1] + ms[mid]) / 2;
  // Nearest rank: the smallest value with at least 90% of the samples at or below it.
  const auto rank = static_cast<std::size_t>(std::ceil(0.9 * static_cast<double>(ms.size())));
  s.p90_ms = ms[std::max<std::size_t>(rank, 1) - 1];
  double total = 0;
  for (double v : ms) total += v;
  s.tx_per_s = total > 0 ? 1000.0 * static_cast<double>(ms.size()) / total : 0;
  return s;
}

std::string fixed(double value, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, value);
  return buf;
}

std::string per_tx(long total, int transactions) {
  if (transactions <= 0) return "n/a";
  if (total % transactions == 0) return std::to_string(total / transactions);
  return fixed(static_cast<double>(total) / transactions, 1);
}

std::string sync_cell(const std::optional<SyncCounts>& syncs, int transactions) {
  if (!syncs) return "n/a";
  const SyncCounts& c = *syncs;
  std::string cell = per_tx(c.sync_calls(), transactions);
  std::vector<std::string> parts;
  if (c.fsync > 0) parts.push_back(per_tx(c.fsync, transactions) + " fsync");
  if (c.fdatasync > 0) parts.push_back(per_tx(c.fdatasync, transactions) + " fdatasync");
  if (c.sync_file_range > 0) {
    parts.push_back(per_tx(c.sync_file_range, transactions) + " sync_file_range");
  }
  if (c.other > 0) parts.push_back(per_tx(c.other, transactions) + " msync/syncfs/sync");
  if (parts.size() > 1) {
    cell += " (";
    for (std::size_t i = 0; i < parts.size(); ++i) {
      if (i > 0) cell += " + ";
      cell += parts[i];
    }
    cell += ")";
  } else if (parts.size() == 1) {
    cell += ' ';
    cell += parts.front().substr(parts.front().find(' ') + 1);
  }
  return cell;
}

std::string dsync_cell(const std::optional<SyncCounts>& syncs, int transactions) {
  return syncs ? per_tx(syncs->dsync_writes, transactions) : "n/a";
}

}  // namespace reftx_bench
