#include "journal/record_codec.hpp"

#include <cstring>

#include "util/hex.hpp"

namespace reftx::journal {
namespace {

class Writer {
 public:
  void u8(std::uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void u32(std::uint32_t v) {
    for (int i = 0; i < 4; ++i) u8(static_cast<std::uint8_t>(v >> (8 * i)));
  }
  void u64(std::uint64_t v) {
    for (int i = 0; i < 8; ++i) u8(static_cast<std::uint8_t>(v >> (8 * i)));
  }
  void str(std::string_view s) {
    u32(static_cast<std::uint32_t>(s.size()));
    out_.append(s);
  }
  void oid(const std::string& hex) { out_.append(util::hex_to_raw(hex)); }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  bool u8(std::uint8_t& v) {
    if (in_.size() < 1) return false;
    v = static_cast<std::uint8_t>(in_[0]);
    in_.remove_prefix(1);
    return true;
  }
  bool u32(std::uint32_t& v) {
    std::uint64_t w = 0;
    if (!uint_le(4, w)) return false;
    v = static_cast<std::uint32_t>(w);
    return true;
  }
  bool u64(std::uint64_t& v) { return uint_le(8, v); }
  bool str(std::string& s) {
    std::uint32_t n = 0;
    if (!u32(n) || in_.size() < n) return false;
    s.assign(in_.substr(0, n));
    in_.remove_prefix(n);
    return true;
  }
  bool oid(std::string& hex) {
    if (in_.size() < 20) return false;
    hex = util::raw_to_hex(in_.substr(0, 20));
    in_.remove_prefix(20);
    return true;
  }
  bool done() const { return in_.empty(); }
  std::size_t remaining() const { return in_.size(); }

 private:
  bool uint_le(int bytes, std::uint64_t& v) {
    if (in_.size() < static_cast<std::size_t>(bytes)) return false;
    v = 0;
    for (int i = 0; i < bytes; ++i) {
      v |= static_cast<std::uint64_t>(static_cast<std::uint8_t>(in_[i])) << (8 * i);
    }
    in_.remove_prefix(bytes);
    return true;
  }
  std::string_view in_;
};

constexpr std::uint8_t kHasExpectedOld = 1;
constexpr std::uint8_t kOldKnown = 2;
constexpr std::uint8_t kHasOldValue = 4;  // keys
constexpr std::uint8_t kHasNewValue = 8;  // keys

Error corrupt(std::uint64_t id, const std::string& what) {
  return Error{ErrorKind::corrupt_journal,
               "journal record " + std::to_string(id) + " is corrupt: " + what};
}

// Version 2 tail: work tree, files, keys.
Status decode_files_and_keys(Reader& r, TxRecord& rec) {
  const std::uint64_t id = rec.id;
  std::uint32_t nfiles = 0, nkeys = 0;
  if (!r.str(rec.work_tree) || !r.u32(nfiles)) return corrupt(id, "truncated file list");
  // Each file takes at least 4 + 1 + 20 + 4 + 20 + 4 + 4 + 4 bytes.
  if (nfiles > r.remaining() / 61) return corrupt(id, "file count exceeds record size");
  for (std::uint32_t i = 0; i < nfiles; ++i) {
    FileRecord f;
    std::uint8_t flags = 0;
    std::uint32_t ndirs = 0;
    if (!r.str(f.path) || !r.u8(flags)) return corrupt(id, "truncated file");
    if ((flags & ~(kHasExpectedOld | kOldKnown)) != 0) return corrupt(id, "unknown file flags");
    f.old_known = (flags & kOldKnown) != 0;
    if (flags & kHasExpectedOld) {
      std::string expected;
      if (!r.oid(expected)) return corrupt(id, "truncated file");
      f.expected_old = std::move(expected);
    }
    if (!r.oid(f.old_blob) || !r.u32(f.old_mode) || !r.oid(f.new_blob) ||
        !r.u32(f.requested_mode) || !r.u32(f.new_mode) || !r.u32(ndirs) ||
        ndirs > r.remaining() / 4) {
      return corrupt(id, "truncated file");
    }
    for (std::uint32_t d = 0; d < ndirs; ++d) {
      std::string dir;
      if (!r.str(dir)) return corrupt(id, "truncated file");
      f.created_dirs.push_back(std::move(dir));
    }
    rec.files.push_back(std::move(f));
  }
  if (!r.u32(nkeys) || nkeys > r.remaining() / 5) return corrupt(id, "truncated key list");
  for (std::uint32_t i = 0; i < nkeys; ++i) {
    KeyRecord k;
    std::uint8_t flags = 0;
    if (!r.str(k.key) || !r.u8(flags)) return corrupt(id, "truncated key");
    if ((flags & ~(kOldKnown | kHasOldValue | kHasNewValue)) != 0) {
      return corrupt(id, "unknown key flags");
    }
    k.old_known = (flags & kOldKnown) != 0;
    if (flags & kHasOldValue) {
      std::string v;
      if (!r.str(v)) return corrupt(id, "truncated key");
      k.old_value = std::move(v);
    }
    if (flags & kHasNewValue) {
      std::string v;
      if (!r.str(v)) return corrupt(id, "truncated key");
      k.new_value = std::move(v);
    }
    rec.keys.push_back(std::move(k));
  }
  return {};
}

}  // namespace

std::string encode_record(const TxRecord& r) {
  Writer w;
  w.u8(kRecordFormatVersion);
  w.u8(static_cast<std::uint8_t>(r.state));
  w.u64(static_cast<std::uint64_t>(r.created_ns));
  w.u64(static_cast<std::uint64_t>(r.updated_ns));
  w.u32(static_cast<std::uint32_t>(r.owner_pid));
  w.str(r.owner);
  w.str(r.message);
  w.str(r.reason);
  w.u32(static_cast<std::uint32_t>(r.refs.size()));
  for (const RefRecord& ref : r.refs) {
    w.u8(static_cast<std::uint8_t>(ref.op));
    w.u8(static_cast<std::uint8_t>((ref.expected_old ? kHasExpectedOld : 0) |
                                   (ref.old_known ? kOldKnown : 0)));
    w.str(ref.name);
    if (ref.expected_old) w.oid(*ref.expected_old);
    w.oid(ref.old_oid.empty() ? kZeroOid : ref.old_oid);
    w.oid(ref.new_oid);
  }
  w.u32(static_cast<std::uint32_t>(r.conflicts.size()));
  for (const std::string& c : r.conflicts) w.str(c);
  w.str(r.work_tree);
  w.u32(static_cast<std::uint32_t>(r.files.size()));
  for (const FileRecord& f : r.files) {
    w.str(f.path);
    w.u8(static_cast<std::uint8_t>((f.expected_old ? kHasExpectedOld : 0) |
                                   (f.old_known ? kOldKnown : 0)));
    if (f.expected_old) w.oid(*f.expected_old);
    w.oid(f.old_blob);
    w.u32(f.old_mode);
    w.oid(f.new_blob);
    w.u32(f.requested_mode);
    w.u32(f.new_mode);
    w.u32(static_cast<std::uint32_t>(f.created_dirs.size()));
    for (const std::string& d : f.created_dirs) w.str(d);
  }
  w.u32(static_cast<std::uint32_t>(r.keys.size()));
  for (const KeyRecord& k : r.keys) {
    w.str(k.key);
    w.u8(static_cast<std::uint8_t>((k.old_known ? kOldKnown : 0) |
                                   (k.old_value ? kHasOldValue : 0) |
                                   (k.new_value ? kHasNewValue : 0)));
    if (k.old_value) w.str(*k.old_value);
    if (k.new_value) w.str(*k.new_value);
  }
  return w.take();
}

Result<TxRecord> decode_record(std::uint64_t id, std::string_view bytes) {
  Reader r(bytes);
  TxRecord rec;
  rec.id = id;
  std::uint8_t version = 0, state = 0;
  if (!r.u8(version)) return corrupt(id, "empty value");
  if (version != 1 && version != kRecordFormatVersion) {
    return corrupt(id, "unknown format version " + std::to_string(version));
  }
  std::uint64_t created = 0, updated = 0;
  std::uint32_t pid = 0, nrefs = 0, nconflicts = 0;
  if (!r.u8(state) || !r.u64(created) || !r.u64(updated) || !r.u32(pid) || !r.str(rec.owner) ||
      !r.str(rec.message) || !r.str(rec.reason) || !r.u32(nrefs)) {
    return corrupt(id, "truncated header");
  }
  if (state < static_cast<std::uint8_t>(TxState::pending) ||
      state > static_cast<std::uint8_t>(TxState::aborted)) {
    return corrupt(id, "unknown state " + std::to_string(state));
  }
  rec.state = static_cast<TxState>(state);
  rec.created_ns = static_cast<std::int64_t>(created);
  rec.updated_ns = static_cast<std::int64_t>(updated);
  rec.owner_pid = static_cast<std::int32_t>(pid);
  // Each ref takes at least 2 + 4 + 40 bytes: bound the count before reserving.
  if (nrefs > r.remaining() / 46) return corrupt(id, "ref count exceeds record size");
  rec.refs.reserve(nrefs);
  for (std::uint32_t i = 0; i < nrefs; ++i) {
    RefRecord ref;
    std::uint8_t op = 0, flags = 0;
    if (!r.u8(op) || !r.u8(flags) || !r.str(ref.name)) return corrupt(id, "truncated ref");
    if (op < 1 || op > 4) return corrupt(id, "unknown ref operation " + std::to_string(op));
    if ((flags & ~(kHasExpectedOld | kOldKnown)) != 0) return corrupt(id, "unknown ref flags");
    ref.op = static_cast<RefOp>(op);
    ref.old_known = (flags & kOldKnown) != 0;
    if (flags & kHasExpectedOld) {
      std::string expected;
      if (!r.oid(expected)) return corrupt(id, "truncated ref");
      ref.expected_old = std::move(expected);
    }
    if (!r.oid(ref.old_oid) || !r.oid(ref.new_oid)) return corrupt(id, "truncated ref");
    rec.refs.push_back(std::move(ref));
  }
  if (!r.u32(nconflicts) || nconflicts > r.remaining() / 4) {
    return corrupt(id, "truncated conflict list");
  }
  for (std::uint32_t i = 0; i < nconflicts; ++i) {
    std::string c;
    if (!r.str(c)) return corrupt(id, "truncated conflict list");
    rec.conflicts.push_back(std::move(c));
  }
  if (version >= 2) {
    if (Status s = decode_files_and_keys(r, rec); !s) return s.error();
  }
  if (!r.done()) return corrupt(id, "trailing bytes");
  return rec;
}

std::string encode_key(std::uint64_t id) {
  std::string key(8, '\0');
  for (int i = 7; i >= 0; --i, id >>= 8) key[i] = static_cast<char>(id & 0xff);
  return key;
}

Result<std::uint64_t> decode_key(std::string_view key) {
  if (key.size() != 8) {
    return Error{ErrorKind::corrupt_journal, "journal is corrupt: a record key of " +
                                                 std::to_string(key.size()) +
                                                 " bytes (expected 8)"};
  }
  std::uint64_t id = 0;
  for (char c : key) id = (id << 8) | static_cast<std::uint8_t>(c);
  return id;
}

}  // namespace reftx::journal
