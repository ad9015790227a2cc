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
                            "\ncreate refs/heads/c " + A +
                            "\ndelete refs/heads/d\ndelete refs/heads/e " + B +
                            "\nverify refs/heads/f\nverify refs/heads/g " + A + "\n",
                        false);
  REQUIRE(r.ok());
  const auto& c = r.value().refs;
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
  CHECK(r.value().refs[0].new_oid == A);
}

TEST_CASE("C-quoted ref names are unquoted as in git") {
  auto r = parse_script("update \"refs/heads/\\303\\251t\\303\\251\" " + A + "\n", false);
  REQUIRE(r.ok());
  CHECK(r.value().refs[0].name == "refs/heads/\xc3\xa9t\xc3\xa9");
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
                       "create refs/heads/c\0"s + B + "\0"s + "delete refs/heads/d\0"s + A + "\0"s +
                       "verify refs/heads/v\0\0"s;
  auto r = parse_script(script, true);
  REQUIRE(r.ok());
  const auto& c = r.value().refs;
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

TEST_CASE("file verbs: blob, old blob and mode in any combination, C-quoted paths") {
  auto r = parse_script("write a/b.txt " + A + "\nwrite run.sh " + A + " mode=100755\nwrite c " +
                            A + " " + B + "\nwrite d " + A + " " + B +
                            " mode=100644\nremove e\n"
                            "remove f " +
                            B + "\nwrite \"sp ace/\\303\\251\" " + A + "\n",
                        false);
  REQUIRE(r.ok());
  const auto& f = r.value().files;
  REQUIRE(f.size() == 7);
  CHECK(f[0].path == "a/b.txt");
  CHECK(f[0].new_blob == A);
  CHECK(f[0].mode == 0);
  CHECK_FALSE(f[0].expected_old.has_value());
  CHECK(f[1].mode == 0100755);
  CHECK(f[2].expected_old == B);
  CHECK(f[3].mode == 0100644);
  CHECK(f[3].expected_old == B);
  CHECK(f[4].new_blob == kZeroOid);
  CHECK(f[5].expected_old == B);
  CHECK(f[6].path == "sp ace/\xc3\xa9");
  CHECK(f[6].line == 7);
}

TEST_CASE("state verbs: the value is the rest of the line, verbatim") {
  auto r = parse_script("set jin/staging a b  c\nset empty \nunset gone\n", false);
  REQUIRE(r.ok());
  const auto& k = r.value().keys;
  REQUIRE(k.size() == 3);
  CHECK(k[0].key == "jin/staging");
  CHECK(k[0].value == "a b  c");
  CHECK(k[1].value == "");
  CHECK_FALSE(k[2].value.has_value());
  CHECK(k[2].line == 3);
}

TEST_CASE("file and state verbs: syntax errors name the line") {
  CHECK(parse_error("write a\n").message.find("missing blob") != std::string::npos);
  CHECK(parse_error("write\n").message.find("missing path") != std::string::npos);
  CHECK(parse_error("write a xyz\n").message.find("bad blob value 'xyz'") != std::string::npos);
  CHECK(parse_error("write a " + A + " zz\n").message.find("bad old value") != std::string::npos);
  CHECK(parse_error("write a " + A + " mode=100600\n").message.find("bad mode") !=
        std::string::npos);
  CHECK(
      parse_error("write a " + A + " " + B + " " + A + " mode=100755\n").message.find("too many") !=
      std::string::npos);
  CHECK(parse_error("remove a " + A + " " + B + "\n").message.find("too many") !=
        std::string::npos);
  CHECK(parse_error("set\n").message.find("missing key") != std::string::npos);
  CHECK(parse_error("set k\n").message.find("missing value") != std::string::npos);
  CHECK(parse_error("update refs/heads/a " + A + "\nunset\n").line == 2);
  CHECK(parse_error("unset k v\n").message.find("too many") != std::string::npos);
}

TEST_CASE("-z file and state verbs carry raw bytes") {
  using namespace std::string_literals;
  std::string script = "write dir/new\nline\0"s + A + "\0\0mode=100755\0"s + "remove x\0\0"s +
                       "set k\0two\nlines \"q\"\0"s + "unset k2\0"s;
  auto r = parse_script(script, true);
  REQUIRE(r.ok());
  REQUIRE(r.value().files.size() == 2);
  CHECK(r.value().files[0].path == "dir/new\nline");
  CHECK(r.value().files[0].mode == 0100755);
  CHECK_FALSE(r.value().files[0].expected_old.has_value());
  CHECK(r.value().files[1].new_blob == kZeroOid);
  REQUIRE(r.value().keys.size() == 2);
  CHECK(r.value().keys[0].value == "two\nlines \"q\"");
  CHECK_FALSE(r.value().keys[1].value.has_value());
  CHECK(parse_error("write a\0"s + A + "\0"s, true).message.find("truncated") != std::string::npos);
  CHECK(parse_error("write a\0\0\0\0"s, true).message.find("missing blob") != std::string::npos);
}
