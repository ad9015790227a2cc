#include "core/file_ops.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <map>

#include "core/work_tree.hpp"

namespace reftx::core {
namespace {

// The process umask, read without changing it (umask(2) would race with other threads).
mode_t current_umask() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("Umask:", 0) == 0) {
      return static_cast<mode_t>(std::stoul(line.substr(6), nullptr, 8));
    }
  }
  return 022;
}

std::string show(const std::string& blob) {
  return blob == kZeroOid ? "absent" : blob;
}

// The st_mode a written file gets: the old file's permissions, with the execute bits the
// requested mode asks for; a new file gets 0666/0777 minus the umask, like git checkout.
std::uint32_t resolve_mode(std::uint32_t requested, std::uint32_t old_mode, mode_t mask) {
  if (old_mode == 0) {
    return S_IFREG | ((requested == 0100755 ? 0777u : 0666u) & ~mask);
  }
  std::uint32_t perms = old_mode & 07777;
  if (requested == 0100755) perms |= (perms & 0444) >> 2;
  if (requested == 0100644) perms &= ~0111u;
  return S_IFREG | perms;
}

std::string basename_of(const std::string& path) {
  return path_components(path).back();
}

struct Current {
  FileState state;
  std::string blob = kZeroOid;
};

// What the file is now. invalid_input errors (a link, a directory on the way) come back as such.
Result<Current> read_current(const FileIo& io, const std::string& root, const std::string& path) {
  Current current;
  auto parent = open_parent(root, path, false, false);
  if (!parent) return parent.error();
  if (!parent.value()) return current;
  auto state = stat_file(parent.value()->get(), basename_of(path), path);
  if (!state) return state.error();
  current.state = state.value();
  if (!current.state.exists) return current;
  auto fd = open_file(parent.value()->get(), basename_of(path), path);
  if (!fd) return fd.error();
  auto hash = io.objects.hash_file(fd.value().get());
  if (!hash) return hash.error();
  current.blob = hash.value();
  return current;
}

bool at(const Current& c, const std::string& blob, std::uint32_t mode) {
  if (blob == kZeroOid) return !c.state.exists;
  return c.state.exists && c.blob == blob && (c.state.mode & 0100) == (mode & 0100);
}

// Writes blob `blob` with mode `mode` to the temp file `tmp` in `dir`, fsynced.
Status write_temp(const FileIo& io, int dir, const std::string& tmp, const std::string& blob,
                  std::uint32_t mode, const std::string& path) {
  util::UniqueFd fd(
      ::openat(dir, tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!fd.valid()) return util::errno_error("cannot create temp file for '" + path + "'", errno);
  if (Status s = io.objects.copy_blob(blob, fd.get(), io.git_executable); !s) return s;
  if (::fchmod(fd.get(), mode & 07777) != 0) {
    return util::errno_error("cannot set the mode of '" + path + "'", errno);
  }
  if (io.durable) return util::fsync_fd(fd.get(), "'" + path + "'");
  return {};
}

// Puts `blob` (kZeroOid: nothing) at `path`, through its temp file. Creates missing parents.
Status put_file(const FileIo& io, const TxRecord& record, std::size_t index,
                const std::string& blob, std::uint32_t mode) {
  const std::string& path = record.files[index].path;
  const std::string name = basename_of(path);
  auto parent = open_parent(record.work_tree, path, blob != kZeroOid, io.durable);
  if (!parent) return parent.error();
  if (!parent.value()) return {};  // removing a file whose directory is gone: nothing to do
  const int dir = parent.value()->get();
  if (blob == kZeroOid) {
    if (::unlinkat(dir, name.c_str(), 0) != 0 && errno != ENOENT) {
      return util::errno_error("cannot remove '" + path + "'", errno);
    }
  } else {
    const std::string tmp = temp_name(record.id, index);
    if (Status s = write_temp(io, dir, tmp, blob, mode, path); !s) return s;
    if (::renameat(dir, tmp.c_str(), dir, name.c_str()) != 0) {
      return util::errno_error("cannot rename into '" + path + "'", errno);
    }
  }
  if (io.durable) return util::fsync_fd(dir, "directory of '" + path + "'");
  return {};
}

// Removes the record's temp files; when `durable`, fsyncs each directory one was removed from,
// so that it cannot come back after a power loss.
Status remove_temps(const TxRecord& record, bool durable) {
  for (std::size_t i = 0; i < record.files.size(); ++i) {
    auto parent = open_parent(record.work_tree, record.files[i].path, false, false);
    if (!parent || !parent.value()) continue;
    const int dir = parent.value()->get();
    if (::unlinkat(dir, temp_name(record.id, i).c_str(), 0) != 0) continue;
    if (durable) {
      if (Status s = util::fsync_fd(dir, "directory of '" + record.files[i].path + "'"); !s) {
        return s;
      }
    }
  }
  return {};
}

void remove_created_dirs(const TxRecord& record) {
  for (auto it = record.files.rbegin(); it != record.files.rend(); ++it) {
    remove_empty_dirs(record.work_tree, it->created_dirs);
  }
}

std::string left_alone(const std::string& path, const std::string& why) {
  return "file " + path + ": " + why + "; left alone";
}

}  // namespace

namespace {

// Stages file `i` of `record` (stage_files); returns its identity as staged.
Result<std::string> stage_one(const FileIo& io, TxRecord& record, std::size_t i, mode_t umask,
                              std::vector<std::string>& to_sync) {
  FileRecord& file = record.files[i];
  const std::string name = basename_of(file.path);
  auto parent = open_parent(record.work_tree, file.path, true, io.durable);
  if (!parent) return parent.error();
  const int dir = parent.value()->get();
  auto before = stat_file(dir, name, file.path);
  if (!before) return before.error();
  std::string old_blob = kZeroOid;
  if (before.value().exists) {
    auto fd = open_file(dir, name, file.path);
    if (!fd) return fd.error();
    auto hash = io.objects.hash_file(fd.value().get());
    if (!hash) return hash.error();
    old_blob = hash.value();
    if (!file.expected_old || *file.expected_old == old_blob) {
      if (Status s = io.objects.store_file(fd.value().get(), old_blob); !s) return s.error();
      to_sync.push_back(old_blob);
    }
  }
  if (file.expected_old && *file.expected_old != old_blob) {
    return Error{ErrorKind::conflict, "file " + file.path + " holds " + show(old_blob) +
                                          ", expected " + show(*file.expected_old)};
  }
  auto after = stat_file(dir, name, file.path);
  if (!after) return after.error();
  if (after.value().identity != before.value().identity) {
    return Error{ErrorKind::conflict, "file " + file.path + " changed while it was being read"};
  }
  file.old_blob = old_blob;
  file.old_mode = before.value().exists ? before.value().mode : 0;
  file.old_known = true;
  file.new_mode =
      file.new_blob == kZeroOid ? 0 : resolve_mode(file.requested_mode, file.old_mode, umask);
  if (file.new_blob != kZeroOid) {
    to_sync.push_back(file.new_blob);
    Status s =
        write_temp(io, dir, temp_name(record.id, i), file.new_blob, file.new_mode, file.path);
    if (!s) return s.error();
  }
  return before.value().identity;
}

}  // namespace

Result<StagedFiles> stage_files(const FileIo& io, TxRecord& record, const std::vector<int>& lines) {
  StagedFiles staged;
  const mode_t umask = current_umask();
  std::vector<std::string> to_sync;  // blobs that must be durable before the decision
  for (std::size_t i = 0; i < record.files.size(); ++i) {
    auto identity = stage_one(io, record, i, umask, to_sync);
    if (!identity) {
      Error e = identity.error();
      if (i < lines.size()) e.line = lines[i];
      return e;
    }
    staged.push_back(std::move(identity).value());
  }
  if (io.durable) {
    if (Status s = io.objects.make_durable(to_sync); !s) return s.error();
  }
  return staged;
}

Status check_staged(const TxRecord& record, const StagedFiles& staged) {
  for (std::size_t i = 0; i < record.files.size(); ++i) {
    const std::string& path = record.files[i].path;
    auto parent = open_parent(record.work_tree, path, false, false);
    std::string identity;
    if (parent && parent.value()) {
      auto state = stat_file(parent.value()->get(), basename_of(path), path);
      if (!state) {
        return Error{ErrorKind::conflict, "file " + path + " changed: " + state.error().message};
      }
      identity = state.value().identity;
    }
    if (!parent || identity != staged[i]) {
      return Error{ErrorKind::conflict,
                   "file " + path + " was changed by another writer during the transaction"};
    }
  }
  return {};
}

Result<std::vector<std::string>> install_files(const FileIo& io, const TxRecord& record,
                                               const StagedFiles& staged,
                                               const std::function<void()>& first_installed) {
  std::vector<std::string> conflicts;
  std::map<std::string, util::UniqueFd> dirs_to_sync;
  for (std::size_t i = 0; i < record.files.size(); ++i) {
    const FileRecord& file = record.files[i];
    const std::string name = basename_of(file.path);
    const std::string tmp = temp_name(record.id, i);
    auto parent = open_parent(record.work_tree, file.path, false, false);
    if (!parent || !parent.value()) {
      conflicts.push_back(left_alone(file.path, "its directory was changed by another writer"));
      continue;
    }
    const int dir = parent.value()->get();
    auto state = stat_file(dir, name, file.path);
    if (!state || state.value().identity != staged[i]) {
      (void)::unlinkat(dir, tmp.c_str(), 0);
      conflicts.push_back(left_alone(file.path, "changed by another writer after it was checked"));
      dirs_to_sync.emplace(util::parent_dir(file.path), std::move(*parent.value()));
      continue;
    }
    if (file.new_blob == kZeroOid) {
      if (::unlinkat(dir, name.c_str(), 0) != 0 && errno != ENOENT) {
        return util::errno_error("cannot remove '" + file.path + "'", errno);
      }
    } else if (::renameat(dir, tmp.c_str(), dir, name.c_str()) != 0) {
      return util::errno_error("cannot rename into '" + file.path + "'", errno);
    }
    if (i == 0) first_installed();
    dirs_to_sync.emplace(util::parent_dir(file.path), std::move(*parent.value()));
  }
  if (io.durable) {
    for (const auto& [path, fd] : dirs_to_sync) {
      if (Status s = util::fsync_fd(fd.get(), "directory '" + path + "'"); !s) return s.error();
    }
  }
  return conflicts;
}

Result<std::vector<std::string>> reconcile_files(const FileIo& io, const TxRecord& record,
                                                 bool forward) {
  std::vector<std::string> conflicts;
  for (std::size_t i = 0; i < record.files.size(); ++i) {
    const FileRecord& file = record.files[i];
    const std::string& from_blob = forward ? file.old_blob : file.new_blob;
    const std::string& to_blob = forward ? file.new_blob : file.old_blob;
    const std::uint32_t from_mode = forward ? file.old_mode : file.new_mode;
    const std::uint32_t to_mode = forward ? file.new_mode : file.old_mode;
    auto current = read_current(io, record.work_tree, file.path);
    if (!current) {
      if (current.error().kind != ErrorKind::invalid_input) return current.error();
      conflicts.push_back(left_alone(file.path, current.error().message));
      continue;
    }
    if (at(current.value(), to_blob, to_mode)) continue;
    if (!at(current.value(), from_blob, from_mode)) {
      conflicts.push_back(left_alone(file.path, "changed by another writer (expected " +
                                                    show(from_blob) + " or " + show(to_blob) +
                                                    ", found " + show(current.value().blob) + ")"));
      continue;
    }
    if (Status s = put_file(io, record, i, to_blob, to_mode); !s) {
      if (s.error().kind != ErrorKind::invalid_input) return s.error();
      conflicts.push_back(left_alone(file.path, s.error().message));
    }
  }
  if (Status s = remove_temps(record, io.durable); !s) return s.error();
  if (!forward) remove_created_dirs(record);
  return conflicts;
}

Status discard_files(const FileIo& io, TxRecord& record) {
  for (FileRecord& file : record.files) {
    if (file.old_known) continue;
    auto current = read_current(io, record.work_tree, file.path);
    if (!current) continue;  // unreadable now: stays unknown
    file.old_blob = current.value().blob;
    file.old_mode = current.value().state.exists ? current.value().state.mode : 0;
    file.old_known = true;
  }
  if (Status s = remove_temps(record, io.durable); !s) return s;
  remove_created_dirs(record);
  return {};
}

}  // namespace reftx::core
