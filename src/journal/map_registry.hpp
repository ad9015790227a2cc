// The address ranges of the LMDB maps this process has open, readable from a signal handler:
// a SIGBUS/SIGSEGV whose address lies in a journal's map is LMDB reading a damaged page (or a
// page beyond the end of a truncated file), not a bug of the program (reftx::journal_mapped_at).
//
// Thread-safety: publish/withdraw are serialized by a mutex; lookup() is lock-free and
// async-signal-safe (atomic loads only).
#pragma once

#include <cstddef>
#include <string>

namespace reftx::journal {

// Records (or updates) the map of `owner` (one slot per open environment): [begin, begin+size)
// belongs to the journal `dir`. At most 16 maps are tracked; others are not (a fault there is
// then reported as a plain crash).
void publish_map(const void* owner, const void* begin, std::size_t size, const std::string& dir);
void withdraw_map(const void* owner);

// The journal directory whose map holds `address`, or nullptr.
const char* lookup_map(const void* address) noexcept;

// While one lives, LMDB is working on the journal `dir` (a read or write transaction, an
// open): an abort() then (LMDB's assertions on damaged pages) is attributed to the journal.
class JournalInUse {
 public:
  explicit JournalInUse(const std::string& dir);
  ~JournalInUse();
  JournalInUse(const JournalInUse&) = delete;
  JournalInUse& operator=(const JournalInUse&) = delete;
};

// The journal LMDB is working on in this process, or nullptr. Async-signal-safe.
const char* journal_in_use() noexcept;

}  // namespace reftx::journal
