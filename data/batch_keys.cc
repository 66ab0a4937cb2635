#include "data/batch_keys.h"

#include <algorithm>

namespace sparrow::data {

void UniqueKeys(const Batch& batch, std::vector<uint64_t>* unique, std::vector<uint32_t>* slot) {
  unique->assign(batch.keys.begin(), batch.keys.end());
  std::sort(unique->begin(), unique->end());
  unique->erase(std::unique(unique->begin(), unique->end()), unique->end());
  if (slot == nullptr) return;
  slot->resize(batch.keys.size());
  for (size_t i = 0; i < batch.keys.size(); ++i) {
    (*slot)[i] = static_cast<uint32_t>(
        std::lower_bound(unique->begin(), unique->end(), batch.keys[i]) - unique->begin());
  }
}

}  // namespace sparrow::data
