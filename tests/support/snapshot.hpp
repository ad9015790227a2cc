// Test helper: snapshots of what a repository shows the world (refs, work-tree files, tool
// state) to compare before and after a command, a crash or a recovery.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "support/reftx_cli.hpp"
#include "support/temp_repo.hpp"

namespace reftx::test {

using RefMap = std::map<std::string, std::string>;  // every ref under refs/: name -> oid

// The ref's value in `refs`, 40 zeros when absent.
std::string value_of(const RefMap& refs, const std::string& name);

struct FileImage {
  std::string content;
  bool executable = false;  // the owner's execute bit
  bool operator==(const FileImage&) const = default;
};

// Everything under a work tree except its top-level .git, by path relative to the root.
struct WorkTree {
  std::map<std::string, FileImage> files;
  std::set<std::string> dirs;
  std::set<std::string> others;  // symbolic links, fifos, ...: never expected
  bool operator==(const WorkTree&) const = default;
};

WorkTree snapshot_work_tree(const std::string& root);

// Paths of the work tree named like reftx's temp files (.reftx-*).
std::vector<std::string> temp_files(const WorkTree& tree);

// The journal's mode of a file: "100755" / "100644", nullopt when absent.
std::optional<std::string> git_mode_of(const WorkTree& tree, const std::string& path);

// Refs, work tree and tool state together.
struct RepoSnapshot {
  RefMap refs;
  WorkTree tree;
  KeyMap keys;
  bool operator==(const RepoSnapshot&) const = default;
};

RepoSnapshot snapshot(const TempRepo& repo);

// A stricter view of a directory for commands that must change nothing: every entry under
// `root` but the top-level ones in `skip`, by relative path: "dir <perms>", "file <perms>
// <content>" or "link <target>". Links are never followed.
using Tree = std::map<std::string, std::string>;

Tree tree(const std::string& root, const std::set<std::string>& skip = {".git"});

// What differs between two trees, one "path: before -> after" line per entry (shortened).
std::string diff(const Tree& before, const Tree& after);

}  // namespace reftx::test
