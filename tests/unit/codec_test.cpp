#include <doctest/doctest.h>

#include "journal/record_codec.hpp"

using namespace reftx;

namespace {

TxRecord sample() {
  TxRecord r;
  r.id = 42;
  r.state = TxState::committing;
  r.message = std::string("multi\nline \xe2\x9c\x93 \0 nul", 20);
  r.created_ns = 1795692216415155672;
  r.updated_ns = 1795692216418712878;
  r.owner_pid = 4242;
  r.owner = "abcdef";
  r.reason = "because";
  RefRecord a;
  a.name = "refs/heads/a";
  a.op = RefOp::update;
  a.expected_old = std::string(40, 'b');
  a.old_oid = std::string(40, 'b');
  a.old_known = true;
  a.new_oid = std::string(40, 'c');
  RefRecord d;
  d.name = "refs/tags/v1";
  d.op = RefOp::remove;
  d.old_oid = kZeroOid;
  d.new_oid = kZeroOid;
  r.refs = {a, d};
  r.conflicts = {"refs/heads/x: changed"};
  return r;
}

}  // namespace

TEST_CASE("a record survives encode/decode unchanged") {
  TxRecord in = sample();
  auto out = journal::decode_record(42, journal::encode_record(in));
  REQUIRE(out.ok());
  const TxRecord& r = out.value();
  CHECK(r.id == 42);
  CHECK(r.state == TxState::committing);
  CHECK(r.message == in.message);
  CHECK(r.created_ns == in.created_ns);
  CHECK(r.updated_ns == in.updated_ns);
  CHECK(r.owner_pid == 4242);
  CHECK(r.owner == "abcdef");
  CHECK(r.reason == "because");
  REQUIRE(r.refs.size() == 2);
  CHECK(r.refs[0].name == "refs/heads/a");
  CHECK(r.refs[0].expected_old == in.refs[0].expected_old);
  CHECK(r.refs[0].old_known);
  CHECK(r.refs[0].new_oid == in.refs[0].new_oid);
  CHECK(r.refs[1].op == RefOp::remove);
  CHECK_FALSE(r.refs[1].expected_old.has_value());
  CHECK_FALSE(r.refs[1].old_known);
  CHECK(r.conflicts == in.conflicts);
}

TEST_CASE("every truncation of a record is reported as corrupt, never read past the end") {
  const std::string bytes = journal::encode_record(sample());
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    auto r = journal::decode_record(7, std::string_view(bytes).substr(0, n));
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().kind == ErrorKind::corrupt_journal);
    CHECK(r.error().message.find("journal record 7 is corrupt") != std::string::npos);
  }
}

TEST_CASE("unknown versions, states, operations and trailing bytes are corrupt") {
  std::string bytes = journal::encode_record(sample());
  SUBCASE("version") {
    bytes[0] = 9;
    auto r = journal::decode_record(1, bytes);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message.find("unknown format version 9") != std::string::npos);
  }
  SUBCASE("state") {
    bytes[1] = 0;
    CHECK_FALSE(journal::decode_record(1, bytes).ok());
    bytes[1] = 6;
    CHECK_FALSE(journal::decode_record(1, bytes).ok());
  }
  SUBCASE("trailing") {
    bytes += "x";
    auto r = journal::decode_record(1, bytes);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message.find("trailing bytes") != std::string::npos);
  }
  SUBCASE("huge ref count") {
    TxRecord empty;
    std::string b = journal::encode_record(empty);
    // ref count is the u32 right before the conflict count (last 8 bytes)
    b[b.size() - 8] = '\xff';
    b[b.size() - 7] = '\xff';
    b[b.size() - 6] = '\xff';
    b[b.size() - 5] = '\x7f';
    auto r = journal::decode_record(1, b);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().kind == ErrorKind::corrupt_journal);
  }
}

TEST_CASE("keys are big-endian so LMDB order is id order") {
  CHECK(journal::encode_key(1) < journal::encode_key(2));
  CHECK(journal::encode_key(255) < journal::encode_key(256));
  CHECK(journal::encode_key(0xffffffffULL) < journal::encode_key(0x100000000ULL));
  auto id = journal::decode_key(journal::encode_key(0x0102030405060708ULL));
  REQUIRE(id.ok());
  CHECK(id.value() == 0x0102030405060708ULL);
  CHECK_FALSE(journal::decode_key("short").ok());
}
