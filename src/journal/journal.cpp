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

Status put_record(MDB_txn* txn, const LmdbEnv& env, const TxRecord& record, bool in_flight) {
  const std::string key = encode_key(record.id);
  const std::string value = encode_record(record);
  MDB_val k = as_val(key), v = as_val(value);
  int rc = mdb_put(txn, env.records(), &k, &v, 0);
  if (rc != 0) return lmdb_error("mdb_put", rc);
  if (!in_flight) {
    rc = mdb_del(txn, env.inflight(), &k, nullptr);
    if (rc != 0 && rc != MDB_NOTFOUND) return lmdb_error("mdb_del", rc);
  } else {
    MDB_val empty{0, nullptr};
    rc = mdb_put(txn, env.inflight(), &k, &empty, 0);
    if (rc != 0) return lmdb_error("mdb_put", rc);
  }
  return {};
}

// The highest record id (0: none).
Result<std::uint64_t> last_record_id(MDB_txn* txn, const LmdbEnv& env) {
  MDB_cursor* cursor = nullptr;
  int rc = mdb_cursor_open(txn, env.records(), &cursor);
  if (rc != 0) return lmdb_error("mdb_cursor_open", rc);
  MDB_val k{}, v{};
  rc = mdb_cursor_get(cursor, &k, &v, MDB_LAST);
  mdb_cursor_close(cursor);
  if (rc == MDB_NOTFOUND) return std::uint64_t{0};
  if (rc != 0) return lmdb_error("mdb_cursor_get", rc);
  return decode_key(as_view(k));
}

Result<std::optional<std::string>> read_state(MDB_txn* txn, const LmdbEnv& env,
                                              const std::string& key) {
  if (!env.state()) return std::optional<std::string>{};
  MDB_val k = as_val(key), v{};
  int rc = mdb_get(txn, *env.state(), &k, &v);
  if (rc == MDB_NOTFOUND) return std::optional<std::string>{};
  if (rc != 0) return lmdb_error("mdb_get", rc);
  return std::optional<std::string>(std::string(as_view(v)));
}

Status write_state(MDB_txn* txn, const LmdbEnv& env, const std::string& key,
                   const std::optional<std::string>& value) {
  MDB_val k = as_val(key);
  int rc = 0;
  if (value) {
    MDB_val v = as_val(*value);
    rc = mdb_put(txn, *env.state(), &k, &v, 0);
  } else {
    rc = mdb_del(txn, *env.state(), &k, nullptr);
    if (rc == MDB_NOTFOUND) rc = 0;
  }
  if (rc != 0) return lmdb_error(value ? "mdb_put" : "mdb_del", rc);
  return {};
}

Status step_state(MDB_txn* txn, const LmdbEnv& env, TxRecord& record, StateStep step) {
  for (KeyRecord& key : record.keys) {
    auto current = read_state(txn, env, key.key);
    if (!current) return current.error();
    if (step == StateStep::revert) {
      if (current.value() == key.old_value) continue;
      if (current.value() != key.new_value) {
        record.conflicts.push_back("state key '" + key.key +
                                   "': changed by another transaction since; left alone");
        continue;
      }
      if (Status s = write_state(txn, env, key.key, key.old_value); !s) return s;
      continue;
    }
    if (!key.old_known) {
      key.old_value = std::move(current).value();
      key.old_known = true;
    }
    if (step == StateStep::apply) {
      if (Status s = write_state(txn, env, key.key, key.new_value); !s) return s;
    }
  }
  return {};
}

}  // namespace

Result<Journal> Journal::open(const std::string& dir, bool read_only, bool durable,
                              std::size_t initial_map_size,
                              const LmdbEnv::MetaEntries& initial_meta) {
  auto env = LmdbEnv::open(dir, read_only, durable, initial_map_size, initial_meta);
  if (!env) return env.error();
  Journal j;
  j.env_ = std::move(env).value();
  return j;
}

Result<std::optional<std::string>> Journal::get_meta(const std::string& key) const {
  std::optional<std::string> value;
  if (!env_.meta()) return value;
  Status s = env_.read([&](MDB_txn* txn) -> Status {
    MDB_val k = as_val(key), v{};
    int rc = mdb_get(txn, *env_.meta(), &k, &v);
    if (rc == MDB_NOTFOUND) return {};
    if (rc != 0) return lmdb_error("mdb_get", rc);
    value = std::string(as_view(v));
    return {};
  });
  if (!s) return s.error();
  return value;
}

Status Journal::put_meta(const LmdbEnv::MetaEntries& entries) {
  if (!env_.meta()) return Error{ErrorKind::environment, "journal opened read-only"};
  return env_.write([&](MDB_txn* txn) -> Status {
    for (const auto& [key, value] : entries) {
      MDB_val k = as_val(key), v = as_val(value);
      if (int rc = mdb_put(txn, *env_.meta(), &k, &v, 0); rc != 0) return lmdb_error("mdb_put", rc);
    }
    return {};
  });
}

Status Journal::insert(TxRecord& record,
                       const std::function<Status(const TxRecord& inflight)>& admit) {
  return env_.write([&](MDB_txn* txn) -> Status {
    if (admit) {
      MDB_cursor* in = nullptr;
      int rc = mdb_cursor_open(txn, env_.inflight(), &in);
      if (rc != 0) return lmdb_error("mdb_cursor_open", rc);
      MDB_val ik{}, iv{};
      Status admitted;
      for (rc = mdb_cursor_get(in, &ik, &iv, MDB_FIRST); rc == 0 && admitted.ok();
           rc = mdb_cursor_get(in, &ik, &iv, MDB_NEXT)) {
        MDB_val value{};
        auto id = decode_key(as_view(ik));
        if (!id) {
          admitted = id.error();
        } else if (int got = mdb_get(txn, env_.records(), &ik, &value); got != 0) {
          admitted = lmdb_error("mdb_get", got);
        } else if (auto other = decode_record(id.value(), as_view(value)); !other) {
          admitted = other.error();
        } else {
          admitted = admit(other.value());
        }
      }
      mdb_cursor_close(in);
      if (!admitted) return admitted;
      if (rc != MDB_NOTFOUND) return lmdb_error("mdb_cursor_get", rc);
    }
    auto last = last_record_id(txn, env_);
    if (!last) return last.error();
    record.id = last.value() + 1;
    return put_record(txn, env_, record, /*in_flight=*/true);
  });
}

Result<std::uint64_t> Journal::last_id() const {
  std::uint64_t last = 0;
  Status s = env_.read([&](MDB_txn* txn) -> Status {
    auto id = last_record_id(txn, env_);
    if (!id) return id.error();
    last = id.value();
    return {};
  });
  if (!s) return s.error();
  return last;
}

Status Journal::put(TxRecord& record, const RecordWrite& how) {
  if (how.state == StateStep::none || record.keys.empty()) {
    return env_.write([&](MDB_txn* txn) { return put_record(txn, env_, record, how.in_flight); },
                      how.commit);
  }
  TxRecord written;
  Status s = env_.write(
      [&](MDB_txn* txn) -> Status {
        written = record;  // the function may run again (map growth): start from scratch
        if (Status st = step_state(txn, env_, written, how.state); !st) return st;
        return put_record(txn, env_, written, how.in_flight);
      },
      how.commit);
  if (s) record = std::move(written);
  return s;
}

Result<std::optional<std::string>> Journal::get_state(const std::string& key) const {
  std::optional<std::string> value;
  Status s = env_.read([&](MDB_txn* txn) -> Status {
    auto got = read_state(txn, env_, key);
    if (!got) return got.error();
    value = std::move(got).value();
    return {};
  });
  if (!s) return s.error();
  return value;
}

Result<std::vector<std::pair<std::string, std::string>>> Journal::list_state(
    const std::string& prefix) const {
  std::vector<std::pair<std::string, std::string>> out;
  if (!env_.state()) return out;
  Status s = env_.read([&](MDB_txn* txn) -> Status {
    MDB_cursor* cursor = nullptr;
    int rc = mdb_cursor_open(txn, *env_.state(), &cursor);
    if (rc != 0) return lmdb_error("mdb_cursor_open", rc);
    MDB_val k = as_val(prefix), v{};
    rc = mdb_cursor_get(cursor, &k, &v, prefix.empty() ? MDB_FIRST : MDB_SET_RANGE);
    for (; rc == 0; rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT)) {
      std::string_view key = as_view(k);
      if (!key.starts_with(prefix)) break;
      out.emplace_back(std::string(key), std::string(as_view(v)));
    }
    mdb_cursor_close(cursor);
    if (rc != 0 && rc != MDB_NOTFOUND) return lmdb_error("mdb_cursor_get", rc);
    return {};
  });
  if (!s) return s.error();
  return out;
}

std::size_t Journal::max_key_size() const {
  return env_.max_key_size();
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
