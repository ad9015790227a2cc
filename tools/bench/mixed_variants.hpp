// The ways of applying the mixed transaction (mixed_workload.hpp) that reftx-bench compares:
// reftx (library, CLI) and "by hand", i.e. what a tool does today without reftx.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "mixed_workload.hpp"
#include "variants.hpp"

namespace reftx_bench {

// Which parts of the workload a variant changes.
struct MixedParts {
  bool refs = true;
  bool files = true;
  bool keys = true;
};

// One way of applying the mixed transaction. Not thread-safe.
class MixedVariant {
 public:
  virtual ~MixedVariant() = default;
  // Moves every part the variant changes from its side in `from` to the other side; refs are
  // compare-and-swapped on their old values. Throws std::runtime_error if it fails.
  virtual void apply(const MixedWorkload& workload, const MixedPosition& from) = 0;
};

struct MixedVariantInfo {
  std::string key;    // for --mixed-variants and the probe child
  std::string label;  // table row
  MixedParts parts;
};

// Every variant, in table order. The first two are the by-hand baselines.
const std::vector<MixedVariantInfo>& all_mixed_variants();
inline const std::string kByHandKey = "by-hand";
inline const std::string kByHandNoSyncKey = "by-hand-nofsync";

// The entry of `key` in all_mixed_variants(); throws std::runtime_error for an unknown key.
const MixedVariantInfo& mixed_variant_info(const std::string& key);

// Builds variant `key`, ready to apply transactions (the library variants open their Store
// here). Throws std::runtime_error on failure or for an unknown key.
std::unique_ptr<MixedVariant> make_mixed_variant(const std::string& key, const Fixture& fixture,
                                                 const Tools& tools);

}  // namespace reftx_bench
