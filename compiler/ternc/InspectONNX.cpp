// Renders an ONNX model summary for `ternc inspect model.onnx`, as text or JSON.
#include "compiler/ternc/Inspect.h"

#include "frontends/onnx/DescribeONNX.h"

#include "llvm/Support/Format.h"

namespace tern {
namespace {

std::string opsetString(const onnx::OpsetImport &o) {
  return (o.domain.empty() ? std::string("ai.onnx") : o.domain) + " " + std::to_string(o.version);
}

std::string bytesString(uint64_t bytes) {
  if (bytes >= (1ull << 20))
    return llvm::formatv("{0:F2} MiB", bytes / double(1ull << 20)).str();
  if (bytes >= 1024)
    return llvm::formatv("{0:F1} KiB", bytes / 1024.0).str();
  return std::to_string(bytes) + " B";
}

llvm::json::Array valuesToJSON(const std::vector<onnx::ValueInfo> &values) {
  llvm::json::Array out;
  for (const onnx::ValueInfo &v : values) {
    llvm::json::Array dims;
    for (const onnx::Dim &d : v.dims)
      dims.push_back(d.value ? llvm::json::Value(*d.value) : llvm::json::Value(d.str()));
    out.push_back(llvm::json::Object{{"name", v.name},
                                     {"kind", v.kind},
                                     {"type", v.typeString()},
                                     {"dims", std::move(dims)}});
  }
  return out;
}

} // namespace

llvm::json::Value onnxInspectionToJSON(const onnx::ONNXSummary &s) {
  llvm::json::Array opsets, ops, byType;
  for (const onnx::OpsetImport &o : s.opsets)
    opsets.push_back(llvm::json::Object{
        {"domain", o.domain.empty() ? "ai.onnx" : o.domain}, {"version", o.version}});
  for (const onnx::ONNXOpCount &op : s.ops)
    ops.push_back(llvm::json::Object{{"domain", op.domain},
                                     {"op", op.opType},
                                     {"count", op.count},
                                     {"evaluable", op.evaluable}});
  for (const onnx::ONNXDtypeBytes &t : s.initializersByType)
    byType.push_back(llvm::json::Object{
        {"type", t.dtype}, {"count", t.count}, {"bytes", static_cast<int64_t>(t.bytes)}});
  return llvm::json::Object{
      {"path", s.path},
      {"format", "onnx"},
      {"ir_version", s.irVersion},
      {"producer", s.producerName},
      {"producer_version", s.producerVersion},
      {"opsets", std::move(opsets)},
      {"inputs", valuesToJSON(s.inputs)},
      {"outputs", valuesToJSON(s.outputs)},
      {"initializer_count", s.initializerCount},
      {"initializer_bytes", static_cast<int64_t>(s.initializerBytes)},
      {"external_initializers", s.externalInitializers},
      {"initializers_by_type", std::move(byType)},
      {"node_count", s.nodeCount},
      {"ops", std::move(ops)},
  };
}

void printONNXInspection(const onnx::ONNXSummary &s, llvm::raw_ostream &os) {
  os << s.path << "\n";
  os << "  format:        onnx (IR version " << s.irVersion << ")\n";
  os << "  producer:      " << (s.producerName.empty() ? "(none)" : s.producerName)
     << (s.producerVersion.empty() ? "" : " " + s.producerVersion) << "\n";
  os << "  opsets:        ";
  for (size_t i = 0; i < s.opsets.size(); ++i)
    os << (i ? ", " : "") << opsetString(s.opsets[i]);
  os << "\n";
  os << "\n";

  os << "Inputs (" << s.inputs.size() << ")\n";
  for (const onnx::ValueInfo &v : s.inputs)
    os << "  " << v.name << ": " << v.typeString() << "\n";
  os << "\nOutputs (" << s.outputs.size() << ")\n";
  for (const onnx::ValueInfo &v : s.outputs)
    os << "  " << v.name << ": " << v.typeString() << "\n";

  os << "\nInitializers (" << s.initializerCount << ", " << bytesString(s.initializerBytes);
  if (s.externalInitializers)
    os << ", " << s.externalInitializers << " in external data";
  os << ")\n";
  for (const onnx::ONNXDtypeBytes &t : s.initializersByType)
    os << "  " << llvm::left_justify(t.dtype, 9) << " " << llvm::right_justify(std::to_string(t.count), 5)
       << " tensors  " << bytesString(t.bytes) << "\n";

  os << "\nOps (" << s.nodeCount << " nodes, " << s.ops.size() << " kinds)\n";
  for (const onnx::ONNXOpCount &op : s.ops)
    os << "  " << llvm::right_justify(std::to_string(op.count), 5) << "  " << op.opType
       << (op.domain == "ai.onnx" ? "" : " (" + op.domain + ")") << "\n";
}

} // namespace tern
