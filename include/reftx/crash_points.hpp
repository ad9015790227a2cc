// Built-in crash points for testing crash safety.
//
// When the environment variable REFTX_CRASH_AT names a point, the process sends itself SIGKILL
// the first time it reaches that point. Names start with the path that reaches them:
// "apply." (an apply that commits), "abort." (an apply whose precondition fails) or
// "recover." (recovery of an interrupted transaction). docs/crash-points.md explains each.
#pragma once

#include <string_view>
#include <vector>

namespace reftx {

// Every crash point, in the order a transaction reaches them.
const std::vector<std::string_view>& crash_point_names();

}  // namespace reftx
