// How a tool replaces a file today without reftx: write a temp file next to it, rename it over.
#pragma once

#include <string>
#include <string_view>

namespace reftx_bench {

// Replaces `path` with `content` through "<path>.tmp": create + write, fsync when `sync`,
// rename over `path`, then fsync of the parent directory when `sync`. New files get 0666 minus
// the umask. Each call is atomic on its own (readers see old or new content), and durable when
// `sync`; nothing ties several calls together. Throws std::runtime_error on failure.
void replace_file(const std::string& path, std::string_view content, bool sync);

}  // namespace reftx_bench
