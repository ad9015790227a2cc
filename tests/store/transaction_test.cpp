// Library API: transactions against real repositories, the real git binary and LMDB.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "reftx/reftx.hpp"
#include "support/temp_repo.hpp"

using namespace reftx;
using test::TempRepo;

namespace {

Store open_store(const TempRepo& repo, Options options = {}) {
  auto store = Store::open(repo.path(), options);
  REQUIRE_MESSAGE(store.ok(), store.error().message);
  return std::move(store).value();
}

std::size_t journal_size(Store& store) {
  auto all = store.list();
  REQUIRE(all.ok());
  return all.value().size();
}

void write_file(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary);
  out << content;
}

}  // namespace

TEST_CASE("a multi-ref transaction commits every ref and journals the real old values") {
  TempRepo repo;
  const auto& c = repo.commits();
  repo.git({"update-ref", "refs/heads/old", c[0]});
  repo.git({"update-ref", "refs/tags/gone", c[0]});
  Store store = open_store(repo);
  auto id = store.commit(
      Batch("first")
          .update("refs/heads/main", c[0], c[2])
          .update("refs/heads/old", c[1])  // no old value: not checked, still journaled
          .create("refs/heads/new", c[2])
          .remove("refs/tags/gone")
          .verify("refs/heads/absent"));
  REQUIRE_MESSAGE(id.ok(), id.error().message);
  CHECK(repo.ref("refs/heads/main") == c[0]);
  CHECK(repo.ref("refs/heads/old") == c[1]);
  CHECK(repo.ref("refs/heads/new") == c[2]);
  CHECK_FALSE(repo.ref("refs/tags/gone").has_value());
  CHECK(repo.lock_files().empty());

  auto rec = store.get(id.value());
  REQUIRE(rec.ok());
  CHECK(rec.value().state == TxState::committed);
  CHECK(rec.value().message == "first");
  REQUIRE(rec.value().refs.size() == 5);
  CHECK(rec.value().refs[1].old_oid == c[0]);
  CHECK(rec.value().refs[1].old_known);
  CHECK(rec.value().refs[2].old_oid == kZeroOid);
  CHECK(rec.value().refs[3].new_oid == kZeroOid);
  CHECK(rec.value().refs[3].old_oid == c[0]);
}

TEST_CASE("a failed precondition applies nothing and is journaled as aborted") {
  TempRepo repo;
  const auto& c = repo.commits();
  Store store = open_store(repo);
  auto id = store.commit(Batch()
                             .create("refs/heads/fresh", c[0])
                             .update("refs/heads/main", c[0], c[1]));  // main is at c[2]
  REQUIRE_FALSE(id.ok());
  CHECK(id.error().kind == ErrorKind::conflict);
  CHECK(id.error().transaction_id == 1);
  CHECK(id.error().message.find("expected") != std::string::npos);
  CHECK_FALSE(repo.ref("refs/heads/fresh").has_value());
  CHECK(repo.ref("refs/heads/main") == c[2]);
  CHECK(repo.lock_files().empty());
  auto rec = store.get(1);
  REQUIRE(rec.ok());
  CHECK(rec.value().state == TxState::aborted);
  CHECK(rec.value().reason.find("expected") != std::string::npos);
  CHECK(rec.value().refs[1].old_oid == c[2]);  // the value the ref really had

  SUBCASE("the store keeps working after git exited on the failure") {
    auto next = store.commit(Batch().update("refs/heads/main", c[0], c[2]));
    REQUIRE(next.ok());
    CHECK(next.value() == 2);
    CHECK(repo.ref("refs/heads/main") == c[0]);
  }
}

TEST_CASE("a ref locked by another writer aborts as locked and leaves that lock alone") {
  TempRepo repo;
  const auto& c = repo.commits();
  write_file(repo.git_dir() + "/refs/heads/main.lock", "");
  Store store = open_store(repo);
  auto id = store.commit(Batch().create("refs/heads/a", c[0]).update("refs/heads/main", c[0]));
  REQUIRE_FALSE(id.ok());
  CHECK_MESSAGE(id.error().kind == ErrorKind::locked, id.error().describe());
  CHECK(std::string(to_string(id.error().kind)) == "locked");
  CHECK_FALSE(repo.ref("refs/heads/a").has_value());
  CHECK(std::filesystem::exists(repo.git_dir() + "/refs/heads/main.lock"));
}

TEST_CASE("invalid input is refused before anything is recorded") {
  TempRepo repo;
  const auto& c = repo.commits();
  Store store = open_store(repo);
  auto expect_invalid = [&](const Batch& batch, const std::string& needle, int line) {
    auto id = store.commit(batch);
    REQUIRE_FALSE(id.ok());
    CHECK(id.error().kind == ErrorKind::invalid_input);
    CHECK_MESSAGE(id.error().message.find(needle) != std::string::npos, id.error().message);
    CHECK(id.error().line == line);
  };
  expect_invalid(Batch().update("refs/heads/ok", c[0]).update("heads/x", c[0]),
                 "must start with 'refs/'", 2);
  expect_invalid(Batch().update("refs/heads/a..b", c[0]), "not a valid ref name", 1);
  expect_invalid(Batch().update("refs/heads/x.lock", c[0]), "not a valid ref name", 1);
  expect_invalid(Batch().update("refs/heads/x", "1234"), "40 hex digits", 1);
  expect_invalid(Batch().update("refs/heads/x", std::string(40, '1')), "does not exist", 1);
  expect_invalid(Batch().update("refs/heads/x", c[0]).remove("refs/heads/x"), "more than once", 2);
  expect_invalid(Batch().create("refs/heads/x", kZeroOid), "null new value", 1);
  expect_invalid(Batch().remove("refs/heads/main", kZeroOid), "null old value", 1);
  expect_invalid(Batch(), "empty transaction", 0);
  repo.git({"symbolic-ref", "refs/heads/sym", "refs/heads/main"});
  expect_invalid(Batch().update("refs/heads/sym", c[0]), "symbolic ref", 1);
  CHECK(journal_size(store) == 0);
  CHECK(repo.ref("refs/heads/main") == c[2]);
}

TEST_CASE("a commit that git fails half-way is compensated: nothing stays applied") {
  // docs/facts.md: prepare locks a missing ref without stopping another writer from creating
  // refs/heads/n1/sub; git's commit then fails after applying the refs before it. A
  // reference-transaction hook plays that other writer, once.
  TempRepo repo;
  const auto& c = repo.commits();
  const std::string marker = repo.path() + "/clash-once";
  write_file(marker, "");
  const std::string hook = repo.git_dir() + "/hooks/reference-transaction";
  write_file(hook, "#!/bin/sh\nif [ \"$1\" = prepared ] && [ -f '" + marker + "' ]; then\n" +
                       "  rm -f '" + marker + "'\n  mkdir -p '" + repo.git_dir() +
                       "/refs/heads/n1'\n  echo " + c[1] + " > '" + repo.git_dir() +
                       "/refs/heads/n1/sub'\nfi\nexit 0\n");
  std::filesystem::permissions(hook, std::filesystem::perms::owner_all);

  Store store = open_store(repo);
  auto id = store.commit(
      Batch("clash").update("refs/heads/main", c[0], c[2]).create("refs/heads/n1", c[0]));
  REQUIRE_FALSE(id.ok());
  CHECK_MESSAGE(id.error().kind == ErrorKind::conflict, id.error().message);
  CHECK(repo.ref("refs/heads/main") == c[2]);  // compensated back to its old value
  CHECK_FALSE(repo.ref("refs/heads/n1").has_value());
  CHECK(repo.ref("refs/heads/n1/sub") == c[1]);  // the other writer's ref is untouched
  CHECK(repo.lock_files().empty());
  auto rec = store.get(id.error().transaction_id);
  REQUIRE(rec.ok());
  CHECK(rec.value().state == TxState::aborted);
  CHECK(rec.value().reason.find("rolled back") != std::string::npos);
}

TEST_CASE("bare repositories and a custom journal directory work") {
  TempRepo repo(2, /*bare=*/true);
  test::TempDir journal;
  Options options;
  options.journal_dir = journal.path() + "/j";
  Store store = open_store(repo, options);
  CHECK(store.journal_dir() == journal.path() + "/j");
  auto id = store.commit(Batch().update("refs/heads/main", repo.commits()[0]));
  REQUIRE(id.ok());
  CHECK(std::filesystem::exists(journal.path() + "/j/data.mdb"));
  CHECK_FALSE(std::filesystem::exists(repo.git_dir() + "/reftx"));
  CHECK(repo.ref("refs/heads/main") == repo.commits()[0]);
}

TEST_CASE("a read-only store reads the journal and refuses to commit") {
  TempRepo repo;
  {
    Store store = open_store(repo);
    REQUIRE(store.commit(Batch().update("refs/heads/x", repo.commits()[0])).ok());
  }
  Options options;
  options.read_only = true;
  Store ro = open_store(repo, options);
  CHECK(journal_size(ro) == 1);
  auto id = ro.commit(Batch().update("refs/heads/y", repo.commits()[0]));
  REQUIRE_FALSE(id.ok());
  CHECK(id.error().kind == ErrorKind::invalid_input);
}

TEST_CASE("one store shared by threads serializes their transactions") {
  TempRepo repo;
  const auto& c = repo.commits();
  Store store = open_store(repo);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 5; ++i) {
        auto id = store.commit(
            Batch().update("refs/heads/t" + std::to_string(t), c[static_cast<std::size_t>(i % 3)]));
        CHECK(id.ok());
      }
    });
  }
  for (auto& th : threads) th.join();
  auto all = store.list();
  REQUIRE(all.ok());
  CHECK(all.value().size() == 20);
  for (const TxRecord& r : all.value()) CHECK(r.state == TxState::committed);
}

TEST_CASE("opening a store outside a repository fails with an environment error") {
  test::TempDir dir;
  auto store = Store::open(dir.path());
  REQUIRE_FALSE(store.ok());
  CHECK(store.error().kind == ErrorKind::environment);
  CHECK(store.error().message.find("not a git repository") != std::string::npos);
}
