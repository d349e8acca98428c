// A tiny fork-join pool: the calling thread plus (threads - 1) workers pull
// task indices from one atomic counter. Used to spread independent GEMMs
// (attention heads) and large row loops over the cores while OpenBLAS runs
// single-threaded inside each task.
#pragma once
#include <cstdint>
#include <type_traits>

namespace lms {

// Number of threads parallel_for uses (calling thread included); at least 1.
// Defaults to the hardware concurrency, capped at 16; LMS_NUM_THREADS overrides.
int pool_threads();

// Runs fn(ctx, i) for every i in [0, n) and returns when all have finished.
// A call made while the pool is busy (nested, or from another JS thread)
// runs serially on the caller, so it can never deadlock.
void parallel_for(int64_t n, void (*fn)(void* ctx, int64_t i), void* ctx);

template <typename F>
inline void parallel_for(int64_t n, F&& f) {
  using Fn = std::remove_reference_t<F>;
  parallel_for(n, [](void* c, int64_t i) { (*static_cast<Fn*>(c))(i); }, static_cast<void*>(&f));
}

}  // namespace lms
