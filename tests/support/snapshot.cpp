#include "support/snapshot.hpp"

#include <sys/stat.h>

#include <filesystem>
#include <stdexcept>

#include "support/text.hpp"

namespace fs = std::filesystem;

namespace reftx::test {
namespace {

std::string basename_of(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

void add_entry(WorkTree& tree, const fs::path& path, const std::string& rel) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) throw std::runtime_error("cannot lstat " + rel);
  if (S_ISDIR(st.st_mode)) {
    tree.dirs.insert(rel);
  } else if (S_ISREG(st.st_mode)) {
    tree.files[rel] = FileImage{read_file(path.string()), (st.st_mode & S_IXUSR) != 0};
  } else {
    tree.others.insert(rel);
  }
}

std::string describe_entry(const fs::directory_entry& e) {
  const std::string mode = std::to_string(perms(e.path().string()));
  if (e.is_symlink()) return "link " + fs::read_symlink(e.path()).string();
  if (e.is_directory()) return "dir " + mode;
  return "file " + mode + " " + read_file(e.path().string());
}

}  // namespace

std::string value_of(const RefMap& refs, const std::string& name) {
  auto it = refs.find(name);
  return it == refs.end() ? kZeroOid : it->second;
}

WorkTree snapshot_work_tree(const std::string& root) {
  WorkTree tree;
  const std::size_t skip = root.size() + 1;
  for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator();
       ++it) {
    const std::string rel = it->path().string().substr(skip);
    if (rel == ".git") {
      it.disable_recursion_pending();
      continue;
    }
    add_entry(tree, it->path(), rel);
  }
  return tree;
}

std::vector<std::string> temp_files(const WorkTree& tree) {
  std::vector<std::string> found;
  auto is_temp = [](const std::string& path) { return basename_of(path).starts_with(".reftx-"); };
  for (const auto& [path, image] : tree.files) {
    if (is_temp(path)) found.push_back(path);
  }
  for (const std::set<std::string>* paths : {&tree.dirs, &tree.others}) {
    for (const std::string& path : *paths) {
      if (is_temp(path)) found.push_back(path);
    }
  }
  return found;
}

std::optional<std::string> git_mode_of(const WorkTree& tree, const std::string& path) {
  auto it = tree.files.find(path);
  if (it == tree.files.end()) return std::nullopt;
  return std::string(it->second.executable ? "100755" : "100644");
}

RepoSnapshot snapshot(const TempRepo& repo) {
  return RepoSnapshot{repo.refs(), snapshot_work_tree(repo.path()), state_list(repo)};
}

Tree tree(const std::string& root, const std::set<std::string>& skip) {
  Tree out;
  for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator();
       ++it) {
    const std::string rel = it->path().lexically_relative(root).string();
    if (skip.count(rel)) {
      it.disable_recursion_pending();
      continue;
    }
    out[rel] = describe_entry(*it);
  }
  return out;
}

std::string diff(const Tree& before, const Tree& after) {
  auto entry = [](const Tree& t, const std::string& path) {
    auto it = t.find(path);
    return it == t.end() ? std::string("(absent)") : it->second;
  };
  std::set<std::string> paths;
  for (const auto& [path, what] : before) paths.insert(path);
  for (const auto& [path, what] : after) paths.insert(path);
  std::string out;
  for (const std::string& path : paths) {
    const std::string was = entry(before, path), is = entry(after, path);
    if (was != is) out += "\n  " + path + ": " + was.substr(0, 60) + " -> " + is.substr(0, 60);
  }
  return out;
}

}  // namespace reftx::test
