#include <algorithm>
#include <boost/program_options.hpp>
#include <charconv>
#include <cstdio>
#include <iostream>
#include <iterator>

#include "cli.hpp"
#include "core/steps.hpp"  // the one internal header: the crash-point list
#include "json.hpp"
#include "reftx/reftx.hpp"

namespace po = boost::program_options;

namespace reftx::cli {
namespace {

// Parses subcommand options; on error prints it and sets `exit_code`.
bool parse(const std::string& command, const std::vector<std::string>& args,
           const po::options_description& options, const po::positional_options_description& pos,
           po::variables_map& vm, int& exit_code) {
  try {
    po::store(po::command_line_parser(args).options(options).positional(pos).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << "reftx " << command << ": " << e.what() << "\n" << options;
    exit_code = kUsage;
    return false;
  }
  if (vm.count("help")) {
    std::cout << "usage: reftx " << command << "\n" << options;
    exit_code = kOk;
    return false;
  }
  return true;
}

Result<Store> open_store(const Globals& globals, bool read_only, bool recover_on_open) {
  Options options;
  options.journal_dir = globals.journal_dir;
  options.work_tree = globals.work_tree;
  options.read_only = read_only;
  options.recover_on_open = recover_on_open;
  return Store::open(globals.directory, options);
}

// `journal check`: "ok: <summary>" (exit 0), or the first damage (exit 4). No journal is ok.
int journal_check(const Globals& globals) {
  Options options;
  options.journal_dir = globals.journal_dir;
  auto summary = Store::check_journal(globals.directory, options);
  if (!summary) {
    if (summary.error().kind != ErrorKind::not_found) return report(summary.error());
    std::cout << "ok: " << summary.error().message << "\n";
    return kOk;
  }
  std::cout << "ok: " << summary.value() << "\n";
  return kOk;
}

// At most kMaxScriptBytes + 1 bytes: enough for parse_script to name the line over the limit,
// never more memory than that.
std::string read_stdin() {
  std::string data;
  char buf[65536];
  std::size_t n;
  while (data.size() <= kMaxScriptBytes &&
         (n = std::fread(buf, 1, std::min(sizeof buf, kMaxScriptBytes + 1 - data.size()), stdin)) >
             0) {
    data.append(buf, n);
  }
  return data;
}

}  // namespace

int exit_code_for(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::invalid_input:
      return kUsage;
    case ErrorKind::conflict:
    case ErrorKind::locked:
      return kConflict;
    case ErrorKind::not_found:
      return kConflict;
    case ErrorKind::corrupt_journal:
      return kCorrupt;
    case ErrorKind::environment:
      return kEnvironment;
  }
  return kEnvironment;
}

int report(const Error& error) {
  std::cerr << "reftx: " << error.describe() << "\n";
  return exit_code_for(error.kind);
}

int cmd_apply(const Globals& globals, const std::vector<std::string>& args) {
  po::options_description options("apply options");
  options.add_options()("help,h", "show this help")(
      "message,m", po::value<std::string>()->default_value(""), "journal message (any UTF-8)")(
      "null,z", "commands on stdin are NUL-separated, as in git update-ref -z");
  po::positional_options_description pos;
  po::variables_map vm;
  // The word after -m is the message even when it looks like an option ("-z", "-m"), as in git.
  std::vector<std::string> argv;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if ((args[i] == "-m" || args[i] == "--message") && i + 1 < args.size() &&
        !args[i + 1].empty()) {  // boost rejects "--message=" but takes "-m" ""
      argv.push_back("--message=" + args[++i]);
    } else {
      argv.push_back(args[i]);
    }
  }
  int code = kOk;
  if (!parse("apply", argv, options, pos, vm, code)) return code;

  const std::string& message = vm["message"].as<std::string>();
  if (message.size() > kMaxMessageBytes) {
    std::cerr << "reftx: message of " << message.size() << " bytes (at most " << kMaxMessageBytes
              << ")\n";
    return kUsage;
  }
  auto changes = parse_script(read_stdin(), vm.count("null") > 0);  // the script is freed here
  if (!changes) return report(changes.error());

  auto store = open_store(globals, false, true);
  if (!store) return report(store.error());
  Batch batch(message);
  batch.add(std::move(changes).value());
  auto id = store.value().commit(batch);
  if (!id) return report(id.error());
  std::cout << id.value() << "\n";
  return kOk;
}

int cmd_recover(const Globals& globals, const std::vector<std::string>& args) {
  po::options_description options("recover options");
  options.add_options()("help,h", "show this help");
  po::positional_options_description pos;
  po::variables_map vm;
  int code = kOk;
  if (!parse("recover", args, options, pos, vm, code)) return code;

  auto store = open_store(globals, false, false);
  if (!store) return report(store.error());
  auto report_or = store.value().recover();
  if (!report_or) return report(report_or.error());
  const RecoveryReport& rep = report_or.value();
  int exit_code = kOk;
  for (const RecoveryAction& a : rep.actions) {
    const std::string id = std::to_string(a.id);
    switch (a.kind) {
      case RecoveryAction::Kind::rolled_forward:
        std::cout << "rolled-forward " << id << "\n";
        break;
      case RecoveryAction::Kind::rolled_back:
        std::cout << "rolled-back " << id << "\n";
        break;
      case RecoveryAction::Kind::conflict:
        std::cout << "conflict " << id << ": " << a.detail << "\n";
        break;
      case RecoveryAction::Kind::blocked:
        std::cout << "blocked " << id << ": " << a.detail << "\n";
        exit_code = kConflict;
        break;
    }
  }
  if (rep.skipped_live > 0) {
    std::cerr << "reftx: " << rep.skipped_live
              << " in-flight transaction(s) of live processes left alone\n";
  }
  return exit_code;
}

int cmd_journal(const Globals& globals, const std::vector<std::string>& args) {
  po::options_description options("journal options");
  options.add_options()("help,h", "show this help")("json", "JSON Lines output")(
      "action", po::value<std::string>(), "list | show | check")("id", po::value<std::string>(),
                                                                 "transaction id (show)");
  po::positional_options_description pos;
  pos.add("action", 1).add("id", 1);
  po::variables_map vm;
  int code = kOk;
  if (!parse("journal", args, options, pos, vm, code)) return code;
  if (!vm.count("action")) {
    std::cerr << "reftx journal: missing action (list or show)\n";
    return kUsage;
  }
  const std::string action = vm["action"].as<std::string>();
  const bool json = vm.count("json") > 0;
  if (action != "list" && action != "show" && action != "check") {
    std::cerr << "reftx journal: unknown action '" << action
              << "' (expected list, show or check)\n";
    return kUsage;
  }
  if (action == "check") {
    if (vm.count("id") || json) {
      std::cerr << "reftx journal check: takes no argument\n";
      return kUsage;
    }
    return journal_check(globals);
  }
  std::uint64_t id = 0;
  std::string id_text;
  bool id_too_large = false;  // numeric, but beyond any id: "no such transaction", not usage
  if (action == "show") {
    if (!vm.count("id")) {
      std::cerr << "reftx journal show: missing transaction id\n";
      return kUsage;
    }
    id_text = vm["id"].as<std::string>();
    if (id_text.empty() || id_text.find_first_not_of("0123456789") != std::string::npos) {
      std::cerr << "reftx journal show: bad transaction id '" << id_text << "'\n";
      return kUsage;
    }
    auto [end, ec] = std::from_chars(id_text.data(), id_text.data() + id_text.size(), id);
    (void)end;
    id_too_large = ec == std::errc::result_out_of_range;
  } else if (vm.count("id")) {
    std::cerr << "reftx journal list: unexpected argument '" << vm["id"].as<std::string>() << "'\n";
    return kUsage;
  }

  // Inspection never recovers or creates anything: a missing journal means nothing ran.
  auto store = open_store(globals, true, false);
  if (!store) {
    if (store.error().kind != ErrorKind::not_found) return report(store.error());
    if (action == "list") return kOk;
    return report(Error{ErrorKind::not_found, "no transaction " + id_text + " in journal"});
  }
  if (action == "show") {
    if (id_too_large) {
      return report(Error{ErrorKind::not_found, "no transaction " + id_text + " in journal"});
    }
    auto rec = store.value().get(id);
    if (!rec) return report(rec.error());
    std::cout << (json ? record_json(rec.value()) + "\n" : record_details(rec.value()));
    return kOk;
  }
  auto records = store.value().list();
  if (!records) return report(records.error());
  for (const TxRecord& r : records.value()) {
    std::cout << (json ? record_json(r) : record_line(r)) << "\n";
  }
  return kOk;
}

// `state get <key>` prints the value followed by a newline; `state list` prints one
// "<key>\t<value>" line per key (C-quoted like git paths when either contains a tab, newline,
// backslash, double quote or control character), or JSON Lines with --json.
int cmd_state(const Globals& globals, const std::vector<std::string>& args) {
  po::options_description options("state options");
  options.add_options()("help,h", "show this help")("json", "JSON Lines output (list)")(
      "prefix", po::value<std::string>(), "only keys starting with this (list)")(
      "action", po::value<std::string>(), "get | list")("key", po::value<std::string>(),
                                                        "state key (get)");
  po::positional_options_description pos;
  pos.add("action", 1).add("key", 1);
  po::variables_map vm;
  int code = kOk;
  if (!parse("state", args, options, pos, vm, code)) return code;
  if (!vm.count("action")) {
    std::cerr << "reftx state: missing action (get or list)\n";
    return kUsage;
  }
  const std::string action = vm["action"].as<std::string>();
  if (action != "get" && action != "list") {
    std::cerr << "reftx state: unknown action '" << action << "' (expected get or list)\n";
    return kUsage;
  }
  if (action == "get" && !vm.count("key")) {
    std::cerr << "reftx state get: missing key\n";
    return kUsage;
  }
  if (action == "get" && (vm.count("prefix") || vm.count("json"))) {
    std::cerr << "reftx state get: --prefix and --json apply to list only\n";
    return kUsage;
  }
  if (action == "list" && vm.count("key")) {
    std::cerr << "reftx state list: unexpected argument '" << vm["key"].as<std::string>()
              << "' (use --prefix)\n";
    return kUsage;
  }
  auto store = open_store(globals, true, false);
  if (!store && store.error().kind != ErrorKind::not_found) return report(store.error());
  if (action == "get") {
    const std::string key = vm["key"].as<std::string>();
    if (!store) return report(Error{ErrorKind::not_found, "no state key '" + key + "'"});
    auto value = store.value().get_state(key);
    if (!value) return report(value.error());
    if (!value.value()) return report(Error{ErrorKind::not_found, "no state key '" + key + "'"});
    std::cout << *value.value() << "\n";
    return kOk;
  }
  if (!store) return kOk;  // no journal: no state
  const std::string prefix = vm.count("prefix") ? vm["prefix"].as<std::string>() : "";
  auto entries = store.value().list_state(prefix);
  if (!entries) return report(entries.error());
  for (const StateEntry& e : entries.value()) {
    if (vm.count("json")) {
      std::cout << state_json(e) << "\n";
    } else {
      std::cout << quote_c(e.key) << "\t" << quote_c(e.value) << "\n";
    }
  }
  return kOk;
}

int cmd_crash_points(const Globals& globals, const std::vector<std::string>& args) {
  if (!args.empty()) {
    std::cerr << "reftx crash-points: unexpected argument '" << args.front() << "'\n";
    return kUsage;
  }
  if (globals.directory_given) {  // like every command: -C must name a repository
    auto store = open_store(globals, true, false);
    if (!store && store.error().kind != ErrorKind::not_found) return report(store.error());
  }
  if (!core::crash_points_enabled()) {
    std::cerr << "reftx crash-points: this reftx was built without crash points "
                 "(meson option crash_points=false)\n";
    return kUsage;
  }
  for (std::string_view name : core::crash_point_names()) std::cout << name << "\n";
  return kOk;
}

}  // namespace reftx::cli
