// The mixed transaction of reftx-bench: kMixedRefs refs, kMixedFiles work-tree files and
// kMixedKeys tool-state keys that every transaction moves together from one of two sides (A, B)
// to the other. Every file exists on both sides, so each transaction replaces all of them.
#pragma once

#include <array>
#include <cstddef>
#include <string>
#include <vector>

#include "variants.hpp"

namespace reftx_bench {

inline constexpr int kMixedRefs = 10;
inline constexpr int kMixedFiles = 10;
inline constexpr int kMixedKeys = 10;
inline constexpr std::size_t kMixedFileBytes = 4096;
inline constexpr std::size_t kMixedValueBytes = 64;

// The value of everything the workload changes, on one side.
struct MixedSide {
  std::string commit;                 // every ref's value
  std::vector<std::string> contents;  // file i's content, kMixedFileBytes of text
  std::vector<std::string> blobs;     // blob id of contents[i], present in the object database
  std::vector<std::string> values;    // key i's value, kMixedValueBytes, no newline
};

struct MixedWorkload {
  std::vector<std::string> refs;   // full names, under <ref-prefix>/mixed/
  std::vector<std::string> paths;  // relative to the work tree, all in one directory
  std::vector<std::string> keys;   // tool-state keys
  std::array<MixedSide, 2> sides;
  std::string work_dir;    // absolute work tree
  std::string state_file;  // absolute path of the by-hand variants' tool-state file (git dir)
};

// Which side (0 or 1) each part holds. `keys` is bookkeeping only: neither reftx `set` nor the
// by-hand state file checks an old value, and the two keep separate copies of the keys.
struct MixedPosition {
  int refs = 0;
  int files = 0;
  int keys = 0;
};

// The workload of `fixture`, its refs alternating between `commits` (two ids). Stores the file
// blobs in the object database (a no-op when they exist). Throws std::runtime_error on failure.
MixedWorkload make_mixed_workload(const Fixture& fixture, const std::string& ref_prefix,
                                  const std::vector<std::string>& commits);

// Puts the refs, the files and the by-hand state file at side 0 (no fsync: setup only).
void install_mixed_side0(const MixedWorkload& workload, const Fixture& fixture, const Tools& tools);

// The sides the refs and the files hold now (keys: 0). Throws std::runtime_error if a ref or a
// file holds neither side, or if the refs (the files) do not all hold the same side.
MixedPosition read_mixed_position(const MixedWorkload& workload, const Fixture& fixture);

// Throws std::runtime_error unless the reftx tool-state keys are all absent or all hold the
// values of one side. Opens the journal read-only: call with no Store of this process open.
void check_reftx_keys(const MixedWorkload& workload, const Fixture& fixture);

// The by-hand state file's content on side `side`: "<key>=<value>\n" per key.
std::string state_file_content(const MixedWorkload& workload, int side);

}  // namespace reftx_bench
