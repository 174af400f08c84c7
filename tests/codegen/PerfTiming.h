// Timing helpers shared by the kernel performance tests (built, not run by ctest).
#ifndef TERN_TESTS_CODEGEN_PERFTIMING_H
#define TERN_TESTS_CODEGEN_PERFTIMING_H

#include <algorithm>
#include <chrono>
#include <ctime>

namespace tern::cpu::test {

using Clock = std::chrono::steady_clock;

// This thread's CPU time: on a shared machine a descheduled thread stretches wall time but not
// this, so the two together show how much of a slow run was contention.
inline double threadSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + double(ts.tv_nsec) * 1e-9;
}

// Best seconds (per call or per pass) by wall clock and by thread CPU time.
struct Timing {
  double wall = 1e30, cpu = 1e30;
  void add(double w, double c) {
    wall = std::min(wall, w);
    cpu = std::min(cpu, c);
  }
};

} // namespace tern::cpu::test

#endif
