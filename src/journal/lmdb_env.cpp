#include "journal/lmdb_env.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <map>
#include <mutex>
#include <shared_mutex>
#include <utility>

#include "journal/lmdb_format.hpp"
#include "journal/map_registry.hpp"
#include "util/fs.hpp"
#include "util/hex.hpp"

namespace reftx::journal {
namespace {
constexpr int kMaxGrowths = 16;
// The size LMDB 0.9.24 gives lock.mdb on 64-bit Linux with its default 126 reader slots:
// 125 * sizeof(MDB_reader) (64) + sizeof(MDB_txninfo) (192). reftx allocates it up front.
constexpr off_t kLockFileSize = 8192;
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
  std::string dir;
  MDB_dbi records = 0;
  MDB_dbi inflight = 0;
  std::optional<MDB_dbi> state;  // absent in a read-only journal written before it existed
  std::optional<MDB_dbi> meta;   // likewise
  bool read_only = false;
  // Exclusive for writes (which may resize the map), shared for reads.
  mutable std::shared_mutex mutex;
  // Tells the fault registry where the map is now (after open and every resize).
  void publish() {
    MDB_envinfo info{};
    if (mdb_env_info(env, &info) == 0 && info.me_mapaddr != nullptr) {
      publish_map(this, info.me_mapaddr, info.me_mapsize, dir);
    }
  }
  int set_mapsize(std::size_t size) {
    int rc = mdb_env_set_mapsize(env, size);
    publish();
    return rc;
  }
  // An LMDB error; an errno (ENOSPC, EIO, ...) names the data file. LMDB reports damage it
  // stumbles on in many ways (MDB_CORRUPTED, MDB_PAGE_NOTFOUND, ENOMEM from a garbage length,
  // EINVAL, ...): unless the error is one an intact journal gives too, the whole file is
  // checked (journal check's walk) and damage found there is reported instead.
  Error error(const char* call, int rc) const;
  ~Shared() {
    withdraw_map(this);
    if (env != nullptr) mdb_env_close(env);
  }
};

namespace {

// An LMDB failure `e` (system_code: its code) of the journal in `dir`, or the damage behind it.
Error diagnose(const std::string& dir, Error e) {
  const int rc = e.system_code;
  const bool plain = rc == ENOSPC || rc == EDQUOT || rc == EIO || rc == EROFS || rc == EACCES ||
                     rc == EPERM || rc == EINTR || rc == EAGAIN || rc == MDB_MAP_FULL ||
                     rc == MDB_MAP_RESIZED || rc == MDB_READERS_FULL || rc == MDB_TXN_FULL ||
                     rc == MDB_BAD_RSLOT || rc == MDB_BAD_TXN || rc == MDB_BAD_DBI;
  if (rc == 0 || plain || dir.empty()) return e;
  auto check = LmdbEnv::check_files(dir);
  if (!check && check.error().kind == ErrorKind::corrupt_journal) {
    Error c = check.error();
    c.system_code = rc;
    c.message += " (" + e.message + ")";
    return c;
  }
  return e;
}

Status diagnose(const std::string& dir, Status s) {
  if (s || s.error().system_code == 0) return s;
  return diagnose(dir, s.error());
}

}  // namespace

Error LmdbEnv::Shared::error(const char* call, int rc) const {
  Error e = lmdb_error(call, rc);
  if (rc > 0) {
    e.message = "journal file '" + dir + "/data.mdb': " + call + " failed: " + mdb_strerror(rc);
  }
  return diagnose(dir, e);
}

namespace {

std::mutex g_registry_mutex;
std::map<std::string, std::weak_ptr<LmdbEnv::Shared>> g_registry;  // by real path

Error corrupt(const std::string& what) {
  return Error{ErrorKind::corrupt_journal, what};
}

const char* type_name(mode_t mode) {
  if (S_ISREG(mode)) return "a regular file";
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISLNK(mode)) return "a symbolic link";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file";
}

enum class DirState { absent, empty, present };

// What is at the journal path, before anything is opened. A path that is not a directory (or
// a symbolic link to one) is damage: a journal that disappeared behind it would read as empty.
Result<DirState> inspect_dir(const std::string& dir) {
  struct stat st {};
  if (::lstat(dir.c_str(), &st) != 0) {
    if (errno == ENOENT) return DirState::absent;
    if (errno == ENOTDIR)
      return corrupt("journal '" + dir + "' is corrupt: a parent is not a directory");
    return util::errno_error("cannot inspect journal '" + dir + "'", errno);
  }
  if (S_ISLNK(st.st_mode)) {
    if (::stat(dir.c_str(), &st) != 0) {
      if (errno == ENOENT)
        return corrupt("journal '" + dir + "' is corrupt: it is a dangling symbolic link");
      if (errno == ELOOP)
        return corrupt("journal '" + dir + "' is corrupt: it is a symbolic link loop");
      return util::errno_error("cannot inspect journal '" + dir + "'", errno);
    }
    if (!S_ISDIR(st.st_mode)) {
      return corrupt("journal '" + dir + "' is corrupt: it is a symbolic link to " +
                     type_name(st.st_mode) + ", not to a directory");
    }
  } else if (!S_ISDIR(st.st_mode)) {
    return corrupt("journal '" + dir + "' is corrupt: it is " + type_name(st.st_mode) +
                   ", not a directory");
  }
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return util::errno_error("cannot read journal directory '" + dir + "'", errno);
  bool any = false;
  while (dirent* e = ::readdir(d)) {
    if (std::string_view(e->d_name) != "." && std::string_view(e->d_name) != "..") any = true;
  }
  ::closedir(d);
  if (!any) return DirState::empty;
  return DirState::present;
}

// data.mdb must be a regular file (checked before it is opened: a FIFO would block) holding a
// sane LMDB file; lock.mdb, if present, a regular file.
Status check_existing(const std::string& dir, format::FileInfo* info_out = nullptr,
                      util::UniqueFd* fd_out = nullptr) {
  const std::string data = dir + "/data.mdb";
  struct stat st {};
  if (::lstat(data.c_str(), &st) != 0) {
    if (errno == ENOENT) {
      return corrupt("journal '" + dir +
                     "' is corrupt: data.mdb is missing beside other journal files");
    }
    return util::errno_error("cannot inspect journal file '" + data + "'", errno);
  }
  if (!S_ISREG(st.st_mode)) {
    return corrupt("journal '" + dir + "' is corrupt: data.mdb is " + type_name(st.st_mode) +
                   ", not a regular file");
  }
  const std::string lock = dir + "/lock.mdb";
  struct stat lst {};
  if (::lstat(lock.c_str(), &lst) == 0 && !S_ISREG(lst.st_mode)) {
    return corrupt("journal '" + dir + "' is corrupt: lock.mdb is " + type_name(lst.st_mode) +
                   ", not a regular file");
  }
  util::UniqueFd fd(::open(data.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  if (!fd.valid()) return util::errno_error("cannot open journal file '" + data + "'", errno);
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return corrupt("journal '" + dir + "' is corrupt: data.mdb is not a regular file");
  }
  auto info = format::check_environment(fd.get(), data);
  if (!info) return info.error();
  if (info_out != nullptr) *info_out = std::move(info).value();
  if (fd_out != nullptr) *fd_out = std::move(fd);
  return {};
}

// Journals up to this many pages (4 MiB) are walked page by page at every open, as by
// `journal check`: a few milliseconds at most. Larger ones get the meta checks only.
// REFTX_WALK_AT_OPEN_PAGES overrides it (tests use 0 to exercise the larger journals' path).
std::uint64_t walk_at_open_pages() {
  const char* env = std::getenv("REFTX_WALK_AT_OPEN_PAGES");
  if (env == nullptr || *env == '\0') return 1024;
  return std::strtoull(env, nullptr, 10);
}

// check_existing(), then, for a file of at most `walk_limit` pages, the walk of every page.
// A commit of another process can rewrite pages the walk has not read yet (not those of the
// snapshot it walks, while that snapshot is current): a walk is trusted only when both meta
// pages' txnids are the same after it as before. Damage seen by a disturbed check is checked
// again. After 20 disturbed rounds the walk is skipped ("busy").
Result<std::string> verify(const std::string& dir, std::uint64_t walk_limit, bool full) {
  const std::string data = dir + "/data.mdb";
  for (int round = 0; round < 20; ++round) {
    format::FileInfo info;
    util::UniqueFd fd;
    Status s = check_existing(dir, &info, &fd);
    if (!s) {
      if (s.error().kind != ErrorKind::corrupt_journal || round >= 2) return s.error();
      ::usleep(2000);
      continue;
    }
    if (info.file_size / info.page_size > walk_limit) return std::string("meta pages ok");
    auto walked = format::check_pages(fd.get(), data, info, full);
    auto now = format::read_txnids(fd.get(), data);
    if (!now) return now.error();
    if (now.value() != std::pair{info.meta[0].txnid, info.meta[1].txnid}) {
      ::usleep(1000);
      continue;
    }
    return walked;
  }
  return std::string("busy: not walked");
}

// LMDB creates lock.mdb with ftruncate and writes it through a shared map: on a full file
// system the first write to a hole raises SIGBUS. Allocating its blocks first turns that into
// ENOSPC here. A read-only open on a read-only file system skips it (LMDB then does too).
Status preallocate_lock_file(const std::string& dir, bool read_only) {
  const std::string lock = dir + "/lock.mdb";
  util::UniqueFd fd(::open(lock.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0666));
  if (!fd.valid()) {
    if (read_only && (errno == EROFS || errno == EACCES)) return {};
    return util::errno_error("cannot open journal file '" + lock + "'", errno);
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return util::errno_error("cannot stat '" + lock + "'", errno);
  const off_t size = std::max<off_t>(st.st_size, kLockFileSize);
  int rc = ::posix_fallocate(fd.get(), 0, size);
  if (rc != 0 && rc != EOPNOTSUPP && rc != EINVAL) {
    return util::errno_error("cannot allocate journal file '" + lock + "'", rc);
  }
  return {};
}

// Opens the named databases in one transaction (creating them, and writing `initial_meta`,
// unless read-only).
int open_databases(LmdbEnv::Shared& shared, bool read_only,
                   const LmdbEnv::MetaEntries& initial_meta) {
  MDB_txn* txn = nullptr;
  int rc = mdb_txn_begin(shared.env, nullptr, read_only ? MDB_RDONLY : 0, &txn);
  if (rc == MDB_MAP_RESIZED) {
    shared.set_mapsize(0);
    rc = mdb_txn_begin(shared.env, nullptr, read_only ? MDB_RDONLY : 0, &txn);
  }
  if (rc != 0) return rc;
  unsigned dbi_flags = read_only ? 0 : MDB_CREATE;
  rc = mdb_dbi_open(txn, "records", dbi_flags, &shared.records);
  if (rc == 0) rc = mdb_dbi_open(txn, "inflight", dbi_flags, &shared.inflight);
  for (auto [name, slot] : {std::pair{"state", &shared.state}, std::pair{"meta", &shared.meta}}) {
    if (rc != 0) break;
    MDB_dbi dbi = 0;
    rc = mdb_dbi_open(txn, name, dbi_flags, &dbi);
    if (rc == 0) *slot = dbi;
    if (rc == MDB_NOTFOUND && read_only) rc = 0;
  }
  for (const auto& [key, value] : initial_meta) {
    if (rc != 0) break;
    MDB_val k{key.size(), const_cast<char*>(key.data())};
    MDB_val v{value.size(), const_cast<char*>(value.data())};
    rc = mdb_put(txn, *shared.meta, &k, &v, 0);
  }
  if (rc != 0) {
    mdb_txn_abort(txn);
    return rc;
  }
  return mdb_txn_commit(txn);
}

Result<std::shared_ptr<LmdbEnv::Shared>> open_shared(const std::string& dir, bool read_only,
                                                     std::size_t initial_map_size,
                                                     const LmdbEnv::MetaEntries& initial_meta) {
  auto shared = std::make_shared<LmdbEnv::Shared>();
  shared->read_only = read_only;
  shared->dir = dir;
  int rc = mdb_env_create(&shared->env);
  if (rc != 0) return lmdb_error("mdb_env_create", rc);
  mdb_env_set_maxdbs(shared->env, 8);
  mdb_env_set_mapsize(shared->env, initial_map_size);
  unsigned flags = MDB_NOTLS | (read_only ? MDB_RDONLY : 0);
  JournalInUse in_use(dir);
  rc = mdb_env_open(shared->env, dir.c_str(), flags, 0666);
  if (rc != 0) {
    if (rc == ENOSPC || rc == EIO || rc == EDQUOT) {  // writing the meta pages
      return util::errno_error("cannot write journal file '" + dir + "/data.mdb'", rc);
    }
    if (rc == EACCES || rc == ENOENT || rc == EROFS) {
      return util::errno_error("cannot open journal '" + dir + "'", rc);
    }
    Error e = lmdb_error("mdb_env_open", rc);
    e.message = "cannot open journal '" + dir + "': " + mdb_strerror(rc);
    return e;
  }
  shared->publish();
  int dead = 0;
  mdb_reader_check(shared->env, &dead);  // free slots of SIGKILLed readers (count may read 0)
  rc = open_databases(*shared, read_only, initial_meta);
  if (rc == MDB_NOTFOUND)
    return corrupt("journal '" + dir + "' is corrupt: its databases are missing");
  if (rc != 0) return shared->error("opening the databases", rc);
  return shared;
}

std::string random_suffix() {
  unsigned char raw[8];
  if (::getrandom(raw, sizeof raw, 0) != static_cast<ssize_t>(sizeof raw)) {
    return std::to_string(::getpid()) + "-" + std::to_string(util::now_ns());
  }
  return util::raw_to_hex(std::string_view(reinterpret_cast<const char*>(raw), sizeof raw));
}

void remove_tree_quietly(const std::string& dir) {
  for (const char* name : {"/data.mdb", "/lock.mdb"}) ::unlink((dir + name).c_str());
  ::rmdir(dir.c_str());
}

Status sync_path(const std::string& path) {
  util::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return util::errno_error("cannot open '" + path + "'", errno);
  return util::fsync_fd(fd.get(), path);
}

// Builds a complete journal in `<dir>.new-<random>`, syncs it and renames it to `dir` (which
// is missing or an empty directory). Losing a race to another creator is fine: theirs is used.
Status create_aside(const std::string& dir, std::size_t initial_map_size,
                    const LmdbEnv::MetaEntries& initial_meta) {
  const std::string parent = util::parent_dir(dir);
  if (Status s = util::make_dirs(parent); !s) return s;
  const std::string tmp = dir + ".new-" + random_suffix();
  if (::mkdir(tmp.c_str(), 0777) != 0) {
    return util::errno_error("cannot create journal directory '" + tmp + "'", errno);
  }
  Status built = [&]() -> Status {
    if (Status s = preallocate_lock_file(tmp, false); !s) return s;
    {
      auto shared = open_shared(tmp, false, initial_map_size, initial_meta);
      if (!shared) return shared.error();
    }  // closed: LMDB keeps no lock across the rename
    if (Status s = sync_path(tmp + "/data.mdb"); !s) return s;
    if (Status s = sync_path(tmp + "/lock.mdb"); !s) return s;
    return sync_path(tmp);
  }();
  if (!built) {
    remove_tree_quietly(tmp);
    Error e = built.error();
    e.message = "cannot create journal '" + dir + "': " + e.message;
    return e;
  }
  if (::rename(tmp.c_str(), dir.c_str()) != 0) {
    const int err = errno;
    remove_tree_quietly(tmp);
    if (err == EEXIST || err == ENOTEMPTY) return {};  // another process created it first
    return util::errno_error("cannot rename '" + tmp + "' to journal '" + dir + "'", err);
  }
  return util::fsync_dir(parent);
}

}  // namespace

Result<LmdbEnv> LmdbEnv::open(const std::string& dir, bool read_only, bool durable,
                              std::size_t initial_map_size, const MetaEntries& initial_meta) {
  std::string path = dir;
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  auto state = inspect_dir(path);
  if (!state) return state.error();
  if (state.value() != DirState::present) {
    if (read_only) return Error{ErrorKind::not_found, "no journal at '" + path + "'"};
    if (Status s = create_aside(path, initial_map_size, initial_meta); !s) return s.error();
  }
  if (auto checked = verify(path, walk_at_open_pages(), /*full=*/false); !checked) {
    return checked.error();
  }
  if (Status s = preallocate_lock_file(path, read_only); !s) return s.error();
  char* real = ::realpath(path.c_str(), nullptr);
  if (real == nullptr) return util::errno_error("cannot resolve journal '" + path + "'", errno);
  const std::string key = real;
  ::free(real);

  LmdbEnv env;
  env.durable_ = durable;
  std::lock_guard<std::mutex> guard(g_registry_mutex);
  if (auto existing = g_registry[key].lock()) {
    if (existing->read_only && !read_only) {
      return Error{ErrorKind::environment,
                   "journal '" + path + "' is already open read-only in this process"};
    }
    env.shared_ = std::move(existing);
    return env;
  }
  auto shared = open_shared(path, read_only, initial_map_size, {});
  if (!shared) return shared.error();
  env.shared_ = std::move(shared).value();
  g_registry[key] = env.shared_;
  return env;
}

Result<std::string> LmdbEnv::check_files(const std::string& dir) {
  std::string path = dir;
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  auto state = inspect_dir(path);
  if (!state) return state.error();
  if (state.value() != DirState::present) {
    return Error{ErrorKind::not_found, "no journal at '" + path + "'"};
  }
  return verify(path, ~std::uint64_t{0}, /*full=*/true);
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
std::optional<MDB_dbi> LmdbEnv::meta() const {
  return shared_->meta;
}
const std::string& LmdbEnv::dir() const {
  return shared_->dir;
}
std::size_t LmdbEnv::max_key_size() const {
  return static_cast<std::size_t>(mdb_env_get_maxkeysize(shared_->env));
}

Status LmdbEnv::write(const std::function<Status(MDB_txn*)>& fn, Commit commit) {
  std::unique_lock<std::shared_mutex> exclusive(shared_->mutex);
  JournalInUse in_use(shared_->dir);
  MDB_env* env = shared_->env;
  // Per-commit sync mode; the flags are process-local and restored before the lock is released.
  const unsigned sync_flags =
      !durable_ ? MDB_NOSYNC : (commit == Commit::lazy ? MDB_NOMETASYNC : 0);
  for (int attempt = 0; attempt <= kMaxGrowths; ++attempt) {
    MDB_txn* txn = nullptr;
    int rc = mdb_txn_begin(env, nullptr, 0, &txn);
    if (rc == MDB_MAP_RESIZED) {
      shared_->set_mapsize(0);
      continue;
    }
    if (rc != 0) return shared_->error("mdb_txn_begin", rc);
    Status s = fn(txn);
    if (!s) {
      mdb_txn_abort(txn);
      if (s.error().system_code != MDB_MAP_FULL) return diagnose(shared_->dir, s);
      rc = MDB_MAP_FULL;
    } else {
      if (sync_flags) mdb_env_set_flags(env, sync_flags, 1);
      rc = mdb_txn_commit(txn);
      if (sync_flags) mdb_env_set_flags(env, sync_flags, 0);
      if (rc == 0) return {};
    }
    if (rc != MDB_MAP_FULL) return shared_->error("mdb_txn_commit", rc);
    MDB_envinfo info{};
    mdb_env_info(env, &info);
    rc = shared_->set_mapsize(info.me_mapsize * 2);  // no txn of this process is open
    if (rc != 0) return shared_->error("mdb_env_set_mapsize", rc);
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
  JournalInUse in_use(shared_->dir);
  MDB_txn* txn = nullptr;
  int rc = mdb_txn_begin(shared_->env, nullptr, MDB_RDONLY, &txn);
  if (rc == MDB_MAP_RESIZED) {
    // Adopting another process's growth needs no transaction of ours open: retry exclusively.
    shared.unlock();
    std::unique_lock<std::shared_mutex> exclusive(shared_->mutex);
    shared_->set_mapsize(0);
    rc = mdb_txn_begin(shared_->env, nullptr, MDB_RDONLY, &txn);
    if (rc != 0) return shared_->error("mdb_txn_begin", rc);
    Status s = fn(txn);
    mdb_txn_abort(txn);
    return diagnose(shared_->dir, s);
  }
  if (rc != 0) return shared_->error("mdb_txn_begin", rc);
  Status s = fn(txn);
  mdb_txn_abort(txn);
  return diagnose(shared_->dir, s);
}

}  // namespace reftx::journal
