// libFuzzer target: the `reftx apply` script parser (reftx/script.hpp), in text mode, or in -z
// mode when built with REFTX_FUZZ_NUL_SEPARATED=1 (target fuzz_script_z). Any input must parse
// or be refused with invalid_input naming a line within the script; never crash.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "reftx/script.hpp"

#ifndef REFTX_FUZZ_NUL_SEPARATED
#define REFTX_FUZZ_NUL_SEPARATED 0
#endif

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view script(reinterpret_cast<const char*>(data), size);
  auto changes = reftx::parse_script(script, /*nul_separated=*/REFTX_FUZZ_NUL_SEPARATED != 0);
  if (changes) return 0;
  const reftx::Error& e = changes.error();
  if (e.kind != reftx::ErrorKind::invalid_input || e.message.empty()) std::abort();
  if (e.line < 0 || static_cast<std::size_t>(e.line) > size + 1) std::abort();
  return 0;
}
