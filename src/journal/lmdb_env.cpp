#include "journal/lmdb_env.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <cstdlib>
#include <map>
#include <mutex>
#include <shared_mutex>
#include <utility>

#include "util/fs.hpp"

namespace reftx::journal {
namespace {
constexpr int kMaxGrowths = 16;
}  // namespace

Error lmdb_error(const char* call, int rc) {
  ErrorKind kind = ErrorKind::environment;
  if (rc == MDB_CORRUPTED || rc == MDB_INVALID || rc == MDB_VERSION_MISMATCH ||
      rc == MDB_PAGE_NOTFOUND || rc == MDB_INCOMPATIBLE || rc == MDB_BAD_VALSIZE) {
    kind = ErrorKind::corrupt_journal;
  }
  Error e{kind, std::string("journal: ") + call + " failed: " + mdb_strerror(rc)};
  e.system_code = rc;
  return e;
}

struct LmdbEnv::Shared {
  MDB_env* env = nullptr;
  MDB_dbi records = 0;
  MDB_dbi inflight = 0;
  std::optional<MDB_dbi> state;  // absent in a read-only journal written before it existed
  bool read_only = false;
  // Exclusive for writes (which may resize the map), shared for reads.
  mutable std::shared_mutex mutex;
  ~Shared() {
    if (env != nullptr) mdb_env_close(env);
  }
};

namespace {

std::mutex g_registry_mutex;
std::map<std::string, std::weak_ptr<LmdbEnv::Shared>> g_registry;  // by real path

Result<std::shared_ptr<LmdbEnv::Shared>> open_shared(const std::string& dir, bool read_only,
                                                     std::size_t initial_map_size) {
  auto shared = std::make_shared<LmdbEnv::Shared>();
  shared->read_only = read_only;
  int rc = mdb_env_create(&shared->env);
  if (rc != 0) return lmdb_error("mdb_env_create", rc);
  mdb_env_set_maxdbs(shared->env, 4);
  mdb_env_set_mapsize(shared->env, initial_map_size);
  unsigned flags = MDB_NOTLS | (read_only ? MDB_RDONLY : 0);
  rc = mdb_env_open(shared->env, dir.c_str(), flags, 0666);
  if (rc != 0) {
    if (rc == EACCES || rc == ENOENT) {
      return util::errno_error("cannot open journal '" + dir + "'", rc);
    }
    Error e = lmdb_error("mdb_env_open", rc);
    e.message = "cannot open journal '" + dir + "': " + mdb_strerror(rc);
    return e;
  }
  int dead = 0;
  mdb_reader_check(shared->env, &dead);  // free slots of SIGKILLed readers (count may read 0)

  MDB_txn* txn = nullptr;
  rc = mdb_txn_begin(shared->env, nullptr, read_only ? MDB_RDONLY : 0, &txn);
  if (rc == MDB_MAP_RESIZED) {
    mdb_env_set_mapsize(shared->env, 0);
    rc = mdb_txn_begin(shared->env, nullptr, read_only ? MDB_RDONLY : 0, &txn);
  }
  if (rc != 0) return lmdb_error("mdb_txn_begin", rc);
  unsigned dbi_flags = read_only ? 0 : MDB_CREATE;
  rc = mdb_dbi_open(txn, "records", dbi_flags, &shared->records);
  if (rc == 0) rc = mdb_dbi_open(txn, "inflight", dbi_flags, &shared->inflight);
  if (rc == 0) {
    MDB_dbi state = 0;
    rc = mdb_dbi_open(txn, "state", dbi_flags, &state);
    if (rc == 0) shared->state = state;
    if (rc == MDB_NOTFOUND && read_only) rc = 0;
  }
  if (rc != 0) {
    mdb_txn_abort(txn);
    if (rc == MDB_NOTFOUND) return Error{ErrorKind::not_found, "no journal at '" + dir + "'"};
    return lmdb_error("mdb_dbi_open", rc);
  }
  rc = mdb_txn_commit(txn);
  if (rc != 0) return lmdb_error("mdb_txn_commit", rc);
  return shared;
}

}  // namespace

Result<LmdbEnv> LmdbEnv::open(const std::string& dir, bool read_only, bool durable,
                              std::size_t initial_map_size) {
  struct stat st {};
  // An empty data.mdb is a journal whose creator was killed before LMDB wrote its meta pages:
  // nothing was ever recorded. (A read-only mdb_env_open would try to initialize it: EBADF.)
  if (read_only && (::stat((dir + "/data.mdb").c_str(), &st) != 0 || st.st_size == 0)) {
    return Error{ErrorKind::not_found, "no journal at '" + dir + "'"};
  }
  if (!read_only) {
    if (Status s = util::make_dirs(dir); !s) return s.error();
  }
  char* real = ::realpath(dir.c_str(), nullptr);
  if (real == nullptr) return util::errno_error("cannot resolve journal '" + dir + "'", errno);
  const std::string key = real;
  ::free(real);

  LmdbEnv env;
  env.durable_ = durable;
  std::lock_guard<std::mutex> guard(g_registry_mutex);
  if (auto existing = g_registry[key].lock()) {
    if (existing->read_only && !read_only) {
      return Error{ErrorKind::environment,
                   "journal '" + dir + "' is already open read-only in this process"};
    }
    env.shared_ = std::move(existing);
    return env;
  }
  auto shared = open_shared(dir, read_only, initial_map_size);
  if (!shared) return shared.error();
  env.shared_ = std::move(shared).value();
  g_registry[key] = env.shared_;
  return env;
}

MDB_dbi LmdbEnv::records() const {
  return shared_->records;
}
MDB_dbi LmdbEnv::inflight() const {
  return shared_->inflight;
}
std::optional<MDB_dbi> LmdbEnv::state() const {
  return shared_->state;
}
std::size_t LmdbEnv::max_key_size() const {
  return static_cast<std::size_t>(mdb_env_get_maxkeysize(shared_->env));
}

Status LmdbEnv::write(const std::function<Status(MDB_txn*)>& fn, Commit commit) {
  std::unique_lock<std::shared_mutex> exclusive(shared_->mutex);
  MDB_env* env = shared_->env;
  // Per-commit sync mode; the flags are process-local and restored before the lock is released.
  const unsigned sync_flags =
      !durable_ ? MDB_NOSYNC : (commit == Commit::lazy ? MDB_NOMETASYNC : 0);
  for (int attempt = 0; attempt <= kMaxGrowths; ++attempt) {
    MDB_txn* txn = nullptr;
    int rc = mdb_txn_begin(env, nullptr, 0, &txn);
    if (rc == MDB_MAP_RESIZED) {
      mdb_env_set_mapsize(env, 0);
      continue;
    }
    if (rc != 0) return lmdb_error("mdb_txn_begin", rc);
    Status s = fn(txn);
    if (!s) {
      mdb_txn_abort(txn);
      if (s.error().system_code != MDB_MAP_FULL) return s;
      rc = MDB_MAP_FULL;
    } else {
      if (sync_flags) mdb_env_set_flags(env, sync_flags, 1);
      rc = mdb_txn_commit(txn);
      if (sync_flags) mdb_env_set_flags(env, sync_flags, 0);
      if (rc == 0) return {};
    }
    if (rc != MDB_MAP_FULL) return lmdb_error("mdb_txn_commit", rc);
    MDB_envinfo info{};
    mdb_env_info(env, &info);
    rc = mdb_env_set_mapsize(env, info.me_mapsize * 2);  // no txn of this process is open
    if (rc != 0) return lmdb_error("mdb_env_set_mapsize", rc);
  }
  return Error{ErrorKind::environment, "journal: map cannot grow any further"};
}

std::size_t LmdbEnv::map_size() const {
  MDB_envinfo info{};
  mdb_env_info(shared_->env, &info);
  return info.me_mapsize;
}

Status LmdbEnv::read(const std::function<Status(MDB_txn*)>& fn) const {
  std::shared_lock<std::shared_mutex> shared(shared_->mutex);
  MDB_txn* txn = nullptr;
  int rc = mdb_txn_begin(shared_->env, nullptr, MDB_RDONLY, &txn);
  if (rc == MDB_MAP_RESIZED) {
    // Adopting another process's growth needs no transaction of ours open: retry exclusively.
    shared.unlock();
    std::unique_lock<std::shared_mutex> exclusive(shared_->mutex);
    mdb_env_set_mapsize(shared_->env, 0);
    rc = mdb_txn_begin(shared_->env, nullptr, MDB_RDONLY, &txn);
    if (rc != 0) return lmdb_error("mdb_txn_begin", rc);
    Status s = fn(txn);
    mdb_txn_abort(txn);
    return s;
  }
  if (rc != 0) return lmdb_error("mdb_txn_begin", rc);
  Status s = fn(txn);
  mdb_txn_abort(txn);
  return s;
}

}  // namespace reftx::journal
