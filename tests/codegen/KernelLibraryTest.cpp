// The CPU backend's infrastructure: targets, library contents, stages and errors.
#include "CodegenTestUtil.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <tuple>

namespace tern::cpu::test {
namespace {

KernelSpec quantizeSpec(const std::string &symbol) {
  return KernelSpec{symbol, "quantize_act", {{"width", 64}}, {}, {}};
}

TEST(CpuTarget, ResolvesNamedLevels) {
  auto v4 = resolveCpuTarget("x86-64-v4");
  ASSERT_TRUE(bool(v4)) << llvm::toString(v4.takeError());
  EXPECT_TRUE(v4->hasAVX512);
  EXPECT_NE(std::find(v4->features.begin(), v4->features.end(), "avx512vnni"),
            v4->features.end());
  auto v3 = resolveCpuTarget("x86-64-v3");
  ASSERT_TRUE(bool(v3));
  EXPECT_TRUE(v3->hasAVX2);
  EXPECT_FALSE(v3->hasAVX512);
  auto generic = resolveCpuTarget("generic");
  ASSERT_TRUE(bool(generic));
  EXPECT_EQ(generic->cpu, "x86-64");
  EXPECT_TRUE(generic->features.empty());
}

TEST(CpuTarget, NativePicksTheBestHostLevel) {
  auto native = resolveCpuTarget("native");
  ASSERT_TRUE(bool(native)) << llvm::toString(native.takeError());
  EXPECT_EQ(native->name, runnableTargets().front());
}

TEST(CpuTarget, AutoPackingTakesTl2OnlyForNativeOnAVX512HostsWithVBMI) {
  auto v4 = resolveCpuTarget("x86-64-v4");
  auto v3 = resolveCpuTarget("x86-64-v3");
  ASSERT_TRUE(bool(v4) && bool(v3));
  EXPECT_EQ(defaultTernaryPacking("native", *v4, /*isGpu=*/false, /*hostVBMI=*/true), "tl2");
  EXPECT_EQ(defaultTernaryPacking("native", *v4, false, /*hostVBMI=*/false), "i2");
  // A named target must run on every host of its level, VBMI or not.
  EXPECT_EQ(defaultTernaryPacking("x86-64-v4", *v4, false, true), "i2");
  // A host with VBMI but without the rest of x86-64-v4 gets no AVX-512 kernels at all.
  EXPECT_EQ(defaultTernaryPacking("native", *v3, false, true), "i2");
  EXPECT_EQ(defaultTernaryPacking("sm_90", *v4, /*isGpu=*/true, true), "i2");
}

TEST(CpuTarget, AutoAmxOnlyForNativeOnAVX512HostsWithAmxAndThenI2) {
  auto v4 = resolveCpuTarget("x86-64-v4");
  auto v3 = resolveCpuTarget("x86-64-v3");
  ASSERT_TRUE(bool(v4) && bool(v3));
  EXPECT_TRUE(defaultAmx("native", *v4, /*isGpu=*/false, /*hostAMX=*/true));
  EXPECT_FALSE(defaultAmx("native", *v4, false, /*hostAMX=*/false));
  EXPECT_FALSE(defaultAmx("x86-64-v4", *v4, false, true)); // must run on hosts without AMX
  EXPECT_FALSE(defaultAmx("native", *v3, false, true));
  EXPECT_FALSE(defaultAmx("sm_90", *v4, /*isGpu=*/true, true));

  // With AMX on, auto packing keeps i2, the layout the tile kernels read, even with VBMI.
  CpuTarget amx = *v4;
  ASSERT_FALSE(bool(enableAmxKernels(amx, "x86-64-v4", false)));
  EXPECT_TRUE(amx.hasAMX);
  EXPECT_NE(std::find(amx.features.begin(), amx.features.end(), "amx-int8"), amx.features.end());
  EXPECT_EQ(defaultTernaryPacking("native", amx, false, /*hostVBMI=*/true), "i2");

  CpuTarget noAvx512 = *v3;
  llvm::Error refused = enableAmxKernels(noAvx512, "x86-64-v3", false);
  ASSERT_TRUE(bool(refused));
  EXPECT_NE(llvm::toString(std::move(refused)).find("needs an AVX-512 target"), std::string::npos);
  llvm::Error gpu = enableAmxKernels(amx, "sm_90", true);
  ASSERT_TRUE(bool(gpu));
  EXPECT_NE(llvm::toString(std::move(gpu)).find("GPU target"), std::string::npos);
}

TEST(CpuTarget, AutoLutPrefillOnlyForNativeOnZen1To3) {
  auto v4 = resolveCpuTarget("x86-64-v4");
  auto v3 = resolveCpuTarget("x86-64-v3");
  auto generic = resolveCpuTarget("generic");
  ASSERT_TRUE(bool(v4) && bool(v3) && bool(generic));
  for (const char *zen : {"znver1", "znver2", "znver3"})
    EXPECT_TRUE(defaultLutPrefill("native", *v3, /*isGpu=*/false, zen)) << zen;
  // Cores with two multiply pipes (not measured with the tables), AVX-512 hosts (VNNI), named
  // targets (the artifact may run anywhere) and GPU targets keep the multiply-add kernels.
  EXPECT_FALSE(defaultLutPrefill("native", *v3, false, "skylake"));
  EXPECT_FALSE(defaultLutPrefill("native", *v4, false, "znver4"));
  EXPECT_FALSE(defaultLutPrefill("x86-64-v3", *v3, false, "znver2"));
  EXPECT_FALSE(defaultLutPrefill("native", *generic, false, "znver2"));
  EXPECT_FALSE(defaultLutPrefill("sm_90", *v3, /*isGpu=*/true, "znver2"));

  CpuTarget lut = *v3;
  ASSERT_FALSE(bool(enableLutPrefill(lut, "x86-64-v3", false)));
  EXPECT_TRUE(lut.lutPrefill);
  EXPECT_EQ(lut.features, v3->features); // nothing beyond x86-64-v3 (BMI2's rorx is in it)
  for (auto [target, name, why] :
       {std::tuple{*v4, "x86-64-v4", "has AVX-512 VNNI"}, {*generic, "generic", "has no AVX2"}}) {
    llvm::Error refused = enableLutPrefill(target, name, false);
    ASSERT_TRUE(bool(refused)) << name;
    EXPECT_NE(llvm::toString(std::move(refused)).find(why), std::string::npos) << name;
  }
  llvm::Error gpu = enableLutPrefill(lut, "sm_90", true);
  ASSERT_TRUE(bool(gpu));
  EXPECT_NE(llvm::toString(std::move(gpu)).find("GPU target"), std::string::npos);
}

TEST(CpuTarget, RejectsUnknownNamesListingKnownOnes) {
  auto bad = resolveCpuTarget("pentium2");
  ASSERT_FALSE(bool(bad));
  std::string message = llvm::toString(bad.takeError());
  EXPECT_NE(message.find("pentium2"), std::string::npos);
  EXPECT_NE(message.find("x86-64-v3"), std::string::npos);
}

TEST(KernelLibrary, ExportsKernelsAndAbiVersion) {
  std::string error;
  auto library = buildAndLoad({quantizeSpec("first"), quantizeSpec("second")}, "generic", &error);
  ASSERT_TRUE(library) << error;
  EXPECT_NE(library->kernel("first"), nullptr);
  EXPECT_NE(library->kernel("second"), nullptr);
  auto *version = static_cast<const uint32_t *>(library->symbol(TERN_KERNEL_ABI_VERSION_SYMBOL));
  ASSERT_NE(version, nullptr);
  EXPECT_EQ(*version, TERN_KERNEL_ABI_VERSION);
}

TEST(KernelLibrary, RejectsUnknownFamily) {
  auto target = resolveCpuTarget("generic");
  ASSERT_TRUE(bool(target));
  KernelSpec spec{"k", "fourier_transform", {}, {}, {}};
  auto library = buildKernelLibrary({spec}, *target);
  ASSERT_FALSE(bool(library));
  EXPECT_NE(llvm::toString(library.takeError()).find("fourier_transform"), std::string::npos);
}

TEST(KernelLibrary, RejectsDuplicateSymbols) {
  auto target = resolveCpuTarget("generic");
  ASSERT_TRUE(bool(target));
  auto library = buildKernelLibrary({quantizeSpec("same"), quantizeSpec("same")}, *target);
  ASSERT_FALSE(bool(library));
  EXPECT_NE(llvm::toString(library.takeError()).find("not unique"), std::string::npos);
}

TEST(KernelLibrary, ReportsBadParametersNamingTheKernel) {
  auto target = resolveCpuTarget("generic");
  ASSERT_TRUE(bool(target));
  KernelSpec spec{"bad_tmm", "ternary_matmul", {{"n", 30}, {"k", 64}, {"n_block", 7}}, {}, {}};
  auto library = buildKernelLibrary({spec}, *target);
  ASSERT_FALSE(bool(library));
  std::string message = llvm::toString(library.takeError());
  EXPECT_NE(message.find("bad_tmm"), std::string::npos) << message;
  EXPECT_NE(message.find("n_block"), std::string::npos) << message;
}

TEST(KernelLibrary, EmitsEveryStage) {
  auto v4 = resolveCpuTarget("x86-64-v4");
  auto v3 = resolveCpuTarget("x86-64-v3");
  ASSERT_TRUE(v4 && v3);
  KernelSpec tmm{"tmm", "ternary_matmul", {{"n", 64}, {"k", 256}, {"n_block", 16}}, {},
                 {{"packing", "i2_b128"}}};
  auto mlirText = emitKernels({tmm}, *v4, "mlir");
  ASSERT_TRUE(bool(mlirText)) << llvm::toString(mlirText.takeError());
  EXPECT_NE(mlirText->find("func.func @tmm(%arg0: !llvm.ptr, %arg1: i64"), std::string::npos);
  auto llvmText = emitKernels({tmm}, *v4, "llvm");
  ASSERT_TRUE(bool(llvmText)) << llvm::toString(llvmText.takeError());
  EXPECT_NE(llvmText->find("define void @tmm(ptr"), std::string::npos);
  size_t global = llvmText->find("@tern_kernel_abi_version = ");
  ASSERT_NE(global, std::string::npos);
  std::string line = llvmText->substr(global, llvmText->find('\n', global) - global);
  EXPECT_NE(line.find("constant i32 1"), std::string::npos) << line;
  auto asmV4 = emitKernels({tmm}, *v4, "asm");
  ASSERT_TRUE(bool(asmV4));
  EXPECT_NE(asmV4->find("vpdpbusd"), std::string::npos);
  auto asmV3 = emitKernels({tmm}, *v3, "asm");
  ASSERT_TRUE(bool(asmV3));
  EXPECT_NE(asmV3->find("vpmaddubsw"), std::string::npos);
  EXPECT_EQ(asmV3->find("zmm"), std::string::npos);
  auto bad = emitKernels({tmm}, *v4, "bitcode");
  ASSERT_FALSE(bool(bad));
  llvm::consumeError(bad.takeError());
}

} // namespace
} // namespace tern::cpu::test
