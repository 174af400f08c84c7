// The dispatch thread pool: spin-then-sleep workers, contiguous slices, a join per job.
#include "ThreadPool.h"

#include <algorithm>
#include <cstring>
#include <sched.h>

namespace tern {
namespace {

// About a millisecond of polling: long enough to span the gap between dispatches of a token,
// short enough that workers fall asleep soon after generation stops.
constexpr int kSpinIterations = 1 << 14;

inline void cpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

} // namespace

bool ThreadPool::start(int numThreads, std::string *error) {
  const int workers = numThreads > 1 ? numThreads - 1 : 0;
  starts_.resize(size_t(workers));
  workers_.reserve(size_t(workers));
  for (int i = 0; i < workers; ++i) {
    starts_[size_t(i)] = {this, i + 1};
    pthread_t thread;
    int rc = pthread_create(&thread, nullptr, &ThreadPool::workerMain, &starts_[size_t(i)]);
    if (rc != 0) {
      if (error)
        *error = "cannot start worker thread " + std::to_string(i + 1) + " of " +
                 std::to_string(numThreads) + ": " + std::strerror(rc);
      return false; // the destructor joins the workers already started
    }
    workers_.push_back(thread);
  }
  return true;
}

ThreadPool::~ThreadPool() {
  stop_.store(true, std::memory_order_seq_cst);
  generation_.fetch_add(1, std::memory_order_seq_cst);
  {
    std::lock_guard<std::mutex> lock(sleepMutex_);
  }
  wake_.notify_all();
  for (pthread_t thread : workers_)
    pthread_join(thread, nullptr);
}

void *ThreadPool::workerMain(void *arg) {
  auto *start = static_cast<WorkerStart *>(arg);
  start->pool->workerLoop(start->index);
  return nullptr;
}

void ThreadPool::runSlice(int index) {
  if (index >= activeThreads_)
    return;
  const int64_t begin = items_ * index / activeThreads_;
  const int64_t end = items_ * (index + 1) / activeThreads_;
  if (begin < end)
    task_(context_, begin, end);
}

void ThreadPool::workerLoop(int index) {
  uint64_t seen = 0;
  for (;;) {
    uint64_t current = generation_.load(std::memory_order_acquire);
    for (int i = 0; current == seen && i < kSpinIterations; ++i) {
      cpuRelax();
      current = generation_.load(std::memory_order_acquire);
    }
    if (current == seen) {
      // Announce the sleep before checking once more under the lock, so a publisher either
      // sees us sleeping (and notifies) or we see its new generation.
      sleepers_.fetch_add(1, std::memory_order_seq_cst);
      std::unique_lock<std::mutex> lock(sleepMutex_);
      while ((current = generation_.load(std::memory_order_seq_cst)) == seen)
        wake_.wait(lock);
      lock.unlock();
      sleepers_.fetch_sub(1, std::memory_order_relaxed);
    }
    if (stop_.load(std::memory_order_acquire))
      return;
    seen = current;
    runSlice(index);
    pending_.fetch_sub(1, std::memory_order_acq_rel);
  }
}

void ThreadPool::parallelFor(int64_t items, Task task, void *context) {
  if (items <= 0)
    return;
  if (workers_.empty() || items == 1) {
    task(context, 0, items);
    return;
  }
  task_ = task;
  context_ = context;
  items_ = items;
  activeThreads_ = int(std::min<int64_t>(items, numThreads()));
  // Every worker acknowledges every job, even without a slice: then none can still be reading
  // this job's fields when the next one is published.
  pending_.store(int(workers_.size()), std::memory_order_relaxed);
  generation_.fetch_add(1, std::memory_order_seq_cst);
  if (sleepers_.load(std::memory_order_seq_cst) > 0) {
    { std::lock_guard<std::mutex> lock(sleepMutex_); }
    wake_.notify_all();
  }
  runSlice(0);
  for (int i = 0; pending_.load(std::memory_order_acquire) != 0; ++i) {
    if (i < kSpinIterations)
      cpuRelax();
    else
      sched_yield();
  }
}

} // namespace tern
