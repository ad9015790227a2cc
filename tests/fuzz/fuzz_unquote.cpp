// libFuzzer target: git-style C quoting. Any byte string the CLI prints quoted (quote_c) must
// read back as exactly that string through the script parser's unquoting, or be refused.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "cli.hpp"
#include "reftx/script.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string name(reinterpret_cast<const char*>(data), size);
  std::string quoted = reftx::cli::quote_c(name);
  if (quoted == name) quoted = "\"" + name + "\"";  // nothing to escape: quote it anyway
  auto changes = reftx::parse_script("remove " + quoted + "\n", /*nul_separated=*/false);
  if (!changes) {
    if (changes.error().kind != reftx::ErrorKind::invalid_input) std::abort();
    return 0;
  }
  if (changes.value().files.size() != 1 || changes.value().files[0].path != name) std::abort();
  return 0;
}
