// Large buffers, on transparent huge pages where the kernel allows it.
//
// Why: a 4 KiB page fault costs ~11 us on the VMs this runs on (12 MB faulted in: 34 ms;
// on huge pages: 0.7 ms), and random lookups into gigabytes of rows miss the TLB far less
// on 2 MiB pages. Buffers of 2 MiB and more are 2 MiB-aligned and advised MADV_HUGEPAGE
// (a hint: ignored where unsupported); smaller ones come from malloc.
//
// Thread safety: functions of their arguments only.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <memory>

namespace sparrow {

struct FreeLargeBuffer {
  void operator()(void* p) const { std::free(p); }
};

template <typename T>
using LargeBuffer = std::unique_ptr<T[], FreeLargeBuffer>;

// Uninitialised storage for `bytes` bytes (at least 1). Throws std::bad_alloc when out of
// memory, as operator new does.
void* AllocateLarge(size_t bytes);

// An uninitialised buffer of n T's (T trivially constructible).
template <typename T>
LargeBuffer<T> MakeLargeBuffer(size_t n) {
  return LargeBuffer<T>(static_cast<T*>(AllocateLarge(n * sizeof(T))));
}

}  // namespace sparrow
