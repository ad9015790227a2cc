// libFuzzer target: the journal record decoder (src/journal/record_codec). Any bytes must
// decode or be refused as corrupt_journal; a record that decodes must re-encode to bytes that
// decode to the same record.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "journal/record_codec.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto record = reftx::journal::decode_record(7, bytes);
  if (!record) {
    if (record.error().kind != reftx::ErrorKind::corrupt_journal) std::abort();
    return 0;
  }
  const std::string again = reftx::journal::encode_record(record.value());
  auto round = reftx::journal::decode_record(7, again);
  if (!round) std::abort();
  if (reftx::journal::encode_record(round.value()) != again) std::abort();
  return 0;
}
