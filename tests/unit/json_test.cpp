#include <doctest/doctest.h>

#include "json.hpp"

using namespace reftx;

TEST_CASE("json strings keep valid UTF-8 and escape what JSON requires") {
  CHECK(cli::json_string("plain") == "\"plain\"");
  CHECK(cli::json_string("q\"b\\") == "\"q\\\"b\\\\\"");
  CHECK(cli::json_string("a\nb\tc\x01") == "\"a\\nb\\tc\\u0001\"");
  CHECK(cli::json_string("\xe2\x9c\x93 \xf0\x9f\x98\x80") == "\"\xe2\x9c\x93 \xf0\x9f\x98\x80\"");
  CHECK(cli::json_string(std::string("nul\0x", 5)) == "\"nul\\u0000x\"");
  CHECK(cli::json_string("bad\xff") == "\"bad\\ufffd\"");
  CHECK(cli::json_string("\xc0\xaf") == "\"\\ufffd\\ufffd\"");  // overlong '/'
}

TEST_CASE("record json carries id as a string, refs, reason and times") {
  TxRecord r;
  r.id = 12;
  r.state = TxState::aborted;
  r.message = "m";
  r.reason = "is at X but expected Y";
  r.created_ns = 0;
  RefRecord ref;
  ref.name = "refs/heads/a";
  ref.old_oid = kZeroOid;
  ref.old_known = true;
  ref.new_oid = std::string(40, 'a');
  r.refs.push_back(ref);
  RefRecord v;
  v.name = "refs/heads/v";
  v.op = RefOp::verify;
  v.expected_old = kZeroOid;
  r.refs.push_back(v);
  std::string j = cli::record_json(r);
  CHECK(j.find("\"id\":\"12\"") != std::string::npos);
  CHECK(j.find("\"state\":\"aborted\"") != std::string::npos);
  CHECK(j.find("\"reason\":\"is at X but expected Y\"") != std::string::npos);
  CHECK(j.find("\"refs\":[{\"name\":\"refs/heads/a\",\"op\":\"update\",\"old\":\"" + kZeroOid) !=
        std::string::npos);
  CHECK(j.find("\"verified\":[{\"name\":\"refs/heads/v\"") != std::string::npos);
  CHECK(j.find("\"created\":\"1970-01-01T00:00:00.000000Z\"") != std::string::npos);
  CHECK(j.find('\n') == std::string::npos);
}
