#include "powercut/suite.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "powercut/check.hpp"
#include "support/process.hpp"

namespace fs = std::filesystem;

namespace reftx::test::powercut {
namespace {

std::unique_ptr<Setup> g_setup;

std::uint64_t splitmix(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

std::string hex(std::uint64_t v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "0x%016llx", static_cast<unsigned long long>(v));
  return buf;
}

std::string self_exe() {
  char buf[4096];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) throw std::runtime_error("cannot read /proc/self/exe");
  return std::string(buf, static_cast<std::size_t>(n));
}

// Blobs 1..N then a chain of N commits (empty trees) on refs/pool/chain, in one fast-import.
std::string fast_import_stream(int n) {
  std::string s;
  for (int i = 0; i < n; ++i) {
    const std::string c = pool_blob_content(i);
    s += "blob\nmark :" + std::to_string(i + 1) + "\ndata " + std::to_string(c.size()) + "\n" + c +
         "\n";
  }
  for (int i = 0; i < n; ++i) {
    const std::string msg = "powercut commit " + std::to_string(i) + "\n";
    s += "commit refs/pool/chain\nmark :" + std::to_string(n + i + 1) +
         "\ncommitter Power Cut <pc@example.invalid> " + std::to_string(1700000000 + i) +
         " +0000\ndata " + std::to_string(msg.size()) + "\n" + msg + "\n";
  }
  return s;
}

Pool pool_from_marks(const std::string& marks, int n) {
  std::ifstream in(marks);
  std::map<int, std::string> by_mark;
  std::string mark, oid;
  while (in >> mark >> oid) by_mark[std::stoi(mark.substr(1))] = oid;
  Pool p;
  for (int i = 0; i < n; ++i) p.blobs.push_back(by_mark.at(i + 1));
  for (int i = 0; i < n; ++i) p.commits.push_back(by_mark.at(n + i + 1));
  return p;
}

void build_base(Setup& s, const std::string& mode) {
  s.rig->make_image_and_mount(s.base_image(mode), 128);
  const std::string repo = s.repo();
  must({"git", "init", "-q", "-b", "main", repo});
  const int n = Pool::kBase + 2 * Pool::kPerWriter;
  const std::string marks = s.root + "/marks";
  RunOptions o;
  o.input = fast_import_stream(n);
  RunResult fi = run({"git", "-C", repo, "fast-import", "--quiet", "--export-marks=" + marks}, o);
  if (fi.exit_code != 0) throw std::runtime_error("git fast-import failed: " + fi.err);
  if (s.pool.commits.empty()) {
    s.pool = pool_from_marks(marks, n);
    std::ofstream out(s.pool_file);
    for (const auto& b : s.pool.blobs) out << "blob " << b << "\n";
    for (const auto& c : s.pool.commits) out << "commit " << c << "\n";
  }
  const Plan base = base_plan(s.pool);
  if (mode == "reftx") {
    RunOptions a;
    a.input = reftx_script(base, false);
    RunResult r = run({s.reftx, "-C", repo, "apply", "-m", base.message}, a);
    if (r.exit_code != 0) throw std::runtime_error("base transaction failed: " + r.err);
  } else {
    State state;
    std::string error;
    if (!plain_apply(repo, base, state, error))
      throw std::runtime_error("plain base failed: " + error);
  }
  must({"git", "-C", repo, "pack-refs", "--all"});
  s.rig->unmount_guest();
}

std::uint64_t env_u64(const char* name, std::uint64_t fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::strtoull(v, nullptr, 0) : fallback;
}

void sleep_ms(int ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

double since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

struct Cut {
  int index;
  char scenario;
  std::uint64_t seed;
};

// One cut: start the writers on a fresh live image, cut, recover the copy, check it.
CutReport run_one(Setup& s, const CutOptions& o, const Cut& cut, std::string& where) {
  std::mt19937_64 rng(cut.seed);
  s.rig->start_live(s.base_image(o.mode));
  std::vector<int> writers =
      cut.scenario == 'b' ? std::vector<int>{0, 1} : std::vector<int>{int(rng() % 2)};
  std::vector<std::pair<pid_t, std::string>> workers;
  std::vector<std::string> logs;
  for (int w : writers) {
    const std::string base =
        s.root + "/cut-" + std::to_string(cut.index) + "-w" + std::to_string(w);
    logs.push_back(base + ".log");
    fs::remove(base + ".log");
    std::vector<std::string> argv = {
        self_exe(),       "worker",
        "--mode",         o.mode,
        "--writer",       std::to_string(w),
        "--scenario",     std::string(1, cut.scenario == 'c' ? 'c' : 'a'),
        "--seed",         std::to_string(splitmix(cut.seed + 17 + static_cast<unsigned>(w))),
        "--repo",         s.repo(),
        "--log",          base + ".log",
        "--pool",         s.pool_file,
        "--reftx",        s.reftx,
        "--crash-points", s.crash_points ? "1" : "0"};
    workers.emplace_back(spawn_group(argv, base + ".err"), base + ".err");
  }
  auto start = std::chrono::steady_clock::now();
  if (cut.scenario == 'c') {
    while (slurp(logs[0]).find("recover-start") == std::string::npos && since(start) < 30)
      sleep_ms(1);
    // Often during the recovery (it takes some 20-80 ms here), else in the idle second after it.
    int delay = static_cast<int>(rng() % 10 < 4 ? rng() % 40 : rng() % 1200);
    where = "+" + std::to_string(delay) + " ms after recover-start";
    sleep_ms(delay);
  } else {
    int delay = o.mode == "plain" ? 200 + static_cast<int>(rng() % 800)
                                  : 150 + static_cast<int>(rng() % 2350);
    where = "+" + std::to_string(delay) + " ms";
    sleep_ms(delay);
  }
  const std::string copy = s.root + "/cut.img";
  s.rig->cut(copy);
  for (auto& [pid, err] : workers) kill_group(pid);
  s.rig->thaw();
  std::vector<std::string> worker_errors;
  for (auto& [pid, err] : workers) {
    int status = reap(pid);
    // A worker that ran out of planned transactions exits 0; anything else is its own failure.
    bool killed = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
    if (!killed && !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
      worker_errors.push_back(slurp(err));
  }
  s.rig->stop_live();
  int e2fsck = s.rig->open_copy(copy);
  CheckInput in{o.mode, s.repo(), s.reftx, s.pool, {}};
  for (const auto& l : logs) in.logs.push_back(read_log(l));
  CutReport r = check_cut(in);
  if (e2fsck > 1) r.violations.push_back("e2fsck -fy exited " + std::to_string(e2fsck));
  for (const auto& e : worker_errors) r.violations.push_back("worker ended before the cut: " + e);
  s.rig->unmount_guest();
  if (s.keep && !r.violations.empty()) {
    fs::rename(copy, s.root + "/kept-cut-" + std::to_string(cut.index) + ".img");
  } else {
    fs::remove(copy);
    for (const auto& l : logs) fs::remove(l);
    for (const auto& w : workers) fs::remove(w.second);
  }
  return r;
}

}  // namespace

bool can_cut_power(std::string& why_not) {
  if (::geteuid() != 0) {
    why_not = "needs root (loop devices, mount, fsfreeze)";
    return false;
  }
  for (const char* tool : {"losetup", "fsfreeze", "mkfs.ext4", "e2fsck", "mount", "umount"}) {
    if (run({"sh", "-c", std::string("command -v ") + tool}).exit_code != 0) {
      why_not = std::string("no ") + tool;
      return false;
    }
  }
  if (!fs::exists("/dev/loop-control")) {
    why_not = "no /dev/loop-control";
    return false;
  }
  return true;
}

Setup& setup() {
  if (g_setup) return *g_setup;
  auto s = std::make_unique<Setup>();
  s->reftx = reftx_binary();
  s->keep = std::getenv("REFTX_POWERCUT_KEEP") != nullptr;
  s->seed = env_u64("REFTX_POWERCUT_SEED",
                    std::random_device{}() * 0x100000001ULL ^ std::random_device{}());
  std::string tmpl = (fs::temp_directory_path() / "reftx-powercut-XXXXXX").string();
  if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  s->root = tmpl;
  if (!s->keep) janitor_note("+dir " + s->root);
  s->pool_file = s->root + "/pool.txt";
  s->crash_points = run({s->reftx, "crash-points"}).exit_code == 0;
  s->rig = std::make_unique<Rig>(s->root);
  g_setup = std::move(s);
  Setup& r = *g_setup;
  r.rig->make_host(640);
  build_base(r, "reftx");
  build_base(r, "plain");
  // The cut itself: a freeze and a thaw of the host.
  r.rig->start_live(r.base_image("plain"));
  r.rig->cut(r.root + "/probe.img");
  r.rig->thaw();
  r.rig->stop_live();
  fs::remove(r.root + "/probe.img");
  std::cout << "powercut: seed " << hex(r.seed) << " (REFTX_POWERCUT_SEED to replay), work dir "
            << r.root
            << (r.crash_points ? "" : ", no crash points in this build: random kills only")
            << std::endl;
  return r;
}

void teardown() {
  if (!g_setup) return;
  std::string root = g_setup->root;
  bool keep = g_setup->keep;
  g_setup->rig.reset();
  std::error_code ec;
  if (!keep) {
    fs::remove_all(root, ec);
    janitor_note("-dir " + root);
  } else {
    std::cout << "powercut: kept " << root << std::endl;
  }
  g_setup.reset();
}

Totals run_cuts(Setup& s, const CutOptions& o) {
  Totals t;
  auto start = std::chrono::steady_clock::now();
  const std::string mode_seed = o.mode == "plain" ? "plain" : "reftx";
  for (int i = o.first; i < o.first + o.cuts; ++i) {
    if (since(start) > o.seconds) {
      std::cout << "powercut " << o.mode << ": time bound of " << o.seconds << " s reached after "
                << t.cuts << " cuts" << std::endl;
      break;
    }
    Cut cut{i, o.mode == "plain" ? 'a' : "abcc"[i % 4],
            splitmix(s.seed ^
                     splitmix(static_cast<std::uint64_t>(i) + (o.mode == "plain" ? 1000003 : 0)))};
    auto cut_start = std::chrono::steady_clock::now();
    std::string where;
    CutReport r = run_one(s, o, cut, where);
    ++t.cuts;
    ++t.by_scenario[cut.scenario - 'a'];
    t.reported += r.reported;
    t.journal_committed += r.journal_committed;
    t.journal_aborted += r.journal_aborted;
    t.planned += r.planned;
    t.crash_episodes += r.crash_episodes;
    t.recovers_before_cut += r.recovers_done;
    if (cut.scenario == 'c' && r.crash_episodes > 0) {
      ++(r.recovers_done > 0 ? t.cuts_after_recover : t.cuts_during_recover);
    }
    t.rolled_back += r.rolled_back;
    t.rolled_forward += r.rolled_forward;
    t.violations += static_cast<int>(r.violations.size());
    if (!r.violations.empty()) ++t.violating_cuts;
    std::ostringstream line;
    line << "cut " << i << " [" << o.mode << " " << cut.scenario << "] seed " << hex(cut.seed)
         << " at " << where << ": planned " << r.planned << ", reported committed " << r.reported;
    if (o.mode == "reftx") {
      line << ", journal committed " << r.journal_committed << " aborted " << r.journal_aborted;
      if (r.crash_episodes > 0) {
        line << ", crash episodes " << r.crash_episodes << " (recover "
             << (r.recovers_done > 0 ? "done" : "cut") << ")";
      }
      line << ", first recover: " << r.rolled_forward << " rolled-forward " << r.rolled_back
           << " rolled-back";
    }
    char secs[32];
    std::snprintf(secs, sizeof secs, "%.1f", since(cut_start));
    line << "; " << secs << " s; "
         << (r.violations.empty() ? "ok" : std::to_string(r.violations.size()) + " VIOLATIONS");
    std::cout << line.str() << std::endl;
    for (const auto& v : r.violations) std::cout << "    violation: " << v << std::endl;
    if (!r.violations.empty() && !r.first_recover.empty()) {
      std::cout << "    first recover printed: " << r.first_recover << std::flush;
    }
    if (!r.violations.empty() && o.stop_at_first_violation) break;
  }
  t.seconds = since(start);
  return t;
}

}  // namespace reftx::test::powercut
