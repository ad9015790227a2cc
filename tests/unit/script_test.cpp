#include <doctest/doctest.h>

#include "reftx/script.hpp"

using namespace reftx;

namespace {
const std::string A(40, 'a');
const std::string B(40, 'b');

Error parse_error(std::string_view script, bool z = false) {
  auto r = parse_script(script, z);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().kind == ErrorKind::invalid_input);
  return r.error();
}
}  // namespace

TEST_CASE("text scripts parse every verb with and without old values") {
  auto r = parse_script("update refs/heads/a " + A + " " + B + "\nupdate refs/heads/b " + A +
                            "\ncreate refs/heads/c " + A + "\ndelete refs/heads/d\ndelete refs/heads/e " +
                            B + "\nverify refs/heads/f\nverify refs/heads/g " + A + "\n",
                        false);
  REQUIRE(r.ok());
  const auto& c = r.value();
  REQUIRE(c.size() == 7);
  CHECK(c[0].op == RefOp::update);
  CHECK(c[0].expected_old == B);
  CHECK(c[0].line == 1);
  CHECK_FALSE(c[1].expected_old.has_value());
  CHECK(c[2].op == RefOp::create);
  CHECK(c[3].op == RefOp::remove);
  CHECK_FALSE(c[3].expected_old.has_value());
  CHECK(c[4].expected_old == B);
  CHECK(c[5].op == RefOp::verify);
  CHECK_FALSE(c[5].expected_old.has_value());
  CHECK(c[6].expected_old == A);
  CHECK(c[6].line == 7);
}

TEST_CASE("uppercase oids are normalized, a missing final newline is fine") {
  auto r = parse_script("update refs/heads/a " + std::string(40, 'A'), false);
  REQUIRE(r.ok());
  CHECK(r.value()[0].new_oid == A);
}

TEST_CASE("C-quoted ref names are unquoted as in git") {
  auto r = parse_script("update \"refs/heads/\\303\\251t\\303\\251\" " + A + "\n", false);
  REQUIRE(r.ok());
  CHECK(r.value()[0].name == "refs/heads/\xc3\xa9t\xc3\xa9");
  CHECK(parse_error("update \"refs/heads/x " + A + "\n").line == 1);
}

TEST_CASE("syntax errors name the line and the problem") {
  CHECK(parse_error("").message.find("empty script") != std::string::npos);
  Error e = parse_error("update refs/heads/a " + A + "\nfrobnicate refs/heads/b\n");
  CHECK(e.line == 2);
  CHECK(e.message.find("unknown command 'frobnicate'") != std::string::npos);
  CHECK(parse_error("update refs/heads/a 1234\n").message.find("bad new value '1234'") !=
        std::string::npos);
  CHECK(parse_error("update refs/heads/a " + A + " xyz\n").message.find("bad old value") !=
        std::string::npos);
  CHECK(parse_error("update refs/heads/a\n").message.find("missing new value") !=
        std::string::npos);
  CHECK(parse_error("create refs/heads/a " + A + " " + B + "\n").message.find("too many") !=
        std::string::npos);
  CHECK(parse_error("delete\n").message.find("missing ref name") != std::string::npos);
  CHECK(parse_error("update refs/heads/a " + A + "\n\nverify refs/heads/b\n").line == 2);
  CHECK(parse_error("start\n").message.find("not supported") != std::string::npos);
  CHECK(parse_error("update refs/heads/a  " + A + "\n").message.find("empty argument") !=
        std::string::npos);
}

TEST_CASE("-z scripts use git's NUL-separated layout") {
  using namespace std::string_literals;
  std::string script = "update refs/heads/with space\0"s + A + "\0"s + "\0"s +
                       "create refs/heads/c\0"s + B + "\0"s + "delete refs/heads/d\0"s + A +
                       "\0"s + "verify refs/heads/v\0\0"s;
  auto r = parse_script(script, true);
  REQUIRE(r.ok());
  const auto& c = r.value();
  REQUIRE(c.size() == 4);
  CHECK(c[0].name == "refs/heads/with space");
  CHECK_FALSE(c[0].expected_old.has_value());
  CHECK(c[1].new_oid == B);
  CHECK(c[2].expected_old == A);
  CHECK(c[3].op == RefOp::verify);
  CHECK(c[3].line == 4);

  Error e = parse_error("update refs/heads/a\0"s + A + "\0"s, true);
  CHECK(e.message.find("truncated") != std::string::npos);
  CHECK(parse_error("bogus refs/heads/a\0"s, true).message.find("unknown command") !=
        std::string::npos);
}
