// Test helper: small text and file utilities shared by every suite.
#pragma once

#include <sys/types.h>
#include <string>
#include <vector>

namespace reftx::test {

// Splits on '\n'; a final newline does not make an empty last line. Empty lines in between are
// kept (so that a blank line in a command's output is seen, not skipped).
std::vector<std::string> split_lines(const std::string& s);

// "a b c", for CAPTURE of an argument list.
std::string join(const std::vector<std::string>& words);

// "\n  a\n  b": a list for a failure message, one indented line per entry.
std::string joined(const std::vector<std::string>& lines);

// A text script: each command followed by a newline.
std::string script_of(const std::vector<std::string>& commands);

// A -z script: each field followed by NUL.
std::string nul(const std::vector<std::string>& fields);

// The whole content of `path`; throws std::runtime_error if it cannot be read.
std::string read_file(const std::string& path);

// Creates or truncates `path` with `content`; throws std::runtime_error on failure.
void write_file(const std::string& path, const std::string& content);

// Permission bits of `path`, not following a link; REQUIREs that it can be lstat'ed.
unsigned perms(const std::string& path);

// The process's umask (read without changing it for longer than the call).
mode_t current_umask();

}  // namespace reftx::test
