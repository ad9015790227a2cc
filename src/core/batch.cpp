// The Batch builder: changes are numbered by their position unless they carry a line.
#include "reftx/batch.hpp"

namespace reftx {
namespace {

template <typename Change>
void number(Change& change, const Changes& changes) {
  if (change.line == 0) {
    change.line =
        static_cast<int>(changes.refs.size() + changes.files.size() + changes.keys.size()) + 1;
  }
}

}  // namespace

Batch& Batch::add(RefChange change) {
  number(change, changes_);
  changes_.refs.push_back(std::move(change));
  return *this;
}

Batch& Batch::add(FileChange change) {
  number(change, changes_);
  changes_.files.push_back(std::move(change));
  return *this;
}

Batch& Batch::add(KeyChange change) {
  number(change, changes_);
  changes_.keys.push_back(std::move(change));
  return *this;
}

Batch& Batch::add(Changes changes) {
  for (RefChange& c : changes.refs) add(std::move(c));
  for (FileChange& c : changes.files) add(std::move(c));
  for (KeyChange& c : changes.keys) add(std::move(c));
  return *this;
}

Batch& Batch::update(std::string name, std::string new_oid,
                     std::optional<std::string> expected_old) {
  return add(
      RefChange{RefOp::update, std::move(name), std::move(new_oid), std::move(expected_old), 0});
}

Batch& Batch::create(std::string name, std::string new_oid) {
  return add(RefChange{RefOp::create, std::move(name), std::move(new_oid), kZeroOid, 0});
}

Batch& Batch::remove(std::string name, std::optional<std::string> expected_old) {
  return add(RefChange{RefOp::remove, std::move(name), kZeroOid, std::move(expected_old), 0});
}

Batch& Batch::verify(std::string name, std::optional<std::string> expected_old) {
  return add(RefChange{RefOp::verify, std::move(name), kZeroOid, std::move(expected_old), 0});
}

Batch& Batch::write_file(std::string path, std::string new_blob,
                         std::optional<std::string> expected_old, std::uint32_t mode) {
  return add(FileChange{std::move(path), std::move(new_blob), std::nullopt, std::move(expected_old),
                        mode, 0});
}

Batch& Batch::write_file_content(std::string path, std::string content,
                                 std::optional<std::string> expected_old, std::uint32_t mode) {
  return add(
      FileChange{std::move(path), kZeroOid, std::move(content), std::move(expected_old), mode, 0});
}

Batch& Batch::remove_file(std::string path, std::optional<std::string> expected_old) {
  return add(FileChange{std::move(path), kZeroOid, std::nullopt, std::move(expected_old), 0, 0});
}

Batch& Batch::set(std::string key, std::string value) {
  return add(KeyChange{std::move(key), std::move(value), 0});
}

Batch& Batch::unset(std::string key) {
  return add(KeyChange{std::move(key), std::nullopt, 0});
}

}  // namespace reftx
