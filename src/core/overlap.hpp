// Checks of one transaction against the other in-flight transactions of the journal.
// Thread-safety: stateless.
#pragma once

#include <cstdint>
#include <string>

#include "journal/journal.hpp"
#include "reftx/error.hpp"
#include "reftx/types.hpp"

namespace reftx::core {

// Refuses `ours` (ErrorKind::locked) when `other` changes one of its files in the same work
// tree, unless `other` is undecided and its owner dead (it will be rolled back and never
// touches the file). Run inside the journal write that records `ours` (record_new's admission),
// so two transactions cannot both pass.
Status admit_files(const std::string& journal_dir, const TxRecord& ours, const TxRecord& other);

// Another transaction that decided to commit but was interrupted before finishing (its owner or
// its git died) and names one of `ours`'s refs, files or keys: committing over it would make
// two transactions replace the same old value. Returns its id, or 0.
Result<std::uint64_t> unfinished_decision_on(const journal::Journal& journal, const TxRecord& ours);

}  // namespace reftx::core
