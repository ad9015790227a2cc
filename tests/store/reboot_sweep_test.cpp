// The first recovery after a reboot removes what finished transactions of the previous boot
// provably left behind (src/core/leftovers.hpp), and nothing else. The boots are given to the
// sweep explicitly: a test cannot reboot the machine.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "core/leftovers.hpp"
#include "core/record_states.hpp"
#include "core/work_tree.hpp"
#include "support/temp_repo.hpp"

using namespace reftx;
namespace fs = std::filesystem;

namespace {

constexpr std::int64_t kSecond = 1000000000;

std::int64_t now_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * kSecond + ts.tv_nsec;
}

// Writes `content` to `path` with the modification time `mtime_ns`.
void plant(const std::string& path, const std::string& content, std::int64_t mtime_ns) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path) << content;
  timespec times[2] = {{mtime_ns / kSecond, mtime_ns % kSecond},
                       {mtime_ns / kSecond, mtime_ns % kSecond}};
  REQUIRE(::utimensat(AT_FDCWD, path.c_str(), times, 0) == 0);
}

// A terminal record of the previous boot: refs/heads/x created, refs/heads/y updated, one file.
TxRecord previous_boot_record(const test::TempRepo& repo, std::int64_t created_ns) {
  const auto& c = repo.commits();
  TxRecord r;
  r.message = "before the reboot";
  r.created_ns = created_ns;
  r.refs.push_back(RefRecord{"refs/heads/x", RefOp::create, kZeroOid, kZeroOid, true, c[1]});
  r.refs.push_back(RefRecord{"refs/heads/y", RefOp::update, std::nullopt, c[0], true, c[2]});
  r.work_tree = repo.path();
  FileRecord f;
  f.path = "conf/app.toml";
  f.new_blob = std::string(40, 'b');
  r.files.push_back(f);
  return r;
}

}  // namespace

TEST_CASE("after a reboot the previous boot's finished transactions lose their leftovers") {
  test::TempRepo repo;
  const std::string journal_dir = repo.git_dir() + "/reftx";
  auto j = journal::Journal::open(journal_dir, false, true, 1 << 20);
  REQUIRE(j.ok());
  auto git_repo = git::Repository::discover(repo.path());
  REQUIRE(git_repo.ok());
  const std::int64_t now = now_ns();
  const core::RebootFacts first_boot{"boot-a", now - 3600 * kSecond};
  const core::RebootFacts second_boot{"boot-b", now - 60 * kSecond};

  // The first recovery of a boot only records it.
  auto first = core::sweep_after_reboot(j.value(), git_repo.value(), true, first_boot);
  REQUIRE(first.ok());
  CHECK_FALSE(first.value().swept);

  TxRecord rec = previous_boot_record(repo, now - 600 * kSecond);
  REQUIRE(core::record_new(j.value(), rec).ok());
  REQUIRE(core::advance(j.value(), rec, core::Move::abort).ok());
  const auto& c = repo.commits();
  const std::string g = repo.git_dir() + "/";
  const std::int64_t before_reboot = now - 300 * kSecond;
  // Its leftovers: a lock holding its new value, an empty one, its temp, packed-refs.lock.
  plant(g + "refs/heads/x.lock", c[1] + "\n", before_reboot);
  plant(g + "refs/heads/y.lock", "", before_reboot);
  const std::string temp = repo.path() + "/conf/" + core::temp_name(rec.id, 0);
  plant(temp, "staged", before_reboot);
  plant(g + "packed-refs.lock", "", before_reboot);
  // Not its leftovers: another transaction's temp, a lock of a ref it does not name, a lock of
  // its ref with a foreign value, and a lock taken in this boot (a live writer may hold it).
  const std::string other_temp = repo.path() + "/conf/" + core::temp_name(rec.id + 1, 0);
  plant(other_temp, "staged", before_reboot);
  plant(g + "refs/heads/z.lock", c[1] + "\n", before_reboot);

  auto swept = core::sweep_after_reboot(j.value(), git_repo.value(), true, second_boot);
  REQUIRE(swept.ok());
  CHECK(swept.value().swept);
  CHECK(swept.value().removed.size() == 4);
  CHECK_FALSE(fs::exists(g + "refs/heads/x.lock"));
  CHECK_FALSE(fs::exists(g + "refs/heads/y.lock"));
  CHECK_FALSE(fs::exists(temp));
  CHECK_FALSE(fs::exists(g + "packed-refs.lock"));
  CHECK(fs::exists(other_temp));
  CHECK(fs::exists(g + "refs/heads/z.lock"));

  SUBCASE("a boot already seen sweeps nothing") {
    plant(g + "refs/heads/x.lock", c[1] + "\n", before_reboot);
    auto again = core::sweep_after_reboot(j.value(), git_repo.value(), true, second_boot);
    REQUIRE(again.ok());
    CHECK_FALSE(again.value().swept);
    CHECK(fs::exists(g + "refs/heads/x.lock"));
  }
  SUBCASE("locks of this boot, foreign values and files older than the record stay") {
    const core::RebootFacts third_boot{"boot-c", now - 10 * kSecond};
    plant(g + "refs/heads/x.lock", c[1] + "\n", now - 5 * kSecond);  // taken in this boot
    plant(g + "refs/heads/y.lock", c[0] + "x\n", before_reboot);     // not one of its values
    plant(g + "packed-refs.lock", "", now - 900 * kSecond);          // older than the record
    auto third = core::sweep_after_reboot(j.value(), git_repo.value(), true, third_boot);
    REQUIRE(third.ok());
    CHECK(third.value().swept);
    CHECK(third.value().removed.empty());
    CHECK(fs::exists(g + "refs/heads/x.lock"));
    CHECK(fs::exists(g + "refs/heads/y.lock"));
    CHECK(fs::exists(g + "packed-refs.lock"));
  }
}
