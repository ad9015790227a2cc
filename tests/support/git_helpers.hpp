// Test helper: git operations on a TempRepo beyond refs: blobs and the work tree's status.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "support/temp_repo.hpp"

namespace reftx::test {

// Stores `content` as a blob of `repo`; returns its id.
std::string write_blob(const TempRepo& repo, const std::string& content);

// The id `content` has as a blob, without storing it.
std::string blob_id(const TempRepo& repo, const std::string& content);

bool has_object(const TempRepo& repo, const std::string& id);

// The exact bytes of blob `id`; REQUIREs that it exists.
std::string blob_content(const TempRepo& repo, const std::string& id);

// git with the repository's own work tree (TempRepo::git names only the git dir).
std::string git_wt(const TempRepo& repo, std::vector<std::string> args,
                   const std::string& input = "");

// `git status --porcelain --untracked-files=all`, one line per entry, in git's order.
std::vector<std::string> git_status(const TempRepo& repo);

// `git status --porcelain -z --untracked-files=all`: one "XY path" per entry, any path bytes.
std::set<std::string> git_status_entries(const TempRepo& repo);

}  // namespace reftx::test
