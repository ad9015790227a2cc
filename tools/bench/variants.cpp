#include "variants.hpp"

#include <git2.h>

#include <stdexcept>

#include "process.hpp"
#include "reftx/reftx.hpp"

namespace reftx_bench {
namespace {

// A command started per transaction with the update script on its stdin; exit 0 = committed.
class ProcessVariant : public Variant {
 public:
  void apply(const std::vector<std::string>& refs, const std::string& old_oid,
             const std::string& new_oid) override {
    const int status = run_process(argv_, update_script(refs, old_oid, new_oid));
    if (status != 0) {
      throw std::runtime_error(argv_.front() + " exited with status " + std::to_string(status));
    }
  }

 protected:
  std::vector<std::string> argv_;
};

// `git update-ref --stdin` in a new process per transaction; the whole script is one batch.
class GitUpdateRef final : public ProcessVariant {
 public:
  GitUpdateRef(const Fixture& fixture, const Tools& tools, bool fsync_refs) {
    argv_ = {tools.git, "--git-dir=" + fixture.git_dir};
    if (fsync_refs) {
      argv_.emplace_back("-c");
      argv_.emplace_back("core.fsync=reference");
    }
    for (const char* a : {"update-ref", "-m", "reftx-bench", "--stdin"}) argv_.emplace_back(a);
  }
};

// `reftx apply` in a new process per transaction.
class ReftxCli final : public ProcessVariant {
 public:
  ReftxCli(const Fixture& fixture, const Tools& tools) {
    argv_ = {tools.reftx, "-C", fixture.work_dir, "apply", "-m", "reftx-bench"};
  }
};

// One reftx::Store opened at construction and reused by every transaction.
class ReftxLibrary final : public Variant {
 public:
  explicit ReftxLibrary(const Fixture& fixture) : store_(open_store(fixture.work_dir)) {}

  void apply(const std::vector<std::string>& refs, const std::string& old_oid,
             const std::string& new_oid) override {
    reftx::Batch batch("reftx-bench");
    for (const std::string& ref : refs) batch.update(ref, new_oid, old_oid);
    auto id = store_.commit(batch);
    if (!id) throw std::runtime_error("reftx commit: " + id.error().describe());
  }

 private:
  reftx::Store store_;
};

std::string libgit2_message(const char* call, int rc) {
  const git_error* e = git_error_last();  // may be NULL in libgit2 1.5
  return std::string(call) + " failed: " +
         (e != nullptr && e->message != nullptr ? e->message : "error " + std::to_string(rc));
}

void check(const char* call, int rc) {
  if (rc < 0) throw std::runtime_error(libgit2_message(call, rc));
}

git_oid parse_oid(const std::string& hex) {
  git_oid oid;
  check("git_oid_fromstr", git_oid_fromstr(&oid, hex.c_str()));
  return oid;
}

// libgit2 git_transaction in-process, with GIT_OPT_ENABLE_FSYNC_GITDIR on while it exists (a
// process-wide switch; the reftx library only reads through libgit2). git_transaction has no
// old-value check, so every ref is compared with `old_oid` after all locks are taken.
class Libgit2Transaction final : public Variant {
 public:
  explicit Libgit2Transaction(const Fixture& fixture) {
    git_libgit2_init();
    check("git_libgit2_opts", git_libgit2_opts(GIT_OPT_ENABLE_FSYNC_GITDIR, 1));
    check("git_repository_open", git_repository_open(&repo_, fixture.git_dir.c_str()));
  }
  ~Libgit2Transaction() override {
    git_repository_free(repo_);
    git_libgit2_opts(GIT_OPT_ENABLE_FSYNC_GITDIR, 0);
    git_libgit2_shutdown();
  }
  Libgit2Transaction(const Libgit2Transaction&) = delete;
  Libgit2Transaction& operator=(const Libgit2Transaction&) = delete;

  void apply(const std::vector<std::string>& refs, const std::string& old_oid,
             const std::string& new_oid) override {
    const git_oid expected = parse_oid(old_oid);
    const git_oid target = parse_oid(new_oid);
    git_transaction* tx = nullptr;
    check("git_transaction_new", git_transaction_new(&tx, repo_));
    try {
      for (const std::string& ref : refs) {
        check("git_transaction_lock_ref", git_transaction_lock_ref(tx, ref.c_str()));
      }
      for (const std::string& ref : refs) {
        git_oid current;
        check("git_reference_name_to_id", git_reference_name_to_id(&current, repo_, ref.c_str()));
        if (git_oid_cmp(&current, &expected) != 0) {
          throw std::runtime_error("libgit2: " + ref + " is not at " + old_oid);
        }
        check("git_transaction_set_target",
              git_transaction_set_target(tx, ref.c_str(), &target, nullptr, "reftx-bench"));
      }
      check("git_transaction_commit", git_transaction_commit(tx));
    } catch (...) {
      git_transaction_free(tx);
      throw;
    }
    git_transaction_free(tx);
  }

 private:
  git_repository* repo_ = nullptr;
};

}  // namespace

const std::vector<VariantInfo>& all_variants() {
  static const std::vector<VariantInfo> variants = {
      {kGitDefaultKey, "git update-ref (default, no fsync)"},
      {kGitFsyncKey, "git update-ref -c core.fsync=reference"},
      {"libgit2", "libgit2 git_transaction (FSYNC_GITDIR on)"},
      {"reftx-lib", "reftx library (one Store)"},
      {"reftx-cli", "reftx apply (process per tx)"},
  };
  return variants;
}

std::unique_ptr<Variant> make_variant(const std::string& key, const Fixture& fixture,
                                      const Tools& tools) {
  if (key == kGitDefaultKey) return std::make_unique<GitUpdateRef>(fixture, tools, false);
  if (key == kGitFsyncKey) return std::make_unique<GitUpdateRef>(fixture, tools, true);
  if (key == "libgit2") return std::make_unique<Libgit2Transaction>(fixture);
  if (key == "reftx-lib") return std::make_unique<ReftxLibrary>(fixture);
  if (key == "reftx-cli") return std::make_unique<ReftxCli>(fixture, tools);
  throw std::runtime_error("unknown variant '" + key + "'");
}

reftx::Store open_store(const std::string& path) {
  auto store = reftx::Store::open(path);
  if (!store) throw std::runtime_error("reftx::Store::open: " + store.error().describe());
  return std::move(store).value();
}

std::string update_script(const std::vector<std::string>& refs, const std::string& old_oid,
                          const std::string& new_oid) {
  std::string script;
  script.reserve(refs.size() * (refs.empty() ? 0 : refs.front().size() + 90));
  for (const std::string& ref : refs) {
    script += "update " + ref + " " + new_oid + " " + old_oid + "\n";
  }
  return script;
}

}  // namespace reftx_bench
