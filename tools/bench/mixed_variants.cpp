#include "mixed_variants.hpp"

#include <stdexcept>

#include "process.hpp"
#include "reftx/reftx.hpp"
#include "replace_file.hpp"

namespace reftx_bench {
namespace {

const MixedSide& side(const MixedWorkload& workload, int index) {
  return workload.sides[static_cast<std::size_t>(index)];
}

// One reftx::Store opened at construction; each apply() is one transaction of `parts`, with
// the files compare-and-swapped on their old blobs.
class ReftxMixedLibrary final : public MixedVariant {
 public:
  ReftxMixedLibrary(const Fixture& fixture, MixedParts parts)
      : store_(open_store(fixture.work_dir)), parts_(parts) {}

  void apply(const MixedWorkload& w, const MixedPosition& from) override {
    reftx::Batch tx("reftx-bench");
    if (parts_.refs) {
      const std::string& old_oid = side(w, from.refs).commit;
      const std::string& new_oid = side(w, 1 - from.refs).commit;
      for (const std::string& ref : w.refs) tx.update(ref, new_oid, old_oid);
    }
    if (parts_.files) {
      const MixedSide& old_side = side(w, from.files);
      const MixedSide& new_side = side(w, 1 - from.files);
      for (std::size_t i = 0; i < w.paths.size(); ++i) {
        tx.write_file(w.paths[i], new_side.blobs[i], old_side.blobs[i]);
      }
    }
    if (parts_.keys) {
      const MixedSide& new_side = side(w, 1 - from.keys);
      for (std::size_t i = 0; i < w.keys.size(); ++i) tx.set(w.keys[i], new_side.values[i]);
    }
    auto id = store_.commit(tx);
    if (!id) throw std::runtime_error("reftx commit: " + id.error().describe());
  }

 private:
  reftx::Store store_;
  MixedParts parts_;
};

// `reftx apply` in a new process per transaction, with the library variant's changes as a
// text-mode script.
class ReftxMixedCli final : public MixedVariant {
 public:
  ReftxMixedCli(const Fixture& fixture, const Tools& tools)
      : argv_{tools.reftx, "-C", fixture.work_dir, "apply", "-m", "reftx-bench"} {}

  void apply(const MixedWorkload& w, const MixedPosition& from) override {
    const int status = run_process(argv_, script(w, from));
    if (status != 0) {
      throw std::runtime_error("reftx apply exited with status " + std::to_string(status));
    }
  }

 private:
  static std::string script(const MixedWorkload& w, const MixedPosition& from) {
    std::string text =
        update_script(w.refs, side(w, from.refs).commit, side(w, 1 - from.refs).commit);
    const MixedSide& old_files = side(w, from.files);
    const MixedSide& new_files = side(w, 1 - from.files);
    for (std::size_t i = 0; i < w.paths.size(); ++i) {
      text += "write " + w.paths[i] + " " + new_files.blobs[i] + " " + old_files.blobs[i] + "\n";
    }
    const MixedSide& new_keys = side(w, 1 - from.keys);
    for (std::size_t i = 0; i < w.keys.size(); ++i) {
      text += "set " + w.keys[i] + " " + new_keys.values[i] + "\n";
    }
    return text;
  }

  std::vector<std::string> argv_;
};

// What a tool does today: one `git update-ref --stdin` batch for the refs (old values checked),
// then each file replaced on its own through a temp file, then the keys as one state file
// replaced the same way. File contents come from memory (prepared with the workload). With
// `sync`: git fsyncs the refs (core.fsync=reference) and every replace fsyncs its temp file and
// then its directory. No atomicity across the three steps, nor across the files.
class ByHand final : public MixedVariant {
 public:
  ByHand(const Fixture& fixture, const Tools& tools, bool sync) : sync_(sync) {
    git_argv_ = {tools.git, "--git-dir=" + fixture.git_dir};
    if (sync) {
      git_argv_.emplace_back("-c");
      git_argv_.emplace_back("core.fsync=reference");
    }
    for (const char* a : {"update-ref", "-m", "reftx-bench", "--stdin"}) git_argv_.emplace_back(a);
  }

  void apply(const MixedWorkload& w, const MixedPosition& from) override {
    const int status = run_process(
        git_argv_, update_script(w.refs, side(w, from.refs).commit, side(w, 1 - from.refs).commit));
    if (status != 0) {
      throw std::runtime_error("git update-ref exited with status " + std::to_string(status));
    }
    const MixedSide& new_files = side(w, 1 - from.files);
    for (std::size_t i = 0; i < w.paths.size(); ++i) {
      replace_file(w.work_dir + "/" + w.paths[i], new_files.contents[i], sync_);
    }
    replace_file(w.state_file, state_file_content(w, 1 - from.keys), sync_);
  }

 private:
  std::vector<std::string> git_argv_;
  bool sync_;
};

}  // namespace

const std::vector<MixedVariantInfo>& all_mixed_variants() {
  static const std::vector<MixedVariantInfo> variants = {
      {kByHandKey, "by hand, durable (git core.fsync=reference; temp+fsync+rename+dir fsync)", {}},
      {kByHandNoSyncKey, "by hand, no fsync (git default; temp+rename)", {}},
      {"reftx-lib", "reftx library (one Store, one transaction)", {}},
      {"reftx-cli", "reftx apply (process per tx)", {}},
      {"reftx-lib-refs", "reftx library, its refs only", {true, false, false}},
      {"reftx-lib-files", "reftx library, its files only", {false, true, false}},
      {"reftx-lib-keys", "reftx library, its keys only", {false, false, true}},
  };
  return variants;
}

const MixedVariantInfo& mixed_variant_info(const std::string& key) {
  for (const MixedVariantInfo& info : all_mixed_variants()) {
    if (info.key == key) return info;
  }
  throw std::runtime_error("unknown mixed variant '" + key + "'");
}

std::unique_ptr<MixedVariant> make_mixed_variant(const std::string& key, const Fixture& fixture,
                                                 const Tools& tools) {
  const MixedVariantInfo& info = mixed_variant_info(key);
  if (key == kByHandKey) return std::make_unique<ByHand>(fixture, tools, true);
  if (key == kByHandNoSyncKey) return std::make_unique<ByHand>(fixture, tools, false);
  if (key == "reftx-cli") return std::make_unique<ReftxMixedCli>(fixture, tools);
  return std::make_unique<ReftxMixedLibrary>(fixture, info.parts);
}

}  // namespace reftx_bench
