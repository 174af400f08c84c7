// Helpers for tests of the PTX backend (see PtxTestUtil.h).
#include "tests/gpu/PtxTestUtil.h"

#include "codegen/GPU/GPUCodegen.h"

#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <regex>
#include <unistd.h>

namespace tern::gpu::test {

std::string generatePtx(const std::vector<KernelSpec> &kernels, const std::string &target) {
  auto resolved = resolveGpuTarget(target);
  if (!resolved) {
    ADD_FAILURE() << llvm::toString(resolved.takeError());
    return "";
  }
  auto ptx = buildPtxLibrary(kernels, *resolved);
  if (!ptx) {
    ADD_FAILURE() << llvm::toString(ptx.takeError());
    return "";
  }
  return *ptx;
}

std::string findPtxas() {
  if (const char *env = std::getenv("PTXAS"); env && *env)
    return access(env, X_OK) == 0 ? env : "";
  if (access("/usr/local/cuda/bin/ptxas", X_OK) == 0)
    return "/usr/local/cuda/bin/ptxas";
  if (std::system("command -v ptxas >/dev/null 2>&1") == 0)
    return "ptxas";
  return "";
}

std::string assemblePtx(const std::string &ptx, const std::string &arch) {
  char dir[] = "/tmp/tern-ptxas-XXXXXX";
  if (!mkdtemp(dir))
    return "cannot create a temporary directory";
  const std::string in = std::string(dir) + "/kernels.ptx";
  const std::string out = std::string(dir) + "/kernels.cubin";
  const std::string log = std::string(dir) + "/log.txt";
  std::ofstream(in) << ptx;
  const std::string command = findPtxas() + " -arch=" + arch + " " + in + " -o " + out + " >" +
                              log + " 2>&1";
  const int status = std::system(command.c_str());
  std::string messages;
  if (status != 0) {
    std::ifstream file(log);
    messages.assign(std::istreambuf_iterator<char>(file), {});
    if (messages.empty())
      messages = "ptxas failed with status " + std::to_string(status);
  }
  std::remove(in.c_str());
  std::remove(out.c_str());
  std::remove(log.c_str());
  rmdir(dir);
  return messages;
}

int entryParamCount(const std::string &ptx, const std::string &symbol) {
  const size_t at = ptx.find(".entry " + symbol + "(");
  if (at == std::string::npos)
    return -1;
  const size_t end = ptx.find(')', at);
  int count = 0;
  for (size_t p = ptx.find(".param", at); p != std::string::npos && p < end;
       p = ptx.find(".param", p + 1))
    ++count;
  return count;
}

} // namespace tern::gpu::test
