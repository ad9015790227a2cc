#include "powercut/check.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "support/json.hpp"
#include "support/process.hpp"
#include "support/text.hpp"

namespace fs = std::filesystem;

namespace reftx::test::powercut {
namespace {

const std::string kBaseMessage = "powercut base";

struct Record {
  std::uint64_t id = 0;
  std::string state, message;
  Json json;
};

struct Actual {
  State state;
  std::set<std::string> dirs;          // work-tree directories, relative
  std::vector<std::string> strays;     // work-tree files outside the universe
  std::vector<std::string> leftovers;  // lock/temp files anywhere (paths relative to the repo)
};

std::string head(const std::string& s, std::size_t lines = 6) {
  std::istringstream in(s);
  std::string line, out;
  for (std::size_t i = 0; i < lines && std::getline(in, line); ++i) out += (i ? " | " : "") + line;
  return out;
}

std::string q(const std::string& s) {
  return "'" + s + "'";
}

bool is_leftover_name(const std::string& name) {
  auto ends = [&](const std::string& suffix) {
    return name.size() >= suffix.size() &&
           name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  return ends(".lock") || name == "packed-refs.new" || name.rfind(".reftx-", 0) == 0 ||
         name.find("witness") != std::string::npos || ends(".pc-plain-tmp");
}

// Every ancestor directory of a relative path ("a/b/c" -> "a", "a/b").
void add_ancestors(std::set<std::string>& dirs, const std::string& path) {
  for (std::size_t p = path.find('/'); p != std::string::npos; p = path.find('/', p + 1)) {
    dirs.insert(path.substr(0, p));
  }
}

class Checker {
 public:
  explicit Checker(const CheckInput& in) : in_(in) {
    for (int w = 0; w < 2; ++w) {
      Universe u = universe_of(w);
      all_.refs.insert(all_.refs.end(), u.refs.begin(), u.refs.end());
      all_.files.insert(all_.files.end(), u.files.begin(), u.files.end());
      all_.keys.insert(all_.keys.end(), u.keys.begin(), u.keys.end());
    }
    base_ = base_plan(in.pool);
    note_values(base_);
    for (const auto& log : in.logs) {
      for (const auto& tx : log.txs) {
        txs_[tx.plan.message] = &tx;
        note_values(tx.plan);
      }
    }
  }

  CutReport run_checks() {
    for (const auto& log : in_.logs) {
      r_.recovers_done += log.recovers_done;
      for (const auto& tx : log.txs) {
        ++r_.planned;
        if (tx.reported_id) ++r_.reported;
        if (!tx.crash_kind.empty()) ++r_.crash_episodes;
      }
    }
    if (in_.mode == "reftx") first_recover();
    read_actual();
    if (in_.mode == "reftx") {
      check_journal();
    } else {
      plain_outcomes();
    }
    compare_best();
    check_leftovers();
    check_fsck();
    if (in_.mode == "reftx") second_recover();
    return r_;
  }

 private:
  void violation(const std::string& v) { r_.violations.push_back(v); }

  void note_values(const Plan& p) {
    for (const auto& c : p.changes) {
      if (c.value) owner_[*c.value] = p.message;
      if (c.old) owner_.emplace(*c.old, p.message + " (as a wrong old value)");
    }
  }

  // "<oid> (tx 'msg', committed)" for reports.
  std::string who(const std::optional<std::string>& value) const {
    if (!value) return "absent";
    auto o = owner_.find(*value);
    std::string v = value->size() == 40 ? value->substr(0, 12) : q(*value);
    if (o == owner_.end()) return v + " (written by no planned transaction)";
    return v + " (from " + q(o->second) + ", " + status_of(o->second) + ")";
  }

  std::string status_of(const std::string& message) const {
    if (message == kBaseMessage) return "base";
    auto rec = records_.find(message);
    auto tx = txs_.find(message);
    std::string s;
    if (in_.mode == "reftx") {
      s = rec == records_.end()
              ? "not in the journal"
              : "record " + std::to_string(rec->second.id) + " " + rec->second.state;
    }
    if (tx != txs_.end()) {
      const LoggedTx& t = *tx->second;
      if (t.reported_id) s += std::string(s.empty() ? "" : ", ") + "reported committed";
      if (t.failed_exit) s += ", apply exited " + std::to_string(*t.failed_exit);
      if (!t.crash_kind.empty()) s += ", crash " + t.crash_kind + " (" + t.crash_result + ")";
      if (!t.reported_id && !t.failed_exit && t.crash_kind.empty())
        s += ", apply running at the cut";
    }
    return s;
  }

  void first_recover() {
    RunResult rec = run({in_.reftx, "-C", in_.repo, "recover"});
    r_.first_recover = rec.out + rec.err;
    for (const auto& line : split_lines(rec.out)) {
      if (line.rfind("rolled-back ", 0) == 0) ++r_.rolled_back;
      if (line.rfind("rolled-forward ", 0) == 0) ++r_.rolled_forward;
      if (line.rfind("conflict ", 0) == 0 || line.rfind("blocked ", 0) == 0) {
        violation("first recover: " + line);
      }
    }
    if (rec.exit_code != 0) {
      violation("first recover exited " + std::to_string(rec.exit_code) + ": " +
                head(r_.first_recover));
    }
    RunResult list = run({in_.reftx, "-C", in_.repo, "journal", "list", "--json"});
    if (list.exit_code != 0)
      violation("journal list exited " + std::to_string(list.exit_code) + ": " + head(list.err));
    for (const auto& line : split_lines(list.out)) {
      Record rec2;
      rec2.json = parse_json(line);
      rec2.id = std::stoull(rec2.json["id"].str());
      rec2.state = rec2.json["state"].str();
      rec2.message = rec2.json["message"].str();
      records_[rec2.message] = rec2;
    }
  }

  void read_actual() {
    RunResult refs =
        run({"git", "-C", in_.repo, "for-each-ref", "--format=%(objectname) %(refname)"});
    if (refs.exit_code != 0) violation("git for-each-ref failed: " + head(refs.err));
    for (const auto& line : split_lines(refs.out)) {
      std::string name = line.substr(41);
      if (name.rfind("refs/pool/", 0) != 0) actual_.state.refs[name] = line.substr(0, 40);
    }
    std::set<std::string> universe(all_.files.begin(), all_.files.end());
    std::vector<std::string> paths;
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(in_.repo, ec);
         it != fs::recursive_directory_iterator(); it.increment(ec)) {
      const std::string rel = fs::relative(it->path(), in_.repo).string();
      if (rel == ".git") {
        it.disable_recursion_pending();
        continue;
      }
      fs::file_status st = it->symlink_status();
      if (fs::is_directory(st)) {
        actual_.dirs.insert(rel);
      } else if (universe.count(rel) != 0 && fs::is_regular_file(st)) {
        paths.push_back(rel);
      } else if (is_leftover_name(it->path().filename().string())) {
        actual_.leftovers.push_back(rel);
      } else {
        actual_.strays.push_back(rel);
      }
    }
    std::string input;
    for (const auto& p : paths) input += p + "\n";
    RunOptions o;
    o.input = input;
    o.cwd = in_.repo;
    RunResult hashes = run({"git", "hash-object", "--no-filters", "--stdin-paths"}, o);
    std::vector<std::string> ids = split_lines(hashes.out);
    if (hashes.exit_code != 0 || ids.size() != paths.size()) {
      violation("git hash-object failed: " + head(hashes.err));
      return;
    }
    for (std::size_t i = 0; i < paths.size(); ++i) {
      struct stat st {};
      ::lstat((in_.repo + "/" + paths[i]).c_str(), &st);
      actual_.state.files[paths[i]] = FileState{ids[i], (st.st_mode & S_IXUSR) != 0};
    }
    for (auto it = fs::recursive_directory_iterator(in_.repo + "/.git", ec);
         it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (is_leftover_name(it->path().filename().string())) {
        actual_.leftovers.push_back(fs::relative(it->path(), in_.repo).string());
      }
    }
    if (in_.mode == "reftx") {
      RunResult keys = run({in_.reftx, "-C", in_.repo, "state", "list", "--json"});
      if (keys.exit_code != 0)
        violation("state list exited " + std::to_string(keys.exit_code) + ": " + head(keys.err));
      for (const auto& line : split_lines(keys.out)) {
        Json j = parse_json(line);
        actual_.state.keys[j["key"].str()] = j["value"].str();
      }
    } else {
      actual_.state.keys = read_plain_keys(in_.repo);
    }
  }

  void check_record_matches_plan(const Record& rec, const Plan& plan) {
    for (const auto& c : plan.changes) {
      const char* list = c.kind == Kind::ref ? "refs" : c.kind == Kind::file ? "files" : "keys";
      const char* field = c.kind == Kind::ref ? "name" : c.kind == Kind::file ? "path" : "key";
      const Json* found = nullptr;
      for (const Json& e : rec.json[list].items) {
        if (e[field].str() == c.name) found = &e;
      }
      std::optional<std::string> want = c.value;
      if (!want && c.kind != Kind::key) want = kZero;
      std::optional<std::string> got;
      if (found != nullptr && !(*found)["new"].is_null()) got = (*found)["new"].str();
      if (found == nullptr || got != want) {
        violation("record " + std::to_string(rec.id) + " " + q(rec.message) +
                  " disagrees with its plan on " + c.name);
      }
    }
  }

  void check_journal() {
    std::vector<const Record*> committed;
    for (const auto& [message, rec] : records_) {
      if (rec.state != "committed" && rec.state != "aborted") {
        violation("record " + std::to_string(rec.id) + " " + q(message) + " is " + rec.state +
                  " after recover");
      }
      if (message == kBaseMessage) {
        if (rec.state != "committed") violation("the base transaction is " + rec.state);
        continue;
      }
      auto tx = txs_.find(message);
      if (tx == txs_.end()) {
        violation("record " + std::to_string(rec.id) + " " + q(message) + " is in no log");
        continue;
      }
      if (rec.state == "committed") {
        ++r_.journal_committed;
        committed.push_back(&rec);
        check_record_matches_plan(rec, tx->second->plan);
      } else {
        ++r_.journal_aborted;
      }
    }
    if (records_.count(kBaseMessage) == 0) violation("the base transaction is not in the journal");
    for (const auto& [message, tx] : txs_) {
      auto rec = records_.find(message);
      const std::string state = rec == records_.end() ? "absent" : rec->second.state;
      if (tx->reported_id && (state != "committed" || rec->second.id != *tx->reported_id)) {
        violation("LOST: " + q(message) + " was reported committed as " +
                  std::to_string(*tx->reported_id) + "; the journal has it " + state +
                  (rec == records_.end() ? "" : " as record " + std::to_string(rec->second.id)));
      }
      if (tx->failed_exit && state == "committed") {
        violation(q(message) + " failed (exit " + std::to_string(*tx->failed_exit) +
                  ") but is committed");
      }
      if (tx->crash_result == "signal 9" && is_pre_decision(tx->crash_kind) && state != "aborted") {
        violation(q(message) + " was killed at " + tx->crash_kind +
                  " (before the decision) but is " + state);
      }
      if (tx->crash_result == "signal 9" && is_post_decision(tx->crash_kind) &&
          state != "committed") {
        violation(q(message) + " was killed at " + tx->crash_kind +
                  " (after the decision) but is " + state);
      }
    }
    std::sort(committed.begin(), committed.end(), [](auto* a, auto* b) { return a->id < b->id; });
    for (const Record* rec : committed) committed_.push_back(&txs_.at(rec->message)->plan);
  }

  // Plain mode: what the workload reported is committed; a transaction running at the cut may
  // have happened or not, all or nothing.
  void plain_outcomes() {
    for (const auto& log : in_.logs) {
      for (const auto& tx : log.txs) {
        if (tx.reported_id) {
          committed_.push_back(&tx.plan);
        } else if (!tx.failed_exit) {
          uncertain_.push_back(&tx.plan);
        }
      }
    }
  }

  std::vector<std::string> compare(const State& want,
                                   const std::set<std::string>& want_dirs) const {
    std::vector<std::string> out;
    auto opt = [](const auto& map, const std::string& k) {
      auto it = map.find(k);
      return it == map.end() ? std::nullopt : std::optional(it->second);
    };
    for (const auto& name : all_.refs) {
      auto w = opt(want.refs, name), a = opt(actual_.state.refs, name);
      if (w != a) out.push_back("ref " + name + " is " + who(a) + ", expected " + who(w));
    }
    for (const auto& [name, oid] : actual_.state.refs) {
      if (std::find(all_.refs.begin(), all_.refs.end(), name) == all_.refs.end()) {
        out.push_back("unexpected ref " + name + " " + who(oid));
      }
    }
    for (const auto& path : all_.files) {
      auto w = opt(want.files, path), a = opt(actual_.state.files, path);
      if (w == a) continue;
      std::string wb = w ? who(w->blob) + (w->exec ? " 755" : " 644") : "absent";
      std::string ab = a ? who(a->blob) + (a->exec ? " 755" : " 644") : "absent";
      out.push_back("file " + q(path) + " is " + ab + ", expected " + wb);
    }
    for (const auto& key : all_.keys) {
      auto w = opt(want.keys, key), a = opt(actual_.state.keys, key);
      if (w != a) out.push_back("key " + key + " is " + who(a) + ", expected " + who(w));
    }
    for (const auto& [key, value] : actual_.state.keys) {
      if (std::find(all_.keys.begin(), all_.keys.end(), key) == all_.keys.end()) {
        out.push_back("unexpected key " + key + " " + who(value));
      }
    }
    for (const auto& dir : actual_.dirs) {
      if (want_dirs.count(dir) == 0)
        out.push_back("directory " + q(dir) + " left (no committed file needs it)");
    }
    return out;
  }

  // Folds the committed plans (and, in plain mode, each choice of the uncertain ones) and keeps
  // the comparison with the fewest differences.
  void compare_best() {
    std::vector<std::string> best;
    bool first = true;
    const std::size_t choices = std::size_t{1} << uncertain_.size();
    for (std::size_t mask = 0; mask < choices; ++mask) {
      std::vector<const Plan*> plans = committed_;
      for (std::size_t i = 0; i < uncertain_.size(); ++i) {
        if (mask & (std::size_t{1} << i)) plans.push_back(uncertain_[i]);
      }
      State want;
      std::set<std::string> dirs;
      apply_to(want, base_);
      for (const auto& c : base_.changes) {
        if (c.kind == Kind::file) add_ancestors(dirs, c.name);
      }
      // Within a writer the log order is the commit order; writers share no item.
      for (const Plan* p : plans) {
        apply_to(want, *p);
        for (const auto& c : p->changes) {
          if (c.kind == Kind::file && c.value) add_ancestors(dirs, c.name);
        }
      }
      std::vector<std::string> diff = compare(want, dirs);
      if (first || diff.size() < best.size()) best = diff;
      first = false;
    }
    for (const auto& d : best) violation(d);
    for (const auto& s : actual_.strays) violation("unexpected work-tree file " + q(s));
  }

  std::string describe_leftover(const std::string& rel) const {
    const std::string path = in_.repo + "/" + rel;
    const std::string name = fs::path(rel).filename().string();
    std::ifstream f(path, std::ios::binary);
    std::string content((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    std::string d = q(rel) + " (" + std::to_string(content.size()) + " bytes";
    if (content.size() >= 40 && name.size() > 5 && name.substr(name.size() - 5) == ".lock") {
      d += ", holds " + who(content.substr(0, 40));
    }
    if (name.rfind(".reftx-", 0) == 0) {
      std::uint64_t id = std::strtoull(name.c_str() + 7, nullptr, 10);
      for (const auto& [message, rec] : records_) {
        if (rec.id == id)
          d += ", of record " + std::to_string(id) + " " + q(message) + " " + status_of(message);
      }
    }
    return d + ")";
  }

  void check_leftovers() {
    for (const auto& rel : actual_.leftovers) violation("leftover " + describe_leftover(rel));
  }

  void check_fsck() {
    RunResult fsck = run({"git", "-C", in_.repo, "fsck", "--no-dangling", "--no-progress"});
    if (fsck.exit_code != 0)
      violation("git fsck exited " + std::to_string(fsck.exit_code) + ": " +
                head(fsck.out + fsck.err));
  }

  void second_recover() {
    RunResult rec = run({in_.reftx, "-C", in_.repo, "recover"});
    if (rec.exit_code != 0 || !rec.out.empty() || !rec.err.empty()) {
      violation("second recover (exit " + std::to_string(rec.exit_code) +
                ") printed: " + head(rec.out + rec.err));
    }
  }

  const CheckInput& in_;
  Universe all_;
  Plan base_;
  std::map<std::string, const LoggedTx*> txs_;
  std::map<std::string, std::string> owner_;
  std::map<std::string, Record> records_;
  std::vector<const Plan*> committed_;
  std::vector<const Plan*> uncertain_;
  Actual actual_;
  CutReport r_;
};

}  // namespace

CutReport check_cut(const CheckInput& in) {
  Checker c(in);
  CutReport r = c.run_checks();
  return r;
}

}  // namespace reftx::test::powercut
