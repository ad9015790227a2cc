#include "support/journal_json.hpp"

#include <doctest/doctest.h>

#include <stdexcept>

#include "support/process.hpp"
#include "support/text.hpp"

namespace reftx::test {
namespace {

std::optional<std::string> string_or_null(const Json& j) {
  if (j.is_null()) return std::nullopt;
  return j.str();
}

std::vector<JournalRef> refs_of(const Json& j) {
  std::vector<JournalRef> refs;
  for (const Json& ref : j["refs"].items) {
    refs.push_back(
        {ref["name"].str(), ref["op"].str(), string_or_null(ref["old"]), ref["new"].str()});
  }
  return refs;
}

std::vector<JournalFile> files_of(const Json& j) {
  std::vector<JournalFile> files;
  const Json* list = j.find("files");
  if (list == nullptr) return files;
  for (const Json& f : list->items) {
    JournalFile jf;
    jf.path = f["path"].str();
    jf.old_blob = string_or_null(f["old"]);
    jf.new_blob = f["new"].str();
    jf.mode = string_or_null(f["mode"]);
    jf.old_mode = string_or_null(f["old_mode"]);
    if (const Json* e = f.find("expected_old")) jf.expected_old = e->str();
    files.push_back(std::move(jf));
  }
  return files;
}

std::vector<JournalKey> keys_of(const Json& j) {
  std::vector<JournalKey> keys;
  const Json* list = j.find("keys");
  if (list == nullptr) return keys;
  for (const Json& k : list->items) {
    const Json& known = k["old_known"];
    if (known.type != Json::Type::boolean) throw std::runtime_error("old_known: not a boolean");
    keys.push_back(
        {k["key"].str(), string_or_null(k["old"]), known.boolean, string_or_null(k["new"])});
  }
  return keys;
}

const Json* entry(const Json& record, const char* list, const char* field,
                  const std::string& value) {
  for (const Json& e : record[list].items) {
    if (e[field].str() == value) return &e;
  }
  return nullptr;
}

}  // namespace

bool is_terminal_state(const std::string& state) {
  return state == "committed" || state == "aborted";
}

JournalRecord to_record(const std::string& line) {
  const Json j = parse_json(line);
  JournalRecord r;
  r.raw = line;
  r.id = std::stoull(j["id"].str());
  r.state = j["state"].str();
  r.message = j["message"].str();
  if (const Json* reason = j.find("reason")) r.reason = reason->str();
  r.refs = refs_of(j);
  for (const Json& v : j["verified"].items) {
    r.verified.emplace_back(v["name"].str(), v["expected"].str());
  }
  if (const Json* conflicts = j.find("conflicts")) {
    for (const Json& c : conflicts->items) r.conflicts.push_back(c.str());
  }
  if (const Json* work_tree = j.find("work_tree")) r.work_tree = string_or_null(*work_tree);
  r.files = files_of(j);
  r.keys = keys_of(j);
  return r;
}

std::vector<std::string> journal_lines(const TempRepo& repo,
                                       const std::vector<std::string>& globals) {
  std::vector<std::string> argv = {reftx_binary()};
  argv.insert(argv.end(), globals.begin(), globals.end());
  argv.insert(argv.end(), {"-C", repo.path(), "journal", "list", "--json"});
  RunResult r = run(argv);
  REQUIRE_MESSAGE(r.exit_code == 0, "journal list failed: ", r.err);
  return split_lines(r.out);
}

std::vector<Json> journal_json(const TempRepo& repo, const std::vector<std::string>& globals) {
  std::vector<Json> out;
  for (const std::string& line : journal_lines(repo, globals)) {
    try {
      out.push_back(parse_json(line));
    } catch (const std::exception& e) {
      FAIL_CHECK(e.what() << " in line: " << line);
    }
  }
  return out;
}

Json show_json(const TempRepo& repo, const std::string& id) {
  RunResult r = repo.reftx({"journal", "show", id, "--json"});
  REQUIRE_MESSAGE(r.exit_code == 0, "journal show ", id, " failed: ", r.err);
  std::vector<std::string> lines = split_lines(r.out);
  REQUIRE(lines.size() == 1);
  return parse_json(lines[0]);
}

std::vector<JournalRecord> journal_list(const TempRepo& repo) {
  std::vector<JournalRecord> records;
  for (const std::string& line : journal_lines(repo)) records.push_back(to_record(line));
  return records;
}

JournalRecord journal_show(const TempRepo& repo, std::uint64_t id) {
  RunResult r = repo.reftx({"journal", "show", std::to_string(id), "--json"});
  REQUIRE_MESSAGE(r.exit_code == 0, "journal show ", id, " failed: ", r.err);
  std::vector<std::string> lines = split_lines(r.out);
  REQUIRE(lines.size() == 1);
  return to_record(lines.front());
}

std::optional<JournalRecord> find_by_message(const std::vector<JournalRecord>& records,
                                             const std::string& message) {
  std::optional<JournalRecord> found;
  for (const JournalRecord& r : records) {
    if (r.message == message) {
      CHECK_MESSAGE(!found, "two journal records with message '", message, "'");
      found = r;
    }
  }
  return found;
}

const Json* ref_entry(const Json& record, const std::string& name) {
  return entry(record, "refs", "name", name);
}

const Json* file_entry(const Json& record, const std::string& path) {
  return entry(record, "files", "path", path);
}

const Json* key_entry(const Json& record, const std::string& key) {
  return entry(record, "keys", "key", key);
}

}  // namespace reftx::test
