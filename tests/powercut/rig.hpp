// The machinery of a simulated power cut (docs/powercut.md, docs/facts.md "Cutting power with
// fsfreeze"): a dedicated ext4 "host" file system on its own loop device holds the live guest
// image; `fsfreeze -f` of the host stops every write of the guest's loop device, and a copy of
// the image taken then is what a disk would hold after a power failure.
//
// Every loop device, mount, freeze and process group is also announced to a janitor process
// (forked first thing in main, in its own session, ignoring signals). When the test process ends
// for any reason, including SIGKILL or Ctrl-C, the janitor sees EOF on its pipe and undoes what
// is still registered: kill the workers, thaw, unmount, detach, remove the temp dir.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "support/process.hpp"

namespace reftx::test::powercut {

// Forks the janitor. Call before any thread exists.
void start_janitor();
// "+<kind> <value>" registers, "-<kind> <value>" deregisters (kinds: pgid freeze mount loop dir).
void janitor_note(const std::string& line);

// Runs a command; throws std::runtime_error naming it (and its stderr) if it exits non-zero.
RunResult must(const std::vector<std::string>& argv);

// SIGKILLs every process (other than this one) whose cwd, root, executable or an open file lies
// under `dir`; returns how many it killed.
int kill_users_of(const std::string& dir);

// A process started in its own process group, stdout and stderr to `out_file`.
pid_t spawn_group(const std::vector<std::string>& argv, const std::string& out_file);
// SIGKILLs the group (no wait).
void kill_group(pid_t pid);
// Waits for the group leader; returns its wait status.
int reap(pid_t pid);

class Rig {
 public:
  explicit Rig(std::string root);  // root: an empty directory of this run
  ~Rig();
  Rig(const Rig&) = delete;
  Rig& operator=(const Rig&) = delete;

  const std::string& root() const { return root_; }
  const std::string& guest() const { return guest_; }  // where the guest is always mounted

  void make_host(int mib);
  // A new image at `path` with an empty ext4, mounted at guest().
  void make_image_and_mount(const std::string& path, int mib);
  // Unmounts guest() and detaches its device.
  void unmount_guest();

  // Copies `image` onto the host and mounts it at guest().
  void start_live(const std::string& image);
  // The cut: freezes the host and copies the live image to `copy`. The host stays frozen.
  void cut(const std::string& copy);
  void thaw();
  // After the thaw: unmounts the live guest, detaches it, removes it from the host.
  void stop_live();
  // Attaches `copy`, runs `e2fsck -fy` on it (returns its exit status), mounts it at guest().
  int open_copy(const std::string& copy);

 private:
  std::string attach(const std::string& image);
  void detach(const std::string& dev);
  void mount(const std::string& dev, const std::string& dir, const std::string& options);
  void unmount(const std::string& dir);

  std::string root_, guest_;
  std::string host_img_, host_mnt_, host_dev_;
  std::string guest_dev_;  // device mounted at guest_, empty if none
  std::string live_img_;   // the live image on the host, empty if none
  bool frozen_ = false;
};

}  // namespace reftx::test::powercut
