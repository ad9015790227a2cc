#include "journal/lmdb_format.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "util/fs.hpp"

namespace reftx::journal::format {
namespace {

// Page header (MDB_page) and meta page (MDB_meta) offsets, 64-bit; docs/journal-format.md.
constexpr std::size_t kPageHeader = 16;
constexpr std::size_t kOffPgno = 0, kOffFlags = 10, kOffLower = 12, kOffUpper = 14;
constexpr std::size_t kOffOverflowPages = 12;
constexpr std::size_t kOffMagic = 16, kOffVersion = 20, kOffMapSize = 32, kOffFreeDb = 40,
                      kOffMainDb = 88, kOffLastPage = 136, kOffTxnid = 144, kMetaEnd = 152;
constexpr std::size_t kTreeSize = 48;   // MDB_db
constexpr std::size_t kNodeHeader = 8;  // MDB_node: lo, hi, flags, ksize (u16 each)

constexpr std::uint16_t kBranch = 0x01, kLeaf = 0x02, kOverflow = 0x04, kMetaPage = 0x08;
constexpr std::uint16_t kBigData = 0x01, kSubData = 0x02;
constexpr std::uint16_t kIntegerKey = 0x08;  // the free DB's flags
constexpr unsigned kMaxDepth = 32;           // LMDB's cursor stack
constexpr std::uint64_t kMaxPages = std::uint64_t{1} << 40;

std::uint16_t u16(const unsigned char* p) {
  std::uint16_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
std::uint32_t u32(const unsigned char* p) {
  std::uint32_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
std::uint64_t u64(const unsigned char* p) {
  std::uint64_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

Tree read_tree(const unsigned char* p) {
  Tree t;
  t.pad = u32(p);
  t.flags = u16(p + 4);
  t.depth = u16(p + 6);
  t.branch_pages = u64(p + 8);
  t.leaf_pages = u64(p + 16);
  t.overflow_pages = u64(p + 24);
  t.entries = u64(p + 32);
  t.root = u64(p + 40);
  return t;
}

Error corrupt(const std::string& path, const std::string& what) {
  return Error{ErrorKind::corrupt_journal, "journal file '" + path + "' is corrupt: " + what};
}

// Reads exactly `n` bytes at `offset`; a short read is reported as `*short_read`.
Status read_at(int fd, const std::string& path, std::uint64_t offset, unsigned char* buf,
               std::size_t n, bool* short_read) {
  std::size_t got = 0;
  while (got < n) {
    ssize_t r = ::pread(fd, buf + got, n - got, static_cast<off_t>(offset + got));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return util::errno_error("cannot read journal file '" + path + "'", errno);
    if (r == 0) break;
    got += static_cast<std::size_t>(r);
  }
  *short_read = got < n;
  return {};
}

// Problems of one tree descriptor; empty if none.
std::string tree_problem(const Tree& t, const char* name, std::uint64_t last_page) {
  const std::string n = name;
  if (t.depth > kMaxDepth) return n + " tree depth " + std::to_string(t.depth) + " exceeds 32";
  if (t.root == kInvalidPage) {
    if (t.depth != 0 || t.entries != 0 || t.branch_pages != 0 || t.leaf_pages != 0 ||
        t.overflow_pages != 0) {
      return n + " tree is empty (no root) but records depth, entries or pages";
    }
    return {};
  }
  if (t.root < 2) return n + " tree root " + std::to_string(t.root) + " is a meta page";
  if (t.root > last_page) {
    return n + " tree root " + std::to_string(t.root) + " lies beyond the last page " +
           std::to_string(last_page);
  }
  if (t.depth == 0) return n + " tree has a root but depth 0";
  return {};
}

// Problems of meta page `index`; empty if none. `page_size` is the file's (from meta 0).
std::string meta_problem(const Meta& m, int index, std::uint32_t page_size) {
  const std::string which = "meta page " + std::to_string(index) + ": ";
  if (m.page_flags != kMetaPage) return which + "page flags are not those of a meta page";
  if (m.page_number != static_cast<std::uint64_t>(index)) {
    return which + "page number " + std::to_string(m.page_number);
  }
  if (m.magic != kMagic) return which + "bad magic (not an LMDB file)";
  if (m.version != kDataVersion) return which + "format version " + std::to_string(m.version);
  if (m.free.pad != page_size) return which + "page size " + std::to_string(m.free.pad);
  if (m.free.flags != kIntegerKey) return which + "bad free-database flags";
  if (m.main.flags != 0) return which + "bad main-database flags";
  if (m.last_page < 1 || m.last_page >= kMaxPages) {
    return which + "last page " + std::to_string(m.last_page);
  }
  if (m.map_size % page_size != 0) return which + "map size is not a multiple of the page size";
  if (m.txnid != 0 && m.txnid % 2 != static_cast<std::uint64_t>(index)) {
    return which + "txnid " + std::to_string(m.txnid) + " does not belong on this page";
  }
  if (std::string p = tree_problem(m.free, "free", m.last_page); !p.empty()) return which + p;
  if (std::string p = tree_problem(m.main, "main", m.last_page); !p.empty()) return which + p;
  return {};
}

Meta parse_meta(const unsigned char* p) {
  Meta m;
  m.page_number = u64(p + kOffPgno);
  m.page_flags = u16(p + kOffFlags);
  m.magic = u32(p + kOffMagic);
  m.version = u32(p + kOffVersion);
  m.map_size = u64(p + kOffMapSize);
  m.free = read_tree(p + kOffFreeDb);
  m.main = read_tree(p + kOffMainDb);
  m.last_page = u64(p + kOffLastPage);
  m.txnid = u64(p + kOffTxnid);
  return m;
}

// The bounds-checked walk of the trees of one meta page.
class Walker {
 public:
  Walker(int fd, const std::string& path, const FileInfo& info)
      : fd_(fd),
        path_(path),
        psize_(info.page_size),
        meta_(info.meta[info.current_meta]),
        file_pages_(info.file_size / info.page_size),
        state_(meta_.last_page + 1, 0) {}

  // Walks main (and every named database in it) and free.
  Status run() {
    if (Status s = walk_tree(meta_.main, "main database", /*is_main=*/true, false); !s) return s;
    if (Status s = walk_tree(meta_.free, "free database", false, /*is_free=*/true); !s) return s;
    return {};
  }
  std::uint64_t pages_used() const { return used_; }
  std::uint64_t pages_free() const { return free_; }
  std::uint64_t trees() const { return trees_; }
  // The first page in [from, to] that is not listed free, or 0.
  std::uint64_t first_not_free(std::uint64_t from, std::uint64_t to) const {
    for (std::uint64_t p = from; p <= to && p < state_.size(); ++p) {
      if (state_[p] != 2) return p;
    }
    return 0;
  }

 private:
  struct Counts {
    std::uint64_t branch = 0, leaf = 0, overflow = 0, entries = 0;
  };

  Error damage(const std::string& what) const { return corrupt(path_, what); }

  // Marks page `pgno` (one of `count` in a run) used; loads the first one into buffer `out`.
  Status load(std::uint64_t pgno, const std::string& where, std::vector<unsigned char>& out) {
    if (pgno < 2 || pgno > meta_.last_page) {
      return damage(where + " refers to page " + std::to_string(pgno) + ", outside pages 2.." +
                    std::to_string(meta_.last_page));
    }
    if (pgno >= file_pages_) {
      return damage(where + " refers to page " + std::to_string(pgno) +
                    ", beyond the end of the file (" + std::to_string(file_pages_) + " pages)");
    }
    if (state_[pgno] != 0)
      return damage(where + " refers to page " + std::to_string(pgno) +
                    ", which is already in use elsewhere");
    state_[pgno] = 1;
    ++used_;
    out.resize(psize_);
    bool short_read = false;
    if (Status s = read_at(fd_, path_, pgno * psize_, out.data(), psize_, &short_read); !s) {
      return s;
    }
    if (short_read)
      return damage("page " + std::to_string(pgno) + " is cut short by the end of the file");
    if (u64(out.data() + kOffPgno) != pgno) {
      return damage("page " + std::to_string(pgno) + " says it is page " +
                    std::to_string(u64(out.data() + kOffPgno)));
    }
    return {};
  }

  Status walk_tree(const Tree& tree, const std::string& name, bool is_main, bool is_free) {
    ++trees_;
    if (tree.root == kInvalidPage) return {};
    Counts counts;
    if (Status s = walk_page(tree.root, 1, tree, name, is_main, is_free, counts); !s) return s;
    if (counts.branch != tree.branch_pages || counts.leaf != tree.leaf_pages ||
        counts.overflow != tree.overflow_pages || counts.entries != tree.entries) {
      return damage(name + " records " + std::to_string(tree.branch_pages) + "/" +
                    std::to_string(tree.leaf_pages) + "/" + std::to_string(tree.overflow_pages) +
                    " branch/leaf/overflow pages and " + std::to_string(tree.entries) +
                    " entries, the walk found " + std::to_string(counts.branch) + "/" +
                    std::to_string(counts.leaf) + "/" + std::to_string(counts.overflow) + " and " +
                    std::to_string(counts.entries));
    }
    return {};
  }

  Status walk_page(std::uint64_t pgno, unsigned level, const Tree& tree, const std::string& name,
                   bool is_main, bool is_free, Counts& counts) {
    std::vector<unsigned char> page;
    if (Status s = load(pgno, name, page); !s) return s;
    const std::string here = name + " page " + std::to_string(pgno);
    const std::uint16_t flags = u16(page.data() + kOffFlags);
    const bool leaf = flags == kLeaf;
    if (flags != kBranch && !leaf)
      return damage(here + ": bad page flags " + std::to_string(flags));
    if (leaf != (level == tree.depth)) {
      return damage(here + ": a " + (leaf ? "leaf" : "branch") + " page at level " +
                    std::to_string(level) + " of a tree of depth " + std::to_string(tree.depth));
    }
    const std::uint16_t lower = u16(page.data() + kOffLower);
    const std::uint16_t upper = u16(page.data() + kOffUpper);
    if (lower < kPageHeader || lower > upper || upper > psize_ || (lower - kPageHeader) % 2 != 0) {
      return damage(here + ": bad lower/upper bounds " + std::to_string(lower) + "/" +
                    std::to_string(upper));
    }
    const std::size_t keys = (lower - kPageHeader) / 2;
    if (keys == 0 && !leaf) return damage(here + ": a branch page without children");
    (leaf ? counts.leaf : counts.branch)++;
    for (std::size_t i = 0; i < keys; ++i) {
      const std::size_t off = u16(page.data() + kPageHeader + 2 * i);
      const std::string node = here + " node " + std::to_string(i);
      if (off < upper || off % 2 != 0 || off + kNodeHeader > psize_) {
        return damage(node + ": offset " + std::to_string(off) + " outside the page's node area");
      }
      const unsigned char* n = page.data() + off;
      const std::uint64_t lo = u16(n), hi = u16(n + 2), nflags = u16(n + 4);
      const std::size_t ksize = u16(n + 6);
      if (off + kNodeHeader + ksize > psize_) return damage(node + ": key runs past the page");
      if (!leaf) {
        const std::uint64_t child = lo | (hi << 16) | (nflags << 32);
        if (Status s = walk_page(child, level + 1, tree, name, is_main, is_free, counts); !s) {
          return s;
        }
        continue;
      }
      ++counts.entries;
      if (Status s =
              leaf_node(n, off, ksize, lo | (hi << 16), nflags, node, is_main, is_free, counts);
          !s) {
        return s;
      }
    }
    return {};
  }

  Status leaf_node(const unsigned char* n, std::size_t off, std::size_t ksize, std::uint64_t dsize,
                   std::uint64_t nflags, const std::string& node, bool is_main, bool is_free,
                   Counts& counts) {
    const std::size_t data_off = off + kNodeHeader + ksize;
    if (nflags & ~std::uint64_t{kBigData | kSubData}) return damage(node + ": bad node flags");
    if (nflags & kSubData) {
      if (!is_main || (nflags & kBigData) || dsize != kTreeSize || data_off + kTreeSize > psize_) {
        return damage(node + ": a bad named-database record");
      }
      const Tree sub = read_tree(n + kNodeHeader + ksize);
      const std::string name =
          "database '" + std::string(reinterpret_cast<const char*>(n + kNodeHeader), ksize) + "'";
      if (std::string p = tree_problem(sub, name.c_str(), meta_.last_page); !p.empty()) {
        return damage(p);
      }
      if (sub.flags != 0) return damage(name + " has flags reftx never uses");
      return walk_tree(sub, name, false, false);
    }
    if (is_main) return damage(node + ": a plain record in the main database");
    std::vector<unsigned char> overflow;
    const unsigned char* data = n + kNodeHeader + ksize;
    if (nflags & kBigData) {
      if (data_off + 8 > psize_) return damage(node + ": overflow page number runs past the page");
      const std::uint64_t first = u64(data);
      const std::uint64_t pages = (kPageHeader - 1 + dsize) / psize_ + 1;
      if (Status s = load(first, node, overflow); !s) return s;
      if (u16(overflow.data() + kOffFlags) != kOverflow ||
          u32(overflow.data() + kOffOverflowPages) != pages) {
        return damage(node + ": overflow page " + std::to_string(first) + " has a bad header for " +
                      std::to_string(dsize) + " bytes");
      }
      if (first + pages - 1 > meta_.last_page || first + pages > file_pages_) {
        return damage(node + ": overflow run " + std::to_string(first) + "+" +
                      std::to_string(pages) + " runs past the end of the file");
      }
      for (std::uint64_t p = first + 1; p < first + pages; ++p) {
        if (state_[p] != 0)
          return damage(node + ": overflow page " + std::to_string(p) + " is in use elsewhere");
        state_[p] = 1;
        ++used_;
      }
      counts.overflow += pages;
      if (is_free) {
        // Free lists can span overflow pages: read the whole run.
        overflow.resize(pages * psize_);
        bool short_read = false;
        if (Status s =
                read_at(fd_, path_, first * psize_, overflow.data(), overflow.size(), &short_read);
            !s) {
          return s;
        }
        if (short_read) return damage(node + ": overflow run cut short by the end of the file");
        data = overflow.data() + kPageHeader;
      }
    } else if (data_off + dsize > psize_) {
      return damage(node + ": data runs past the page");
    }
    if (is_free) return free_list(data, dsize, node);
    return {};
  }

  // A free-DB value: a count, then that many page numbers.
  Status free_list(const unsigned char* data, std::uint64_t dsize, const std::string& node) {
    if (dsize < 8 || dsize % 8 != 0 || u64(data) != dsize / 8 - 1) {
      return damage(node + ": a malformed free-page list");
    }
    for (std::uint64_t i = 1; i < dsize / 8; ++i) {
      const std::uint64_t p = u64(data + 8 * i);
      if (p < 2 || p > meta_.last_page) {
        return damage(node + ": free page " + std::to_string(p) + " outside pages 2.." +
                      std::to_string(meta_.last_page));
      }
      if (state_[p] == 2)
        return damage(node + ": page " + std::to_string(p) + " is listed free twice");
      if (state_[p] == 1)
        return damage(node + ": page " + std::to_string(p) + " is in use and listed free");
      if (state_[p] == 0) {
        state_[p] = 2;
        ++free_;
      }
    }
    return {};
  }

  int fd_;
  const std::string& path_;
  std::uint64_t psize_;
  const Meta& meta_;
  std::uint64_t file_pages_;
  std::vector<unsigned char> state_;  // 0 unseen, 1 in a tree, 2 free
  std::uint64_t used_ = 0, free_ = 0, trees_ = 0;
};

}  // namespace

std::uint32_t expected_page_size() {
  const long os = ::sysconf(_SC_PAGESIZE);
  return static_cast<std::uint32_t>(std::min<long>(os > 0 ? os : 4096, 65536));
}

// The file's length against the current meta page's last page: a short file is legal only when
// every missing page is a free page.
static Status check_file_length(int fd, const std::string& path, FileInfo& info) {
  const std::uint32_t psize = info.page_size;
  const Meta& m = info.meta[info.current_meta];
  const std::uint64_t file_pages = info.file_size / psize;
  // A legal shortfall is a few pages; a larger one is a truncated file (and would make the
  // walk's page map as large as the claimed file).
  constexpr std::uint64_t kMaxShortfall = 4096;
  if (file_pages + kMaxShortfall < m.last_page + 1) {
    return corrupt(path, "the file ends at page " + std::to_string(file_pages) + " of " +
                             std::to_string(m.last_page + 1) + " (truncated)");
  }
  if (file_pages < m.last_page + 1) {
    // LMDB does not write free pages it allocated and released in one transaction: the file may
    // end before the last page. Safe only if no tree uses a page beyond the end.
    info.short_file = true;
    Walker walker(fd, path, info);
    const std::string cut = "the file ends at page " + std::to_string(file_pages) + " of " +
                            std::to_string(m.last_page + 1) + " and ";
    if (Status s = walker.run(); !s) {
      return corrupt(path, cut + s.error().message.substr(s.error().message.find(": ") + 2));
    }
    if (std::uint64_t p = walker.first_not_free(file_pages, m.last_page); p != 0) {
      return corrupt(path, cut + "the missing page " + std::to_string(p) + " is not a free page");
    }
  }
  return {};
}

Result<FileInfo> check_environment(int fd, const std::string& path) {
  FileInfo info;
  struct stat st {};
  if (::fstat(fd, &st) != 0)
    return util::errno_error("cannot stat journal file '" + path + "'", errno);
  info.file_size = static_cast<std::uint64_t>(st.st_size);
  const std::uint32_t psize = expected_page_size();
  if (info.file_size == 0) return corrupt(path, "the file is empty");
  unsigned char buf[kMetaEnd];
  bool short_read = false;
  if (Status s = read_at(fd, path, 0, buf, sizeof buf, &short_read); !s) return s.error();
  if (short_read)
    return corrupt(path, "the file is too short for a meta page (" +
                             std::to_string(info.file_size) + " bytes)");
  info.meta[0] = parse_meta(buf);
  if (info.meta[0].magic != kMagic)
    return corrupt(path, "meta page 0: bad magic (not an LMDB file)");
  if (info.meta[0].free.pad != psize) {
    return corrupt(path, "meta page 0: page size " + std::to_string(info.meta[0].free.pad) +
                             " (expected " + std::to_string(psize) + ")");
  }
  info.page_size = psize;
  if (info.file_size < 2 * std::uint64_t{psize}) {
    return corrupt(path, "the file (" + std::to_string(info.file_size) +
                             " bytes) is shorter than its two meta pages");
  }
  if (Status s = read_at(fd, path, psize, buf, sizeof buf, &short_read); !s) return s.error();
  info.meta[1] = parse_meta(buf);
  std::string problem[2] = {meta_problem(info.meta[0], 0, psize),
                            meta_problem(info.meta[1], 1, psize)};
  // LMDB itself refuses a file whose either meta page has a bad magic or version.
  for (int i = 0; i < 2; ++i) {
    if (info.meta[i].magic != kMagic || info.meta[i].version != kDataVersion) {
      return corrupt(path, problem[i]);
    }
  }
  const std::uint64_t t0 = info.meta[0].txnid, t1 = info.meta[1].txnid;
  if (!(t0 == 0 && t1 == 0) && (t0 > t1 ? t0 - t1 : t1 - t0) != 1) {
    return corrupt(path, "the meta pages' txnids " + std::to_string(t0) + " and " +
                             std::to_string(t1) + " are not consecutive");
  }
  // As LMDB's mdb_env_pick_meta: the higher txnid wins, meta 0 on a tie.
  info.current_meta = t0 < t1 ? 1 : 0;
  const int cur = info.current_meta;
  if (!problem[cur].empty()) return corrupt(path, problem[cur] + " (the current meta page)");
  info.older_meta_valid = problem[1 - cur].empty();
  info.older_meta_problem = problem[1 - cur];
  if (Status s = check_file_length(fd, path, info); !s) return s.error();
  return info;
}

Result<std::pair<std::uint64_t, std::uint64_t>> read_txnids(int fd, const std::string& path) {
  unsigned char a[8], b[8];
  bool short_a = false, short_b = false;
  if (Status s = read_at(fd, path, kOffTxnid, a, 8, &short_a); !s) return s.error();
  if (Status s = read_at(fd, path, expected_page_size() + kOffTxnid, b, 8, &short_b); !s) {
    return s.error();
  }
  return std::pair{u64(a), u64(b)};
}

Result<std::string> check_pages(int fd, const std::string& path, const FileInfo& info,
                                bool require_older_meta) {
  if (require_older_meta && !info.older_meta_valid) {
    return corrupt(path, info.older_meta_problem + " (the previous meta page)");
  }
  Walker walker(fd, path, info);
  if (Status s = walker.run(); !s) return s.error();
  const Meta& m = info.meta[info.current_meta];
  // LMDB's own audit: every page is a meta page, in a tree, or free.
  if (walker.pages_used() + walker.pages_free() + 2 != m.last_page + 1) {
    return corrupt(path, std::to_string(m.last_page + 1) + " pages, but " +
                             std::to_string(walker.pages_used()) + " in use and " +
                             std::to_string(walker.pages_free()) + " free");
  }
  return std::to_string(m.last_page + 1) + " pages of " + std::to_string(info.page_size) +
         " bytes (" + std::to_string(walker.pages_used()) + " in " +
         std::to_string(walker.trees()) + " trees, " + std::to_string(walker.pages_free()) +
         " free), txnid " + std::to_string(m.txnid);
}

}  // namespace reftx::journal::format
