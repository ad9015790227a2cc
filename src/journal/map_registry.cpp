#include "journal/map_registry.hpp"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <mutex>

#include "reftx/store.hpp"

namespace reftx::journal {
namespace {

constexpr std::size_t kSlots = 16;
constexpr std::size_t kDirBytes = 1024;

struct Slot {
  const void* owner = nullptr;  // guarded by g_mutex
  std::atomic<std::uintptr_t> begin{0};
  std::atomic<std::uintptr_t> end{0};  // 0: slot unused
  char dir[kDirBytes] = {};
};

std::mutex g_mutex;
Slot g_slots[kSlots];

std::atomic<int> g_in_use{0};
char g_in_use_dir[kDirBytes] = {};

static_assert(std::atomic<std::uintptr_t>::is_always_lock_free);

}  // namespace

void publish_map(const void* owner, const void* begin, std::size_t size, const std::string& dir) {
  std::lock_guard<std::mutex> guard(g_mutex);
  Slot* slot = nullptr;
  for (Slot& s : g_slots) {
    if (s.owner == owner) slot = &s;
  }
  for (Slot& s : g_slots) {
    if (slot == nullptr && s.owner == nullptr) slot = &s;
  }
  if (slot == nullptr) return;
  slot->owner = owner;
  slot->end.store(0, std::memory_order_release);  // hide it while it changes
  std::size_t n = std::min(dir.size(), kDirBytes - 1);
  std::memcpy(slot->dir, dir.data(), n);
  slot->dir[n] = '\0';
  const auto b = reinterpret_cast<std::uintptr_t>(begin);
  slot->begin.store(b, std::memory_order_release);
  slot->end.store(b + size, std::memory_order_release);
}

void withdraw_map(const void* owner) {
  std::lock_guard<std::mutex> guard(g_mutex);
  for (Slot& s : g_slots) {
    if (s.owner != owner) continue;
    s.end.store(0, std::memory_order_release);
    s.owner = nullptr;
  }
}

const char* lookup_map(const void* address) noexcept {
  const auto a = reinterpret_cast<std::uintptr_t>(address);
  for (Slot& s : g_slots) {
    const std::uintptr_t end = s.end.load(std::memory_order_acquire);
    const std::uintptr_t begin = s.begin.load(std::memory_order_acquire);
    if (end != 0 && a >= begin && a < end) return s.dir;
  }
  return nullptr;
}

JournalInUse::JournalInUse(const std::string& dir) {
  {
    std::lock_guard<std::mutex> guard(g_mutex);
    std::size_t n = std::min(dir.size(), kDirBytes - 1);
    std::memcpy(g_in_use_dir, dir.data(), n);
    g_in_use_dir[n] = '\0';
  }
  g_in_use.fetch_add(1, std::memory_order_acq_rel);
}

JournalInUse::~JournalInUse() {
  g_in_use.fetch_sub(1, std::memory_order_acq_rel);
}

const char* journal_in_use() noexcept {
  return g_in_use.load(std::memory_order_acquire) > 0 ? g_in_use_dir : nullptr;
}

}  // namespace reftx::journal

namespace reftx {
const char* journal_mapped_at(const void* address) noexcept {
  return journal::lookup_map(address);
}
const char* journal_in_use() noexcept {
  return journal::journal_in_use();
}
}  // namespace reftx
