// tern-gpu-gemv: the batch-1 matmul kernels the PTX backend generates for the 2B-4T shapes,
// timed on the GPU: ternary projections (i2_b128, dp4a), the lm_head in f16 and in the
// block-quantized formats. Each kernel runs 64 times back to back in a CUDA graph, cycling
// through enough copies of its weights (at least 256 MB in all) that every launch streams
// them from device memory rather than the 50 MB L2, as a decode step does; once as plain
// launches and once as programmatic dependent launches, the way the runtime launches a decode
// step; each kernel as generated for any entry point and as the one-row variant that decode
// runs; the decode step's other kernels (norms, rope with the KV-cache write, attention over
// 256 positions), whose time is otherwise known only from a profile with events around every
// dispatch; and, as the floor, a kernel with next to no work. Prints one JSON object: per
// kernel, microseconds per launch and weight GB/s, both ways (for the step kernels, the bytes
// they read and write). The yardsticks, torch's bf16 GEMVs and
// the copy bandwidth, come from torch_baseline.py in the same call.
//   tern-gpu-gemv [--kernels NAME,...]   (default: every kernel; --help lists the names)
#include "codegen/GPU/GPUCodegen.h"
#include "packing/QuantizedPacking.h"
#include "packing/TernaryPacking.h"
#include "runtime/cuda/CudaDriver.h"
#include "tern/kernel_abi.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringRef.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <vector>

using namespace tern;
using namespace tern::cuda;

namespace {

struct Shape {
  std::string name;
  KernelSpec spec;
  std::vector<size_t> bindingBytes; // in the family's order
  size_t weightBinding = 0;         // the binding that is cycled through copies
  uint64_t weightBytes = 0;         // what one launch reads of weights (codes + scales)
  bool streamWeights = true;        // cycle through copies so that launches read device memory
  bool floatData = false;           // fill the bindings with floats in [-1, 1], not random bytes
  int64_t pos = 0;                  // the call record's position
};

Shape ternary(const std::string &name, int64_t n, int64_t k) {
  Shape s;
  s.name = name;
  s.spec.symbol = "bench_" + name;
  s.spec.family = "ternary_matmul";
  s.spec.ints = {{"n", n}, {"k", k}, {"n_block", 1}, {"divide_by_scale", 0}};
  s.spec.strings["packing"] = "i2_b128";
  const size_t packed = size_t(packing::packedBytes(packing::TernaryLayout::I2B128, n, k));
  s.bindingBytes = {size_t(k), 4, packed, size_t(n) * 4, size_t(n) * 4};
  s.weightBinding = 2;
  s.weightBytes = packed + size_t(n) * 4;
  return s;
}

Shape f16LmHead(int64_t n, int64_t k) {
  Shape s;
  s.name = "lm_head_f16";
  s.spec.symbol = "bench_lm_head_f16";
  s.spec.family = "matmul";
  s.spec.ints = {{"n", n}, {"k", k}, {"n_block", 1}, {"x_stride", k}};
  s.spec.strings["dtype"] = "f16";
  s.bindingBytes = {size_t(k) * 4, size_t(n * k) * 2, size_t(n) * 4};
  s.weightBinding = 1;
  s.weightBytes = size_t(n * k) * 2;
  return s;
}

Shape quantizedLmHead(packing::QuantFormat format, int64_t n, int64_t k) {
  Shape s;
  const std::string format_name = packing::quantFormatName(format);
  s.name = "lm_head_" + format_name;
  s.spec.symbol = "bench_" + s.name;
  s.spec.family = "quantized_matmul";
  s.spec.ints = {{"n", n}, {"k", k}, {"n_block", 1}};
  s.spec.strings["format"] = format_name;
  const size_t packed = size_t(packing::quantPackedBytes(format, n, k));
  s.bindingBytes = {size_t(k), 4, packed, size_t(n) * 4};
  s.weightBinding = 2;
  s.weightBytes = packed;
  return s;
}

// The floor the matmuls are measured against: a kernel with next to no work (an add of two
// 2560-float vectors, one block, from L2) timed the same way, i.e. what one launch in a graph
// costs by itself, plainly and as a programmatic dependent launch.
Shape launchFloor() {
  Shape s;
  s.name = "launch_floor_add";
  s.spec.symbol = "bench_launch_floor_add";
  s.spec.family = "add";
  s.spec.ints = {{"width", 2560}};
  s.bindingBytes = {2560 * 4, 2560 * 4, 2560 * 4};
  s.weightBytes = 2 * 2560 * 4;
  s.streamWeights = false;
  return s;
}

// A kernel of the decode step other than a matmul, at the 2B-4T shapes: its bindings hold
// floats in [-1, 1] (the int8 and scale outputs are overwritten), read from L2 after the first
// launch. |bytes| is what one launch reads and writes.
Shape stepKernel(const std::string &name, const std::string &family,
                 std::map<std::string, int64_t> ints, std::vector<size_t> bindingBytes,
                 uint64_t bytes, int64_t pos = 0) {
  Shape s;
  s.name = name;
  s.spec.symbol = "bench_" + name;
  s.spec.family = family;
  s.spec.ints = std::move(ints);
  s.bindingBytes = std::move(bindingBytes);
  s.weightBytes = bytes;
  s.streamWeights = false;
  s.floatData = true;
  s.pos = pos;
  return s;
}

// The decode step's norms, rope with the KV-cache write and attention (apart and as the one
// rope_kv_attention kernel decode runs), as ternc generates them for the 2B-4T shape (hidden
// 2560, FFN 6912, 20 heads of 128, 5 kv heads), at position 255.
std::vector<Shape> stepKernels() {
  const size_t hidden = 2560, ffn = 6912, qkv = 3840, kvWidth = 640, context = 4096;
  const size_t f = sizeof(float), cache = context * kvWidth * f;
  const int64_t pos = 255;
  std::vector<Shape> shapes;
  auto norm = [&](const std::string &name, std::map<std::string, int64_t> ints,
                  std::vector<size_t> bindingBytes, uint64_t bytes) {
    Shape s =
        stepKernel(name, "rms_norm_quantize", std::move(ints), std::move(bindingBytes), bytes);
    s.spec.floats["eps"] = 1e-5;
    return s;
  };
  shapes.push_back(norm("rms_norm_quantize", {{"width", hidden}},
                        {hidden * f, hidden * f, hidden, f}, 2 * hidden * f + hidden));
  shapes.push_back(norm("rms_norm_quantize_residual", {{"width", hidden}, {"residual", 1}},
                        {hidden * f, hidden * f, hidden * f, hidden, f, hidden * f},
                        4 * hidden * f + hidden));
  Shape gated =
      norm("rms_norm_quantize_gated", {{"width", ffn}, {"gated", 1}, {"in_stride", 2 * ffn}},
           {2 * ffn * f, 2 * ffn * f, ffn * f, ffn, f}, 3 * ffn * f + ffn);
  gated.spec.strings["activation"] = "relu2";
  shapes.push_back(std::move(gated));
  Shape rope = stepKernel("rope_kv_cache_write", "rope_kv_cache_write",
                          {{"heads", 25},
                           {"head_dim", 128},
                           {"stride", qkv},
                           {"context", context},
                           {"kv_heads", 5},
                           {"v_stride", qkv}},
                          {qkv * f, context * 64 * 2 * f, qkv * f, cache, cache},
                          (3200 * 2 + 64 * 2 + kvWidth * 3) * f, pos);
  rope.spec.strings["style"] = "neox";
  shapes.push_back(std::move(rope));
  Shape attention = stepKernel(
      "attention", "attention",
      {{"heads", 20}, {"kv_heads", 5}, {"head_dim", 128}, {"q_stride", qkv}, {"context", context}},
      {qkv * f, cache, cache, hidden * f}, (2 * hidden + 2 * (pos + 1) * kvWidth) * f, pos);
  attention.spec.floats["scale"] = 0.08838834764831845;
  shapes.push_back(std::move(attention));
  // Decode's rope_kv_attention: the two above in one launch.
  Shape ropeAttention =
      stepKernel("rope_kv_attention", "rope_kv_attention",
                 {{"heads", 20},
                  {"kv_heads", 5},
                  {"head_dim", 128},
                  {"stride", qkv},
                  {"v_stride", qkv},
                  {"context", context}},
                 {qkv * f, context * 64 * 2 * f, qkv * f, cache, cache, hidden * f},
                 (hidden + 2 * (pos + 1) * kvWidth + 64 * 2 + 2 * kvWidth) * f, pos);
  ropeAttention.spec.floats["scale"] = 0.08838834764831845;
  ropeAttention.spec.strings["style"] = "neox";
  shapes.push_back(std::move(ropeAttention));
  return shapes;
}

// Every kernel this benchmark times, in the order it prints them.
std::vector<Shape> allShapes() {
  std::vector<Shape> shapes = {ternary("qkv", 3840, 2560),
                               ternary("o", 2560, 2560),
                               ternary("gate_up", 13824, 2560),
                               ternary("down", 2560, 6912),
                               f16LmHead(128256, 2560),
                               quantizedLmHead(packing::QuantFormat::Q8B32, 128256, 2560),
                               quantizedLmHead(packing::QuantFormat::Q6B32, 128256, 2560),
                               quantizedLmHead(packing::QuantFormat::Q4B32, 128256, 2560)};
  // Each kernel also as its one-row variant, the one a decode step runs (GPUCodegen.h).
  const size_t general = shapes.size();
  for (size_t i = 0; i < general; ++i) {
    Shape s = shapes[i];
    s.spec = *gpu::oneRowVariant(s.spec);
    s.name += "_one_row";
    shapes.push_back(std::move(s));
  }
  for (Shape &s : stepKernels())
    shapes.push_back(std::move(s));
  shapes.push_back(launchFloor());
  return shapes;
}

void printUsage(FILE *out, const std::vector<Shape> &shapes) {
  std::fprintf(out, "usage: tern-gpu-gemv [--kernels NAME,...]\n"
                    "Times the batch-1 matmul kernels and the decode step's other kernels on the GPU\n"
                    "(default: all of them). Names:\n");
  for (const Shape &s : shapes)
    std::fprintf(out, "  %s\n", s.name.c_str());
}

// Keeps the kernels named in the comma-separated |list|, in their usual order; false, with a
// message naming it, if a name is not one of them.
bool selectShapes(const std::string &list, std::vector<Shape> &shapes) {
  llvm::SmallVector<llvm::StringRef> names;
  llvm::StringRef(list).split(names, ',', /*MaxSplit=*/-1, /*KeepEmpty=*/false);
  if (names.empty()) {
    std::fprintf(stderr, "tern-gpu-gemv: --kernels names no kernel\n");
    return false;
  }
  for (llvm::StringRef name : names)
    if (std::none_of(shapes.begin(), shapes.end(),
                     [&](const Shape &s) { return s.name == name; })) {
      std::fprintf(stderr,
                   "tern-gpu-gemv: --kernels: no kernel is named '%s' (--help lists them)\n",
                   name.str().c_str());
      return false;
    }
  std::erase_if(shapes, [&](const Shape &s) { return !llvm::is_contained(names, s.name); });
  return true;
}

bool ok(const Driver &driver, CUresult result, const char *what) {
  if (result == CUDA_SUCCESS)
    return true;
  std::fprintf(stderr, "tern-gpu-gemv: %s: %s\n", what, driver.describe(result).c_str());
  return false;
}

} // namespace

int main(int argc, char **argv) {
  // The options are checked before the driver is loaded, so that a bad one is reported the
  // same way on a machine without a GPU.
  std::vector<Shape> shapes = allShapes();
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "-h") || !std::strcmp(argv[i], "--help")) {
      printUsage(stdout, shapes);
      return 0;
    }
    if (!std::strcmp(argv[i], "--kernels")) {
      if (i + 1 == argc) {
        std::fprintf(stderr, "tern-gpu-gemv: --kernels needs a list of kernel names\n");
        return 2;
      }
      if (!selectShapes(argv[++i], shapes))
        return 2;
      continue;
    }
    std::fprintf(stderr, "tern-gpu-gemv: unknown option '%s' (expected --kernels NAME,...)\n",
                 argv[i]);
    return 2;
  }
  // The kernels are generated before the driver loads too: no GPU is needed to check them.
  std::vector<KernelSpec> specs;
  for (const Shape &s : shapes)
    specs.push_back(s.spec);
  auto target = gpu::resolveGpuTarget("sm_90");
  auto ptx = gpu::buildPtxLibrary(specs, *target);
  if (!ptx) {
    std::fprintf(stderr, "tern-gpu-gemv: %s\n", llvm::toString(ptx.takeError()).c_str());
    return 1;
  }
  Driver driver;
  if (tern_status_t status = driver.load()) {
    std::fprintf(stderr, "tern-gpu-gemv: %s\n", tern_status_message(status));
    tern_status_free(status);
    return 1;
  }
  CUdevice device = 0;
  CUcontext context = nullptr;
  if (!ok(driver, driver.cuDeviceGet(&device, 0), "cuDeviceGet") ||
      !ok(driver, driver.cuDevicePrimaryCtxRetain(&context, device), "cuDevicePrimaryCtxRetain") ||
      !ok(driver, driver.cuCtxPushCurrent_v2(context), "cuCtxPushCurrent"))
    return 1;
  char deviceName[256] = {};
  driver.cuDeviceGetName(deviceName, sizeof(deviceName), device);

  CUmodule module = nullptr;
  if (!ok(driver, driver.cuModuleLoadDataEx(&module, ptx->c_str(), 0, nullptr, nullptr),
          "cuModuleLoadDataEx"))
    return 1;
  CUstream stream = nullptr;
  if (!ok(driver, driver.cuStreamCreate(&stream, CU_STREAM_NON_BLOCKING), "cuStreamCreate"))
    return 1;
  std::mt19937 rng(1);
  std::printf("{\"device\": \"%s\", \"kernels\": [", deviceName);
  const char *separator = "\n";
  for (const Shape &s : shapes) {
    CUfunction fn = nullptr;
    if (!ok(driver, driver.cuModuleGetFunction(&fn, module, s.spec.symbol.c_str()),
            "cuModuleGetFunction"))
      return 1;
    const size_t minimum = size_t(256) << 20;
    const size_t copies =
        s.streamWeights ? std::max<size_t>(1, (minimum + s.weightBytes - 1) / s.weightBytes) : 1;
    // Bindings: one buffer each, the weights |copies| times; random bytes (timing only).
    std::vector<std::vector<CUdeviceptr>> buffers(s.bindingBytes.size());
    for (size_t b = 0; b < s.bindingBytes.size(); ++b) {
      const size_t count = b == s.weightBinding ? copies : 1;
      std::vector<uint8_t> bytes(s.bindingBytes[b]);
      if (s.floatData) {
        std::uniform_real_distribution<float> unit(-1.0f, 1.0f);
        for (size_t i = 0; i + sizeof(float) <= bytes.size(); i += sizeof(float)) {
          const float v = unit(rng);
          std::memcpy(&bytes[i], &v, sizeof(float));
        }
      } else {
        for (uint8_t &byte : bytes)
          byte = uint8_t(rng() & 0x7f); // no NaN/inf f16 or f32 bit patterns
      }
      for (size_t c = 0; c < count; ++c) {
        CUdeviceptr p = 0;
        if (!ok(driver, driver.cuMemAlloc_v2(&p, bytes.size()), "cuMemAlloc") ||
            !ok(driver, driver.cuMemcpyHtoD_v2(p, bytes.data(), bytes.size()), "cuMemcpyHtoD"))
          return 1;
        buffers[b].push_back(p);
      }
    }
    // The ternary wscale (binding 3) scales every row: its copies cycle with the codes.
    const tern_cuda_call_t call{1, s.pos};
    CUdeviceptr callPtr = 0;
    driver.cuMemAlloc_v2(&callPtr, sizeof(call));
    driver.cuMemcpyHtoD_v2(callPtr, &call, sizeof(call));
    auto shape = gpu::launchShape(s.spec, 1, *gpu::resolveGpuTarget("sm_90"));
    const int launches = 64;
    std::vector<std::vector<CUdeviceptr>> values(launches);
    std::vector<std::vector<void *>> params(launches);
    for (int i = 0; i < launches; ++i) {
      for (size_t b = 0; b < buffers.size(); ++b)
        values[i].push_back(buffers[b][size_t(i) % buffers[b].size()]);
      values[i].push_back(callPtr);
      for (CUdeviceptr &v : values[i])
        params[i].push_back(&v);
    }
    // Microseconds per launch of the graph of |launches| launches, best of 10 replays; with
    // |dependent|, each launch is a programmatic dependent of the one before, as the runtime
    // launches a decode step's dispatches (sm_90): a kernel's weight prefetch, issued before
    // its griddepcontrol.wait, then overlaps the kernel before it. Negative on failure.
    auto timeGraph = [&](bool dependent) -> double {
      if (!ok(driver, driver.cuStreamBeginCapture_v2(stream, CU_STREAM_CAPTURE_MODE_THREAD_LOCAL),
              "cuStreamBeginCapture"))
        return -1;
      for (int i = 0; i < launches; ++i) {
        CUlaunchAttribute attribute{};
        attribute.id = CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION;
        attribute.value.programmaticStreamSerializationAllowed = 1;
        const CUlaunchConfig config{shape->grid[0],  shape->grid[1], shape->grid[2],
                                    shape->block[0], shape->block[1], shape->block[2],
                                    0,               stream,          &attribute,
                                    dependent ? 1u : 0u};
        driver.cuLaunchKernelEx(&config, fn, params[i].data(), nullptr);
      }
      CUgraph graph = nullptr;
      CUgraphExec exec = nullptr;
      if (!ok(driver, driver.cuStreamEndCapture(stream, &graph), "cuStreamEndCapture") ||
          !ok(driver, driver.cuGraphInstantiateWithFlags(&exec, graph, 0), "cuGraphInstantiate"))
        return -1;
      driver.cuGraphLaunch(exec, stream);
      if (!ok(driver, driver.cuStreamSynchronize(stream), "warm-up run"))
        return -1;
      double best = 1e30;
      for (int rep = 0; rep < 10; ++rep) {
        auto start = std::chrono::steady_clock::now();
        driver.cuGraphLaunch(exec, stream);
        driver.cuStreamSynchronize(stream);
        best = std::min(best, std::chrono::duration<double, std::micro>(
                                  std::chrono::steady_clock::now() - start).count());
      }
      driver.cuGraphExecDestroy(exec);
      driver.cuGraphDestroy(graph);
      return best / launches;
    };
    const double us = timeGraph(false), usDependent = timeGraph(true);
    if (us < 0 || usDependent < 0)
      return 1;
    std::printf("%s {\"name\": \"%s\", \"family\": \"%s\", \"n\": %lld, \"k\": %lld, "
                "\"weight_bytes\": %llu, \"copies\": %zu, \"us\": %.3f, \"gbps\": %.1f, "
                "\"us_dependent\": %.3f, \"gbps_dependent\": %.1f}",
                separator, s.name.c_str(), s.spec.family.c_str(),
                (long long)s.spec.getInt("n"), (long long)s.spec.getInt("k"),
                (unsigned long long)s.weightBytes, copies, us, double(s.weightBytes) / us / 1e3,
                usDependent, double(s.weightBytes) / usDependent / 1e3);
    separator = ",\n";
    for (auto &list : buffers)
      for (CUdeviceptr p : list)
        driver.cuMemFree_v2(p);
    driver.cuMemFree_v2(callPtr);
  }
  std::printf("\n]}\n");
  driver.cuStreamDestroy_v2(stream);
  driver.cuModuleUnload(module);
  CUcontext popped;
  driver.cuCtxPopCurrent_v2(&popped);
  driver.cuDevicePrimaryCtxRelease_v2(device);
  return 0;
}
