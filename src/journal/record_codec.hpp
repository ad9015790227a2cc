// Versioned binary encoding of journal records; the grammar is docs/journal-format.md.
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "reftx/error.hpp"
#include "reftx/types.hpp"

namespace reftx::journal {

// Version written; version 1 (refs only, no work tree/files/keys) is still read.
inline constexpr std::uint8_t kRecordFormatVersion = 2;

std::string encode_record(const TxRecord& record);

// Decodes a record stored under `id`. Any malformed input -> corrupt_journal naming the id;
// never reads out of bounds.
Result<TxRecord> decode_record(std::uint64_t id, std::string_view bytes);

// Journal keys: 8-byte big-endian ids, so LMDB's byte order is id order.
std::string encode_key(std::uint64_t id);
Result<std::uint64_t> decode_key(std::string_view key);

}  // namespace reftx::journal
