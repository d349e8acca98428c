#include "pool.h"

#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>

namespace lms {

namespace {

struct Pool {
  int nthreads = 1;
  std::mutex mu;
  std::condition_variable work_cv, done_cv;
  uint64_t generation = 0;  // bumped once per job; workers wait for a change
  void (*fn)(void*, int64_t) = nullptr;
  void* ctx = nullptr;
  int64_t n = 0;
  std::atomic<int64_t> next{0};
  // Workers that joined the current job and have not finished it. The
  // caller waits for these only, not for every worker: on a machine whose
  // cores other processes also use, a worker may be woken but not
  // scheduled for milliseconds, and a caller that had already run every
  // task itself would sit idle waiting for it to check in. A worker that
  // wakes after the caller closed the job (open == false) leaves it alone.
  int active = 0;
  bool open = false;
  std::atomic<bool> busy{false};

  void drain(void (*f)(void*, int64_t), void* c, int64_t count) {
    for (int64_t i; (i = next.fetch_add(1, std::memory_order_relaxed)) < count;) f(c, i);
  }

  void worker() {
    uint64_t seen = 0;
    for (;;) {
      std::unique_lock<std::mutex> lk(mu);
      work_cv.wait(lk, [&] { return generation != seen; });
      seen = generation;
      if (!open) continue;
      active++;
      auto f = fn;
      auto c = ctx;
      int64_t count = n;
      lk.unlock();
      drain(f, c, count);
      lk.lock();
      if (--active == 0) done_cv.notify_one();
    }
  }
};

// Never destroyed: workers sleep on its condition variable until the process
// exits, and joining them from a static destructor could run after Node has
// torn down parts of the runtime.
Pool* pool() {
  static Pool* p = [] {
    Pool* q = new Pool;
    int hw = static_cast<int>(std::thread::hardware_concurrency());
    int n = hw > 0 ? hw : 1;
    if (const char* env = std::getenv("LMS_NUM_THREADS")) {
      int v = std::atoi(env);
      if (v > 0) n = v;
    }
    if (n > 16) n = 16;
    q->nthreads = n;
    for (int i = 1; i < n; i++) std::thread([q] { q->worker(); }).detach();
    return q;
  }();
  return p;
}

}  // namespace

int pool_threads() { return pool()->nthreads; }

void parallel_for(int64_t n, void (*fn)(void*, int64_t), void* ctx) {
  if (n <= 0) return;
  Pool* p = pool();
  if (n == 1 || p->nthreads == 1 || p->busy.exchange(true, std::memory_order_acquire)) {
    for (int64_t i = 0; i < n; i++) fn(ctx, i);
    return;
  }
  {
    std::lock_guard<std::mutex> lk(p->mu);
    p->fn = fn;
    p->ctx = ctx;
    p->n = n;
    p->next.store(0, std::memory_order_relaxed);
    p->active = 0;
    p->open = true;
    p->generation++;
  }
  p->work_cv.notify_all();
  p->drain(fn, ctx, n);
  {
    // Every task is claimed now; wait only for the ones workers are still running.
    std::unique_lock<std::mutex> lk(p->mu);
    p->open = false;
    p->done_cv.wait(lk, [&] { return p->active == 0; });
  }
  p->busy.store(false, std::memory_order_release);
}

}  // namespace lms
