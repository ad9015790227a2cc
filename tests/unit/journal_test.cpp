#include <doctest/doctest.h>
#include <lmdb.h>

#include "journal/journal.hpp"
#include "journal/record_codec.hpp"
#include "support/temp_repo.hpp"

using namespace reftx;

namespace {

TxRecord record(std::string message, TxState state = TxState::pending) {
  TxRecord r;
  r.state = state;
  r.message = std::move(message);
  RefRecord ref;
  ref.name = "refs/heads/x";
  ref.old_oid = kZeroOid;
  ref.new_oid = std::string(40, 'a');
  r.refs.push_back(ref);
  return r;
}

journal::Journal open_journal(const std::string& dir, std::size_t map = 1 << 20) {
  auto j = journal::Journal::open(dir, false, true, map);
  REQUIRE(j.ok());
  return std::move(j).value();
}

}  // namespace

TEST_CASE("ids increase monotonically and survive reopening") {
  test::TempDir dir;
  {
    auto j = open_journal(dir.path());
    for (int i = 1; i <= 3; ++i) {
      TxRecord r = record("m" + std::to_string(i));
      REQUIRE(j.insert(r).ok());
      CHECK(r.id == static_cast<std::uint64_t>(i));
    }
  }
  auto j = open_journal(dir.path());
  TxRecord r = record("again");
  REQUIRE(j.insert(r).ok());
  CHECK(r.id == 4);
  auto all = j.list();
  REQUIRE(all.ok());
  REQUIRE(all.value().size() == 4);
  CHECK(all.value()[3].message == "again");
}

TEST_CASE("the in-flight index follows each write's in_flight flag") {
  // The journal carries out the rule; core/record_states decides it (record_states_test).
  test::TempDir dir;
  auto j = open_journal(dir.path());
  TxRecord a = record("a"), b = record("b"), c = record("c");
  REQUIRE(j.insert(a).ok());
  REQUIRE(j.insert(b).ok());
  REQUIRE(j.insert(c).ok());
  b.state = TxState::committed;
  REQUIRE(j.put(b, {false}).ok());
  c.state = TxState::committing;
  REQUIRE(j.put(c, {true, journal::LmdbEnv::Commit::lazy}).ok());
  auto inflight = j.inflight();
  REQUIRE(inflight.ok());
  CHECK(inflight.value() == std::vector<std::uint64_t>{1, 3});
  a.state = TxState::aborted;
  c.state = TxState::committed;
  REQUIRE(j.put(a, {false}).ok());
  REQUIRE(j.put(c, {false}).ok());
  CHECK(j.inflight().value().empty());
  auto got = j.get(3);
  REQUIRE(got.ok());
  CHECK(got.value().state == TxState::committed);
}

TEST_CASE("missing records and journals are not_found") {
  test::TempDir dir;
  auto missing = journal::Journal::open(dir.path() + "/nothing", true, true);
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().kind == ErrorKind::not_found);
  auto j = open_journal(dir.path());
  auto r = j.get(99);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().kind == ErrorKind::not_found);
}

TEST_CASE("the map grows on MDB_MAP_FULL instead of failing") {
  test::TempDir dir;
  auto j = open_journal(dir.path(), 1 << 20);  // 1 MiB, like LMDB's default
  const std::size_t before = j.map_size();
  for (int i = 0; i < 400; ++i) {
    TxRecord r = record(std::string(16 * 1024, 'x'));
    REQUIRE(j.insert(r).ok());
  }
  CHECK(j.map_size() > before);
  CHECK(j.list().value().size() == 400);
}

TEST_CASE("a record that does not decode is reported as corrupt, naming its id") {
  test::TempDir dir;
  {
    auto j = open_journal(dir.path());
    TxRecord r = record("fine");
    REQUIRE(j.insert(r).ok());
  }
  // Damage record 1 with raw LMDB calls.
  MDB_env* env = nullptr;
  REQUIRE(mdb_env_create(&env) == 0);
  mdb_env_set_maxdbs(env, 4);
  REQUIRE(mdb_env_open(env, dir.path().c_str(), 0, 0644) == 0);
  MDB_txn* txn = nullptr;
  REQUIRE(mdb_txn_begin(env, nullptr, 0, &txn) == 0);
  MDB_dbi dbi;
  REQUIRE(mdb_dbi_open(txn, "records", 0, &dbi) == 0);
  std::string key = journal::encode_key(1);
  std::string garbage = "\x01\x02garbage";
  MDB_val k{key.size(), key.data()}, v{garbage.size(), garbage.data()};
  REQUIRE(mdb_put(txn, dbi, &k, &v, 0) == 0);
  REQUIRE(mdb_txn_commit(txn) == 0);
  mdb_env_close(env);

  auto j = open_journal(dir.path());
  auto all = j.list();
  REQUIRE_FALSE(all.ok());
  CHECK(all.error().kind == ErrorKind::corrupt_journal);
  CHECK(all.error().message.find("journal record 1") != std::string::npos);
  auto one = j.get(1);
  REQUIRE_FALSE(one.ok());
  CHECK(one.error().kind == ErrorKind::corrupt_journal);
}

TEST_CASE("two journals on one directory in one process share one LMDB environment") {
  test::TempDir dir;
  auto first = journal::Journal::open(dir.path(), false, true);
  REQUIRE(first.ok());
  {
    auto second = journal::Journal::open(dir.path() + "/", false, false);  // same dir, spelled
    REQUIRE(second.ok());                                                  // differently
    TxRecord r = record("from second");
    REQUIRE(second.value().insert(r).ok());
    CHECK(r.id == 1);
  }  // closing the second must not disturb the first
  TxRecord r = record("from first");
  REQUIRE(first.value().insert(r).ok());
  CHECK(r.id == 2);
  auto ro = journal::Journal::open(dir.path(), true, true);  // shares the read-write handle
  REQUIRE(ro.ok());
  CHECK(ro.value().list().value().size() == 2);
}
