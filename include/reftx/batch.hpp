// A Batch is one unit of work: the ref, file and tool-state changes that Store::commit applies
// all or nothing, and the message it is journaled with.
//
// A Batch is a plain value, like leveldb's WriteBatch: it holds no reference to a Store, so it
// can be built anywhere, copied, kept, and committed to any Store (or twice). Nothing is checked
// while it is built; Store::commit validates it and names a bad change by its `line`, which is
// its 1-based position in the batch unless the change carries one (a script line).
//
// Thread-safety: a plain value; not synchronized.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "reftx/types.hpp"

namespace reftx {

class Batch {
 public:
  explicit Batch(std::string message = {}) : message_(std::move(message)) {}

  // Refs. expected_old: nullopt = not checked (the real old value is still journaled);
  // kZeroOid = the ref must not exist. new_oid == kZeroOid deletes.
  Batch& update(std::string name, std::string new_oid,
                std::optional<std::string> expected_old = std::nullopt);
  Batch& create(std::string name, std::string new_oid);
  Batch& remove(std::string name, std::optional<std::string> expected_old = std::nullopt);
  Batch& verify(std::string name, std::optional<std::string> expected_old = std::nullopt);
  Batch& add(RefChange change);

  // Replaces the work-tree file `path` with blob `new_blob` (which must be in the object
  // database) or with `content` (stored as a blob at commit). expected_old: blob the file must
  // hold (kZeroOid = must not exist); nullopt = not checked. mode: 0 keeps the file's mode
  // (100644 for a new file), 0100755 makes it executable, 0100644 not.
  Batch& write_file(std::string path, std::string new_blob,
                    std::optional<std::string> expected_old = std::nullopt, std::uint32_t mode = 0);
  Batch& write_file_content(std::string path, std::string content,
                            std::optional<std::string> expected_old = std::nullopt,
                            std::uint32_t mode = 0);
  Batch& remove_file(std::string path, std::optional<std::string> expected_old = std::nullopt);
  Batch& add(FileChange change);

  // Tool state: becomes visible at the commit point, with the refs and files.
  Batch& set(std::string key, std::string value);
  Batch& unset(std::string key);
  Batch& add(KeyChange change);

  // Appends every change of `changes` (e.g. from parse_script), keeping their lines.
  Batch& add(Changes changes);

  const std::string& message() const { return message_; }
  void set_message(std::string message) { message_ = std::move(message); }
  const Changes& changes() const { return changes_; }
  bool empty() const { return changes_.empty(); }

 private:
  std::string message_;
  Changes changes_;
};

}  // namespace reftx
