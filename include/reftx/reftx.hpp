// Umbrella header for the reftx library.
#pragma once

#include "reftx/batch.hpp"
#include "reftx/error.hpp"
#include "reftx/script.hpp"
#include "reftx/store.hpp"
#include "reftx/types.hpp"

namespace reftx {
// Library version, "MAJOR.MINOR.PATCH".
const char* version();
}  // namespace reftx
