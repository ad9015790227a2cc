#include "powercut/workload.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "powercut/text.hpp"
#include "support/json.hpp"
#include "support/process.hpp"
#include "support/text.hpp"

namespace fs = std::filesystem;

namespace reftx::test::powercut {
namespace {

const char* const kPreDecision[] = {"apply.recorded", "apply.files-staged", "apply.queued",
                                    "apply.prepared", "abort.git-refused",  "abort.aborted"};
const char* const kPostDecision[] = {"apply.decided", "apply.commit-sent", "apply.git-committed",
                                     "apply.file-replaced", "apply.synced"};

std::string mode_word(const std::string& mode) {
  return mode == "755" ? "mode=100755" : mode == "644" ? "mode=100644" : "";
}

// One text-mode line (C-quoted paths) or one -z command.
std::string script_line(const Change& c, bool nul) {
  const std::string old = c.old.value_or("");
  std::string out;
  auto field = [&](const std::string& f) { out += f + (nul ? std::string(1, '\0') : ""); };
  auto word = [&](const std::string& w) {  // text mode: optional words are left out when empty
    if (!w.empty()) out += " " + w;
  };
  if (nul) {
    out = c.op + " ";
    if (c.op == "create" || c.op == "update") {
      field(c.name);
      field(*c.value);
      if (c.op == "update") field(old);
    } else if (c.op == "delete" || c.op == "remove") {
      field(c.name);
      field(old);
    } else if (c.op == "write") {
      field(c.name);
      field(*c.value);
      field(old);
      field(mode_word(c.mode));
    } else if (c.op == "set") {
      field(c.name);
      field(*c.value);
    } else {
      field(c.name);
    }
    return out;
  }
  out = c.op;
  if (c.kind == Kind::file) {
    word(c_quote(c.name));
  } else {
    word(c.name);
  }
  if (c.op == "create" || c.op == "update" || c.op == "write") word(*c.value);
  if (c.op == "update" || c.op == "delete" || c.op == "write" || c.op == "remove") word(old);
  if (c.op == "write") word(mode_word(c.mode));
  if (c.op == "set") out += " " + *c.value;
  return out + "\n";
}

struct Gen {
  std::mt19937_64 rng;
  const Pool* pool = nullptr;
  int writer = 0;
  int next_commit = 0;
  int next_blob = 0;
  int seq = 0;

  int below(int n) { return static_cast<int>(rng() % static_cast<std::uint64_t>(n)); }
  std::string commit() {
    int i = Pool::kBase + writer * Pool::kPerWriter + next_commit++;
    if (next_commit >= Pool::kPerWriter) throw std::runtime_error("commit pool exhausted");
    return pool->commits.at(static_cast<std::size_t>(i));
  }
  std::string blob() {
    int i = Pool::kBase + writer * Pool::kPerWriter + next_blob++;
    if (next_blob >= Pool::kPerWriter) throw std::runtime_error("blob pool exhausted");
    return pool->blobs.at(static_cast<std::size_t>(i));
  }
};

Change ref_change(Gen& g, const State& s, const std::string& name) {
  Change c;
  c.kind = Kind::ref;
  c.name = name;
  auto cur = s.refs.find(name);
  if (cur == s.refs.end()) {
    c.op = "create";
    c.value = g.commit();
    return c;
  }
  int r = g.below(4);
  if (r == 3) {
    c.op = "delete";
    if (g.below(2) == 0) c.old = cur->second;
    return c;
  }
  c.op = "update";
  c.value = g.commit();
  if (r < 2) c.old = cur->second;
  return c;
}

Change file_change(Gen& g, const State& s, const std::string& name) {
  Change c;
  c.kind = Kind::file;
  c.name = name;
  auto cur = s.files.find(name);
  if (cur == s.files.end()) {
    c.op = "write";
    c.value = g.blob();
    c.mode = g.below(3) == 0 ? "755" : "keep";
    if (g.below(3) == 0) c.old = kZero;
    return c;
  }
  if (g.below(10) < 3) {
    c.op = "remove";
    if (g.below(2) == 0) c.old = cur->second.blob;
    return c;
  }
  c.op = "write";
  c.value = g.blob();
  const char* modes[] = {"keep", "keep", "755", "644"};
  c.mode = modes[g.below(4)];
  if (g.below(2) == 0) c.old = cur->second.blob;
  return c;
}

Change key_change(Gen& g, const State& s, const std::string& name) {
  Change c;
  c.kind = Kind::key;
  c.name = name;
  if (s.keys.count(name) != 0 && g.below(10) < 3) {
    c.op = "unset";
    return c;
  }
  c.op = "set";
  c.value = "w" + std::to_string(g.writer) + " t" + std::to_string(g.seq) + " " + name +
            " v\xc3\xa4lue #" + std::to_string(g.rng() % 100000);
  return c;
}

Plan make_plan(Gen& g, const State& s, const Universe& u, int n) {
  std::vector<std::pair<Kind, std::string>> items;
  for (const auto& r : u.refs) items.emplace_back(Kind::ref, r);
  for (const auto& f : u.files) items.emplace_back(Kind::file, f);
  for (const auto& k : u.keys) items.emplace_back(Kind::key, k);
  std::shuffle(items.begin(), items.end(), g.rng);
  Plan p;
  p.message = "pc w" + std::to_string(g.writer) + " t" + std::to_string(g.seq);
  for (int i = 0; i < n && i < static_cast<int>(items.size()); ++i) {
    const auto& [kind, name] = items[static_cast<std::size_t>(i)];
    if (kind == Kind::ref) p.changes.push_back(ref_change(g, s, name));
    if (kind == Kind::file) p.changes.push_back(file_change(g, s, name));
    if (kind == Kind::key) p.changes.push_back(key_change(g, s, name));
  }
  ++g.seq;
  return p;
}

// A plan a crash point of the abort path is reached by: one ref gets a wrong old value.
void make_refused(Gen& g, Plan& p, const Universe& u) {
  for (auto& c : p.changes) {
    if (c.kind == Kind::ref) {
      c.op = "update";
      c.value = g.commit();
      c.old = g.commit();  // never held by any ref
      return;
    }
  }
  Change c;
  c.kind = Kind::ref;
  c.op = "update";
  c.name = u.refs[static_cast<std::size_t>(g.below(static_cast<int>(u.refs.size())))];
  c.value = g.commit();
  c.old = g.commit();
  p.changes.push_back(c);
}

std::string plan_block(const Plan& p) {
  std::string b = "plan\t" + log_escape(p.message) + "\n";
  for (const auto& c : p.changes) {
    const std::string v = c.value ? log_escape(*c.value) : "-";
    if (c.kind == Kind::ref) b += "ref\t" + log_escape(c.name) + "\t" + v + "\n";
    if (c.kind == Kind::file) b += "file\t" + log_escape(c.name) + "\t" + v + "\t" + c.mode + "\n";
    if (c.kind == Kind::key) b += "key\t" + log_escape(c.name) + "\t" + v + "\n";
  }
  return b + "end\t" + log_escape(p.message) + "\n";
}

class Log {
 public:
  explicit Log(const std::string& path)
      : fd_(::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644)) {
    if (fd_ < 0) throw std::runtime_error("cannot open log " + path);
  }
  ~Log() { ::close(fd_); }
  // One write() per event: a SIGKILL leaves whole events.
  void put(const std::string& text) {
    if (::write(fd_, text.data(), text.size()) != static_cast<ssize_t>(text.size())) {
      throw std::runtime_error("short log write");
    }
  }

 private:
  int fd_;
};

std::string first_line(const std::string& s) {
  return s.substr(0, s.find('\n'));
}

std::string exit_of(const RunResult& r) {
  if (r.signal != 0) return "signal " + std::to_string(r.signal);
  return "exit " + std::to_string(r.exit_code);
}

void sleep_ms(int ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
}

// The state the journal gives the transaction with this message, "" if it has none.
std::string journal_state_of(const WorkerConfig& cfg, const std::string& message) {
  RunResult r = run({cfg.reftx, "-C", cfg.repo, "journal", "list", "--json"});
  for (const auto& line : split_lines(r.out)) {
    Json j = parse_json(line);
    if (j["message"].str() == message) return j["state"].str();
  }
  return "";
}

struct Worker {
  WorkerConfig cfg;
  Pool pool;
  Universe universe;
  State model;
  Gen gen;
  Log log;
  int recovers = 0;

  explicit Worker(const WorkerConfig& c)
      : cfg(c), pool(read_pool(c.pool)), universe(universe_of(c.writer)), log(c.log) {
    gen.rng.seed(c.seed);
    gen.pool = &pool;
    gen.writer = c.writer;
    apply_to(model, base_plan(pool));
  }

  RunOptions apply_options(const Plan& p, bool nul) {
    RunOptions o;
    for (const auto& c : p.changes) o.input += script_line(c, nul);
    return o;
  }
  std::vector<std::string> apply_argv(const Plan& p, bool nul) {
    std::vector<std::string> argv = {cfg.reftx, "-C", cfg.repo, "apply", "-m", p.message};
    if (nul) argv.push_back("-z");
    return argv;
  }

  // Logs the outcome of a finished apply; true if it committed.
  bool note_result(const Plan& p, const RunResult& r) {
    if (r.exit_code == 0) {
      log.put("committed\t" + log_escape(p.message) + "\t" + first_line(r.out) + "\n");
      apply_to(model, p);
      return true;
    }
    if (r.signal == 0) {
      log.put("failed\t" + log_escape(p.message) + "\t" + std::to_string(r.exit_code) + "\t" +
              log_escape(first_line(r.err)) + "\n");
    }
    return false;
  }

  void normal_tx() {
    Plan p = make_plan(gen, model, universe, 1 + gen.below(4));
    log.put(plan_block(p));
    if (cfg.mode == "plain") {
      std::string error;
      if (plain_apply(cfg.repo, p, model, error)) {
        log.put("committed\t" + log_escape(p.message) + "\t" + std::to_string(gen.seq) + "\n");
      } else {
        log.put("failed\t" + log_escape(p.message) + "\t1\t" + log_escape(error) + "\n");
      }
      return;
    }
    bool nul = gen.below(2) == 0;
    RunOptions o = apply_options(p, nul);
    note_result(p, run(apply_argv(p, nul), o));
  }

  std::string pick_crash_kind() {
    int r = gen.below(10);
    if (!cfg.crash_points || r >= 8) return r % 2 == 0 ? "kill" : "kill-group";
    if (r < 6) return kPreDecision[r];
    return kPostDecision[gen.below(5)];
  }

  // A transaction killed at a crash point or a random instant, then `reftx recover`.
  void crash_episode() {
    const std::string kind = pick_crash_kind();
    Plan p = make_plan(gen, model, universe, 2 + gen.below(4));
    if (kind.rfind("abort.", 0) == 0) make_refused(gen, p, universe);
    log.put(plan_block(p));
    bool nul = gen.below(2) == 0;
    RunOptions o = apply_options(p, nul);
    RunResult r;
    if (kind.rfind("kill", 0) == 0) {
      o.new_process_group = kind == "kill-group";
      Child child = Child::start(apply_argv(p, nul), o);
      sleep_ms(gen.below(80));
      ::kill(o.new_process_group ? -child.pid() : child.pid(), SIGKILL);
      r = child.wait();
    } else {
      o.env["REFTX_CRASH_AT"] = kind;
      r = run(apply_argv(p, nul), o);
    }
    log.put("crash\t" + log_escape(p.message) + "\t" + kind + "\t" + exit_of(r) + "\n");
    bool committed = note_result(p, r);
    ++recovers;
    log.put("recover-start\t" + std::to_string(recovers) + "\n");
    RunResult rec = run({cfg.reftx, "-C", cfg.repo, "recover"});
    log.put("recover-done\t" + std::to_string(recovers) + "\t" + exit_of(rec) + "\t" +
            log_escape(rec.out + rec.err) + "\n");
    if (!committed && journal_state_of(cfg, p.message) == "committed") apply_to(model, p);
  }

  int run_all() {
    int before_episode = gen.below(3);
    while (gen.seq < cfg.max_tx) {
      if (cfg.scenario == 'c' && cfg.mode == "reftx" && before_episode-- <= 0) {
        crash_episode();
        sleep_ms(2000 + gen.below(2000));  // idle: a cut now finds what the recovery left
        before_episode = gen.below(3);
        continue;
      }
      normal_tx();
    }
    return 0;
  }
};

}  // namespace

bool is_pre_decision(const std::string& kind) {
  for (const char* k : kPreDecision) {
    if (kind == k) return true;
  }
  return false;
}

bool is_post_decision(const std::string& kind) {
  for (const char* k : kPostDecision) {
    if (kind == k) return true;
  }
  return false;
}

void apply_to(State& state, const Plan& plan) {
  for (const auto& c : plan.changes) {
    if (c.kind == Kind::ref) {
      if (c.value) {
        state.refs[c.name] = *c.value;
      } else {
        state.refs.erase(c.name);
      }
    } else if (c.kind == Kind::file) {
      if (!c.value) {
        state.files.erase(c.name);
        continue;
      }
      auto cur = state.files.find(c.name);
      bool exec =
          c.mode == "755" || (c.mode == "keep" && cur != state.files.end() && cur->second.exec);
      state.files[c.name] = FileState{*c.value, exec};
    } else if (c.value) {
      state.keys[c.name] = *c.value;
    } else {
      state.keys.erase(c.name);
    }
  }
}

Universe universe_of(int writer) {
  const std::string w = "w" + std::to_string(writer);
  Universe u;
  u.refs = {"refs/heads/pc-" + w + "-main", "refs/heads/pc-" + w + "/topic",
            "refs/tags/pc-" + w + "-v1",    "refs/pc/" + w + "/a",
            "refs/pc/" + w + "/deep/er/b",  "refs/pc/" + w + "/c"};
  u.files = {w + "/plain.txt",
             w + "/run me.sh",
             w + "/\xc3\xbcn\xc3\xaf"
                 "c\xc3\xb6"
                 "d\xc3\xa9/na\xc3\xafve file.txt",
             w + "/new dir/sub/f.txt",
             w + "/new dir/g.bin",
             w + "/\xcf\x84/\xce\xb4/\xce\xb5.txt"};
  u.keys = {w + "/k0", w + "/k1", w + "/k2", w + "/k3"};
  return u;
}

std::string pool_blob_content(int index) {
  std::string s = "powercut blob " + std::to_string(index) + "\n";
  for (int i = 0; i < (index % 5) * 40; ++i)
    s += "filler line " + std::to_string(i) + " of " + std::to_string(index) + "\n";
  return s;
}

std::string Pool::blob_content(int index) const {
  return pool_blob_content(index);
}

Pool read_pool(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read pool " + path);
  Pool p;
  std::string kind, oid;
  while (in >> kind >> oid) (kind == "commit" ? p.commits : p.blobs).push_back(oid);
  return p;
}

Plan base_plan(const Pool& pool) {
  Plan p;
  p.message = "powercut base";
  for (int w = 0; w < 2; ++w) {
    Universe u = universe_of(w);
    for (int i = 0; i < 4; ++i) {
      p.changes.push_back({Kind::ref,
                           "create",
                           u.refs[static_cast<std::size_t>(i)],
                           pool.commits.at(static_cast<std::size_t>(w * 4 + i)),
                           "keep",
                           {}});
    }
    for (int i = 0; i < 3; ++i) {
      p.changes.push_back({Kind::file,
                           "write",
                           u.files[static_cast<std::size_t>(i)],
                           pool.blobs.at(static_cast<std::size_t>(w * 4 + i)),
                           i == 1 ? "755" : "keep",
                           {}});
    }
    for (int i = 0; i < 2; ++i) {
      p.changes.push_back({Kind::key,
                           "set",
                           u.keys[static_cast<std::size_t>(i)],
                           "base w" + std::to_string(w) + " k" + std::to_string(i),
                           "keep",
                           {}});
    }
  }
  return p;
}

std::string reftx_script(const Plan& plan, bool nul) {
  std::string s;
  for (const auto& c : plan.changes) s += script_line(c, nul);
  return s;
}

WriterLog read_log(const std::string& path) {
  WriterLog log;
  std::ifstream in(path, std::ios::binary);
  std::map<std::string, std::size_t> by_message;
  std::string line;
  std::optional<Plan> open_plan;
  while (std::getline(in, line)) {
    std::vector<std::string> f = split_tabs(line);
    for (auto& x : f) x = log_unescape(x);
    const std::string& what = f[0];
    if (what == "plan") {
      open_plan = Plan{f.at(1), {}};
    } else if (what == "end" && open_plan) {
      by_message[open_plan->message] = log.txs.size();
      log.txs.push_back(LoggedTx{*open_plan, {}, {}, {}, {}, {}});
      open_plan.reset();
    } else if ((what == "ref" || what == "file" || what == "key") && open_plan) {
      Change c;
      c.kind = what == "ref" ? Kind::ref : what == "file" ? Kind::file : Kind::key;
      c.name = f.at(1);
      if (f.at(2) != "-") c.value = f[2];
      if (c.kind == Kind::file) c.mode = f.at(3);
      open_plan->changes.push_back(c);
    } else if (what == "recover-start") {
      ++log.recovers_started;
    } else if (what == "recover-done") {
      ++log.recovers_done;
      log.recover_outputs.push_back(f.size() > 3 ? f[2] + ": " + f[3] : line);
    } else if (f.size() >= 3 && by_message.count(f[1]) != 0) {
      LoggedTx& tx = log.txs[by_message[f[1]]];
      if (what == "committed") tx.reported_id = std::stoull(f[2]);
      if (what == "failed") {
        tx.failed_exit = std::stoi(f[2]);
        tx.failed_error = f.size() > 3 ? f[3] : "";
      }
      if (what == "crash") {
        tx.crash_kind = f[2];
        tx.crash_result = f.size() > 3 ? f[3] : "";
      }
    }
  }
  return log;
}

std::string plain_key_file(const std::string& repo) {
  return repo + "/.git/pc-state";
}

std::map<std::string, std::string> read_plain_keys(const std::string& repo) {
  std::map<std::string, std::string> keys;
  std::ifstream in(plain_key_file(repo), std::ios::binary);
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> f = split_tabs(line);
    if (f.size() == 2) keys[log_unescape(f[0])] = log_unescape(f[1]);
  }
  return keys;
}

namespace {

// write + rename, no fsync: what a tool does when it does not think about power loss.
bool write_replace(const std::string& path, const std::string& bytes, mode_t mode,
                   std::string& error) {
  const std::string tmp = path + ".pc-plain-tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    error = "open " + tmp + ": " + std::strerror(errno);
    return false;
  }
  bool ok = ::write(fd, bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size());
  ok = ::fchmod(fd, mode) == 0 && ok;
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    error = "write " + path + ": " + std::strerror(errno);
    return false;
  }
  return true;
}

}  // namespace

bool plain_apply(const std::string& repo, const Plan& plan, State& state, std::string& error) {
  std::string refs;
  for (const auto& c : plan.changes) {
    if (c.kind != Kind::ref) continue;
    refs += c.value ? "update " + c.name + " " + *c.value + "\n" : "delete " + c.name + "\n";
  }
  if (!refs.empty()) {
    RunResult r =
        run({"git", "-C", repo, "update-ref", "--stdin"}, RunOptions{refs, {}, "", false});
    if (r.exit_code != 0) {
      error = first_line(r.err);
      return false;
    }
  }
  State after = state;
  apply_to(after, plan);
  for (const auto& c : plan.changes) {
    if (c.kind != Kind::file) continue;
    const std::string path = repo + "/" + c.name;
    if (!c.value) {
      ::unlink(path.c_str());
      continue;
    }
    std::error_code ec;
    fs::create_directories(fs::path(path).parent_path(), ec);
    RunResult blob = run({"git", "-C", repo, "cat-file", "blob", *c.value});
    if (!write_replace(path, blob.out, after.files[c.name].exec ? 0755 : 0644, error)) return false;
  }
  bool keys_changed = false;
  for (const auto& c : plan.changes) keys_changed = keys_changed || c.kind == Kind::key;
  if (keys_changed) {
    std::string text;
    for (const auto& [k, v] : after.keys) text += log_escape(k) + "\t" + log_escape(v) + "\n";
    if (!write_replace(plain_key_file(repo), text, 0644, error)) return false;
  }
  state = after;
  return true;
}

int worker_main(int argc, char** argv) {
  WorkerConfig cfg;
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--mode") cfg.mode = v;
    if (k == "--writer") cfg.writer = std::stoi(v);
    if (k == "--scenario") cfg.scenario = v.at(0);
    if (k == "--seed") cfg.seed = std::stoull(v);
    if (k == "--repo") cfg.repo = v;
    if (k == "--log") cfg.log = v;
    if (k == "--pool") cfg.pool = v;
    if (k == "--reftx") cfg.reftx = v;
    if (k == "--max-tx") cfg.max_tx = std::stoi(v);
    if (k == "--crash-points") cfg.crash_points = v == "1";
  }
  ::umask(022);
  ::signal(SIGPIPE, SIG_IGN);
  try {
    Worker w(cfg);
    return w.run_all();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "powercut worker: %s\n", e.what());
    return 3;
  }
}

}  // namespace reftx::test::powercut
