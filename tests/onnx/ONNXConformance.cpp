// Runs ONNX's backend node tests for every op the constant evaluator claims and prints a table.
//
// A test belongs to an op when its graph is that single node; graphs of several nodes (the
// "expanded" function bodies) are run too when every node is a claimed op. Results:
// passed, failed (wrong value, type or shape, or an error), not supported (the evaluator
// refused a documented unsupported feature, e.g. STRING tensors, with errc::not_supported), or a
// known difference (listed below with the reason).
// Exit status 1 when any test failed.
#include "frontends/onnx/ONNXEvaluator.h"
#include "frontends/onnx/ONNXReader.h"

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <cmath>
#include <map>
#include <set>

using namespace tern::onnx;
namespace cl = llvm::cl;

static cl::opt<std::string> dataDir("data", cl::desc("Directory of node tests"),
                                    cl::init("/usr/share/libonnx-testdata/data/node"));
static cl::opt<bool> markdown("markdown", cl::desc("Print the table as Markdown"));
static cl::opt<bool> verbose("verbose", cl::desc("Print every test's result"));
static cl::opt<std::string> filter("filter", cl::desc("Run only tests whose name contains this"));

namespace {

enum class Outcome { Passed, Failed, Unsupported, Known };

// Tests whose expected output an older ONNX generated with different semantics than today's
// spec, which the evaluator follows. Their result is still checked: passing would be news.
const std::map<std::string, std::string> kKnownDifferences = {
    // ONNX 1.12 made these outputs by truncating the float's low 16 bits; the spec (and ONNX
    // Runtime, and ONNX from 1.14 on) rounds to nearest even.
    {"test_cast_FLOAT_to_BFLOAT16", "ONNX 1.12 data truncates; the evaluator rounds to nearest even"},
    {"test_castlike_FLOAT_to_BFLOAT16_expanded",
     "ONNX 1.12 data truncates; the evaluator rounds to nearest even"},
};

struct Result {
  Outcome outcome;
  std::string message;
};

// ONNX's backend test tolerance for floats (onnx/backend/test/case/node: rtol 1e-3, atol 1e-7).
constexpr double kRtol = 1e-3, kAtol = 1e-7;

Result fromError(llvm::Error err) {
  Result r{Outcome::Failed, ""};
  llvm::handleAllErrors(std::move(err), [&](const llvm::ErrorInfoBase &e) {
    if (e.convertToErrorCode() == std::make_error_code(std::errc::not_supported))
      r.outcome = Outcome::Unsupported;
    r.message = e.message();
  });
  return r;
}

std::optional<std::string> compare(const Tensor &got, const Tensor &want) {
  if (got.type() != want.type())
    return "type " + elemTypeName(got.type()) + ", expected " + elemTypeName(want.type());
  if (got.shape() != want.shape())
    return "shape " + shapeToString(got.shape()) + ", expected " + shapeToString(want.shape());
  bool isFloat = isFloatType(got.type());
  for (int64_t i = 0; i < got.numElements(); ++i) {
    if (isFloat) {
      double g = got.getDouble(i), w = want.getDouble(i);
      if (std::isnan(w) ? std::isnan(g) : (g == w || std::fabs(g - w) <= kAtol + kRtol * std::fabs(w)))
        continue;
      return "element " + std::to_string(i) + " is " + std::to_string(g) + ", expected " +
             std::to_string(w);
    }
    if (got.getInt(i) != want.getInt(i))
      return "element " + std::to_string(i) + " is " + std::to_string(got.getInt(i)) +
             ", expected " + std::to_string(want.getInt(i));
  }
  return std::nullopt;
}

// ONNX 1.12's generator saved BFLOAT16 test tensors as their UINT16 bit patterns; read them
// back as the type the model declares.
Tensor asDeclared(Tensor t, int32_t declared) {
  if (static_cast<ElemType>(declared) != ElemType::BFloat16 || t.type() != ElemType::UInt16)
    return t;
  Tensor bf(ElemType::BFloat16, t.shape());
  bf.bytes() = t.bytes();
  return bf;
}

Result runTest(const ONNXModel &model, const std::string &dir) {
  std::string set = dir + "/test_data_set_0";
  std::map<std::string, Tensor> values;
  for (const InitializerInfo &init : model.initializers()) {
    auto t = model.initializer(init.name);
    if (!t)
      return fromError(t.takeError());
    values[init.name] = std::move(*t);
  }
  for (size_t i = 0; i < model.inputs().size(); ++i) {
    const ValueInfo &vi = model.inputs()[i];
    if (vi.kind != "tensor")
      return {Outcome::Unsupported, "input '" + vi.name + "' is a " + vi.kind};
    auto t = loadTensorFile(set + "/input_" + std::to_string(i) + ".pb");
    if (!t)
      return fromError(t.takeError());
    values[vi.name] = asDeclared(std::move(*t), vi.elemType);
  }
  for (const ValueInfo &vo : model.outputs())
    if (vo.kind != "tensor")
      return {Outcome::Unsupported, "output '" + vo.name + "' is a " + vo.kind};
  if (llvm::Error e = evaluateGraph(model.graph(), values, model.opsetVersion("")))
    return fromError(std::move(e));
  for (size_t i = 0; i < model.outputs().size(); ++i) {
    const std::string &name = model.outputs()[i].name;
    auto want = loadTensorFile(set + "/output_" + std::to_string(i) + ".pb");
    if (!want)
      return fromError(want.takeError());
    auto it = values.find(name);
    if (it == values.end())
      return {Outcome::Failed, "output '" + name + "' was not produced"};
    if (auto diff = compare(it->second, asDeclared(std::move(*want), model.outputs()[i].elemType)))
      return {Outcome::Failed, "output '" + name + "': " + *diff};
  }
  return {Outcome::Passed, ""};
}

} // namespace

int main(int argc, char **argv) {
  cl::ParseCommandLineOptions(argc, argv, "ONNX node conformance of the constant evaluator\n");
  if (!llvm::sys::fs::is_directory(dataDir)) {
    llvm::errs() << "onnx-conformance: " << dataDir
                 << ": no such directory (install libonnx-testdata)\n";
    return 77; // ctest's skip code
  }
  std::vector<std::string> dirs;
  std::error_code ec;
  for (llvm::sys::fs::directory_iterator it(dataDir, ec), end; it != end && !ec;
       it.increment(ec))
    if (llvm::sys::path::filename(it->path()).starts_with("test_"))
      dirs.push_back(it->path());
  std::sort(dirs.begin(), dirs.end());

  const char *kMulti = "(multi-node graphs)";
  struct Row {
    int passed = 0, failed = 0, unsupported = 0, known = 0;
    int total() const { return passed + failed + unsupported + known; }
  };
  std::map<std::string, Row> rows;
  for (const std::string &op : evaluatorOps())
    rows[op];
  int passed = 0, failed = 0, unsupported = 0, known = 0;
  for (const std::string &dir : dirs) {
    std::string name = llvm::sys::path::filename(dir).str();
    if (!filter.empty() && name.find(filter) == std::string::npos)
      continue;
    auto model = ONNXModel::load(dir + "/model.onnx");
    if (!model) {
      llvm::consumeError(model.takeError());
      continue; // not ours to judge: the op it tests is not claimed either way
    }
    const auto &nodes = (*model)->graph().node();
    bool claimed = nodes.size() > 0;
    for (const auto &n : nodes)
      claimed = claimed && isEvaluatorOp(n.domain(), n.op_type());
    if (!claimed)
      continue;
    std::string op = nodes.size() == 1 ? nodes[0].op_type() : kMulti;
    Result r = runTest(**model, dir);
    auto knownIt = kKnownDifferences.find(name);
    if (knownIt != kKnownDifferences.end() && r.outcome == Outcome::Failed)
      r = {Outcome::Known, knownIt->second + " (" + r.message + ")"};
    Row &row = rows[op];
    switch (r.outcome) {
    case Outcome::Passed:
      ++row.passed, ++passed;
      break;
    case Outcome::Failed:
      ++row.failed, ++failed;
      break;
    case Outcome::Unsupported:
      ++row.unsupported, ++unsupported;
      break;
    case Outcome::Known:
      ++row.known, ++known;
      break;
    }
    if (verbose || r.outcome == Outcome::Failed)
      llvm::errs() << (r.outcome == Outcome::Passed    ? "PASS "
                       : r.outcome == Outcome::Failed ? "FAIL "
                       : r.outcome == Outcome::Known  ? "KNOWN "
                                                      : "UNSUPPORTED ")
                   << name << (r.message.empty() ? "" : ": " + r.message) << "\n";
  }

  auto &os = llvm::outs();
  if (markdown) {
    os << "| op | passed | not supported | known difference | failed |\n"
          "|---|---:|---:|---:|---:|\n";
    for (auto &[op, r] : rows)
      os << "| " << op << " | " << r.passed << "/" << r.total() << " | " << r.unsupported
         << " | " << r.known << " | " << r.failed << " |\n";
    os << "\n";
  } else {
    os << llvm::left_justify("op", 20) << "  passed   not supported  known difference  failed\n";
    for (auto &[op, r] : rows)
      os << llvm::left_justify(op, 20) << "  "
         << llvm::left_justify(std::to_string(r.passed) + "/" + std::to_string(r.total()), 7)
         << "  " << llvm::left_justify(std::to_string(r.unsupported), 13) << "  "
         << llvm::left_justify(std::to_string(r.known), 16) << "  " << r.failed << "\n";
  }
  os << passed << " passed, " << failed << " failed (" << unsupported << " not supported, "
     << known << " known differences)\n";
  return failed ? 1 : 0;
}
