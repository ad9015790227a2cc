#include "mixed.hpp"

#include <chrono>
#include <iostream>
#include <memory>
#include <stdexcept>

#include "mixed_variants.hpp"
#include "mixed_workload.hpp"
#include "process.hpp"

namespace reftx_bench {
namespace {

// `at` after a transaction of a variant changing `parts`.
void flip(MixedPosition& at, const MixedParts& parts) {
  if (parts.refs) at.refs = 1 - at.refs;
  if (parts.files) at.files = 1 - at.files;
  if (parts.keys) at.keys = 1 - at.keys;
}

std::vector<std::string> probe_argv(const MixedConfig& config, const std::string& key,
                                    const Fixture& fixture,
                                    const std::vector<std::string>& commits) {
  return {self_executable(),
          "--probe-mixed",
          "--probe-variant",
          key,
          "--probe-work-dir",
          fixture.work_dir,
          "--probe-oids",
          commits.at(0) + "," + commits.at(1),
          "--probe-count",
          std::to_string(config.probe_transactions),
          "--ref-prefix",
          config.ref_prefix,
          "--git",
          config.tools.git,
          "--reftx",
          config.tools.reftx};
}

std::string ratio(const MixedRow& row, const std::vector<MixedRow>& rows,
                  const std::string& baseline) {
  for (const MixedRow& other : rows) {
    if (other.key == baseline && other.stats.median_ms > 0) {
      return fixed(row.stats.median_ms / other.stats.median_ms, 2);
    }
  }
  return "—";
}

}  // namespace

std::vector<MixedRow> run_mixed(const MixedConfig& config, const Fixture& fixture,
                                const std::vector<std::string>& commits,
                                const std::string& scratch) {
  const MixedWorkload workload = make_mixed_workload(fixture, config.ref_prefix, commits);
  install_mixed_side0(workload, fixture, config.tools);
  std::vector<std::unique_ptr<MixedVariant>> variants;
  std::vector<MixedParts> parts;
  for (const std::string& key : config.variants) {
    variants.push_back(make_mixed_variant(key, fixture, config.tools));
    parts.push_back(mixed_variant_info(key).parts);
  }
  const int probed = config.strace.empty() ? 0 : config.probe_transactions;
  std::cerr << "reftx-bench: mixed transaction: " << probed << " traced + " << config.warmup
            << " warm-up + " << config.iterations << " timed transaction(s) per variant\n";

  // Traced first: the probe transactions also warm the page cache for the timed ones.
  std::vector<std::optional<SyncCounts>> syncs(variants.size());
  for (std::size_t v = 0; v < variants.size() && probed > 0; ++v) {
    syncs[v] = probe_syncs(config.strace, probe_argv(config, config.variants[v], fixture, commits),
                           scratch);
  }
  MixedPosition at = read_mixed_position(workload, fixture);
  auto apply = [&](std::size_t v) {
    variants[v]->apply(workload, at);
    flip(at, parts[v]);
  };
  for (int w = 0; w < config.warmup; ++w) {
    for (std::size_t v = 0; v < variants.size(); ++v) apply(v);
  }
  std::vector<std::vector<double>> samples(variants.size());
  for (int i = 0; i < config.iterations; ++i) {
    for (std::size_t v = 0; v < variants.size(); ++v) {
      const auto t0 = std::chrono::steady_clock::now();
      apply(v);
      const auto t1 = std::chrono::steady_clock::now();
      samples[v].push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
    }
  }
  const MixedPosition end = read_mixed_position(workload, fixture);
  if (end.refs != at.refs || end.files != at.files) {
    throw std::runtime_error("mixed refs or files do not hold the last transaction's values");
  }
  variants.clear();  // closes the Stores: the key check opens the journal itself
  check_reftx_keys(workload, fixture);

  std::vector<MixedRow> rows;
  for (std::size_t v = 0; v < config.variants.size(); ++v) {
    rows.push_back({config.variants[v], summarize(samples[v]), syncs[v], syncs[v] ? probed : 0});
  }
  return rows;
}

void print_mixed_report(const MixedConfig& config, const std::vector<MixedRow>& rows) {
  std::cout << "\n## reftx-bench: one transaction of " << kMixedRefs << " refs + " << kMixedFiles
            << " files + " << kMixedKeys << " tool-state keys\n\n";
  std::cout << "- workload: " << kMixedRefs << " loose refs " << config.ref_prefix
            << "/mixed/r<i> moved between the two commits (old value checked); " << kMixedFiles
            << " files mixed/f<i>.txt of " << kMixedFileBytes
            << " bytes in one work-tree directory, every one replaced by every transaction "
               "(the content of both sides is in the object database beforehand); "
            << kMixedKeys << " keys with " << kMixedValueBytes << "-byte values\n";
  std::cout << "- reftx: one transaction of `update <ref> <new> <old>`, `write <path> <blob> "
               "<old-blob>`, `set <key> <value>`; library: one Store, blobs given by id; "
               "CLI: the same as a text script to `reftx apply`, one process per transaction; "
               "the \"its ... only\" rows are library transactions of one part alone\n";
  std::cout << "- by hand: one `git update-ref --stdin` batch for the refs (old values checked), "
               "then each file replaced through <file>.tmp (write, fsync, rename, fsync of the "
               "directory), then the keys as one `key=value` state file in the git dir replaced "
               "the same way; contents from memory; no atomicity across refs, files and keys. "
               "Durable row: git -c core.fsync=reference; no-fsync row: git defaults and no "
               "fsync calls\n";
  std::cout << "- n timed transactions per variant after "
            << (config.strace.empty() ? 0 : config.probe_transactions) << " traced and "
            << config.warmup
            << " warm-up transaction(s) per variant, interleaved round-robin; syncs/tx and O_DSYNC "
               "writes/tx counted under `strace -f` over the traced transactions, child "
               "processes included; ratio columns = median / median of the by-hand row\n\n";
  std::cout << "| variant | n | median ms | p90 ms | tx/s | syncs/tx | O_DSYNC writes/tx "
               "| × by hand (fsync) | × by hand (no fsync) |\n";
  std::cout << "|---|---:|---:|---:|---:|---|---:|---:|---:|\n";
  for (const MixedRow& row : rows) {
    std::cout << "| " << mixed_variant_info(row.key).label << " | " << row.stats.n << " | "
              << fixed(row.stats.median_ms, 2) << " | " << fixed(row.stats.p90_ms, 2) << " | "
              << fixed(row.stats.tx_per_s, row.stats.tx_per_s < 10 ? 2 : 1) << " | "
              << sync_cell(row.syncs, row.probed) << " | " << dsync_cell(row.syncs, row.probed)
              << " | " << ratio(row, rows, kByHandKey) << " | "
              << ratio(row, rows, kByHandNoSyncKey) << " |\n";
  }
}

void run_mixed_probe(const std::string& key, const MixedConfig& config, const Fixture& fixture,
                     const std::vector<std::string>& commits, int count) {
  const MixedWorkload workload = make_mixed_workload(fixture, config.ref_prefix, commits);
  MixedPosition at = read_mixed_position(workload, fixture);
  std::unique_ptr<MixedVariant> variant = make_mixed_variant(key, fixture, config.tools);
  const MixedParts parts = mixed_variant_info(key).parts;
  mark_probe_begin();
  for (int i = 0; i < count; ++i) {
    variant->apply(workload, at);
    flip(at, parts);
  }
  mark_probe_end();
}

}  // namespace reftx_bench
