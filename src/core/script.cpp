#include "reftx/script.hpp"

#include <optional>

#include "util/hex.hpp"

namespace reftx {
namespace {

Error bad_line(int line, const std::string& what) {
  return Error{ErrorKind::invalid_input, what, line};
}

// git-style C unquoting of a field that starts with '"'. Advances `in` past the closing quote.
std::optional<std::string> unquote(std::string_view& in) {
  std::string out;
  std::size_t i = 1;
  while (i < in.size()) {
    char c = in[i++];
    if (c == '"') {
      in.remove_prefix(i);
      return out;
    }
    if (c != '\\') {
      out.push_back(c);
      continue;
    }
    if (i >= in.size()) return std::nullopt;
    char e = in[i++];
    switch (e) {
      case 'a': out.push_back('\a'); break;
      case 'b': out.push_back('\b'); break;
      case 'f': out.push_back('\f'); break;
      case 'n': out.push_back('\n'); break;
      case 'r': out.push_back('\r'); break;
      case 't': out.push_back('\t'); break;
      case 'v': out.push_back('\v'); break;
      case '\\': out.push_back('\\'); break;
      case '"': out.push_back('"'); break;
      default:
        if (e >= '0' && e <= '3' && i + 1 < in.size() && in[i] >= '0' && in[i] <= '7' &&
            in[i + 1] >= '0' && in[i + 1] <= '7') {
          out.push_back(static_cast<char>(((e - '0') << 6) | ((in[i] - '0') << 3) |
                                          (in[i + 1] - '0')));
          i += 2;
        } else {
          return std::nullopt;
        }
    }
  }
  return std::nullopt;
}

// Splits a text-mode line after its verb into fields separated by single spaces.
Result<std::vector<std::string>> split_fields(std::string_view rest, int line) {
  std::vector<std::string> fields;
  while (!rest.empty()) {
    if (rest.front() == '"') {
      auto field = unquote(rest);
      if (!field) return bad_line(line, "badly quoted argument");
      fields.push_back(std::move(*field));
    } else {
      auto space = rest.find(' ');
      fields.emplace_back(rest.substr(0, space));
      rest = space == std::string_view::npos ? std::string_view{} : rest.substr(space);
    }
    if (rest.empty()) break;
    if (rest.front() != ' ') return bad_line(line, "expected a space after a quoted argument");
    rest.remove_prefix(1);
    if (rest.empty() || rest.front() == ' ') return bad_line(line, "empty argument");
  }
  return fields;
}

struct VerbSpec {
  const char* name;
  RefOp op;
  std::size_t required;  // after the ref: new for update/create
  std::size_t optional;  // old value
};

constexpr VerbSpec kVerbs[] = {
    {"update", RefOp::update, 1, 1},
    {"create", RefOp::create, 1, 0},
    {"delete", RefOp::remove, 0, 1},
    {"verify", RefOp::verify, 0, 1},
};

const VerbSpec* find_verb(std::string_view verb) {
  for (const VerbSpec& v : kVerbs) {
    if (verb == v.name) return &v;
  }
  return nullptr;
}

Error unknown_verb(std::string_view verb, int line) {
  if (verb == "start" || verb == "prepare" || verb == "commit" || verb == "abort" ||
      verb == "option") {
    return bad_line(line, "'" + std::string(verb) +
                              "' is not supported: the whole script is one transaction");
  }
  return bad_line(line, "unknown command '" + std::string(verb) + "'");
}

// Builds a change from a verb, its ref and value fields (empty old = not given).
Result<RefChange> make_change(const VerbSpec& spec, std::string ref,
                              const std::vector<std::string>& values, int line) {
  if (ref.empty()) return bad_line(line, std::string(spec.name) + ": missing ref name");
  if (values.size() < spec.required) {
    return bad_line(line, std::string(spec.name) + " " + ref + ": missing new value");
  }
  if (values.size() > spec.required + spec.optional) {
    return bad_line(line, std::string(spec.name) + " " + ref + ": too many arguments");
  }
  RefChange change;
  change.op = spec.op;
  change.name = std::move(ref);
  change.line = line;
  change.new_oid = kZeroOid;
  if (spec.required == 1) {
    if (!util::is_hex_oid(values[0])) {
      return bad_line(line, std::string(spec.name) + " " + change.name + ": bad new value '" +
                                values[0] + "' (expected 40 hex digits)");
    }
    change.new_oid = util::normalize_oid(values[0]);
  }
  if (values.size() > spec.required && !values[spec.required].empty()) {
    const std::string& old = values[spec.required];
    if (!util::is_hex_oid(old)) {
      return bad_line(line, std::string(spec.name) + " " + change.name + ": bad old value '" +
                                old + "' (expected 40 hex digits)");
    }
    change.expected_old = util::normalize_oid(old);
  }
  return change;
}

Result<std::vector<RefChange>> parse_text(std::string_view script) {
  std::vector<RefChange> changes;
  int line_no = 0;
  while (!script.empty()) {
    ++line_no;
    auto nl = script.find('\n');
    std::string_view line = script.substr(0, nl);
    script = nl == std::string_view::npos ? std::string_view{} : script.substr(nl + 1);
    if (line.empty()) return bad_line(line_no, "empty command");
    auto space = line.find(' ');
    std::string_view verb = line.substr(0, space);
    const VerbSpec* spec = find_verb(verb);
    if (spec == nullptr) return unknown_verb(verb, line_no);
    auto fields = split_fields(
        space == std::string_view::npos ? std::string_view{} : line.substr(space + 1), line_no);
    if (!fields) return fields.error();
    std::vector<std::string>& f = fields.value();
    if (f.empty()) return bad_line(line_no, std::string(spec->name) + ": missing ref name");
    std::string ref = std::move(f.front());
    f.erase(f.begin());
    auto change = make_change(*spec, std::move(ref), f, line_no);
    if (!change) return change.error();
    changes.push_back(std::move(change).value());
  }
  return changes;
}

Result<std::vector<RefChange>> parse_nul(std::string_view script) {
  std::vector<RefChange> changes;
  int command = 0;
  auto next_field = [&script](std::optional<std::string>& out) {
    auto nul = script.find('\0');
    if (nul == std::string_view::npos) return false;
    out = std::string(script.substr(0, nul));
    script.remove_prefix(nul + 1);
    return true;
  };
  while (!script.empty()) {
    ++command;
    std::optional<std::string> head;
    if (!next_field(head)) return bad_line(command, "command not terminated by NUL");
    auto space = head->find(' ');
    std::string verb = head->substr(0, space);
    if (verb.empty()) return bad_line(command, "empty command");
    const VerbSpec* spec = find_verb(verb);
    if (spec == nullptr) return unknown_verb(verb, command);
    std::string ref = space == std::string::npos ? "" : head->substr(space + 1);
    std::vector<std::string> values;
    for (std::size_t i = 0; i < spec->required + spec->optional; ++i) {
      std::optional<std::string> value;
      if (!next_field(value)) {
        return bad_line(command, std::string(spec->name) + " " + ref + ": truncated command");
      }
      values.push_back(std::move(*value));
    }
    auto change = make_change(*spec, std::move(ref), values, command);
    if (!change) return change.error();
    changes.push_back(std::move(change).value());
  }
  return changes;
}

}  // namespace

Result<std::vector<RefChange>> parse_script(std::string_view script, bool nul_separated) {
  auto changes = nul_separated ? parse_nul(script) : parse_text(script);
  if (changes && changes.value().empty()) {
    return Error{ErrorKind::invalid_input, "empty script: no command to apply"};
  }
  return changes;
}

}  // namespace reftx
