// reftx-bench: latency, throughput and measured sync calls of one all-or-nothing ref transaction
// of 1..1000 refs, for git update-ref, libgit2 git_transaction, the reftx library and the reftx
// CLI, side by side on one fresh repository; then of one mixed transaction (refs + work-tree
// files + tool-state keys, mixed.hpp) for reftx and for the same work done by hand. Prints a
// Markdown report on stdout, progress on stderr. Exit status 0 on success, 1 on failure, 2 on
// bad usage.
#include <git2.h>
#include <lmdb.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <boost/program_options.hpp>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "mixed.hpp"
#include "mixed_variants.hpp"
#include "process.hpp"
#include "reftx/reftx.hpp"
#include "stats.hpp"
#include "sync_probe.hpp"
#include "variants.hpp"

namespace po = boost::program_options;
using namespace reftx_bench;

namespace {

struct Config {
  std::vector<int> sizes;         // empty: no ref-only table
  std::map<int, int> iterations;  // size -> measured transactions per variant
  int warmup = -1;                // -1: 1 for sizes <= 10, else 0
  int probe_transactions = 0;     // 0: 3 for sizes <= 10, else 1
  std::vector<std::string> variants;
  std::string parent_dir;
  std::string ref_prefix;
  int mixed_iterations = 50;  // timed mixed transactions per variant; 0 skips the section
  std::vector<std::string> mixed_variants;
  bool keep = false;
  Tools tools;
  std::string strace;  // empty: not available, counts print n/a
};

// Arguments of the hidden probe mode (the child run under strace).
struct ProbeArgs {
  std::string variant;
  std::string work_dir;
  std::string oids;  // "<A>,<B>"
  int size = 0;
  int count = 0;
  bool mixed = false;  // variant is a mixed-transaction variant
};

std::vector<std::string> split(const std::string& text, char sep) {
  std::vector<std::string> parts;
  std::stringstream in(text);
  std::string part;
  while (std::getline(in, part, sep)) {
    if (!part.empty()) parts.push_back(part);
  }
  return parts;
}

int parse_positive(const std::string& text, const std::string& what) {
  std::size_t used = 0;
  int value = 0;
  try {
    value = std::stoi(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != text.size() || value <= 0) {
    throw po::error("invalid " + what + " '" + text + "'");
  }
  return value;
}

int default_iterations(int size) {
  if (size <= 1) return 40;
  if (size <= 10) return 25;
  if (size <= 100) return 8;
  return 2;
}

// "N" sets every size; "size:N,..." sets the sizes named and keeps the defaults of the others.
std::map<int, int> parse_iterations(const std::string& spec, const std::vector<int>& sizes) {
  std::map<int, int> result;
  for (int size : sizes) result[size] = default_iterations(size);
  if (spec.empty()) return result;
  if (spec.find(':') == std::string::npos) {
    const int n = parse_positive(spec, "iteration count");
    for (auto& entry : result) entry.second = n;
    return result;
  }
  for (const std::string& item : split(spec, ',')) {
    const std::size_t colon = item.find(':');
    if (colon == std::string::npos) throw po::error("invalid --iterations item '" + item + "'");
    const int size = parse_positive(item.substr(0, colon), "size");
    result[size] = parse_positive(item.substr(colon + 1), "iteration count");
  }
  return result;
}

std::string directory_of(const std::string& path) {
  const std::size_t slash = path.rfind('/');
  return slash == std::string::npos ? std::string(".") : path.substr(0, slash);
}

// --reftx, else $REFTX_BIN, else `reftx` next to this executable, else ../reftx.
std::string locate_reftx(const std::string& given) {
  if (!given.empty()) return find_executable(given);
  if (const char* env = std::getenv("REFTX_BIN"); env != nullptr && *env != '\0') {
    return find_executable(env);
  }
  const std::string here = directory_of(self_executable());
  for (const std::string& candidate : {here + "/reftx", here + "/../reftx"}) {
    if (!find_executable(candidate).empty()) return candidate;
  }
  return {};
}

std::string ref_name(const std::string& prefix, int size, int index) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d", index);
  return prefix + "/n" + std::to_string(size) + "/r" + buf;
}

std::vector<std::string> ref_names(const std::string& prefix, int size) {
  std::vector<std::string> names;
  names.reserve(static_cast<std::size_t>(size));
  for (int i = 0; i < size; ++i) names.push_back(ref_name(prefix, size, i));
  return names;
}

void check_git(const char* call, int rc) {
  if (rc >= 0) return;
  const git_error* e = git_error_last();
  throw std::runtime_error(std::string(call) + " failed: " +
                           (e != nullptr && e->message != nullptr ? e->message : "error"));
}

// Owns a libgit2 handle on the benchmark repository, for setup and state checks.
class Repo {
 public:
  explicit Repo(const std::string& git_dir) {
    git_libgit2_init();
    check_git("git_repository_open", git_repository_open(&repo_, git_dir.c_str()));
  }
  ~Repo() {
    git_repository_free(repo_);
    git_libgit2_shutdown();
  }
  Repo(const Repo&) = delete;
  Repo& operator=(const Repo&) = delete;

  // Creates a non-bare repository at `work_dir` with two commits; returns their ids.
  static std::vector<std::string> create(const std::string& work_dir) {
    git_libgit2_init();
    git_repository* repo = nullptr;
    check_git("git_repository_init", git_repository_init(&repo, work_dir.c_str(), 0));
    std::vector<std::string> ids;
    git_config* config = nullptr;
    git_treebuilder* builder = nullptr;
    git_tree* tree = nullptr;
    git_signature* sig = nullptr;
    git_commit* parent = nullptr;
    // Frees everything above on every exit, normal or by exception.
    struct Cleanup {
      git_repository*& repo;
      git_config*& config;
      git_treebuilder*& builder;
      git_tree*& tree;
      git_signature*& sig;
      git_commit*& parent;
      ~Cleanup() {
        git_commit_free(parent);
        git_signature_free(sig);
        git_tree_free(tree);
        git_treebuilder_free(builder);
        git_config_free(config);
        git_repository_free(repo);
        git_libgit2_shutdown();
      }
    } cleanup{repo, config, builder, tree, sig, parent};
    check_git("git_repository_config", git_repository_config(&config, repo));
    check_git("git_config_set_string", git_config_set_string(config, "user.name", "bench"));
    check_git("git_config_set_string",
              git_config_set_string(config, "user.email", "bench@example.invalid"));
    check_git("git_treebuilder_new", git_treebuilder_new(&builder, repo, nullptr));
    git_oid tree_id;
    check_git("git_treebuilder_write", git_treebuilder_write(&tree_id, builder));
    check_git("git_tree_lookup", git_tree_lookup(&tree, repo, &tree_id));
    check_git("git_signature_new",
              git_signature_new(&sig, "bench", "bench@example.invalid", 1700000000, 0));
    for (const char* message : {"bench A\n", "bench B\n"}) {
      git_oid id;
      const git_commit* parents[] = {parent};
      check_git("git_commit_create",
                git_commit_create(&id, repo, nullptr, sig, sig, nullptr, message, tree,
                                  parent != nullptr ? 1 : 0, parents));
      git_commit_free(parent);
      parent = nullptr;
      check_git("git_commit_lookup", git_commit_lookup(&parent, repo, &id));
      char hex[GIT_OID_HEXSZ + 1];
      git_oid_tostr(hex, sizeof hex, &id);
      ids.emplace_back(hex);
    }
    return ids;
  }

  // Id the ref points to, empty if it does not exist.
  std::string read(const std::string& name) const {
    git_oid id;
    const int rc = git_reference_name_to_id(&id, repo_, name.c_str());
    if (rc == GIT_ENOTFOUND) return {};
    check_git("git_reference_name_to_id", rc);
    char hex[GIT_OID_HEXSZ + 1];
    git_oid_tostr(hex, sizeof hex, &id);
    return hex;
  }

  // Index into `oids` of the value every ref of `names` has. Throws if they differ or if one
  // has a value outside `oids`.
  std::size_t common_state(const std::vector<std::string>& names,
                           const std::vector<std::string>& oids) const {
    const std::string first = read(names.front());
    auto it = std::find(oids.begin(), oids.end(), first);
    if (it == oids.end()) throw std::runtime_error(names.front() + " has unexpected value");
    for (const std::string& name : names) {
      if (read(name) != first) {
        throw std::runtime_error("transaction not all-or-nothing: " + name + " differs from " +
                                 names.front());
      }
    }
    return static_cast<std::size_t>(it - oids.begin());
  }

 private:
  git_repository* repo_ = nullptr;
};

Fixture fixture_at(const std::string& work_dir) {
  return {work_dir, work_dir + "/.git"};
}

// Settings of the mixed section: warm-up -1 means 1, probe transactions 0 mean 3.
MixedConfig mixed_config(const Config& config) {
  MixedConfig mixed;
  mixed.iterations = config.mixed_iterations;
  mixed.warmup = config.warmup >= 0 ? config.warmup : 1;
  mixed.probe_transactions = config.probe_transactions > 0 ? config.probe_transactions : 3;
  mixed.variants = config.mixed_variants;
  mixed.ref_prefix = config.ref_prefix;
  mixed.tools = config.tools;
  mixed.strace = config.strace;
  return mixed;
}

// The probe child: `count` transactions of `size` refs (or of the mixed transaction) between
// the strace marks.
int run_probe(const ProbeArgs& args, const Config& config) {
  const Fixture fixture = fixture_at(args.work_dir);
  const std::vector<std::string> oids = split(args.oids, ',');
  if (oids.size() != 2) throw std::runtime_error("--probe-oids needs two commit ids");
  if (args.mixed) {
    run_mixed_probe(args.variant, mixed_config(config), fixture, oids, args.count);
    return 0;
  }
  const std::vector<std::string> names = ref_names(config.ref_prefix, args.size);
  std::size_t state = Repo(fixture.git_dir).common_state(names, oids);
  std::unique_ptr<Variant> variant = make_variant(args.variant, fixture, config.tools);
  mark_probe_begin();
  for (int i = 0; i < args.count; ++i) {
    variant->apply(names, oids[state], oids[1 - state]);
    state = 1 - state;
  }
  mark_probe_end();
  return 0;
}

struct Row {
  int size = 0;
  std::string key;
  Stats stats;
  std::optional<SyncCounts> syncs;
  int probed = 0;  // transactions the sync counts cover
};

std::string label_of(const std::string& key) {
  for (const VariantInfo& v : all_variants()) {
    if (v.key == key) return v.label;
  }
  return key;
}

std::string all_mixed_keys() {
  std::string keys;
  for (const MixedVariantInfo& v : all_mixed_variants()) keys += (keys.empty() ? "" : ",") + v.key;
  return keys;
}

bool is_mixed_key(const std::string& key) {
  for (const MixedVariantInfo& v : all_mixed_variants()) {
    if (v.key == key) return true;
  }
  return false;
}

std::string first_line_of_command(const std::vector<std::string>& argv,
                                  const std::string& scratch) {
  const std::string out = scratch + "/command.out";
  std::string line;
  try {
    if (run_process(argv, {}, out) == 0) {
      std::ifstream in(out);
      std::getline(in, line);
    }
  } catch (const std::exception&) {
    line.clear();
  }
  ::unlink(out.c_str());
  return line.empty() ? "unknown" : line;
}

std::string filesystem_of(const std::string& path) {
  struct statfs st {};
  if (::statfs(path.c_str(), &st) != 0) return "unknown";
  const auto magic = static_cast<unsigned long>(st.f_type);
  const std::map<unsigned long, std::string> names = {
      {0xEF53UL, "ext2/3/4"},  {0x58465342UL, "xfs"},       {0x9123683EUL, "btrfs"},
      {0x01021994UL, "tmpfs"}, {0x794C7630UL, "overlayfs"}, {0x2FC12FC1UL, "zfs"},
      {0xF2F52010UL, "f2fs"}};
  auto it = names.find(magic);
  char hex[32];
  std::snprintf(hex, sizeof hex, "0x%lx", magic);
  return (it != names.end() ? it->second : std::string("unknown")) + " (statfs magic " + hex + ")";
}

std::string load_average() {
  std::ifstream in("/proc/loadavg");
  std::string one, five, fifteen;
  if (!(in >> one >> five >> fifteen)) return "unknown";
  return one + " " + five + " " + fifteen;
}

std::string iterations_text(const Config& config) {
  if (config.sizes.empty()) return "none (--sizes none)";
  std::string text;
  for (int size : config.sizes) {
    if (!text.empty()) text += ", ";
    text += std::to_string(size) + " ref" + (size == 1 ? "" : "s") + ": " +
            std::to_string(config.iterations.at(size));
  }
  return text;
}

int warmup_count(const Config& config, int size) {
  if (config.warmup >= 0) return config.warmup;
  return size <= 10 ? 1 : 0;
}

int probe_count(const Config& config, int size) {
  if (config.probe_transactions > 0) return config.probe_transactions;
  return size <= 10 ? 3 : 1;
}

// Whether git and libgit2 write reflogs for refs under `prefix` in a non-bare repository
// with the default core.logAllRefUpdates.
bool writes_reflogs(const std::string& prefix) {
  for (const char* logged : {"refs/heads", "refs/remotes", "refs/notes"}) {
    const std::string root = logged;
    if (prefix == root || prefix.rfind(root + "/", 0) == 0) return true;
  }
  return false;
}

std::string lmdb_version() {
  std::string text = mdb_version(nullptr, nullptr, nullptr);  // "LMDB 0.9.24: (July 24, 2019)"
  return text.substr(0, text.find(':'));
}

void print_report(const Config& config, const std::vector<Row>& rows, const std::string& repo,
                  const std::string& scratch, const std::string& load_at_start, double seconds) {
  utsname uts{};
  ::uname(&uts);
  int major = 0, minor = 0, rev = 0;
  git_libgit2_version(&major, &minor, &rev);
  const std::string git_version = first_line_of_command({config.tools.git, "--version"}, scratch);

  std::cout << "## reftx-bench: one all-or-nothing transaction of N refs\n\n";
  std::cout << "- machine: " << ::sysconf(_SC_NPROCESSORS_ONLN) << " online CPUs, " << uts.sysname
            << " " << uts.release << " " << uts.machine << "; load average " << load_at_start
            << " at start, " << load_average() << " at end\n";
  std::cout << "- repository: fresh non-bare repo in " << repo << " on " << filesystem_of(repo)
            << "; loose refs " << config.ref_prefix << "/n<N>/r<i> ("
            << (writes_reflogs(config.ref_prefix) ? "with" : "no")
            << " reflogs), two commits A/B alternated, every update checks the old value "
               "(libgit2 has no such check: its variant compares each ref after locking)\n";
  std::cout << "- " << git_version << "; libgit2 " << major << "." << minor << "." << rev
            << " (GIT_OPT_ENABLE_FSYNC_GITDIR on for its rows); " << lmdb_version() << "; reftx "
            << reftx::version() << " (Options{} defaults: durable)\n";
  std::cout << "- timed transactions per variant (n): " << iterations_text(config)
            << "; per size, untimed first: the traced transactions, then "
            << (config.warmup >= 0 ? std::to_string(config.warmup)
                                   : std::string("1 (N <= 10) or 0"))
            << " warm-up(s) per variant; timed transactions interleaved round-robin across "
               "variants; process variants timed from spawn to exit, reftx library from "
               "begin() to the end of commit()\n";
  std::cout << "- syncs/tx: fsync-family calls counted under `strace -f` over "
            << (config.probe_transactions > 0
                    ? std::to_string(config.probe_transactions) + " extra transaction(s)"
                    : std::string("3 (N <= 10) or 1 extra transaction(s)"))
            << " per cell, including child processes; O_DSYNC writes/tx: write calls on files "
               "opened O_DSYNC/O_SYNC (LMDB's meta page), each a synchronous write"
            << (config.strace.empty() ? " — strace not found: n/a" : "") << "\n";
  std::cout << "- tx/s = transactions / summed latency (sequential, one writer); ratio columns "
               "= median / median of the git baseline row of the same size\n";
  std::cout << "- total run time " << fixed(seconds, 1) << " s (all sections)\n";
  if (rows.empty()) return;

  std::cout << "\n| refs | variant | n | median ms | p90 ms | tx/s | syncs/tx | O_DSYNC writes/tx "
               "| × git fsync | × git default |\n";
  std::cout << "|---:|---|---:|---:|---:|---:|---|---:|---:|---:|\n";
  for (const Row& row : rows) {
    auto baseline = [&](const std::string& key) -> std::string {
      for (const Row& other : rows) {
        if (other.size == row.size && other.key == key && other.stats.median_ms > 0) {
          return fixed(row.stats.median_ms / other.stats.median_ms, 2);
        }
      }
      return "—";
    };
    std::cout << "| " << row.size << " | " << label_of(row.key) << " | " << row.stats.n << " | "
              << fixed(row.stats.median_ms, 2) << " | " << fixed(row.stats.p90_ms, 2) << " | "
              << fixed(row.stats.tx_per_s, row.stats.tx_per_s < 10 ? 2 : 1) << " | "
              << sync_cell(row.syncs, row.probed) << " | " << dsync_cell(row.syncs, row.probed)
              << " | " << baseline(kGitFsyncKey) << " | " << baseline(kGitDefaultKey) << " |\n";
  }
}

void create_refs(const Config& config, const Fixture& fixture, const std::string& oid) {
  std::string script;
  for (int size : config.sizes) {
    for (const std::string& name : ref_names(config.ref_prefix, size)) {
      script += "create " + name + " " + oid + "\n";
    }
  }
  const int status = run_process(
      {config.tools.git, "--git-dir=" + fixture.git_dir, "update-ref", "--stdin"}, script);
  if (status != 0) throw std::runtime_error("creating the benchmark refs failed");
}

std::string make_temp_dir(const std::string& parent) {
  std::string pattern = parent + "/reftx-bench-XXXXXX";
  std::vector<char> buf(pattern.begin(), pattern.end());
  buf.push_back('\0');
  if (::mkdtemp(buf.data()) == nullptr) {
    throw std::runtime_error("cannot create a temporary directory in '" + parent + "'");
  }
  return std::string(buf.data());
}

int run_benchmark(const Config& config) {
  const auto started = std::chrono::steady_clock::now();
  const std::string load_at_start = load_average();
  const std::string scratch = make_temp_dir(config.parent_dir);
  const std::string work_dir = scratch + "/repo";
  struct Cleanup {
    std::string dir;
    bool keep;
    ~Cleanup() {
      if (keep) {
        std::cerr << "reftx-bench: kept " << dir << "\n";
        return;
      }
      std::error_code ignored;
      std::filesystem::remove_all(dir, ignored);
    }
  } cleanup{scratch, config.keep};

  std::cerr << "reftx-bench: repository " << work_dir << "\n";
  const std::vector<std::string> oids = Repo::create(work_dir);
  const Fixture fixture = fixture_at(work_dir);
  create_refs(config, fixture, oids[0]);
  Repo repo(fixture.git_dir);

  std::vector<std::unique_ptr<Variant>> variants;
  for (const std::string& key : config.variants) {
    variants.push_back(make_variant(key, fixture, config.tools));
  }

  const std::string self = self_executable();
  std::vector<Row> rows;
  for (int size : config.sizes) {
    const std::vector<std::string> names = ref_names(config.ref_prefix, size);
    std::size_t state = repo.common_state(names, oids);
    auto apply = [&](Variant& variant) {
      variant.apply(names, oids[state], oids[1 - state]);
      state = 1 - state;
    };
    const int iterations = config.iterations.at(size);
    const int warmup = warmup_count(config, size);
    const int probed = probe_count(config, size);
    std::cerr << "reftx-bench: " << size << " ref(s): " << (config.strace.empty() ? 0 : probed)
              << " traced + " << warmup << " warm-up + " << iterations
              << " timed transaction(s) per variant\n";

    // Traced first: the probe transactions also warm the page cache for the timed ones.
    std::vector<std::optional<SyncCounts>> syncs(variants.size());
    if (!config.strace.empty()) {
      for (std::size_t v = 0; v < variants.size(); ++v) {
        const std::vector<std::string> argv = {self,
                                               "--probe-variant",
                                               config.variants[v],
                                               "--probe-work-dir",
                                               work_dir,
                                               "--probe-oids",
                                               oids[0] + "," + oids[1],
                                               "--probe-size",
                                               std::to_string(size),
                                               "--probe-count",
                                               std::to_string(probed),
                                               "--ref-prefix",
                                               config.ref_prefix,
                                               "--git",
                                               config.tools.git,
                                               "--reftx",
                                               config.tools.reftx};
        syncs[v] = probe_syncs(config.strace, argv, scratch);
      }
      state = repo.common_state(names, oids);
    }
    for (int w = 0; w < warmup; ++w) {
      for (auto& variant : variants) apply(*variant);
    }
    std::vector<std::vector<double>> samples(variants.size());
    for (int i = 0; i < iterations; ++i) {
      for (std::size_t v = 0; v < variants.size(); ++v) {
        const auto t0 = std::chrono::steady_clock::now();
        apply(*variants[v]);
        const auto t1 = std::chrono::steady_clock::now();
        samples[v].push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
      }
    }
    if (repo.common_state(names, oids) != state) {
      throw std::runtime_error("refs do not hold the value of the last transaction");
    }
    for (std::size_t v = 0; v < variants.size(); ++v) {
      Row row;
      row.size = size;
      row.key = config.variants[v];
      row.stats = summarize(samples[v]);
      row.syncs = syncs[v];
      row.probed = syncs[v] ? probed : 0;
      rows.push_back(std::move(row));
    }
  }
  variants.clear();  // also turns libgit2's process-wide fsync switch off again
  std::vector<MixedRow> mixed_rows;
  const MixedConfig mixed = mixed_config(config);
  if (mixed.iterations > 0) mixed_rows = run_mixed(mixed, fixture, oids, scratch);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  print_report(config, rows, work_dir, scratch, load_at_start, seconds);
  if (!mixed_rows.empty()) print_mixed_report(mixed, mixed_rows);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);  // a child that dies early must not kill the benchmark
  std::string sizes_text, iterations_text_arg, variants_text, mixed_variants_text, reftx_arg,
      strace_arg;
  Config config;
  ProbeArgs probe;

  po::options_description visible("usage: reftx-bench [options]\noptions");
  visible.add_options()("help,h", "show this help")(
      "sizes", po::value(&sizes_text)->default_value("1,10,100,1000"),
      "transaction sizes (refs per transaction), comma-separated; 'none' skips the ref-only "
      "table")("iterations", po::value(&iterations_text_arg)->default_value(""),
               "timed transactions per variant: N for every size, or size:N,... "
               "(default 1:40,10:25,100:8, larger sizes 2)")(
      "warmup", po::value(&config.warmup)->default_value(-1),
      "untimed transactions per variant and size before timing (-1: 1 for sizes <= 10 and "
      "the mixed transaction, else 0)")(
      "probe-transactions", po::value(&config.probe_transactions)->default_value(0),
      "transactions traced per cell to count syncs (0: 3 for sizes <= 10 and the mixed "
      "transaction, else 1)")(
      "variants",
      po::value(&variants_text)->default_value("git,git-fsync,libgit2,reftx-lib,reftx-cli"),
      "variants to run, comma-separated")(
      "mixed-iterations", po::value(&config.mixed_iterations)->default_value(50),
      "timed mixed transactions (10 refs + 10 files + 10 keys) per variant; 0 skips them")(
      "mixed-variants", po::value(&mixed_variants_text)->default_value(all_mixed_keys()),
      "mixed-transaction variants to run, comma-separated")(
      "dir", po::value(&config.parent_dir)->default_value(""),
      "directory for the temporary repository (default $TMPDIR or /tmp)")(
      "ref-prefix", po::value(&config.ref_prefix)->default_value("refs/bench"),
      "namespace of the benchmark refs")("git", po::value(&config.tools.git)->default_value("git"),
                                         "git executable")(
      "reftx", po::value(&reftx_arg)->default_value(""),
      "reftx CLI (default $REFTX_BIN, else next to this program, else ../reftx)")(
      "strace", po::value(&strace_arg)->default_value("strace"),
      "strace executable for the sync counts; 'none' prints n/a")(
      "keep", po::bool_switch(&config.keep), "keep the temporary repository");
  po::options_description hidden;
  hidden.add_options()("probe-variant", po::value(&probe.variant))(
      "probe-work-dir", po::value(&probe.work_dir))("probe-oids", po::value(&probe.oids))(
      "probe-size", po::value(&probe.size))("probe-count", po::value(&probe.count))(
      "probe-mixed", po::bool_switch(&probe.mixed));
  po::options_description all;
  all.add(visible).add(hidden);

  try {
    po::variables_map vm;
    po::store(po::parse_command_line(argc, argv, all), vm);
    po::notify(vm);
    if (vm.count("help")) {
      std::cout << visible;
      return 0;
    }
    for (const std::string& s : split(sizes_text == "none" ? "" : sizes_text, ',')) {
      const int size = parse_positive(s, "size");
      if (std::find(config.sizes.begin(), config.sizes.end(), size) == config.sizes.end()) {
        config.sizes.push_back(size);
      }
    }
    if (config.sizes.empty() && sizes_text != "none") throw po::error("--sizes is empty");
    config.iterations = parse_iterations(iterations_text_arg, config.sizes);
    if (config.warmup < -1 || config.probe_transactions < 0 || config.mixed_iterations < 0) {
      throw po::error("--warmup must be >= -1, --probe-transactions and --mixed-iterations >= 0");
    }
    config.variants = split(variants_text, ',');
    for (const std::string& key : config.variants) {
      if (label_of(key) == key) throw po::error("unknown variant '" + key + "'");
    }
    config.mixed_variants = split(mixed_variants_text, ',');
    for (const std::string& key : config.mixed_variants) {
      if (!is_mixed_key(key)) throw po::error("unknown mixed variant '" + key + "'");
    }
  } catch (const po::error& e) {
    std::cerr << "reftx-bench: " << e.what() << "\n" << visible;
    return 2;
  }

  try {
    if (!probe.variant.empty()) {
      config.tools.reftx = reftx_arg;
      return run_probe(probe, config);
    }
    config.tools.reftx = locate_reftx(reftx_arg);
    auto has_cli = [](const std::vector<std::string>& keys) {
      return std::find(keys.begin(), keys.end(), "reftx-cli") != keys.end();
    };
    const bool needs_cli =
        has_cli(config.variants) || (config.mixed_iterations > 0 && has_cli(config.mixed_variants));
    if (needs_cli && config.tools.reftx.empty()) {
      throw std::runtime_error("reftx CLI not found; pass --reftx or set REFTX_BIN");
    }
    if (find_executable(config.tools.git).empty()) {
      throw std::runtime_error("git not found: '" + config.tools.git + "'");
    }
    if (strace_arg != "none") config.strace = find_executable(strace_arg);
    if (config.strace.empty()) std::cerr << "reftx-bench: strace not found; syncs/tx n/a\n";
    if (config.parent_dir.empty()) {
      const char* tmp = std::getenv("TMPDIR");
      config.parent_dir = tmp != nullptr && *tmp != '\0' ? tmp : "/tmp";
    }
    return run_benchmark(config);
  } catch (const std::exception& e) {
    std::cerr << "reftx-bench: " << e.what() << "\n";
    return 1;
  }
}
