// Which compute capabilities run code for an artifact's target.gpu_arch.
#include "tern/cuda/GpuArch.h"

#include <gtest/gtest.h>

namespace tern::cuda {
namespace {

TEST(GpuArch, ParsesMajorMinorAndSuffix) {
  GpuArch arch;
  ASSERT_TRUE(parseGpuArch("sm_90", &arch));
  EXPECT_EQ(arch.major, 9);
  EXPECT_EQ(arch.minor, 0);
  EXPECT_EQ(arch.suffix, 0);
  ASSERT_TRUE(parseGpuArch("sm_86", &arch));
  EXPECT_EQ(arch.major, 8);
  EXPECT_EQ(arch.minor, 6);
  ASSERT_TRUE(parseGpuArch("sm_90a", &arch));
  EXPECT_EQ(arch.suffix, 'a');
  ASSERT_TRUE(parseGpuArch("sm_100f", &arch));
  EXPECT_EQ(arch.major, 10);
  EXPECT_EQ(arch.minor, 0);
  EXPECT_EQ(arch.suffix, 'f');
  ASSERT_TRUE(parseGpuArch("sm_120", &arch));
  EXPECT_EQ(arch.major, 12);
}

TEST(GpuArch, RejectsOtherSpellings) {
  GpuArch arch;
  for (const char *text : {"", "sm_", "sm_9", "sm_1000", "compute_90", "gfx90a", "sm_9x",
                           "sm_90b", "sm_05", "SM_90"})
    EXPECT_FALSE(parseGpuArch(text, &arch)) << text;
}

TEST(GpuArch, PtxRunsOnLaterDevicesAndSuffixesNarrowThat) {
  GpuArch sm80, sm90a, sm100f;
  ASSERT_TRUE(parseGpuArch("sm_80", &sm80));
  ASSERT_TRUE(parseGpuArch("sm_90a", &sm90a));
  ASSERT_TRUE(parseGpuArch("sm_100f", &sm100f));
  EXPECT_TRUE(gpuArchRunsOn(sm80, 8, 0));
  EXPECT_TRUE(gpuArchRunsOn(sm80, 8, 9));
  EXPECT_TRUE(gpuArchRunsOn(sm80, 9, 0));
  EXPECT_FALSE(gpuArchRunsOn(sm80, 7, 5));
  EXPECT_TRUE(gpuArchRunsOn(sm90a, 9, 0));
  EXPECT_FALSE(gpuArchRunsOn(sm90a, 10, 0));
  EXPECT_FALSE(gpuArchRunsOn(sm90a, 8, 9));
  EXPECT_TRUE(gpuArchRunsOn(sm100f, 10, 3));
  EXPECT_FALSE(gpuArchRunsOn(sm100f, 12, 0));
  EXPECT_EQ(describeGpuArchRequirement(sm80), "compute capability 8.0 or newer");
  EXPECT_EQ(describeGpuArchRequirement(sm90a), "compute capability 9.0 exactly");
}

} // namespace
} // namespace tern::cuda
