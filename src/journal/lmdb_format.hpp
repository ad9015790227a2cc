// A reader of LMDB 0.9's on-disk format (data.mdb), written from the format's description, with
// a bounds check on every field it uses. LMDB trusts its file: a truncated file or a damaged meta
// page makes it read outside its map (SIGBUS, SIGSEGV) or fail an assertion. reftx runs
// check_environment() before LMDB maps anything, and check_pages() for `reftx journal check`.
//
// Layout (64-bit little-endian, the only build reftx supports; docs/journal-format.md, "LMDB's
// file, as reftx checks it"): pages of `psize` bytes; pages 0 and 1 are meta pages, the one with
// the higher txnid is current. Every page starts with a 16-byte header.
//
// Thread-safety: plain functions over a file descriptor; no shared state.
#pragma once

#include <cstdint>
#include <string>
#include <utility>

#include "reftx/error.hpp"

namespace reftx::journal::format {

inline constexpr std::uint32_t kMagic = 0xBEEFC0DE;
inline constexpr std::uint32_t kDataVersion = 1;
inline constexpr std::uint64_t kInvalidPage = ~std::uint64_t{0};  // P_INVALID: empty tree

// One B-tree's descriptor (MDB_db), as stored in a meta page or a named-database node.
struct Tree {
  std::uint32_t pad = 0;  // free DB: the page size
  std::uint16_t flags = 0;
  std::uint16_t depth = 0;
  std::uint64_t branch_pages = 0, leaf_pages = 0, overflow_pages = 0, entries = 0;
  std::uint64_t root = kInvalidPage;
};

struct Meta {
  std::uint16_t page_flags = 0;
  std::uint64_t page_number = 0;
  std::uint32_t magic = 0, version = 0;
  std::uint64_t map_size = 0;
  Tree free, main;
  std::uint64_t last_page = 0;
  std::uint64_t txnid = 0;
};

// What check_environment found: the meta page LMDB will use and the file's geometry.
struct FileInfo {
  std::uint64_t file_size = 0;
  std::uint32_t page_size = 0;
  int current_meta = 0;  // 0 or 1
  Meta meta[2];
  bool older_meta_valid = true;  // the other meta page passed the checks too
  std::string older_meta_problem;
  // The file is shorter than (last_page + 1) pages: legal when LMDB left free pages at the end
  // unwritten; check_environment then walked the trees to prove no page beyond the end is used.
  bool short_file = false;
};

// The page size LMDB 0.9.24 creates files with: the OS page size, at most 64 KiB.
std::uint32_t expected_page_size();

// Checks data.mdb (an open, regular file `fd`, named `path` in messages) before LMDB maps it:
// size, both meta pages, and (only when the file is shorter than its last page) every tree.
// Errors are corrupt_journal ("journal file '<path>' is corrupt: <what>") or environment (I/O).
Result<FileInfo> check_environment(int fd, const std::string& path);

// Walks every page reachable from the current meta page (main DB, its named databases, the
// free DB and the pages it lists) with bounds checks: page numbers within the file, header
// flags, lower/upper, node offsets and sizes within the page, overflow runs within the file,
// child pages within the file and visited once, depths and page counts as recorded.
// Returns a one-line summary on success; the first damage as corrupt_journal otherwise.
// `require_older_meta`: report a damaged previous meta page too (LMDB never reads it).
Result<std::string> check_pages(int fd, const std::string& path, const FileInfo& info,
                                bool require_older_meta = true);

// The txnids of both meta pages as they are now (to tell a concurrent commit from damage).
Result<std::pair<std::uint64_t, std::uint64_t>> read_txnids(int fd, const std::string& path);

}  // namespace reftx::journal::format
