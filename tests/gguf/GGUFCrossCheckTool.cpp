// gguf-crosscheck-tool: writes fixture GGUF files with our writer and dumps what our reader and
// decoders see, for crosscheck_gguf.py to compare against the gguf Python package.
//
//   gguf-crosscheck-tool write <dir>          -> <dir>/fixture.gguf, <dir>/fixture_i2s.gguf
//   gguf-crosscheck-tool dump <file> <dir>    -> <dir>/manifest.tsv and <dir>/<index>.f32
#include "frontends/common/TensorDecode.h"
#include "frontends/gguf/GGUFReader.h"
#include "frontends/gguf/GGUFWriter.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <cstring>
#include <random>

using namespace tern::fe;

namespace {

int failWith(llvm::Error err) {
  llvm::errs() << "gguf-crosscheck-tool: " << llvm::toString(std::move(err)) << "\n";
  return 1;
}

std::string join(llvm::StringRef dir, llvm::StringRef name) {
  llvm::SmallString<256> p(dir);
  llvm::sys::path::append(p, name);
  return std::string(p);
}

// Odd shapes and values that exercise every corner: negative zero, subnormals, infinities,
// values that round on a tie, rows of several blocks.
int writeFixtures(llvm::StringRef dir) {
  std::mt19937 rng(1234);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  // |special|: plant awkward values (only in plain float tensors: in a quantized block an
  // infinity would turn the whole block into NaNs).
  auto floats = [&](size_t n, bool special = true) {
    std::vector<float> v(n);
    for (float &x : v)
      x = normal(rng);
    if (special && n >= 8) {
      v[0] = -0.0f, v[1] = 1e-7f, v[2] = 65504.0f, v[3] = 1.0f + 0x1p-11f;
      v[4] = -3.0e38f, v[5] = 0x1p-20f, v[6] = 0.0f, v[7] = 100.0f;
    }
    return v;
  };
  auto ternary = [&](size_t n) {
    std::vector<int8_t> v(n);
    for (int8_t &x : v)
      x = static_cast<int8_t>(static_cast<int>(rng() % 3) - 1);
    return v;
  };
  auto scales = [&](size_t n) {
    std::vector<float> s(n);
    for (float &x : s)
      x = halfToFloat(floatToHalf(0.001f + static_cast<float>(rng() % 1000) / 997.0f));
    return s;
  };

  GGUFWriter w;
  w.addString("general.architecture", "llama");
  w.addString("general.name", "ternc crosscheck fixture");
  w.add("fixture.nested", GGUFWriter::Value::array(
                              GGUFValueType::Array, {GGUFWriter::Value::i32Array({1, -2}),
                                                     GGUFWriter::Value::i32Array({3})}));
  w.add("fixture.f64", GGUFWriter::Value::f64(0.1));
  w.add("fixture.bool", GGUFWriter::Value::boolean(true));
  w.add("fixture.strings", GGUFWriter::Value::stringArray({"a", "\xce\xbb", ""}));
  std::vector<float> f = floats(3 * 512);
  std::vector<uint8_t> f32(f.size() * 4);
  std::memcpy(f32.data(), f.data(), f32.size());
  w.addTensor("f32", {3, 512}, DType::F32, f32);
  w.addTensor("f16", {3, 512}, DType::F16, encodeF16(floats(3 * 512)));
  w.addTensor("bf16", {2, 3, 256}, DType::BF16, encodeBF16(floats(6 * 256)));
  w.addTensor("q8_0", {5, 96}, DType::Q8_0, encodeQ8_0(floats(5 * 96, false)));
  w.addTensor("q4_0", {5, 96}, DType::Q4_0, encodeQ4_0(floats(5 * 96, false)));
  std::vector<float> s = scales(12);
  w.addTensor("tq1_0", {3, 1024}, DType::TQ1_0, encodeTQ1_0(ternary(3 * 1024), s));
  w.addTensor("tq2_0", {3, 1024}, DType::TQ2_0, encodeTQ2_0(ternary(3 * 1024), s));
  std::vector<uint8_t> ints(64);
  for (uint8_t &b : ints)
    b = static_cast<uint8_t>(rng());
  w.addTensor("i8", {64}, DType::I8, ints);
  w.addTensor("i16", {32}, DType::I16, ints);
  w.addTensor("i32", {2, 8}, DType::I32, ints);
  std::vector<uint8_t> f64(4 * 8);
  for (int i = 0; i < 4; ++i) {
    double d = normal(rng) * 1e3;
    std::memcpy(f64.data() + 8 * i, &d, 8);
  }
  w.addTensor("f64", {4}, DType::F64, f64);
  if (llvm::Error err = w.write(join(dir, "fixture.gguf")))
    return failWith(std::move(err));

  // I2_S only exists in bitnet.cpp's architectures, and gguf-py cannot read id 36.
  GGUFWriter b;
  b.addString("general.architecture", "bitnet-b1.58");
  b.addTensor("i2s.a", {4, 256}, DType::I2_S, encodeI2_S(ternary(1024), 0.0625f));
  b.addTensor("i2s.b", {128, 384}, DType::I2_S, encodeI2_S(ternary(128 * 384), 1.7f));
  b.addTensor("f32.after", {32}, DType::F32, std::vector<uint8_t>(128, 0x3f));
  if (llvm::Error err = b.write(join(dir, "fixture_i2s.gguf")))
    return failWith(std::move(err));
  return 0;
}

int dump(llvm::StringRef file, llvm::StringRef dir) {
  auto reader = GGUFReader::open(file);
  if (!reader)
    return failWith(reader.takeError());
  std::error_code ec;
  llvm::raw_fd_ostream manifest(join(dir, "manifest.tsv"), ec);
  if (ec)
    return failWith(llvm::createStringError(ec, "cannot write manifest"));
  manifest << "# version\t" << (*reader)->version() << "\talignment\t" << (*reader)->alignment()
           << "\tkv_count\t" << (*reader)->metadata().size() << "\n";
  std::vector<TensorRecord> records = (*reader)->records();
  for (size_t i = 0; i < records.size(); ++i) {
    const TensorRecord &t = records[i];
    auto values = decodeToFloat(t);
    if (!values)
      return failWith(values.takeError());
    const std::string name = std::to_string(i) + ".f32";
    llvm::raw_fd_ostream out(join(dir, name), ec);
    if (ec)
      return failWith(llvm::createStringError(ec, "cannot write " + name));
    out.write(reinterpret_cast<const char *>(values->data()), values->size() * 4);
    manifest << t.name << "\t" << info(t.dtype).name << "\t";
    for (size_t d = 0; d < t.shape.size(); ++d)
      manifest << (d ? "," : "") << t.shape[d];
    manifest << "\t" << t.fileOffset << "\t" << t.byteSize << "\t" << name << "\n";
  }
  return 0;
}

} // namespace

int main(int argc, char **argv) {
  if (argc == 3 && llvm::StringRef(argv[1]) == "write")
    return writeFixtures(argv[2]);
  if (argc == 4 && llvm::StringRef(argv[1]) == "dump")
    return dump(argv[2], argv[3]);
  llvm::errs() << "usage: gguf-crosscheck-tool write <dir> | dump <file.gguf> <dir>\n";
  return 2;
}
