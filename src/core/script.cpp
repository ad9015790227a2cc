#include "reftx/script.hpp"

#include <optional>

#include "util/hex.hpp"

namespace reftx {
namespace {

Error bad_line(int line, const std::string& what) {
  return Error{ErrorKind::invalid_input, what, line};
}

// `s` for a message: control characters (NUL included) as octal escapes, cut after 4 KiB (a
// legal ref name or path is shorter).
std::string shown(std::string_view s) {
  constexpr std::size_t kShown = 4096;
  std::string out;
  for (char c : s.substr(0, kShown)) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      out += '\\';
      out += static_cast<char>('0' + (u >> 6));
      out += static_cast<char>('0' + ((u >> 3) & 7));
      out += static_cast<char>('0' + (u & 7));
    } else {
      out += c;
    }
  }
  if (s.size() > kShown) out += "...";
  return out;
}

Error too_long(int line, const char* what, std::size_t size, std::size_t limit) {
  return bad_line(line, std::string(what) + " of " + std::to_string(size) + " bytes (at most " +
                            std::to_string(limit) + ")");
}

Error too_many_commands(int line) {
  return bad_line(line, "more than " + std::to_string(kMaxCommands) + " commands (the limit)");
}

// Command `line` extends past byte kMaxScriptBytes of the script.
Error script_too_long(int line) {
  return bad_line(
      line, "the script is longer than " + std::to_string(kMaxScriptBytes) + " bytes (the limit)");
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
      case 'a':
        out.push_back('\a');
        break;
      case 'b':
        out.push_back('\b');
        break;
      case 'f':
        out.push_back('\f');
        break;
      case 'n':
        out.push_back('\n');
        break;
      case 'r':
        out.push_back('\r');
        break;
      case 't':
        out.push_back('\t');
        break;
      case 'v':
        out.push_back('\v');
        break;
      case '\\':
        out.push_back('\\');
        break;
      case '"':
        out.push_back('"');
        break;
      default:
        if (e >= '0' && e <= '3' && i + 1 < in.size() && in[i] >= '0' && in[i] <= '7' &&
            in[i + 1] >= '0' && in[i + 1] <= '7') {
          out.push_back(
              static_cast<char>(((e - '0') << 6) | ((in[i] - '0') << 3) | (in[i + 1] - '0')));
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

enum class Kind { ref, file, key };

struct VerbSpec {
  const char* name;
  Kind kind;
  RefOp op;              // refs only
  std::size_t required;  // values after the ref/path/key
  std::size_t optional;  // text mode: trailing optional values; -z mode: always present
};

constexpr VerbSpec kVerbs[] = {
    {"update", Kind::ref, RefOp::update, 1, 1}, {"create", Kind::ref, RefOp::create, 1, 0},
    {"delete", Kind::ref, RefOp::remove, 0, 1}, {"verify", Kind::ref, RefOp::verify, 0, 1},
    {"write", Kind::file, RefOp::update, 1, 2}, {"remove", Kind::file, RefOp::remove, 0, 1},
    {"set", Kind::key, RefOp::update, 1, 0},    {"unset", Kind::key, RefOp::remove, 0, 0},
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
    return bad_line(
        line, "'" + std::string(verb) + "' is not supported: the whole script is one transaction");
  }
  return bad_line(line, "unknown command '" + std::string(verb) + "'");
}

const char* subject(Kind kind) {
  return kind == Kind::ref ? "ref name" : kind == Kind::file ? "path" : "key";
}

Result<std::string> parse_oid(const VerbSpec& spec, const std::string& target,
                              const std::string& value, const char* role, int line) {
  if (!util::is_hex_oid(value)) {
    const std::string_view head = std::string_view(value).substr(0, 64);
    return bad_line(line, std::string(spec.name) + " " + shown(target) + ": bad " + role +
                              " value '" + shown(head) + (head.size() < value.size() ? "..." : "") +
                              "' (expected 40 hex digits)");
  }
  return util::normalize_oid(value);
}

Status add_file_change(const VerbSpec& spec, FileChange change,
                       const std::vector<std::string>& values, const std::string& label,
                       Changes& out) {
  const int line = change.line;
  if (spec.required == 1) {
    auto blob = parse_oid(spec, change.path, values[0], "blob", line);
    if (!blob) return blob.error();
    change.new_blob = std::move(blob).value();
    const std::string& mode = values[2];
    if (mode == "mode=100755") {
      change.mode = 0100755;
    } else if (mode == "mode=100644") {
      change.mode = 0100644;
    } else if (!mode.empty()) {
      return bad_line(
          line, label + ": bad mode '" + shown(mode) + "' (expected mode=100644 or mode=100755)");
    }
  }
  out.files.push_back(std::move(change));
  return {};
}

Status add_ref_change(const VerbSpec& spec, RefChange change,
                      const std::vector<std::string>& values, Changes& out) {
  if (spec.required == 1) {
    auto parsed = parse_oid(spec, change.name, values[0], "new", change.line);
    if (!parsed) return parsed.error();
    change.new_oid = std::move(parsed).value();
  }
  out.refs.push_back(std::move(change));
  return {};
}

// Adds the change a verb with its target (ref, path or key) and values describes.
// `values` holds the required values, then the optional ones (empty = not given).
Status add_change(const VerbSpec& spec, std::string target, std::vector<std::string> values,
                  int line, Changes& out) {
  if (target.empty())
    return bad_line(line, std::string(spec.name) + ": missing " + subject(spec.kind));
  const std::string label = std::string(spec.name) + " " + shown(target);
  // Text mode only: in -z mode a NUL ends the field.
  if (target.find('\0') != std::string::npos) {
    return bad_line(line, label + ": the " + subject(spec.kind) + " contains a NUL byte");
  }
  if (values.size() < spec.required) {
    const char* what = spec.kind == Kind::key    ? "value"
                       : spec.kind == Kind::file ? "blob"
                                                 : "new value";
    return bad_line(line, label + ": missing " + what);
  }
  if (values.size() > spec.required + spec.optional) {
    return bad_line(line, label + ": too many arguments");
  }
  values.resize(spec.required + spec.optional);
  if (spec.kind == Kind::key) {
    if (spec.required == 1 && values[0].size() > kMaxValueBytes) {
      return too_long(line, (label + ": value").c_str(), values[0].size(), kMaxValueBytes);
    }
    KeyChange change{std::move(target), std::nullopt, line};
    if (spec.required == 1) change.value = std::move(values[0]);
    out.keys.push_back(std::move(change));
    return {};
  }
  std::optional<std::string> old;
  const std::size_t old_at = spec.required;
  if (old_at < values.size() && !values[old_at].empty()) {
    auto parsed = parse_oid(spec, target, values[old_at], "old", line);
    if (!parsed) return parsed.error();
    old = std::move(parsed).value();
  }
  if (spec.kind == Kind::file) {
    return add_file_change(
        spec, FileChange{std::move(target), kZeroOid, std::nullopt, std::move(old), 0, line},
        values, label, out);
  }
  return add_ref_change(spec, RefChange{spec.op, std::move(target), kZeroOid, std::move(old), line},
                        values, out);
}

// Text mode `write`: the mode is the last field if it starts with "mode="; the old blob sits
// between the new blob and it. Returns values laid out as {blob, old, mode}.
std::vector<std::string> layout_write_fields(std::vector<std::string> f) {
  std::string mode;
  if (!f.empty() && f.back().rfind("mode=", 0) == 0) {
    mode = std::move(f.back());
    f.pop_back();
  }
  if (f.size() > 2) return f;  // too many: reported by add_change
  f.resize(2);
  f.push_back(std::move(mode));
  if (f[0].empty()) f.resize(0);  // missing blob
  return f;
}

Result<Changes> parse_text(std::string_view script) {
  Changes changes;
  int line_no = 0;
  std::size_t offset = 0;  // of the line in the whole script
  while (!script.empty()) {
    ++line_no;
    auto nl = script.find('\n');
    std::string_view line = script.substr(0, nl);
    const std::size_t taken = nl == std::string_view::npos ? script.size() : nl + 1;
    if (offset + taken > kMaxScriptBytes) return script_too_long(line_no);
    if (line_no > kMaxCommands) return too_many_commands(line_no);
    if (line.size() > kMaxLineBytes) return too_long(line_no, "line", line.size(), kMaxLineBytes);
    script.remove_prefix(taken);
    offset += taken;
    if (line.empty()) return bad_line(line_no, "empty command");
    auto space = line.find(' ');
    std::string_view verb = line.substr(0, space);
    const VerbSpec* spec = find_verb(verb);
    if (spec == nullptr) return unknown_verb(verb, line_no);
    std::string_view rest =
        space == std::string_view::npos ? std::string_view{} : line.substr(space + 1);
    if (spec->kind == Kind::key) {  // key, then the value verbatim
      auto key_end = rest.find(' ');
      std::string key(rest.substr(0, key_end));
      std::vector<std::string> values;
      if (key_end != std::string_view::npos) values.emplace_back(rest.substr(key_end + 1));
      if (Status s = add_change(*spec, std::move(key), std::move(values), line_no, changes); !s) {
        return s.error();
      }
      continue;
    }
    auto fields = split_fields(rest, line_no);
    if (!fields) return fields.error();
    std::vector<std::string>& f = fields.value();
    if (f.empty()) {
      return bad_line(line_no, std::string(spec->name) + ": missing " + subject(spec->kind));
    }
    std::string target = std::move(f.front());
    f.erase(f.begin());
    if (spec->kind == Kind::file && spec->required == 1) {
      bool too_many = f.size() > 3 || (f.size() == 3 && f.back().rfind("mode=", 0) != 0);
      if (!too_many) f = layout_write_fields(std::move(f));
    }
    if (Status s = add_change(*spec, std::move(target), std::move(f), line_no, changes); !s) {
      return s.error();
    }
  }
  return changes;
}

Result<Changes> parse_nul(std::string_view script) {
  Changes changes;
  int command = 0;
  std::size_t offset = 0;         // of `script` in the whole script
  std::size_t command_start = 0;  // offset of the current command
  // Reads the next NUL-terminated field of command `command` into `out`; false (with `error`
  // set) when it is missing or beyond a limit.
  auto next_field = [&](std::string& out, Error& error, const char* missing) {
    auto nul = script.find('\0');
    const std::size_t end = nul == std::string_view::npos ? script.size() : nul;
    if (offset + end + (nul == std::string_view::npos ? 0 : 1) > kMaxScriptBytes) {
      error = script_too_long(command);
    } else if (offset + end - command_start > kMaxLineBytes) {
      error = too_long(command, "command", offset + end - command_start, kMaxLineBytes);
    } else if (nul == std::string_view::npos) {
      error = bad_line(command, missing);
    } else {
      out.assign(script.substr(0, nul));
      script.remove_prefix(nul + 1);
      offset += nul + 1;
      return true;
    }
    return false;
  };
  while (!script.empty()) {
    ++command;
    command_start = offset;
    std::string head;
    Error error;
    if (!next_field(head, error, "command not terminated by NUL")) return error;
    if (command > kMaxCommands) return too_many_commands(command);
    auto space = head.find(' ');
    std::string verb = head.substr(0, space);
    if (verb.empty()) return bad_line(command, "empty command");
    const VerbSpec* spec = find_verb(verb);
    if (spec == nullptr) return unknown_verb(verb, command);
    std::string target = space == std::string::npos ? "" : head.substr(space + 1);
    const std::string truncated =
        std::string(spec->name) + " " + shown(target) + ": truncated command";
    std::vector<std::string> values(spec->required + spec->optional);
    for (std::string& value : values) {
      if (!next_field(value, error, truncated.c_str())) return error;
    }
    if (spec->kind == Kind::file && spec->required == 1 && values[0].empty()) values.clear();
    if (Status s = add_change(*spec, std::move(target), std::move(values), command, changes); !s) {
      return s.error();
    }
  }
  return changes;
}

}  // namespace

Result<Changes> parse_script(std::string_view script, bool nul_separated) {
  auto changes = nul_separated ? parse_nul(script) : parse_text(script);
  if (changes && changes.value().empty()) {
    return Error{ErrorKind::invalid_input, "empty script: no command to apply"};
  }
  return changes;
}

}  // namespace reftx
