// libFuzzer target: a journal file (data.mdb) from anywhere. The bytes are written to a fresh
// journal directory and go through the checks reftx runs before LMDB maps a file
// (journal/lmdb_format: the meta pages at every open, every page for `reftx journal check`);
// a file that passes both is opened (unsynced) and read whole. Nothing may crash: damage is
// refused as corrupt_journal (or not_found / environment), never a signal.
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "journal/journal.hpp"
#include "journal/lmdb_format.hpp"

namespace {

const std::string& scratch_dir() {
  static const std::string dir = [] {
    char tmpl[] = "/tmp/reftx-fuzz-journal-XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) std::abort();
    return std::string(tmpl);
  }();
  return dir;
}

bool write_file(const std::string& path, const std::uint8_t* data, std::size_t size) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return false;
  const bool ok = ::write(fd, data, size) == static_cast<ssize_t>(size);
  ::close(fd);
  return ok;
}

bool passes_checks(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  auto info = reftx::journal::format::check_environment(fd, path);
  bool ok = info.ok() && reftx::journal::format::check_pages(fd, path, info.value()).ok();
  ::close(fd);
  return ok;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string dir = scratch_dir() + "/j";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  if (!write_file(dir + "/data.mdb", data, size)) std::abort();
  if (!passes_checks(dir + "/data.mdb")) return 0;
  auto journal = reftx::journal::Journal::open(dir, /*read_only=*/false, /*durable=*/false);
  if (!journal) return 0;
  auto records = journal.value().list();
  (void)records;
  auto state = journal.value().list_state("");
  (void)state;
  return 0;
}
