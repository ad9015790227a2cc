// Helpers of the damaged-journal tests: a golden repository with a journal that has a branch
// page, overflow pages and an in-flight transaction, copies of it, and a small reader of
// data.mdb's layout (independent of src/journal/lmdb_format.cpp) to find pages to damage.
#pragma once

#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include "support/json.hpp"
#include "support/process.hpp"
#include "support/temp_repo.hpp"
#include "support/text.hpp"

namespace damage {

using reftx::test::RunOptions;
using reftx::test::RunResult;
using reftx::test::split_lines;
using reftx::test::TempDir;
using reftx::test::TempRepo;

inline std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline void spit(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
}

template <typename T>
T get(const std::string& b, std::size_t off) {
  T v{};
  if (off + sizeof v <= b.size()) std::memcpy(&v, b.data() + off, sizeof v);
  return v;
}
template <typename T>
void put(std::string& b, std::size_t off, T v) {
  if (off + sizeof v <= b.size()) std::memcpy(b.data() + off, &v, sizeof v);
}

// Offsets of LMDB 0.9 (64-bit), as in docs/journal-format.md.
inline constexpr std::size_t kPsize = 4096;
inline constexpr std::size_t kMetaMagic = 16, kMetaVersion = 20, kMetaMapSize = 32, kFreeDb = 40,
                             kMainDb = 88, kLastPage = 136, kTxnid = 144;
inline constexpr std::size_t kDbPad = 0, kDbFlags = 4, kDbDepth = 6, kDbRoot = 40;

// One page of the file and what it is.
struct PageInfo {
  std::uint64_t pgno = 0;
  std::string kind;  // "branch", "leaf", "overflow"
  std::string tree;  // "main", "free", "records", "state", ...
};

// Walks data.mdb (undamaged) from its current meta page; returns every page found.
class Layout {
 public:
  explicit Layout(std::string file) : file_(std::move(file)) {
    const std::uint64_t t0 = get<std::uint64_t>(file_, kTxnid);
    const std::uint64_t t1 = get<std::uint64_t>(file_, kPsize + kTxnid);
    current = t0 < t1 ? 1 : 0;
    const std::size_t meta = current * kPsize;
    walk(get<std::uint64_t>(file_, meta + kMainDb + kDbRoot), "main");
    walk(get<std::uint64_t>(file_, meta + kFreeDb + kDbRoot), "free");
  }
  int current = 0;
  std::vector<PageInfo> pages;

  const PageInfo* find(const std::string& kind, const std::string& tree) const {
    for (const PageInfo& p : pages) {
      if (p.kind == kind && p.tree == tree) return &p;
    }
    return nullptr;
  }

 private:
  void walk(std::uint64_t pgno, const std::string& tree) {
    if (pgno == ~std::uint64_t{0} || (pgno + 1) * kPsize > file_.size()) return;
    const std::size_t base = pgno * kPsize;
    const std::uint16_t flags = get<std::uint16_t>(file_, base + 10);
    const std::uint16_t lower = get<std::uint16_t>(file_, base + 12);
    pages.push_back({pgno, flags == 1 ? "branch" : "leaf", tree});
    for (std::size_t i = 0; i < (lower - 16u) / 2; ++i) {
      const std::size_t node = base + get<std::uint16_t>(file_, base + 16 + 2 * i);
      const std::uint64_t lo = get<std::uint16_t>(file_, node),
                          hi = get<std::uint16_t>(file_, node + 2),
                          nf = get<std::uint16_t>(file_, node + 4);
      const std::size_t ksize = get<std::uint16_t>(file_, node + 6);
      if (flags == 1) {
        walk(lo | (hi << 16) | (nf << 32), tree);
      } else if (nf & 2) {  // a named database
        walk(get<std::uint64_t>(file_, node + 8 + ksize + kDbRoot), file_.substr(node + 8, ksize));
      } else if (nf & 1) {  // overflow
        pages.push_back({get<std::uint64_t>(file_, node + 8 + ksize), "overflow", tree});
      }
    }
  }
  std::string file_;
};

}  // namespace damage
