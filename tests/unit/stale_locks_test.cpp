// core::remove_stale_locks on lock files made by hand in a real repository, against records
// built by hand: exactly the locks a dead transaction's git can have left are removed, a lock
// that could belong to a live transaction is deferred, and nothing foreign is ever touched
// (another value, older than the record, another ref, a bare packed-refs.lock).
#include <fcntl.h>
#include <sys/stat.h>

#include <doctest/doctest.h>

#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "core/ref_files.hpp"
#include "git/repository.hpp"
#include "support/temp_repo.hpp"
#include "support/text.hpp"
#include "util/fs.hpp"

namespace fs = std::filesystem;
using namespace reftx;
using test::TempRepo;

namespace {

constexpr std::int64_t kOld = 10'000'000'000;  // 10 s: well past the 1 s clock slack

// A repository with refs/heads/main (HEAD's branch), a, b and a packed refs/heads/p, opened
// the way recovery opens it.
struct Fixture {
  TempRepo repo{3};
  git::Repository git;
  std::string c0, c1, c2, fresh;

  Fixture() {
    c0 = repo.commits()[0];
    c1 = repo.commits()[1];
    c2 = repo.commits()[2];
    fresh = repo.make_commit("new value");
    repo.git({"update-ref", "refs/heads/p", c0});
    repo.git({"pack-refs", "--all"});
    repo.git({"update-ref", "refs/heads/a", c0});
    repo.git({"update-ref", "refs/heads/b", c1});
    auto opened = git::Repository::discover(repo.path());
    REQUIRE_MESSAGE(opened.ok(), opened.error().describe());
    git = std::move(opened).value();
  }

  std::string path(const std::string& name) const { return git.common_dir() + "/" + name; }
  std::string lock(const std::string& ref) const { return path(ref + ".lock"); }

  // A file made by hand, as git writes a lock: "<oid>\n", or empty. `age_ns` back-dates it.
  void make(const std::string& file, const std::string& oid, std::int64_t age_ns = 0) const {
    test::write_file(file, oid.empty() ? "" : oid + "\n");
    if (age_ns == 0) return;
    const std::int64_t t = util::now_ns() - age_ns;
    const timespec times[2] = {{t / 1'000'000'000, t % 1'000'000'000},
                               {t / 1'000'000'000, t % 1'000'000'000}};
    REQUIRE(::utimensat(AT_FDCWD, file.c_str(), times, 0) == 0);
  }

  core::StaleLocks sweep(const TxRecord& record, const std::set<std::string>& busy = {}) {
    auto swept = core::remove_stale_locks(git, record, busy);
    REQUIRE_MESSAGE(swept.ok(), swept.error().describe());
    return std::move(swept).value();
  }
};

RefRecord ref(const std::string& name, RefOp op, const std::string& new_oid,
              const std::string& old_oid = "", bool old_known = false) {
  RefRecord r;
  r.name = name;
  r.op = op;
  r.new_oid = new_oid;
  r.old_oid = old_known ? old_oid : kZeroOid;
  r.old_known = old_known;
  return r;
}

// A dead transaction's record, created just now.
TxRecord record(std::vector<RefRecord> refs, TxState state = TxState::pending) {
  TxRecord r;
  r.id = 7;
  r.state = state;
  r.created_ns = util::now_ns();
  r.updated_ns = r.created_ns;
  r.owner = "dead";
  r.refs = std::move(refs);
  return r;
}

std::set<std::string> as_set(const std::vector<std::string>& v) {
  return {v.begin(), v.end()};
}

bool exists(const std::string& path) {
  return fs::exists(fs::symlink_status(path));
}

}  // namespace

TEST_CASE("a ref lock holding the record's new value, or nothing yet, is removed") {
  Fixture f;
  const TxRecord rec = record(
      {ref("refs/heads/a", RefOp::update, f.fresh), ref("refs/heads/b", RefOp::update, f.c2)});
  f.make(f.lock("refs/heads/a"), f.fresh);
  f.make(f.lock("refs/heads/b"), "");  // git killed between creating and writing it
  const core::StaleLocks s = f.sweep(rec);
  CHECK(as_set(s.removed) == std::set<std::string>{f.lock("refs/heads/a"), f.lock("refs/heads/b")});
  CHECK(s.deferred.empty());
  CHECK_FALSE(exists(f.lock("refs/heads/a")));
  CHECK_FALSE(exists(f.lock("refs/heads/b")));
  CHECK(f.repo.ref("refs/heads/a") == f.c0);  // the refs themselves are not touched
}

TEST_CASE("a lock with a foreign value, older than the record or of another ref is never removed") {
  Fixture f;
  const TxRecord rec = record({ref("refs/heads/a", RefOp::update, f.fresh),
                               ref("refs/heads/b", RefOp::update, f.fresh),
                               ref("refs/heads/main", RefOp::update, f.fresh)});
  f.make(f.lock("refs/heads/a"), f.c2);                 // another writer's value
  f.make(f.lock("refs/heads/b"), f.fresh, kOld);        // our value, but taken before the record
  f.make(f.lock("refs/heads/main"), "", kOld);          // empty and old
  f.make(f.lock("refs/heads/other"), f.fresh);          // a ref the record does not name
  test::write_file(f.lock("refs/heads/c"), "garbage");  // not even an oid
  const core::StaleLocks s = f.sweep(rec);
  CHECK(s.removed.empty());
  CHECK(s.deferred.empty());
  for (const char* name :
       {"refs/heads/a", "refs/heads/b", "refs/heads/main", "refs/heads/other", "refs/heads/c"}) {
    CAPTURE(name);
    CHECK(exists(f.lock(name)));
  }
  CHECK(test::read_file(f.lock("refs/heads/a")) == f.c2 + "\n");
}

TEST_CASE(
    "a pending transaction's lock holding the old value is foreign; rolling back it is ours") {
  Fixture f;
  SUBCASE("pending: git was writing forward") {
    const TxRecord rec = record({ref("refs/heads/a", RefOp::update, f.fresh, f.c0, true)});
    f.make(f.lock("refs/heads/a"), f.c0);
    CHECK(f.sweep(rec).removed.empty());
    CHECK(exists(f.lock("refs/heads/a")));
  }
  SUBCASE("rolling back: git was writing the old values back") {
    const TxRecord rec = record({ref("refs/heads/a", RefOp::update, f.fresh, f.c0, true),
                                 ref("refs/heads/b", RefOp::update, f.fresh, f.c1, true),
                                 ref("refs/heads/main", RefOp::update, f.fresh)},
                                TxState::rolling_back);
    f.make(f.lock("refs/heads/a"), f.c0);     // the old value: ours
    f.make(f.lock("refs/heads/b"), f.fresh);  // the new value: not what a rollback writes
    f.make(f.lock("refs/heads/main"), "");    // old value unknown: never rolled back, not ours
    const core::StaleLocks s = f.sweep(rec);
    CHECK(s.removed == std::vector<std::string>{f.lock("refs/heads/a")});
    CHECK(exists(f.lock("refs/heads/b")));
    CHECK(exists(f.lock("refs/heads/main")));
  }
}

TEST_CASE("verify and delete locks are empty: an empty one is ours, one with a value is not") {
  Fixture f;
  const TxRecord rec = record(
      {ref("refs/heads/a", RefOp::verify, kZeroOid), ref("refs/heads/b", RefOp::remove, kZeroOid)});
  SUBCASE("empty") {
    f.make(f.lock("refs/heads/a"), "");
    f.make(f.lock("refs/heads/b"), "");
    CHECK(as_set(f.sweep(rec).removed) ==
          std::set<std::string>{f.lock("refs/heads/a"), f.lock("refs/heads/b")});
  }
  SUBCASE("holding a value") {
    f.make(f.lock("refs/heads/a"), f.c0);
    f.make(f.lock("refs/heads/b"), f.c1);
    CHECK(f.sweep(rec).removed.empty());
    CHECK(exists(f.lock("refs/heads/a")));
    CHECK(exists(f.lock("refs/heads/b")));
  }
  SUBCASE("a rollback never locks a verified ref") {
    TxRecord back = rec;
    back.state = TxState::rolling_back;
    f.make(f.lock("refs/heads/a"), "");
    CHECK(f.sweep(back).removed.empty());
    CHECK(exists(f.lock("refs/heads/a")));
  }
}

TEST_CASE("a matching lock of a ref a live transaction is changing is deferred, not removed") {
  Fixture f;
  const TxRecord rec = record(
      {ref("refs/heads/a", RefOp::update, f.fresh), ref("refs/heads/b", RefOp::update, f.fresh)});
  f.make(f.lock("refs/heads/a"), f.fresh);
  f.make(f.lock("refs/heads/b"), f.fresh);
  const core::StaleLocks s = f.sweep(rec, {"refs/heads/a"});
  CHECK(s.deferred == std::vector<std::string>{f.lock("refs/heads/a")});
  CHECK(s.removed == std::vector<std::string>{f.lock("refs/heads/b")});
  CHECK(exists(f.lock("refs/heads/a")));
  // Once that transaction is done, a second pass removes it.
  const core::StaleLocks again = f.sweep(rec);
  CHECK(again.removed == std::vector<std::string>{f.lock("refs/heads/a")});
  CHECK(again.deferred.empty());
}

TEST_CASE("HEAD.lock is ours only with its target's lock, or while the target is unlocked") {
  Fixture f;
  const std::string head_lock = f.git.git_dir() + "/HEAD.lock";
  const TxRecord on_main = record({ref("refs/heads/main", RefOp::update, f.fresh)});
  SUBCASE("with our lock of refs/heads/main: both removed, the ref lock last") {
    f.make(f.lock("refs/heads/main"), f.fresh);
    f.make(head_lock, "");
    const core::StaleLocks s = f.sweep(on_main);
    CHECK(s.removed == std::vector<std::string>{head_lock, f.lock("refs/heads/main")});
  }
  SUBCASE("target unlocked already") {
    f.make(head_lock, "");
    CHECK(f.sweep(on_main).removed == std::vector<std::string>{head_lock});
  }
  SUBCASE("the target's lock is another writer's: HEAD.lock is theirs too") {
    f.make(f.lock("refs/heads/main"), f.c0);
    f.make(head_lock, "");
    CHECK(f.sweep(on_main).removed.empty());
    CHECK(exists(head_lock));
  }
  SUBCASE("not empty, older than the record, or the record does not touch HEAD's branch") {
    f.make(head_lock, f.fresh);
    CHECK(f.sweep(on_main).removed.empty());
    f.make(head_lock, "", kOld);
    CHECK(f.sweep(on_main).removed.empty());
    f.make(head_lock, "");
    CHECK(f.sweep(record({ref("refs/heads/a", RefOp::update, f.fresh)})).removed.empty());
    CHECK(f.sweep(record({ref("refs/heads/main", RefOp::verify, kZeroOid)})).removed.empty());
    CHECK(exists(head_lock));
  }
  SUBCASE("while any live transaction exists: deferred") {
    f.make(f.lock("refs/heads/main"), f.fresh);
    f.make(head_lock, "");
    const core::StaleLocks s = f.sweep(on_main, {"refs/heads/zzz"});
    CHECK(s.deferred == std::vector<std::string>{head_lock});
    CHECK(s.removed == std::vector<std::string>{f.lock("refs/heads/main")});
    CHECK(exists(head_lock));
  }
}

TEST_CASE("packed-refs.lock and packed-refs.new of a delete are ours only with a witness") {
  Fixture f;
  const std::string lock = f.path("packed-refs.lock"), next = f.path("packed-refs.new");
  const TxRecord del = record({ref("refs/heads/p", RefOp::remove, kZeroOid)});
  const std::string packed = test::read_file(f.path("packed-refs"));
  REQUIRE(packed.find(" refs/heads/p\n") != std::string::npos);
  std::string without_p = packed;
  without_p.erase(without_p.find(f.c0 + " refs/heads/p\n"), f.c0.size() + 14);
  REQUIRE(without_p.find("refs/heads/p") == std::string::npos);

  SUBCASE("with our ref lock and a packed-refs.new that no longer lists the ref") {
    f.make(f.lock("refs/heads/p"), "");
    f.make(lock, "");
    test::write_file(next, without_p);
    const core::StaleLocks s = f.sweep(del);
    CHECK(s.removed == std::vector<std::string>{next, lock, f.lock("refs/heads/p")});
  }
  SUBCASE("packed-refs.new still lists the ref: another git's rewrite") {
    f.make(f.lock("refs/heads/p"), "");
    f.make(lock, "");
    test::write_file(next, packed);
    CHECK(f.sweep(del).removed == std::vector<std::string>{f.lock("refs/heads/p")});
    CHECK(exists(lock));
    CHECK(exists(next));
  }
  SUBCASE("a bare packed-refs.lock of a pending transaction could be `git pack-refs`") {
    f.make(lock, "");
    CHECK(f.sweep(del).removed.empty());
    CHECK(exists(lock));
  }
  SUBCASE("older than the record") {
    f.make(f.lock("refs/heads/p"), "");
    f.make(lock, "", kOld);
    CHECK(f.sweep(del).removed == std::vector<std::string>{f.lock("refs/heads/p")});
    CHECK(exists(lock));
  }
  SUBCASE("after a commit rewrote packed-refs without the ref: a bare lock is ours") {
    TxRecord decided = del;
    decided.state = TxState::committing;
    test::write_file(f.path("packed-refs"), without_p);
    f.make(lock, "");
    CHECK(f.sweep(decided).removed == std::vector<std::string>{lock});
    f.make(lock, "");
    test::write_file(f.path("packed-refs"), packed);  // still lists it: not our rewrite
    CHECK(f.sweep(decided).removed.empty());
    CHECK(exists(lock));
  }
  SUBCASE("the file the witness link points to is ours, however old, and the link goes too") {
    f.make(lock, f.fresh, kOld);
    test::write_file(next, packed);
    core::link_packed_refs_witness(f.git, del.id);
    const std::string witness = f.path("reftx-7.packed-refs-witness");
    REQUIRE(exists(witness));
    CHECK(f.sweep(del).removed == std::vector<std::string>{next, lock});
    CHECK_FALSE(exists(witness));
  }
  SUBCASE("while any live transaction exists: deferred") {
    f.make(f.lock("refs/heads/p"), "");
    f.make(lock, "");
    const core::StaleLocks s = f.sweep(del, {"refs/heads/zzz"});
    CHECK(s.deferred == std::vector<std::string>{lock});
    CHECK(s.removed == std::vector<std::string>{f.lock("refs/heads/p")});
    CHECK(exists(lock));
  }
}

TEST_CASE("no lock at all: nothing removed, nothing deferred") {
  Fixture f;
  const core::StaleLocks s = f.sweep(record({ref("refs/heads/a", RefOp::update, f.fresh),
                                             ref("refs/heads/p", RefOp::remove, kZeroOid),
                                             ref("refs/heads/main", RefOp::update, f.fresh)}));
  CHECK(s.removed.empty());
  CHECK(s.deferred.empty());
  CHECK(f.repo.lock_files().empty());
}
