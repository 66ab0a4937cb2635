// ModelSlot: the model serving now, swapped atomically on reload.
//
// A request takes a reference (shared_ptr) when it begins and scores on that model to the
// end, however many swaps happen meanwhile; the old model is freed when its last request
// (and the last thread cache holding it) lets go. Threads cache the pointer and compare
// generations, so the steady state takes no lock.
//
// Thread safety: all methods may be called from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>

#include "serve/serving_model.h"

namespace sparrow::serve {

class ModelSlot {
 public:
  // The current model (null before the first Set).
  std::shared_ptr<const ServingModel> Get() const {
    std::lock_guard<std::mutex> lock(mu_);
    return model_;
  }
  // Installs `m`; requests that begin afterwards use it.
  void Set(std::shared_ptr<const ServingModel> m) {
    std::lock_guard<std::mutex> lock(mu_);
    model_ = std::move(m);
    generation_.store(model_ ? model_->generation() : 0, std::memory_order_release);
  }
  uint64_t generation() const { return generation_.load(std::memory_order_acquire); }

  // A thread's cached reference, refreshed when the slot's generation moves.
  struct Cache {
    std::shared_ptr<const ServingModel> model;
    uint64_t generation = 0;
  };
  const ServingModel* Current(Cache* cache) const {
    if (cache->model == nullptr || cache->generation != generation()) {
      cache->model = Get();
      cache->generation = cache->model ? cache->model->generation() : 0;
    }
    return cache->model.get();
  }

 private:
  mutable std::mutex mu_;
  std::shared_ptr<const ServingModel> model_;
  std::atomic<uint64_t> generation_{0};
};

}  // namespace sparrow::serve
