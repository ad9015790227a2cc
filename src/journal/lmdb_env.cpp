#include "journal/lmdb_env.hpp"

#include <sys/stat.h>

#include <cerrno>
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
  return Error{kind, std::string("journal: ") + call + " failed: " + mdb_strerror(rc)};
}

LmdbEnv::LmdbEnv(LmdbEnv&& other) noexcept
    : env_(std::exchange(other.env_, nullptr)),
      records_(other.records_),
      inflight_(other.inflight_),
      durable_(other.durable_) {}

LmdbEnv& LmdbEnv::operator=(LmdbEnv&& other) noexcept {
  if (this != &other) {
    close();
    env_ = std::exchange(other.env_, nullptr);
    records_ = other.records_;
    inflight_ = other.inflight_;
    durable_ = other.durable_;
  }
  return *this;
}

LmdbEnv::~LmdbEnv() { close(); }

void LmdbEnv::close() {
  if (env_ != nullptr) mdb_env_close(env_);
  env_ = nullptr;
}

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
  LmdbEnv env;
  env.durable_ = durable;
  int rc = mdb_env_create(&env.env_);
  if (rc != 0) return lmdb_error("mdb_env_create", rc);
  mdb_env_set_maxdbs(env.env_, 4);
  mdb_env_set_mapsize(env.env_, initial_map_size);
  unsigned flags = MDB_NOTLS;
  if (read_only) flags |= MDB_RDONLY;
  if (!durable) flags |= MDB_NOSYNC;
  rc = mdb_env_open(env.env_, dir.c_str(), flags, 0666);
  if (rc != 0) {
    if (rc == EACCES || rc == ENOENT) {
      return util::errno_error("cannot open journal '" + dir + "'", rc);
    }
    Error e = lmdb_error("mdb_env_open", rc);
    e.message = "cannot open journal '" + dir + "': " + mdb_strerror(rc);
    return e;
  }
  int dead = 0;
  mdb_reader_check(env.env_, &dead);  // free slots of SIGKILLed readers (count may read 0)

  MDB_txn* txn = nullptr;
  rc = mdb_txn_begin(env.env_, nullptr, read_only ? MDB_RDONLY : 0, &txn);
  if (rc == MDB_MAP_RESIZED) {
    mdb_env_set_mapsize(env.env_, 0);
    rc = mdb_txn_begin(env.env_, nullptr, read_only ? MDB_RDONLY : 0, &txn);
  }
  if (rc != 0) return lmdb_error("mdb_txn_begin", rc);
  unsigned dbi_flags = read_only ? 0 : MDB_CREATE;
  rc = mdb_dbi_open(txn, "records", dbi_flags, &env.records_);
  if (rc == 0) rc = mdb_dbi_open(txn, "inflight", dbi_flags, &env.inflight_);
  if (rc != 0) {
    mdb_txn_abort(txn);
    if (rc == MDB_NOTFOUND) return Error{ErrorKind::not_found, "no journal at '" + dir + "'"};
    return lmdb_error("mdb_dbi_open", rc);
  }
  rc = mdb_txn_commit(txn);
  if (rc != 0) return lmdb_error("mdb_txn_commit", rc);
  return env;
}

Status LmdbEnv::write(const std::function<Status(MDB_txn*)>& fn, Commit commit) {
  const bool lazy = commit == Commit::lazy && durable_;
  for (int attempt = 0; attempt <= kMaxGrowths; ++attempt) {
    MDB_txn* txn = nullptr;
    int rc = mdb_txn_begin(env_, nullptr, 0, &txn);
    if (rc == MDB_MAP_RESIZED) {
      mdb_env_set_mapsize(env_, 0);
      continue;
    }
    if (rc != 0) return lmdb_error("mdb_txn_begin", rc);
    Status s = fn(txn);
    if (!s) {
      mdb_txn_abort(txn);
      if (s.error().message.find("MDB_MAP_FULL") == std::string::npos) return s;
      rc = MDB_MAP_FULL;
    } else {
      if (lazy) mdb_env_set_flags(env_, MDB_NOMETASYNC, 1);
      rc = mdb_txn_commit(txn);
      if (lazy) mdb_env_set_flags(env_, MDB_NOMETASYNC, 0);
      if (rc == 0) return {};
    }
    if (rc != MDB_MAP_FULL) return lmdb_error("mdb_txn_commit", rc);
    MDB_envinfo info{};
    mdb_env_info(env_, &info);
    rc = mdb_env_set_mapsize(env_, info.me_mapsize * 2);  // no txn of ours is open here
    if (rc != 0) return lmdb_error("mdb_env_set_mapsize", rc);
  }
  return Error{ErrorKind::environment, "journal: map cannot grow any further"};
}

std::size_t LmdbEnv::map_size() const {
  MDB_envinfo info{};
  mdb_env_info(env_, &info);
  return info.me_mapsize;
}

Status LmdbEnv::read(const std::function<Status(MDB_txn*)>& fn) const {
  MDB_txn* txn = nullptr;
  int rc = mdb_txn_begin(env_, nullptr, MDB_RDONLY, &txn);
  if (rc == MDB_MAP_RESIZED) {
    mdb_env_set_mapsize(env_, 0);
    rc = mdb_txn_begin(env_, nullptr, MDB_RDONLY, &txn);
  }
  if (rc != 0) return lmdb_error("mdb_txn_begin", rc);
  Status s = fn(txn);
  mdb_txn_abort(txn);
  return s;
}

}  // namespace reftx::journal
