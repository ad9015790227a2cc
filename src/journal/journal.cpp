#include "journal/journal.hpp"

#include "journal/record_codec.hpp"

namespace reftx::journal {
namespace {

MDB_val as_val(const std::string& s) {
  return MDB_val{s.size(), const_cast<char*>(s.data())};
}

std::string_view as_view(const MDB_val& v) {
  return {static_cast<const char*>(v.mv_data), v.mv_size};
}

Status put_record(MDB_txn* txn, const LmdbEnv& env, const TxRecord& record) {
  const std::string key = encode_key(record.id);
  const std::string value = encode_record(record);
  MDB_val k = as_val(key), v = as_val(value);
  int rc = mdb_put(txn, env.records(), &k, &v, 0);
  if (rc != 0) return lmdb_error("mdb_put", rc);
  if (is_terminal(record.state)) {
    rc = mdb_del(txn, env.inflight(), &k, nullptr);
    if (rc != 0 && rc != MDB_NOTFOUND) return lmdb_error("mdb_del", rc);
  } else {
    MDB_val empty{0, nullptr};
    rc = mdb_put(txn, env.inflight(), &k, &empty, 0);
    if (rc != 0) return lmdb_error("mdb_put", rc);
  }
  return {};
}

}  // namespace

Result<Journal> Journal::open(const std::string& dir, bool read_only, bool durable,
                              std::size_t initial_map_size) {
  auto env = LmdbEnv::open(dir, read_only, durable, initial_map_size);
  if (!env) return env.error();
  Journal j;
  j.env_ = std::move(env).value();
  return j;
}

Status Journal::insert(TxRecord& record) {
  return env_.write([&](MDB_txn* txn) -> Status {
    MDB_cursor* cursor = nullptr;
    int rc = mdb_cursor_open(txn, env_.records(), &cursor);
    if (rc != 0) return lmdb_error("mdb_cursor_open", rc);
    MDB_val k{}, v{};
    rc = mdb_cursor_get(cursor, &k, &v, MDB_LAST);
    mdb_cursor_close(cursor);
    std::uint64_t last = 0;
    if (rc == 0) {
      auto id = decode_key(as_view(k));
      if (!id) return id.error();
      last = id.value();
    } else if (rc != MDB_NOTFOUND) {
      return lmdb_error("mdb_cursor_get", rc);
    }
    record.id = last + 1;
    return put_record(txn, env_, record);
  });
}

Status Journal::put(const TxRecord& record, LmdbEnv::Commit commit) {
  return env_.write([&](MDB_txn* txn) { return put_record(txn, env_, record); }, commit);
}

Result<TxRecord> Journal::get(std::uint64_t id) const {
  std::optional<TxRecord> found;
  Status s = env_.read([&](MDB_txn* txn) -> Status {
    const std::string key = encode_key(id);
    MDB_val k = as_val(key), v{};
    int rc = mdb_get(txn, env_.records(), &k, &v);
    if (rc == MDB_NOTFOUND) {
      return Error{ErrorKind::not_found, "no transaction " + std::to_string(id) + " in journal"};
    }
    if (rc != 0) return lmdb_error("mdb_get", rc);
    auto rec = decode_record(id, as_view(v));
    if (!rec) return rec.error();
    found = std::move(rec).value();
    return {};
  });
  if (!s) return s.error();
  return std::move(*found);
}

// Calls fn(id, value) for every entry of `dbi` in key order, in one read snapshot.
Status Journal::scan(MDB_dbi dbi,
                     const std::function<Status(std::uint64_t, std::string_view)>& fn) const {
  return env_.read([&](MDB_txn* txn) -> Status {
    MDB_cursor* cursor = nullptr;
    int rc = mdb_cursor_open(txn, dbi, &cursor);
    if (rc != 0) return lmdb_error("mdb_cursor_open", rc);
    MDB_val k{}, v{};
    Status result;
    for (rc = mdb_cursor_get(cursor, &k, &v, MDB_FIRST); rc == 0 && result.ok();
         rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT)) {
      auto id = decode_key(as_view(k));
      result = id ? fn(id.value(), as_view(v)) : Status(id.error());
    }
    mdb_cursor_close(cursor);
    if (result.ok() && rc != MDB_NOTFOUND) return lmdb_error("mdb_cursor_get", rc);
    return result;
  });
}

Result<std::vector<TxRecord>> Journal::list() const {
  std::vector<TxRecord> out;
  Status s = scan(env_.records(), [&](std::uint64_t id, std::string_view value) -> Status {
    auto rec = decode_record(id, value);
    if (!rec) return rec.error();
    out.push_back(std::move(rec).value());
    return {};
  });
  if (!s) return s.error();
  return out;
}

Result<std::vector<std::uint64_t>> Journal::inflight() const {
  std::vector<std::uint64_t> out;
  Status s = scan(env_.inflight(), [&](std::uint64_t id, std::string_view) -> Status {
    out.push_back(id);
    return {};
  });
  if (!s) return s.error();
  return out;
}

}  // namespace reftx::journal
