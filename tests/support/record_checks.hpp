// Test helper: checks of single entries of a JSON journal record (`journal ... --json`), for
// the black-box CLI tests.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "support/json.hpp"
#include "support/temp_repo.hpp"

namespace reftx::test {

// A file entry: old and new blob, mode ("" = null) and, when `expected` is given, the
// compare-and-swap value (else the entry must have none).
void check_file(const Json& record, const std::string& path, const std::string& old_blob,
                const std::string& new_blob, const std::string& mode,
                const std::optional<std::string>& expected = std::nullopt);

// A key entry; nullopt = absent (JSON null). The old value must be known.
void check_key(const Json& record, const std::string& key, const std::optional<std::string>& old,
               const std::optional<std::string>& value);

// The last journal record; CHECKs that it is aborted and REQUIREs a reason.
Json last_aborted(const TempRepo& repo, const std::vector<std::string>& globals = {});

}  // namespace reftx::test
