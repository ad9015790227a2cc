#include "mixed_workload.hpp"

#include <git2.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <optional>
#include <stdexcept>

#include "process.hpp"
#include "reftx/reftx.hpp"

namespace reftx_bench {
namespace {

void check(const char* call, int rc) {
  if (rc >= 0) return;
  const git_error* e = git_error_last();  // may be NULL in libgit2 1.5
  throw std::runtime_error(
      std::string(call) + " failed: " +
      (e != nullptr && e->message != nullptr ? e->message : "error " + std::to_string(rc)));
}

std::string hex_of(const git_oid& id) {
  char hex[GIT_OID_HEXSZ + 1];
  git_oid_tostr(hex, sizeof hex, &id);
  return hex;
}

// A libgit2 handle on the repository for the lifetime of one call.
class Git {
 public:
  explicit Git(const std::string& git_dir) {
    git_libgit2_init();
    const int rc = git_repository_open(&repo_, git_dir.c_str());
    if (rc < 0) {
      git_libgit2_shutdown();
      check("git_repository_open", rc);
    }
  }
  ~Git() {
    git_repository_free(repo_);
    git_libgit2_shutdown();
  }
  Git(const Git&) = delete;
  Git& operator=(const Git&) = delete;

  std::string write_blob(const std::string& content) {
    git_oid id;
    check("git_blob_create_from_buffer",
          git_blob_create_from_buffer(&id, repo_, content.data(), content.size()));
    return hex_of(id);
  }

  // Target of `name`; empty if it does not exist.
  std::string read_ref(const std::string& name) {
    git_oid id;
    const int rc = git_reference_name_to_id(&id, repo_, name.c_str());
    if (rc == GIT_ENOTFOUND) return {};
    check("git_reference_name_to_id", rc);
    return hex_of(id);
  }

 private:
  git_repository* repo_ = nullptr;
};

// Blob id of the file at `path`; empty if it does not exist.
std::string hash_file(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 && errno == ENOENT) return {};
  git_oid id;
  check("git_odb_hashfile", git_odb_hashfile(&id, path.c_str(), GIT_OBJECT_BLOB));
  return hex_of(id);
}

// Text padded with `fill` to `width` bytes, the last one a newline when `newline`.
std::string padded(std::string text, std::size_t width, char fill, bool newline) {
  text.resize(newline ? width - 1 : width, fill);
  if (newline) text.push_back('\n');
  return text;
}

std::string file_content(int side, int index) {
  std::string content;
  content.reserve(kMixedFileBytes);
  for (int line = 0; content.size() < kMixedFileBytes; ++line) {
    char head[64];
    std::snprintf(head, sizeof head, "side %c, file %02d, line %02d: ", 'A' + side, index, line);
    content += padded(head, 64, '.', true);
  }
  content.resize(kMixedFileBytes);
  return content;
}

std::string key_value(int side, int index) {
  char head[64];
  std::snprintf(head, sizeof head, "side %c, key %02d, ", 'A' + side, index);
  return padded(head, kMixedValueBytes, '-', false);
}

std::string numbered(const std::string& prefix, int index, const std::string& suffix = {}) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%02d", index);
  return prefix + buf + suffix;
}

// The side s (0/1) with values[i] == side_value(s, i) for every i; throws if there is none.
template <typename SideValue>
int common_side(const std::vector<std::string>& values, const std::vector<std::string>& names,
                const SideValue& side_value) {
  std::optional<int> side;
  for (std::size_t i = 0; i < values.size(); ++i) {
    int here = -1;
    for (int s : {0, 1}) {
      if (values[i] == side_value(s, i)) here = s;
    }
    if (here < 0) throw std::runtime_error(names[i] + " holds neither side of the workload");
    if (side && *side != here) {
      throw std::runtime_error("mixed transaction not all-or-nothing: " + names[i] +
                               " differs from " + names.front());
    }
    side = here;
  }
  return side.value_or(0);
}

}  // namespace

MixedWorkload make_mixed_workload(const Fixture& fixture, const std::string& ref_prefix,
                                  const std::vector<std::string>& commits) {
  if (commits.size() != 2) throw std::runtime_error("the mixed workload needs two commits");
  MixedWorkload w;
  w.work_dir = fixture.work_dir;
  w.state_file = fixture.git_dir + "/reftx-bench-tool-state";
  for (int i = 0; i < kMixedRefs; ++i) w.refs.push_back(numbered(ref_prefix + "/mixed/r", i));
  for (int i = 0; i < kMixedFiles; ++i) w.paths.push_back(numbered("mixed/f", i, ".txt"));
  for (int i = 0; i < kMixedKeys; ++i) w.keys.push_back(numbered("bench/mixed/k", i));
  Git git(fixture.git_dir);
  for (int side : {0, 1}) {
    MixedSide& s = w.sides[static_cast<std::size_t>(side)];
    s.commit = commits[static_cast<std::size_t>(side)];
    for (int i = 0; i < kMixedFiles; ++i) {
      s.contents.push_back(file_content(side, i));
      s.blobs.push_back(git.write_blob(s.contents.back()));
    }
    for (int i = 0; i < kMixedKeys; ++i) s.values.push_back(key_value(side, i));
  }
  return w;
}

void install_mixed_side0(const MixedWorkload& workload, const Fixture& fixture,
                         const Tools& tools) {
  const MixedSide& side = workload.sides[0];
  std::string script;
  for (const std::string& ref : workload.refs) script += "update " + ref + " " + side.commit + "\n";
  const int status =
      run_process({tools.git, "--git-dir=" + fixture.git_dir, "update-ref", "--stdin"}, script);
  if (status != 0) throw std::runtime_error("creating the mixed benchmark refs failed");
  const std::string dir = workload.work_dir + "/mixed";
  if (::mkdir(dir.c_str(), 0777) != 0 && errno != EEXIST) {
    throw std::runtime_error("cannot create '" + dir + "': " + std::strerror(errno));
  }
  for (std::size_t i = 0; i < workload.paths.size(); ++i) {
    const std::string path = workload.work_dir + "/" + workload.paths[i];
    std::FILE* f = std::fopen(path.c_str(), "wb");
    if (f == nullptr) throw std::runtime_error("cannot create '" + path + "'");
    const bool ok = std::fwrite(side.contents[i].data(), 1, side.contents[i].size(), f) ==
                    side.contents[i].size();
    if (std::fclose(f) != 0 || !ok) throw std::runtime_error("cannot write '" + path + "'");
  }
  std::FILE* f = std::fopen(workload.state_file.c_str(), "wb");
  if (f == nullptr) throw std::runtime_error("cannot create '" + workload.state_file + "'");
  const std::string state = state_file_content(workload, 0);
  const bool ok = std::fwrite(state.data(), 1, state.size(), f) == state.size();
  if (std::fclose(f) != 0 || !ok) throw std::runtime_error("cannot write the state file");
}

MixedPosition read_mixed_position(const MixedWorkload& workload, const Fixture& fixture) {
  Git git(fixture.git_dir);
  std::vector<std::string> targets, blobs;
  for (const std::string& ref : workload.refs) targets.push_back(git.read_ref(ref));
  for (const std::string& path : workload.paths) {
    blobs.push_back(hash_file(workload.work_dir + "/" + path));
  }
  MixedPosition position;
  position.refs = common_side(targets, workload.refs, [&](int s, std::size_t) {
    return workload.sides[static_cast<std::size_t>(s)].commit;
  });
  position.files = common_side(blobs, workload.paths, [&](int s, std::size_t i) {
    return workload.sides[static_cast<std::size_t>(s)].blobs[i];
  });
  return position;
}

void check_reftx_keys(const MixedWorkload& workload, const Fixture& fixture) {
  reftx::Options options;
  options.read_only = true;
  auto store = reftx::Store::open(fixture.work_dir, options);
  if (!store) {
    if (store.error().kind == reftx::ErrorKind::not_found) return;  // no reftx variant ran
    throw std::runtime_error("reftx::Store::open: " + store.error().describe());
  }
  std::vector<std::string> values;
  for (const std::string& key : workload.keys) {
    auto value = store.value().get_state(key);
    if (!value) throw std::runtime_error("reftx get_state: " + value.error().describe());
    if (value.value()) values.push_back(*value.value());
  }
  if (values.empty()) return;
  if (values.size() != workload.keys.size()) {
    throw std::runtime_error("mixed transaction not all-or-nothing: some reftx keys missing");
  }
  common_side(values, workload.keys, [&](int s, std::size_t i) {
    return workload.sides[static_cast<std::size_t>(s)].values[i];
  });
}

std::string state_file_content(const MixedWorkload& workload, int side) {
  std::string content;
  const MixedSide& s = workload.sides[static_cast<std::size_t>(side)];
  for (std::size_t i = 0; i < workload.keys.size(); ++i) {
    content += workload.keys[i] + "=" + s.values[i] + "\n";
  }
  return content;
}

}  // namespace reftx_bench
