// JSON rendering of journal records for `reftx journal ... --json` (JSON Lines, format 1;
// fields documented in docs/journal-format.md). Pure functions.
#pragma once

#include <string>
#include <string_view>

#include "reftx/store.hpp"
#include "reftx/types.hpp"

namespace reftx::cli {

// A JSON string literal. Valid UTF-8 passes through unchanged; control characters are escaped;
// bytes that are not valid UTF-8 become U+FFFD.
std::string json_string(std::string_view s);

// One line (no trailing newline) describing a record.
std::string record_json(const TxRecord& record);

// One tool-state entry: {"key":...,"value":...}.
std::string state_json(const StateEntry& entry);

// "2026-11-26T11:13:04.123456Z"
std::string iso_time(std::int64_t unix_ns);

}  // namespace reftx::cli
