// ONNX ModelProto reading: protobuf parse, graph signature, initializer decoding.
#include "frontends/onnx/ONNXReader.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

#include <google/protobuf/io/coded_stream.h>

#include <climits>
#include <cstring>
#include <set>

namespace tern::onnx {

namespace {

template <typename... Ts> llvm::Error fail(const char *fmt, const Ts &...args) {
  return llvm::createStringError(std::errc::invalid_argument, fmt, args...);
}

std::string dimsString(const std::vector<Dim> &dims) {
  std::string s = "[";
  for (size_t i = 0; i < dims.size(); ++i)
    s += (i ? ", " : "") + dims[i].str();
  return s + "]";
}

// Parses with the 2 GiB protobuf ceiling lifted from its 64 MiB default; a model above 2 GiB
// cannot be a single protobuf message at all (its weights must be external data).
bool parseModel(llvm::StringRef bytes, ::onnx::ModelProto &model) {
  google::protobuf::io::CodedInputStream in(reinterpret_cast<const uint8_t *>(bytes.data()),
                                            static_cast<int>(bytes.size()));
  in.SetTotalBytesLimit(INT_MAX);
  return model.ParseFromCodedStream(&in) && in.ConsumedEntireMessage();
}

} // namespace

std::string ValueInfo::typeString() const {
  if (kind != "tensor")
    return kind;
  return elemTypeName(elemType) + (hasShape ? dimsString(dims) : "[unknown rank]");
}

ValueInfo valueInfoFromProto(const ::onnx::ValueInfoProto &proto) {
  ValueInfo v;
  v.name = proto.name();
  const ::onnx::TypeProto &type = proto.type();
  switch (type.value_case()) {
  case ::onnx::TypeProto::kTensorType: {
    const auto &t = type.tensor_type();
    v.elemType = t.elem_type();
    v.hasShape = t.has_shape();
    for (const auto &d : t.shape().dim()) {
      Dim dim;
      if (d.has_dim_value())
        dim.value = d.dim_value();
      else if (d.has_dim_param())
        dim.param = d.dim_param();
      v.dims.push_back(dim);
    }
    break;
  }
  case ::onnx::TypeProto::kSequenceType:
    v.kind = "sequence";
    break;
  case ::onnx::TypeProto::kMapType:
    v.kind = "map";
    break;
  case ::onnx::TypeProto::kOptionalType:
    v.kind = "optional";
    break;
  case ::onnx::TypeProto::kSparseTensorType:
    v.kind = "sparse_tensor";
    break;
  default:
    v.kind = "?";
  }
  return v;
}

llvm::Expected<Tensor> tensorFromProto(const ::onnx::TensorProto &proto, llvm::StringRef baseDir,
                                       llvm::StringRef context) {
  std::string where = context.str() + ": tensor '" + proto.name() + "'";
  auto type = static_cast<ElemType>(proto.data_type());
  std::optional<uint64_t> size = elemSize(type);
  if (!size || type == ElemType::Complex64 || type == ElemType::Complex128)
    return llvm::createStringError(std::errc::not_supported,
                                   "%s: element type %s is not supported; expected a numeric or "
                                   "BOOL type",
                                   where.c_str(), elemTypeName(proto.data_type()).c_str());
  if (proto.has_segment())
    return fail("%s: segmented tensors are not supported", where.c_str());
  std::vector<int64_t> shape(proto.dims().begin(), proto.dims().end());
  uint64_t count = 1;
  for (int64_t d : shape) {
    if (d < 0)
      return fail("%s: negative dimension %lld in shape %s", where.c_str(),
                  static_cast<long long>(d), shapeToString(shape).c_str());
    if (d && count > (UINT64_MAX / 16) / static_cast<uint64_t>(d))
      return fail("%s: shape %s is too large", where.c_str(), shapeToString(shape).c_str());
    count *= static_cast<uint64_t>(d);
  }
  uint64_t bytes = count * *size;
  Tensor t(type, shape);
  std::string desc = t.describe();

  if (proto.data_location() == ::onnx::TensorProto::EXTERNAL) {
    std::string location;
    uint64_t offset = 0;
    std::optional<uint64_t> length;
    for (const auto &kv : proto.external_data()) {
      unsigned long long n = 0;
      if (kv.key() == "location") {
        location = kv.value();
      } else if (kv.key() == "offset" || kv.key() == "length") {
        if (llvm::getAsUnsignedInteger(kv.value(), 10, n))
          return fail("%s: external data %s '%s' is not a number", where.c_str(),
                      kv.key().c_str(), kv.value().c_str());
        (kv.key() == "offset" ? offset : length.emplace()) = n;
      }
    }
    if (location.empty())
      return fail("%s: data_location is EXTERNAL but external_data has no 'location'",
                  where.c_str());
    // As the ONNX checker does: external files live under the model's directory.
    if (llvm::sys::path::is_absolute(location) || llvm::StringRef(location).contains(".."))
      return fail("%s: external data location '%s' must be a relative path inside the model's "
                  "directory",
                  where.c_str(), location.c_str());
    llvm::SmallString<256> file(baseDir);
    llvm::sys::path::append(file, location);
    if (length && *length != bytes)
      return fail("%s: external data length %llu does not match %s (%llu bytes)", where.c_str(),
                  static_cast<unsigned long long>(*length), desc.c_str(),
                  static_cast<unsigned long long>(bytes));
    uint64_t fileSize = 0;
    if (std::error_code ec = llvm::sys::fs::file_size(file, fileSize))
      return fail("%s: cannot read external data file %s: %s", where.c_str(), file.c_str(),
                  ec.message().c_str());
    if (offset > fileSize || bytes > fileSize - offset)
      return fail("%s: external data file %s is %llu bytes; %s needs bytes [%llu, %llu)",
                  where.c_str(), file.c_str(), static_cast<unsigned long long>(fileSize),
                  desc.c_str(), static_cast<unsigned long long>(offset),
                  static_cast<unsigned long long>(offset + bytes));
    if (bytes) {
      auto slice = llvm::MemoryBuffer::getFileSlice(file, bytes, offset);
      if (!slice)
        return fail("%s: cannot read external data file %s: %s", where.c_str(), file.c_str(),
                    slice.getError().message().c_str());
      copyBytes(t.bytes().data(), (*slice)->getBufferStart(), bytes);
    }
    return t;
  }

  if (proto.has_raw_data()) {
    if (proto.raw_data().size() != bytes)
      return fail("%s: raw_data has %zu bytes, expected %llu for %s", where.c_str(),
                  proto.raw_data().size(), static_cast<unsigned long long>(bytes), desc.c_str());
    if (bytes)
      copyBytes(t.bytes().data(), proto.raw_data().data(), bytes);
    return t;
  }

  // Typed fields: which one holds the values depends on the element type (onnx.proto's table).
  auto checkCount = [&](int n, const char *field) -> llvm::Error {
    if (static_cast<uint64_t>(n) != count)
      return fail("%s: %s has %d values, expected %llu for %s", where.c_str(), field, n,
                  static_cast<unsigned long long>(count), desc.c_str());
    return llvm::Error::success();
  };
  switch (type) {
  case ElemType::Float:
    if (auto e = checkCount(proto.float_data_size(), "float_data"))
      return std::move(e);
    copyBytes(t.bytes().data(), proto.float_data().data(), bytes);
    break;
  case ElemType::Double:
    if (auto e = checkCount(proto.double_data_size(), "double_data"))
      return std::move(e);
    copyBytes(t.bytes().data(), proto.double_data().data(), bytes);
    break;
  case ElemType::Int64:
    if (auto e = checkCount(proto.int64_data_size(), "int64_data"))
      return std::move(e);
    copyBytes(t.bytes().data(), proto.int64_data().data(), bytes);
    break;
  case ElemType::UInt32:
  case ElemType::UInt64:
    if (auto e = checkCount(proto.uint64_data_size(), "uint64_data"))
      return std::move(e);
    for (uint64_t i = 0; i < count; ++i)
      t.setInt(i, static_cast<int64_t>(proto.uint64_data(i)));
    break;
  case ElemType::Float16:
  case ElemType::BFloat16:
    // 16-bit floats travel as their bit patterns in int32_data.
    if (auto e = checkCount(proto.int32_data_size(), "int32_data"))
      return std::move(e);
    for (uint64_t i = 0; i < count; ++i) {
      uint16_t bits = static_cast<uint16_t>(proto.int32_data(i));
      copyBytes(t.bytes().data() + 2 * i, &bits, 2);
    }
    break;
  default: // INT8, UINT8, INT16, UINT16, INT32, BOOL
    if (auto e = checkCount(proto.int32_data_size(), "int32_data"))
      return std::move(e);
    for (uint64_t i = 0; i < count; ++i)
      t.setInt(i, proto.int32_data(i));
    break;
  }
  return t;
}

llvm::Expected<Tensor> loadTensorFile(llvm::StringRef path) {
  auto buffer = llvm::MemoryBuffer::getFile(path, /*IsText=*/false,
                                            /*RequiresNullTerminator=*/false);
  if (!buffer)
    return fail("%s: cannot read: %s", path.str().c_str(), buffer.getError().message().c_str());
  ::onnx::TensorProto proto;
  if (!proto.ParseFromArray((*buffer)->getBufferStart(),
                            static_cast<int>((*buffer)->getBufferSize())))
    return fail("%s: not a serialized TensorProto (truncated or corrupt)", path.str().c_str());
  return tensorFromProto(proto, llvm::sys::path::parent_path(path), path);
}

::onnx::TensorProto tensorToProto(const Tensor &t, llvm::StringRef name) {
  ::onnx::TensorProto proto;
  proto.set_name(name.str());
  proto.set_data_type(static_cast<int32_t>(t.type()));
  for (int64_t d : t.shape())
    proto.add_dims(d);
  proto.set_raw_data(t.bytes().data(), t.bytes().size());
  return proto;
}

llvm::Expected<std::unique_ptr<ONNXModel>> ONNXModel::load(llvm::StringRef path) {
  if (!llvm::sys::fs::exists(path))
    return fail("%s: no such file or directory", path.str().c_str());
  auto buffer = llvm::MemoryBuffer::getFile(path, /*IsText=*/false,
                                            /*RequiresNullTerminator=*/false);
  if (!buffer)
    return fail("%s: cannot read: %s", path.str().c_str(), buffer.getError().message().c_str());
  return parse((*buffer)->getBuffer(), path);
}

llvm::Expected<std::unique_ptr<ONNXModel>> ONNXModel::parse(llvm::StringRef bytes,
                                                            llvm::StringRef path) {
  std::string p = path.str();
  if (bytes.empty())
    return fail("%s: file is empty; expected an ONNX ModelProto", p.c_str());
  if (bytes.size() > static_cast<uint64_t>(INT_MAX))
    return fail("%s: %zu bytes is above protobuf's 2 GiB limit; ONNX models this large keep "
                "their weights in external data files",
                p.c_str(), bytes.size());
  std::unique_ptr<ONNXModel> m(new ONNXModel());
  m->filePath = p;
  if (!parseModel(bytes, m->model))
    return fail("%s: not a valid ONNX model: protobuf could not parse a ModelProto from its %zu "
                "bytes (the file is truncated or corrupt)",
                p.c_str(), bytes.size());
  if (m->model.ir_version() <= 0 || !m->model.has_graph())
    return fail("%s: not an ONNX model: %s (the file is truncated or not ONNX)", p.c_str(),
                m->model.ir_version() <= 0 ? "no ir_version" : "no graph");
  if (llvm::Error e = m->index())
    return std::move(e);
  return m;
}

llvm::Error ONNXModel::index() {
  for (const auto &o : model.opset_import())
    opsetList.push_back({o.domain(), o.version()});
  const ::onnx::GraphProto &g = model.graph();

  std::set<std::string> defined;
  for (int i = 0; i < g.initializer_size(); ++i) {
    const ::onnx::TensorProto &t = g.initializer(i);
    InitializerInfo info;
    info.name = t.name();
    info.elemType = t.data_type();
    info.shape.assign(t.dims().begin(), t.dims().end());
    uint64_t n = 1;
    for (int64_t d : info.shape)
      n *= static_cast<uint64_t>(std::max<int64_t>(d, 0));
    info.byteSize = n * elemSize(static_cast<ElemType>(t.data_type())).value_or(0);
    info.external = t.data_location() == ::onnx::TensorProto::EXTERNAL;
    for (const auto &kv : t.external_data())
      if (kv.key() == "location")
        info.location = kv.value();
    initByName[info.name] = i;
    defined.insert(info.name);
    initList.push_back(std::move(info));
  }
  for (const auto &vi : g.input()) {
    defined.insert(vi.name());
    if (!initByName.count(vi.name()))
      inputList.push_back(valueInfoFromProto(vi));
  }
  for (const auto &vi : g.output())
    outputList.push_back(valueInfoFromProto(vi));
  for (const auto &vi : g.value_info())
    valueInfoList.push_back(valueInfoFromProto(vi));
  for (const auto &n : g.node())
    for (const std::string &o : n.output())
      defined.insert(o);
  // A message cut at a field boundary still parses; what it loses shows up as dangling names.
  for (const auto &n : g.node())
    for (const std::string &in : n.input())
      if (!in.empty() && !defined.count(in))
        return fail("%s: node '%s' (%s) reads '%s', which no input, initializer or node defines "
                    "(the file is truncated or the graph is malformed)",
                    filePath.c_str(), n.name().c_str(), n.op_type().c_str(), in.c_str());
  for (const ValueInfo &o : outputList)
    if (!defined.count(o.name))
      return fail("%s: graph output '%s' is not defined by any node, input or initializer (the "
                  "file is truncated or the graph is malformed)",
                  filePath.c_str(), o.name.c_str());
  return llvm::Error::success();
}

int64_t ONNXModel::opsetVersion(llvm::StringRef domain) const {
  bool isDefault = domain.empty() || domain == "ai.onnx";
  for (const OpsetImport &o : opsetList)
    if (o.domain == domain || (isDefault && (o.domain.empty() || o.domain == "ai.onnx")))
      return o.version;
  return 0;
}

llvm::Expected<Tensor> ONNXModel::initializer(llvm::StringRef name) const {
  auto it = initByName.find(name.str());
  if (it == initByName.end())
    return fail("%s: no initializer named '%s'", filePath.c_str(), name.str().c_str());
  return tensorFromProto(model.graph().initializer(it->second),
                         llvm::sys::path::parent_path(filePath), filePath);
}

} // namespace tern::onnx
