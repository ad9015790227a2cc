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
  r.work_tree = "/srv/project \xc3\xa9";
  FileRecord f;
  f.path = "config/app.toml";
  f.expected_old = std::string(40, 'd');
  f.old_blob = std::string(40, 'd');
  f.old_mode = 0100600;
  f.old_known = true;
  f.new_blob = std::string(40, 'e');
  f.requested_mode = 0100755;
  f.new_mode = 0100700;
  f.created_dirs = {"config", "config/sub"};
  FileRecord gone;
  gone.path = "old name";
  r.files = {f, gone};
  KeyRecord set;
  set.key = "jin/staging";
  set.old_value = std::string("a\0b", 3);
  set.old_known = true;
  set.new_value = "";
  KeyRecord unset;
  unset.key = "k";
  r.keys = {set, unset};
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
  CHECK(r.work_tree == in.work_tree);
  REQUIRE(r.files.size() == 2);
  CHECK(r.files[0].path == "config/app.toml");
  CHECK(r.files[0].expected_old == in.files[0].expected_old);
  CHECK(r.files[0].old_blob == in.files[0].old_blob);
  CHECK(r.files[0].old_mode == 0100600);
  CHECK(r.files[0].old_known);
  CHECK(r.files[0].new_blob == in.files[0].new_blob);
  CHECK(r.files[0].requested_mode == 0100755);
  CHECK(r.files[0].new_mode == 0100700);
  CHECK(r.files[0].created_dirs == in.files[0].created_dirs);
  CHECK_FALSE(r.files[1].expected_old.has_value());
  CHECK_FALSE(r.files[1].old_known);
  CHECK(r.files[1].new_blob == kZeroOid);
  REQUIRE(r.keys.size() == 2);
  CHECK(r.keys[0].key == "jin/staging");
  CHECK(r.keys[0].old_value == in.keys[0].old_value);
  CHECK(r.keys[0].old_known);
  CHECK(r.keys[0].new_value == "");
  CHECK_FALSE(r.keys[1].old_value.has_value());
  CHECK_FALSE(r.keys[1].old_known);
  CHECK_FALSE(r.keys[1].new_value.has_value());
}

TEST_CASE("format 1 records (refs only, written by reftx 0.1) are still read") {
  TxRecord in = sample();
  in.work_tree.clear();
  in.files.clear();
  in.keys.clear();
  std::string bytes = journal::encode_record(in);
  bytes[0] = 1;
  bytes.resize(bytes.size() - 12);  // format 2 appends work tree, file count, key count
  auto out = journal::decode_record(42, bytes);
  REQUIRE_MESSAGE(out.ok(), out.error().message);
  CHECK(out.value().refs.size() == 2);
  CHECK(out.value().conflicts == in.conflicts);
  CHECK(out.value().files.empty());
  CHECK(out.value().keys.empty());
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
    // ref count is the u32 before the conflict count, work tree, file and key counts
    b[b.size() - 20] = '\xff';
    b[b.size() - 19] = '\xff';
    b[b.size() - 18] = '\xff';
    b[b.size() - 17] = '\x7f';
    auto r = journal::decode_record(1, b);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().kind == ErrorKind::corrupt_journal);
    CHECK(r.error().message.find("ref count") != std::string::npos);
  }
  SUBCASE("huge file and key counts") {
    TxRecord empty;
    std::string b = journal::encode_record(empty);
    b[b.size() - 8] = '\x7f';  // file count
    CHECK_FALSE(journal::decode_record(1, b).ok());
    b = journal::encode_record(empty);
    b[b.size() - 1] = '\x7f';  // key count
    CHECK_FALSE(journal::decode_record(1, b).ok());
  }
  SUBCASE("unknown file and key flags") {
    TxRecord one;
    FileRecord f;
    f.path = "p";
    one.files = {f};
    std::string b = journal::encode_record(one);
    const std::size_t flags_at = b.find(std::string("\x01\x00\x00\x00p", 5)) + 5;
    b[flags_at] = '\x40';
    auto r = journal::decode_record(1, b);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message.find("unknown file flags") != std::string::npos);
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
