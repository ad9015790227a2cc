// Internal: reach a crash point. SIGKILLs the process if REFTX_CRASH_AT names `point`.
// REQUIRES: `point` is listed in crash_point_names() (checked in debug builds).
#pragma once

#include <string_view>

namespace reftx::core {

void crash_point(std::string_view point);

}  // namespace reftx::core
