// Unit tests of the ONNX reader (initializer encodings, external data, errors) and evaluator.
#include "frontends/onnx/DescribeONNX.h"
#include "frontends/onnx/ONNXEvaluator.h"
#include "frontends/onnx/ONNXReader.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

using namespace tern::onnx;

namespace {

// A fresh directory per test, removed afterwards.
class TempDir {
public:
  TempDir() {
    llvm::SmallString<128> p;
    EXPECT_FALSE(llvm::sys::fs::createUniqueDirectory("onnx-reader-test", p));
    path = std::string(p);
  }
  ~TempDir() { llvm::sys::fs::remove_directories(path); }
  std::string file(const std::string &name) const { return path + "/" + name; }
  std::string path;
};

void writeFile(const std::string &path, const std::string &bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

// A model whose graph returns each initializer, so the reader's dangling-name check passes.
::onnx::ModelProto modelWith(std::vector<::onnx::TensorProto> inits) {
  ::onnx::ModelProto m;
  m.set_ir_version(8);
  m.set_producer_name("unit-test");
  auto *opset = m.add_opset_import();
  opset->set_version(17);
  auto *g = m.mutable_graph();
  g->set_name("g");
  for (auto &t : inits) {
    *g->add_initializer() = t;
    g->add_output()->set_name(t.name());
  }
  return m;
}

::onnx::TensorProto typed(const std::string &name, ElemType type, std::vector<int64_t> dims) {
  ::onnx::TensorProto t;
  t.set_name(name);
  t.set_data_type(static_cast<int32_t>(type));
  for (int64_t d : dims)
    t.add_dims(d);
  return t;
}

std::string messageOf(llvm::Error e) { return llvm::toString(std::move(e)); }

TEST(ONNXReader, ReadsTypedFieldInitializersOfEveryCommonType) {
  auto f = typed("f", ElemType::Float, {2});
  f.add_float_data(1.5f);
  f.add_float_data(-2.0f);
  auto h = typed("h", ElemType::Float16, {2});
  h.add_int32_data(0x3c00); // 1.0
  h.add_int32_data(0xc000); // -2.0
  auto bf = typed("bf", ElemType::BFloat16, {1});
  bf.add_int32_data(0x4049); // 3.140625
  auto i8 = typed("i8", ElemType::Int8, {2});
  i8.add_int32_data(-7);
  i8.add_int32_data(127);
  auto u8 = typed("u8", ElemType::UInt8, {1});
  u8.add_int32_data(200);
  auto i32 = typed("i32", ElemType::Int32, {1});
  i32.add_int32_data(-123456);
  auto i64 = typed("i64", ElemType::Int64, {2});
  i64.add_int64_data(-1);
  i64.add_int64_data(int64_t(1) << 40);
  auto b = typed("b", ElemType::Bool, {2});
  b.add_int32_data(1);
  b.add_int32_data(0);
  auto d = typed("d", ElemType::Double, {1});
  d.add_double_data(0.1);
  TempDir dir;
  std::string path = dir.file("typed.onnx");
  writeFile(path, modelWith({f, h, bf, i8, u8, i32, i64, b, d}).SerializeAsString());

  auto model = ONNXModel::load(path);
  ASSERT_TRUE(!!model) << messageOf(model.takeError());
  auto get = [&](const char *name) {
    auto t = (*model)->initializer(name);
    EXPECT_TRUE(!!t);
    return t ? *t : Tensor();
  };
  EXPECT_EQ(get("f").toDoubles(), (std::vector<double>{1.5, -2.0}));
  EXPECT_EQ(get("h").toDoubles(), (std::vector<double>{1.0, -2.0}));
  EXPECT_EQ(get("bf").getDouble(0), 3.140625);
  EXPECT_EQ(get("i8").toInt64s(), (std::vector<int64_t>{-7, 127}));
  EXPECT_EQ(get("u8").getInt(0), 200);
  EXPECT_EQ(get("i32").getInt(0), -123456);
  EXPECT_EQ(get("i64").toInt64s(), (std::vector<int64_t>{-1, int64_t(1) << 40}));
  EXPECT_EQ(get("b").toInt64s(), (std::vector<int64_t>{1, 0}));
  EXPECT_EQ(get("d").getDouble(0), 0.1);
  EXPECT_EQ((*model)->initializers().size(), 9u);
  EXPECT_EQ((*model)->opsetVersion(""), 17);
}

TEST(ONNXReader, ReadsRawDataAndRejectsAWrongByteCount) {
  Tensor t = Tensor::fromFloats({1, 2, 3, 4, 5, 6}, {2, 3});
  auto good = tensorToProto(t, "w");
  auto bad = good;
  bad.set_name("short");
  bad.mutable_raw_data()->resize(20);
  TempDir dir;
  writeFile(dir.file("raw.onnx"), modelWith({good, bad}).SerializeAsString());
  auto model = ONNXModel::load(dir.file("raw.onnx"));
  ASSERT_TRUE(!!model) << messageOf(model.takeError());
  auto w = (*model)->initializer("w");
  ASSERT_TRUE(!!w);
  EXPECT_EQ(w->shape(), (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(w->getDouble(5), 6.0);
  auto s = (*model)->initializer("short");
  ASSERT_FALSE(!!s);
  std::string msg = messageOf(s.takeError());
  EXPECT_NE(msg.find("raw.onnx: tensor 'short': raw_data has 20 bytes, expected 24 for "
                     "FLOAT[2, 3]"),
            std::string::npos)
      << msg;
}

TEST(ONNXReader, ReadsExternalDataRelativeToTheModel) {
  TempDir dir;
  // 8 bytes of padding, then two int64 values.
  std::string blob(8, 'x');
  int64_t values[2] = {42, -5};
  blob.append(reinterpret_cast<const char *>(values), sizeof values);
  writeFile(dir.file("weights.bin"), blob);
  auto ext = typed("e", ElemType::Int64, {2});
  ext.set_data_location(::onnx::TensorProto::EXTERNAL);
  auto add = [](::onnx::TensorProto &t, const char *k, const std::string &v) {
    auto *kv = t.add_external_data();
    kv->set_key(k);
    kv->set_value(v);
  };
  add(ext, "location", "weights.bin");
  add(ext, "offset", "8");
  add(ext, "length", "16");
  auto past = ext;
  past.set_name("past_end");
  past.mutable_external_data(1)->set_value("9");
  auto missing = ext;
  missing.set_name("missing");
  missing.mutable_external_data(0)->set_value("nowhere.bin");
  auto escape = ext;
  escape.set_name("escape");
  escape.mutable_external_data(0)->set_value("../weights.bin");
  writeFile(dir.file("m.onnx"), modelWith({ext, past, missing, escape}).SerializeAsString());

  auto model = ONNXModel::load(dir.file("m.onnx"));
  ASSERT_TRUE(!!model) << messageOf(model.takeError());
  EXPECT_TRUE((*model)->initializers()[0].external);
  EXPECT_EQ((*model)->initializers()[0].location, "weights.bin");
  auto e = (*model)->initializer("e");
  ASSERT_TRUE(!!e) << messageOf(e.takeError());
  EXPECT_EQ(e->toInt64s(), (std::vector<int64_t>{42, -5}));

  std::string msg = messageOf((*model)->initializer("past_end").takeError());
  EXPECT_NE(msg.find("tensor 'past_end': external data file"), std::string::npos) << msg;
  EXPECT_NE(msg.find("weights.bin is 24 bytes; INT64[2] needs bytes [9, 25)"), std::string::npos)
      << msg;
  msg = messageOf((*model)->initializer("missing").takeError());
  EXPECT_NE(msg.find("tensor 'missing': cannot read external data file"), std::string::npos) << msg;
  EXPECT_NE(msg.find("nowhere.bin"), std::string::npos) << msg;
  msg = messageOf((*model)->initializer("escape").takeError());
  EXPECT_NE(msg.find("must be a relative path inside the model's directory"), std::string::npos)
      << msg;
}

TEST(ONNXReader, RejectsTruncatedAndEmptyFilesNamingThem) {
  TempDir dir;
  Tensor t = Tensor::fromFloats(std::vector<float>(64, 1.0f), {64});
  std::string bytes = modelWith({tensorToProto(t, "w")}).SerializeAsString();
  writeFile(dir.file("cut.onnx"), bytes.substr(0, bytes.size() / 2));
  auto cut = ONNXModel::load(dir.file("cut.onnx"));
  ASSERT_FALSE(!!cut);
  std::string msg = messageOf(cut.takeError());
  EXPECT_NE(msg.find("cut.onnx: not a valid ONNX model"), std::string::npos) << msg;
  EXPECT_NE(msg.find("truncated or corrupt"), std::string::npos) << msg;

  writeFile(dir.file("empty.onnx"), "");
  msg = messageOf(ONNXModel::load(dir.file("empty.onnx")).takeError());
  EXPECT_NE(msg.find("empty.onnx: file is empty"), std::string::npos) << msg;
}

TEST(ONNXReader, RejectsAGraphReadingAnUndefinedValue) {
  auto m = modelWith({});
  auto *node = m.mutable_graph()->add_node();
  node->set_op_type("Relu");
  node->set_name("r");
  node->add_input("ghost");
  node->add_output("y");
  m.mutable_graph()->add_output()->set_name("y");
  auto model = ONNXModel::parse(m.SerializeAsString(), "mem.onnx");
  ASSERT_FALSE(!!model);
  std::string msg = messageOf(model.takeError());
  EXPECT_NE(msg.find("mem.onnx: node 'r' (Relu) reads 'ghost'"), std::string::npos) << msg;
}

TEST(ONNXReader, KeepsSymbolicDimensionsOfTheSharedGPT2Model) {
  std::string path = std::string(TERN_SHARED_DATA_DIR) +
                     "/onnx/hf-internal-testing__tiny-random-gpt2-fp32__past.onnx";
  if (!llvm::sys::fs::exists(path))
    GTEST_SKIP() << "shared data not present";
  auto model = ONNXModel::load(path);
  ASSERT_TRUE(!!model) << messageOf(model.takeError());
  EXPECT_EQ((*model)->opsetVersion(""), 11);
  EXPECT_EQ((*model)->opsetVersion("com.microsoft"), 1);
  ASSERT_EQ((*model)->inputs().size(), 8u);
  const ValueInfo &past = (*model)->inputs()[3];
  EXPECT_EQ(past.name, "past_0");
  EXPECT_EQ(past.typeString(), "FLOAT[2, batch_size, 4, past_seq_len, 8]");
  EXPECT_EQ(past.dims[1].param, "batch_size");
  EXPECT_EQ(*past.dims[2].value, 4);
  // Every initializer decodes, and their sizes add up to what the summary reports.
  uint64_t bytes = 0;
  for (const InitializerInfo &i : (*model)->initializers()) {
    auto t = (*model)->initializer(i.name);
    ASSERT_TRUE(!!t) << messageOf(t.takeError());
    bytes += t->bytes().size();
  }
  auto summary = describeONNX(path);
  ASSERT_TRUE(!!summary);
  EXPECT_EQ(summary->initializerBytes, bytes);
  EXPECT_EQ(summary->initializerBytes, 568448u); // protoc --decode: 27 FLOAT tensors
}

TEST(ONNXTensor, HalfAndBFloat16RoundToNearestEven) {
  EXPECT_EQ(floatToHalf(1.0f), 0x3c00);
  EXPECT_EQ(floatToHalf(65504.0f), 0x7bff);
  EXPECT_EQ(floatToHalf(65520.0f), 0x7c00); // rounds up to infinity
  EXPECT_EQ(floatToHalf(1.0f + 1.0f / 2048), 0x3c00); // tie goes to even
  EXPECT_EQ(floatToHalf(1.0f + 3.0f / 2048), 0x3c02);
  EXPECT_EQ(floatToHalf(5.9604645e-8f), 0x0001); // smallest subnormal
  EXPECT_EQ(halfToFloat(0x0001), 5.9604645e-8f);
  EXPECT_EQ(halfToFloat(0xfc00), -INFINITY);
  EXPECT_EQ(floatToBFloat16(1.00390625f), 0x3f80); // 1 + 2^-8: tie to even
  EXPECT_EQ(floatToBFloat16(1.01171875f), 0x3f82); // 1 + 3*2^-8: tie to even (up)
  EXPECT_EQ(bfloat16ToFloat(0x3f80), 1.0f);
}

// Shape arithmetic as exporters emit it: Shape -> Gather -> Unsqueeze -> Concat -> Reshape.
TEST(ONNXEvaluator, FoldsAShapeArithmeticChain) {
  ::onnx::GraphProto g;
  auto node = [&](const char *op, std::vector<std::string> ins, std::string out) {
    auto *n = g.add_node();
    n->set_op_type(op);
    n->set_name(out);
    for (auto &i : ins)
      n->add_input(i);
    n->add_output(out);
    return n;
  };
  node("Shape", {"x"}, "shape");
  auto *gather = node("Gather", {"shape", "zero"}, "batch");
  auto *axis = gather->add_attribute();
  axis->set_name("axis");
  axis->set_i(0);
  node("Unsqueeze", {"batch", "axes"}, "batch1");
  auto *concat = node("Concat", {"batch1", "minus1"}, "target");
  auto *caxis = concat->add_attribute();
  caxis->set_name("axis");
  caxis->set_i(0);
  node("Reshape", {"x", "target"}, "y");
  std::map<std::string, Tensor> values;
  values["x"] = Tensor::fromFloats({1, 2, 3, 4, 5, 6}, {2, 3, 1});
  values["zero"] = Tensor::scalarInt64(0);
  values["axes"] = Tensor::fromInt64s({0}, {1});
  values["minus1"] = Tensor::fromInt64s({-1}, {1});
  ASSERT_FALSE(evaluateGraph(g, values, 17));
  EXPECT_EQ(values["target"].toInt64s(), (std::vector<int64_t>{2, -1}));
  EXPECT_EQ(values["y"].shape(), (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(values["y"].getDouble(4), 5.0);
}

TEST(ONNXEvaluator, RejectsAnUnsupportedOpNamingNodeDomainAndOpset) {
  ::onnx::NodeProto n;
  n.set_op_type("GroupQueryAttention");
  n.set_domain("com.microsoft");
  n.set_name("attn0");
  n.add_output("y");
  auto r = evaluateNode(n, {}, 21);
  ASSERT_FALSE(!!r);
  std::error_code ec;
  std::string msg;
  llvm::handleAllErrors(r.takeError(), [&](const llvm::ErrorInfoBase &e) {
    ec = e.convertToErrorCode();
    msg = e.message();
  });
  EXPECT_EQ(ec, std::make_error_code(std::errc::not_supported));
  EXPECT_NE(msg.find("node 'attn0' (GroupQueryAttention, domain com.microsoft, opset 21)"),
            std::string::npos)
      << msg;
  EXPECT_NE(msg.find("supported ops (domain ai.onnx): Abs, Add,"), std::string::npos) << msg;
}

TEST(ONNXEvaluator, ReportsOutOfRangeGatherIndices) {
  ::onnx::NodeProto n;
  n.set_op_type("Gather");
  n.set_name("g");
  n.add_input("d");
  n.add_input("i");
  n.add_output("y");
  std::vector<std::optional<Tensor>> ins = {Tensor::fromInt64s({1, 2, 3}, {3}),
                                            Tensor::scalarInt64(3)};
  auto r = evaluateNode(n, ins, 13);
  ASSERT_FALSE(!!r);
  std::string msg = messageOf(r.takeError());
  EXPECT_NE(msg.find("node 'g' (Gather, domain ai.onnx, opset 13): index 3 is out of range for "
                     "axis dimension 3"),
            std::string::npos)
      << msg;
}

} // namespace
