// Writes generated seed inputs for the fuzz targets into a corpus directory:
//   fuzz_seeds <dir> record   encoded journal records (refs, files, keys, every state)
//   fuzz_seeds <dir> journal  real data.mdb files written by the journal: empty, a few records,
//                             hundreds (several pages), with tool state
// Other target names: nothing to generate.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "journal/journal.hpp"
#include "journal/record_codec.hpp"

using namespace reftx;

namespace {

TxRecord sample(std::uint64_t n, TxState state) {
  TxRecord r;
  r.id = n;
  r.state = state;
  r.message = "seed " + std::to_string(n);
  r.created_ns = r.updated_ns = 1700000000000000000 + static_cast<std::int64_t>(n);
  r.owner = "0123456789abcdef01234567";
  r.refs.push_back(RefRecord{"refs/heads/b" + std::to_string(n), RefOp::update, kZeroOid, kZeroOid,
                             true, std::string(40, 'a')});
  if (n % 2 == 0) {
    r.work_tree = "/tmp/work";
    FileRecord f;
    f.path = "dir/file " + std::to_string(n);
    f.new_blob = std::string(40, 'b');
    f.new_mode = 0100755;
    f.created_dirs = {"dir"};
    r.files.push_back(f);
    r.keys.push_back(KeyRecord{"key" + std::to_string(n), std::string("old"), true, std::nullopt});
  }
  if (state == TxState::aborted) r.reason = "stale";
  return r;
}

void write(const std::filesystem::path& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

void records(const std::filesystem::path& dir) {
  const TxState states[] = {TxState::pending, TxState::committing, TxState::rolling_back,
                            TxState::committed, TxState::aborted};
  for (std::uint64_t n = 1; n <= 5; ++n) {
    write(dir / ("record-" + std::to_string(n)), journal::encode_record(sample(n, states[n - 1])));
  }
}

void journals(const std::filesystem::path& dir) {
  const int sizes[] = {0, 3, 300};
  for (int count : sizes) {
    const auto tmp =
        std::filesystem::temp_directory_path() /
        ("reftx-fuzz-seed-" + std::to_string(::getpid()) + "-" + std::to_string(count));
    std::filesystem::remove_all(tmp);
    {
      auto j = journal::Journal::open(tmp.string(), false, false, 1 << 20);
      if (!j) std::exit(2);
      for (int i = 0; i < count; ++i) {
        TxRecord r = sample(0, TxState::pending);
        if (!j.value().insert(r).ok()) std::exit(2);
        r.state = TxState::committing;
        if (!j.value()
                 .put(r, {true, journal::LmdbEnv::Commit::durable, journal::StateStep::apply})
                 .ok()) {
          std::exit(2);
        }
      }
    }
    std::filesystem::copy_file(tmp / "data.mdb", dir / ("journal-" + std::to_string(count)),
                               std::filesystem::copy_options::overwrite_existing);
    std::filesystem::remove_all(tmp);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: fuzz_seeds <dir> <target>\n");
    return 2;
  }
  const std::filesystem::path dir = argv[1];
  const std::string target = argv[2];
  if (target == "record") records(dir);
  if (target == "journal") journals(dir);
  return 0;
}
