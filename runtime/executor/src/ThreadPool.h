// Persistent worker threads that split each kernel dispatch's work items between them.
#ifndef TERN_EXECUTOR_THREADPOOL_H
#define TERN_EXECUTOR_THREADPOOL_H

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <pthread.h>
#include <string>
#include <vector>

namespace tern {

// Workers are created once; parallelFor creates no thread and allocates nothing. Between jobs
// workers spin briefly (consecutive dispatches of one token follow within microseconds), then
// sleep on a condition variable so an idle model burns no CPU.
// Thread-compatible: one parallelFor at a time (callers serialise with runMutex()).
class ThreadPool {
public:
  // Runs items [begin, end) of a job.
  using Task = void (*)(void *context, int64_t begin, int64_t end);

  ThreadPool() = default;
  ~ThreadPool();
  ThreadPool(const ThreadPool &) = delete;
  ThreadPool &operator=(const ThreadPool &) = delete;

  // Starts |numThreads| - 1 workers (the calling thread is the last one). False with |*error|
  // when the system refuses a thread.
  bool start(int numThreads, std::string *error);
  int numThreads() const { return int(workers_.size()) + 1; }

  // Splits [0, items) into contiguous slices, one per thread (fewer threads when there are
  // fewer items), runs |task| on each slice (slice 0 on the calling thread) and returns when
  // every slice is done.
  void parallelFor(int64_t items, Task task, void *context);

  // Held by a session for the length of one evaluation: sessions share their model's pool.
  std::mutex &runMutex() { return runMutex_; }

private:
  static void *workerMain(void *self);
  void workerLoop(int index);
  void runSlice(int index);

  std::vector<pthread_t> workers_;
  std::mutex runMutex_;

  // The current job, published by incrementing |generation_|.
  Task task_ = nullptr;
  void *context_ = nullptr;
  int64_t items_ = 0;
  int activeThreads_ = 0;

  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};  // workers that have not finished the current job
  std::atomic<int> sleepers_{0}; // workers blocked (or about to block) on |wake_|
  std::atomic<bool> stop_{false};
  std::mutex sleepMutex_;
  std::condition_variable wake_;

  struct WorkerStart {
    ThreadPool *pool;
    int index;
  };
  std::vector<WorkerStart> starts_; // (workers) arguments of each worker's thread
};

} // namespace tern

#endif
