// Reference semantics of standard ONNX ops on constant tensors, written from the ONNX spec.
#include "frontends/onnx/ONNXEvaluator.h"

#include "frontends/onnx/ONNXReader.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <functional>
#include <numeric>

namespace tern::onnx {

namespace {

using Shape = std::vector<int64_t>;
using Outputs = std::vector<Tensor>;

int64_t product(llvm::ArrayRef<int64_t> dims) {
  int64_t n = 1;
  for (int64_t d : dims)
    n *= d;
  return n;
}

// Everything a handler needs: inputs, attributes and error helpers that name the node.
class Node {
public:
  Node(const ::onnx::NodeProto &proto, llvm::ArrayRef<std::optional<Tensor>> inputs, int64_t opset)
      : proto(proto), ins(inputs), opset(opset) {}

  const ::onnx::NodeProto &proto;
  llvm::ArrayRef<std::optional<Tensor>> ins;
  int64_t opset;

  std::string label() const {
    return "node '" + proto.name() + "' (" + proto.op_type() + ", domain " +
           (proto.domain().empty() ? std::string("ai.onnx") : proto.domain()) + ", opset " +
           std::to_string(opset) + ")";
  }
  llvm::Error error(const std::string &msg) const {
    return llvm::createStringError(std::errc::invalid_argument, "%s: %s", label().c_str(),
                                   msg.c_str());
  }
  llvm::Error unsupported(const std::string &msg) const {
    return llvm::createStringError(std::errc::not_supported, "%s: %s", label().c_str(),
                                   msg.c_str());
  }

  size_t numInputs() const { return ins.size(); }
  const Tensor *input(size_t i) const {
    return i < ins.size() && ins[i] ? &*ins[i] : nullptr;
  }
  size_t numOutputs() const { return static_cast<size_t>(proto.output_size()); }

  const ::onnx::AttributeProto *attr(llvm::StringRef name) const {
    for (const auto &a : proto.attribute())
      if (a.name() == name)
        return &a;
    return nullptr;
  }
  int64_t attrInt(llvm::StringRef name, int64_t def) const {
    const auto *a = attr(name);
    return a ? a->i() : def;
  }
  float attrFloat(llvm::StringRef name, float def) const {
    const auto *a = attr(name);
    return a ? a->f() : def;
  }
  std::optional<Shape> attrInts(llvm::StringRef name) const {
    const auto *a = attr(name);
    if (!a)
      return std::nullopt;
    return Shape(a->ints().begin(), a->ints().end());
  }
};

#define REQUIRE(cond, node, msg)                                                                  \
  do {                                                                                            \
    if (!(cond))                                                                                  \
      return (node).error(msg);                                                                   \
  } while (0)

// Normalizes |axis| into [0, rank), or fails naming the attribute.
llvm::Expected<int64_t> normAxis(const Node &n, int64_t axis, int64_t rank, const char *what) {
  if (axis < -rank || axis >= std::max<int64_t>(rank, 1))
    return n.error(std::string(what) + " " + std::to_string(axis) + " is out of range for rank " +
                   std::to_string(rank));
  return axis < 0 ? axis + rank : axis;
}

llvm::Expected<const Tensor *> need(const Node &n, size_t i) {
  if (const Tensor *t = n.input(i))
    return t;
  return n.error("input " + std::to_string(i) + " is required");
}

// Multidirectional (numpy) broadcasting of two shapes.
llvm::Expected<Shape> broadcast(const Node &n, const Shape &a, const Shape &b) {
  size_t rank = std::max(a.size(), b.size());
  Shape out(rank);
  for (size_t i = 0; i < rank; ++i) {
    int64_t da = i + a.size() >= rank ? a[i + a.size() - rank] : 1;
    int64_t db = i + b.size() >= rank ? b[i + b.size() - rank] : 1;
    if (da != db && da != 1 && db != 1)
      return n.error("shapes " + shapeToString(a) + " and " + shapeToString(b) +
                     " cannot be broadcast");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

// For each element of |out|, the linear index of the |in| element broadcast onto it.
std::vector<int64_t> broadcastMap(const Shape &in, const Shape &out) {
  size_t rank = out.size();
  Shape strides(rank, 0);
  int64_t s = 1;
  for (size_t k = in.size(); k-- > 0;) {
    size_t o = k + rank - in.size();
    strides[o] = in[k] == 1 ? 0 : s;
    s *= in[k];
  }
  int64_t total = product(out);
  std::vector<int64_t> map(total);
  Shape idx(rank, 0);
  int64_t cur = 0;
  for (int64_t i = 0; i < total; ++i) {
    map[i] = cur;
    for (size_t k = rank; k-- > 0;) {
      if (++idx[k] < out[k]) {
        cur += strides[k];
        break;
      }
      cur -= strides[k] * (out[k] - 1);
      idx[k] = 0;
    }
  }
  return map;
}

Shape stridesOf(const Shape &shape) {
  Shape s(shape.size(), 1);
  for (size_t k = shape.size(); k-- > 1;)
    s[k - 1] = s[k] * shape[k];
  return s;
}

// Copies element |from| of |src| to element |to| of |dst| (same element type), bytewise.
inline void copyElem(const Tensor &src, int64_t from, Tensor &dst, int64_t to, size_t esize) {
  copyBytes(dst.bytes().data() + to * esize, src.bytes().data() + from * esize, esize);
}

size_t esizeOf(const Tensor &t) { return static_cast<size_t>(*elemSize(t.type())); }

bool isIntLike(ElemType t) { return !isFloatType(t); }

// ---- elementwise ----------------------------------------------------------------------------

using FloatBinary = double (*)(double, double);
using IntBinary = int64_t (*)(int64_t, int64_t);

llvm::Expected<Outputs> binary(const Node &n, FloatBinary f, IntBinary g,
                               std::optional<ElemType> resultType = std::nullopt) {
  auto a = need(n, 0);
  if (!a)
    return a.takeError();
  auto b = need(n, 1);
  if (!b)
    return b.takeError();
  auto shape = broadcast(n, (*a)->shape(), (*b)->shape());
  if (!shape)
    return shape.takeError();
  Tensor out(resultType.value_or((*a)->type()), *shape);
  auto ma = broadcastMap((*a)->shape(), *shape), mb = broadcastMap((*b)->shape(), *shape);
  bool useFloat = isFloatType((*a)->type()) || isFloatType((*b)->type()) || !g;
  for (int64_t i = 0; i < out.numElements(); ++i) {
    if (useFloat)
      out.setDouble(i, f((*a)->getDouble(ma[i]), (*b)->getDouble(mb[i])));
    else
      out.setInt(i, g((*a)->getInt(ma[i]), (*b)->getInt(mb[i])));
  }
  return Outputs{std::move(out)};
}

llvm::Expected<Outputs> compare(const Node &n, bool (*f)(double, double),
                                bool (*g)(int64_t, int64_t)) {
  auto a = need(n, 0);
  if (!a)
    return a.takeError();
  auto b = need(n, 1);
  if (!b)
    return b.takeError();
  auto shape = broadcast(n, (*a)->shape(), (*b)->shape());
  if (!shape)
    return shape.takeError();
  Tensor out(ElemType::Bool, *shape);
  auto ma = broadcastMap((*a)->shape(), *shape), mb = broadcastMap((*b)->shape(), *shape);
  bool useFloat = isFloatType((*a)->type()) || isFloatType((*b)->type());
  for (int64_t i = 0; i < out.numElements(); ++i)
    out.setInt(i, useFloat ? f((*a)->getDouble(ma[i]), (*b)->getDouble(mb[i]))
                           : g((*a)->getInt(ma[i]), (*b)->getInt(mb[i])));
  return Outputs{std::move(out)};
}

// |g| handles integer inputs exactly; without one, integer inputs go through double.
llvm::Expected<Outputs> unary(const Node &n, double (*f)(double), int64_t (*g)(int64_t) = nullptr) {
  auto x = need(n, 0);
  if (!x)
    return x.takeError();
  Tensor out((*x)->type(), (*x)->shape());
  bool useInt = g && isIntLike((*x)->type());
  for (int64_t i = 0; i < out.numElements(); ++i) {
    if (useInt)
      out.setInt(i, g((*x)->getInt(i)));
    else
      out.setDouble(i, f((*x)->getDouble(i)));
  }
  return Outputs{std::move(out)};
}

llvm::Expected<Outputs> variadic(const Node &n, FloatBinary f, IntBinary g) {
  REQUIRE(n.numInputs() >= 1, n, "needs at least one input");
  auto first = need(n, 0);
  if (!first)
    return first.takeError();
  Tensor acc = **first;
  for (size_t i = 1; i < n.numInputs(); ++i) {
    auto next = need(n, i);
    if (!next)
      return next.takeError();
    auto shape = broadcast(n, acc.shape(), (*next)->shape());
    if (!shape)
      return shape.takeError();
    Tensor out(acc.type(), *shape);
    auto ma = broadcastMap(acc.shape(), *shape), mb = broadcastMap((*next)->shape(), *shape);
    bool useFloat = isFloatType(acc.type());
    for (int64_t k = 0; k < out.numElements(); ++k) {
      if (useFloat)
        out.setDouble(k, f(acc.getDouble(ma[k]), (*next)->getDouble(mb[k])));
      else
        out.setInt(k, g(acc.getInt(ma[k]), (*next)->getInt(mb[k])));
    }
    acc = std::move(out);
  }
  return Outputs{std::move(acc)};
}

llvm::Expected<Outputs> evalWhere(const Node &n) {
  auto c = need(n, 0), x = need(n, 1), y = need(n, 2);
  if (!c)
    return c.takeError();
  if (!x)
    return x.takeError();
  if (!y)
    return y.takeError();
  auto s1 = broadcast(n, (*c)->shape(), (*x)->shape());
  if (!s1)
    return s1.takeError();
  auto shape = broadcast(n, *s1, (*y)->shape());
  if (!shape)
    return shape.takeError();
  Tensor out((*x)->type(), *shape);
  auto mc = broadcastMap((*c)->shape(), *shape), mx = broadcastMap((*x)->shape(), *shape),
       my = broadcastMap((*y)->shape(), *shape);
  size_t es = esizeOf(out);
  for (int64_t i = 0; i < out.numElements(); ++i) {
    if ((*c)->getInt(mc[i]))
      copyElem(**x, mx[i], out, i, es);
    else
      copyElem(**y, my[i], out, i, es);
  }
  return Outputs{std::move(out)};
}

llvm::Expected<Outputs> evalCast(const Node &n) {
  auto x = need(n, 0);
  if (!x)
    return x.takeError();
  const auto *to = n.attr("to");
  REQUIRE(to, n, "attribute 'to' is required");
  auto type = static_cast<ElemType>(to->i());
  if (!elemSize(type) || type == ElemType::Complex64 || type == ElemType::Complex128)
    return n.unsupported("cast to " + elemTypeName(static_cast<int32_t>(to->i())) +
                         " is not supported (numeric and BOOL types only)");
  return Outputs{(*x)->castTo(type)};
}

// ---- shapes and data movement ---------------------------------------------------------------

llvm::Expected<Outputs> evalShape(const Node &n) {
  auto x = need(n, 0);
  if (!x)
    return x.takeError();
  int64_t rank = (*x)->rank();
  // Opset 15's start/end slice the shape with Slice's clamping rules.
  int64_t start = n.attrInt("start", 0), end = n.attrInt("end", rank);
  if (start < 0)
    start += rank;
  if (end < 0)
    end += rank;
  start = std::clamp<int64_t>(start, 0, rank);
  end = std::clamp<int64_t>(end, 0, rank);
  Shape dims((*x)->shape().begin() + start,
             (*x)->shape().begin() + std::max(start, end));
  return Outputs{Tensor::fromInt64s(dims, {static_cast<int64_t>(dims.size())})};
}

llvm::Expected<Outputs> evalSize(const Node &n) {
  auto x = need(n, 0);
  if (!x)
    return x.takeError();
  return Outputs{Tensor::scalarInt64((*x)->numElements())};
}

llvm::Expected<Outputs> evalIdentity(const Node &n) {
  auto x = need(n, 0);
  if (!x)
    return x.takeError();
  return Outputs{**x};
}

llvm::Expected<Outputs> evalGather(const Node &n) {
  auto data = need(n, 0), idx = need(n, 1);
  if (!data)
    return data.takeError();
  if (!idx)
    return idx.takeError();
  const Shape &ds = (*data)->shape();
  auto axis = normAxis(n, n.attrInt("axis", 0), (*data)->rank(), "axis");
  if (!axis)
    return axis.takeError();
  Shape out(ds.begin(), ds.begin() + *axis);
  out.insert(out.end(), (*idx)->shape().begin(), (*idx)->shape().end());
  out.insert(out.end(), ds.begin() + *axis + 1, ds.end());
  int64_t outer = product(Shape(ds.begin(), ds.begin() + *axis));
  int64_t inner = product(Shape(ds.begin() + *axis + 1, ds.end()));
  int64_t dim = ds[*axis], count = (*idx)->numElements();
  Tensor result((*data)->type(), out);
  size_t chunk = inner * esizeOf(result);
  for (int64_t j = 0; j < count; ++j) {
    int64_t k = (*idx)->getInt(j);
    REQUIRE(k >= -dim && k < dim, n,
            "index " + std::to_string(k) + " is out of range for axis dimension " +
                std::to_string(dim));
    if (k < 0)
      k += dim;
    for (int64_t o = 0; o < outer; ++o)
      copyBytes(result.bytes().data() + (o * count + j) * chunk,
                  (*data)->bytes().data() + (o * dim + k) * chunk, chunk);
  }
  return Outputs{std::move(result)};
}

// GatherND (11+; batch_dims 12+): each index tuple along the last axis of |indices| selects a
// slice of |data| below the first batch_dims dimensions, which data and indices share.
llvm::Expected<Outputs> evalGatherND(const Node &n) {
  auto data = need(n, 0), idx = need(n, 1);
  if (!data)
    return data.takeError();
  if (!idx)
    return idx.takeError();
  const Shape &ds = (*data)->shape(), &is = (*idx)->shape();
  const int64_t b = n.attrInt("batch_dims", 0);
  REQUIRE(!is.empty() && b >= 0 && b < static_cast<int64_t>(std::min(ds.size(), is.size())), n,
          "batch_dims " + std::to_string(b) + " does not fit data " + (*data)->describe() +
              " and indices " + (*idx)->describe());
  const int64_t m = is.back();
  REQUIRE(m >= 1 && b + m <= static_cast<int64_t>(ds.size()), n,
          "index tuples of " + std::to_string(m) + " do not fit data " + (*data)->describe());
  for (int64_t k = 0; k < b; ++k)
    REQUIRE(ds[k] == is[k], n, "batch dimensions of data and indices differ");
  Shape out(is.begin(), is.end() - 1);
  out.insert(out.end(), ds.begin() + b + m, ds.end());
  const int64_t batches = product(Shape(ds.begin(), ds.begin() + b));
  const int64_t tuples = product(Shape(is.begin() + b, is.end() - 1));
  const int64_t slice = product(Shape(ds.begin() + b + m, ds.end()));
  const int64_t perBatch = product(Shape(ds.begin() + b, ds.end()));
  Tensor result((*data)->type(), out);
  const size_t esize = esizeOf(result);
  for (int64_t bi = 0; bi < batches; ++bi)
    for (int64_t t = 0; t < tuples; ++t) {
      int64_t offset = 0;
      for (int64_t k = 0; k < m; ++k) {
        const int64_t dim = ds[b + k];
        int64_t i = (*idx)->getInt((bi * tuples + t) * m + k);
        REQUIRE(i >= -dim && i < dim, n,
                "index " + std::to_string(i) + " is out of range for dimension " +
                    std::to_string(dim));
        offset = offset * dim + (i < 0 ? i + dim : i);
      }
      copyBytes(result.bytes().data() + (bi * tuples + t) * slice * esize,
                (*data)->bytes().data() + (bi * perBatch + offset * slice) * esize,
                slice * esize);
    }
  return Outputs{std::move(result)};
}

// Axes from the input (opset >= |inputSince|) or the attribute (before).
llvm::Expected<std::optional<Shape>> axesOf(const Node &n, int64_t inputSince, size_t inputIndex) {
  if (n.opset >= inputSince) {
    if (const Tensor *t = n.input(inputIndex))
      return std::optional<Shape>(t->toInt64s());
    return std::optional<Shape>();
  }
  return n.attrInts("axes");
}

llvm::Expected<Outputs> evalUnsqueeze(const Node &n) {
  auto x = need(n, 0);
  if (!x)
    return x.takeError();
  auto axes = axesOf(n, 13, 1);
  if (!axes)
    return axes.takeError();
  REQUIRE(*axes, n, "axes are required");
  int64_t rank = (*x)->rank() + static_cast<int64_t>((*axes)->size());
  std::vector<bool> isNew(rank, false);
  for (int64_t a : **axes) {
    auto ax = normAxis(n, a, rank, "axis");
    if (!ax)
      return ax.takeError();
    REQUIRE(!isNew[*ax], n, "axis " + std::to_string(a) + " is repeated");
    isNew[*ax] = true;
  }
  Shape out;
  size_t k = 0;
  for (int64_t i = 0; i < rank; ++i)
    out.push_back(isNew[i] ? 1 : (*x)->shape()[k++]);
  return Outputs{(*x)->reshaped(out)};
}

llvm::Expected<Outputs> evalSqueeze(const Node &n) {
  auto x = need(n, 0);
  if (!x)
    return x.takeError();
  auto axes = axesOf(n, 13, 1);
  if (!axes)
    return axes.takeError();
  const Shape &s = (*x)->shape();
  std::vector<bool> drop(s.size(), false);
  if (*axes) {
    for (int64_t a : **axes) {
      auto ax = normAxis(n, a, (*x)->rank(), "axis");
      if (!ax)
        return ax.takeError();
      REQUIRE(s[*ax] == 1, n,
              "cannot squeeze axis " + std::to_string(a) + " of size " + std::to_string(s[*ax]));
      drop[*ax] = true;
    }
  } else {
    for (size_t i = 0; i < s.size(); ++i)
      drop[i] = s[i] == 1;
  }
  Shape out;
  for (size_t i = 0; i < s.size(); ++i)
    if (!drop[i])
      out.push_back(s[i]);
  return Outputs{(*x)->reshaped(out)};
}

llvm::Expected<Outputs> evalReshape(const Node &n) {
  auto x = need(n, 0), shapeT = need(n, 1);
  if (!x)
    return x.takeError();
  if (!shapeT)
    return shapeT.takeError();
  Shape want = (*shapeT)->toInt64s();
  bool allowZero = n.opset >= 14 && n.attrInt("allowzero", 0);
  int64_t known = 1, infer = -1;
  for (size_t i = 0; i < want.size(); ++i) {
    if (want[i] == 0 && !allowZero) {
      REQUIRE(i < (*x)->shape().size(), n, "shape entry 0 at " + std::to_string(i) +
                                              " copies a dimension the input does not have");
      want[i] = (*x)->shape()[i];
    }
    if (want[i] == -1) {
      REQUIRE(infer < 0, n, "shape " + shapeToString((*shapeT)->toInt64s()) + " has two -1s");
      infer = static_cast<int64_t>(i);
    } else {
      REQUIRE(want[i] >= 0, n, "negative dimension in shape");
      known *= want[i];
    }
  }
  if (infer >= 0) {
    REQUIRE(known != 0 && (*x)->numElements() % known == 0, n,
            "cannot infer -1 to reshape " + (*x)->describe() + " to " +
                shapeToString((*shapeT)->toInt64s()));
    want[infer] = (*x)->numElements() / known;
  }
  REQUIRE(product(want) == (*x)->numElements(), n,
          "cannot reshape " + (*x)->describe() + " to " + shapeToString(want));
  return Outputs{(*x)->reshaped(want)};
}

llvm::Expected<Outputs> evalFlatten(const Node &n) {
  auto x = need(n, 0);
  if (!x)
    return x.takeError();
  int64_t axis = n.attrInt("axis", 1), rank = (*x)->rank();
  REQUIRE(axis >= -rank && axis <= rank, n, "axis out of range");
  if (axis < 0)
    axis += rank;
  const Shape &s = (*x)->shape();
  int64_t outer = product(Shape(s.begin(), s.begin() + axis));
  return Outputs{(*x)->reshaped({outer, product(Shape(s.begin() + axis, s.end()))})};
}

llvm::Expected<Outputs> evalConcat(const Node &n) {
  REQUIRE(n.numInputs() >= 1, n, "needs at least one input");
  auto first = need(n, 0);
  if (!first)
    return first.takeError();
  if (!n.attr("axis"))
    return n.error("attribute 'axis' is required");
  auto axis = normAxis(n, n.attrInt("axis", 0), (*first)->rank(), "axis");
  if (!axis)
    return axis.takeError();
  Shape out = (*first)->shape();
  out[*axis] = 0;
  for (size_t i = 0; i < n.numInputs(); ++i) {
    auto t = need(n, i);
    if (!t)
      return t.takeError();
    const Shape &s = (*t)->shape();
    bool ok = s.size() == out.size() && (*t)->type() == (*first)->type();
    for (size_t k = 0; ok && k < s.size(); ++k)
      ok = k == static_cast<size_t>(*axis) || s[k] == out[k];
    REQUIRE(ok, n, "input " + std::to_string(i) + " " + (*t)->describe() +
                       " does not match input 0 " + (*first)->describe() + " outside axis " +
                       std::to_string(*axis));
    out[*axis] += s[*axis];
  }
  Tensor result((*first)->type(), out);
  size_t es = esizeOf(result);
  int64_t outer = product(Shape(out.begin(), out.begin() + *axis));
  int64_t inner = product(Shape(out.begin() + *axis + 1, out.end()));
  uint8_t *dst = result.bytes().data();
  for (int64_t o = 0; o < outer; ++o)
    for (size_t i = 0; i < n.numInputs(); ++i) {
      const Tensor &t = *n.input(i);
      size_t chunk = t.shape()[*axis] * inner * es;
      if (chunk == 0)
        continue; // an empty input: its data() may be null, which memcpy must not see
      copyBytes(dst, t.bytes().data() + o * chunk, chunk);
      dst += chunk;
    }
  return Outputs{std::move(result)};
}

llvm::Expected<Outputs> evalTranspose(const Node &n) {
  auto x = need(n, 0);
  if (!x)
    return x.takeError();
  int64_t rank = (*x)->rank();
  Shape perm(rank);
  std::iota(perm.rbegin(), perm.rend(), 0);
  if (auto p = n.attrInts("perm"))
    perm = *p;
  std::vector<bool> seen(rank, false);
  REQUIRE(static_cast<int64_t>(perm.size()) == rank, n, "perm has the wrong length");
  for (int64_t &p : perm) {
    auto ax = normAxis(n, p, rank, "perm entry");
    if (!ax)
      return ax.takeError();
    REQUIRE(!seen[*ax], n, "perm repeats an axis");
    seen[*ax] = true;
    p = *ax;
  }
  const Shape &s = (*x)->shape();
  Shape out(rank);
  for (int64_t i = 0; i < rank; ++i)
    out[i] = s[perm[i]];
  Shape inStrides = stridesOf(s), srcStride(rank);
  for (int64_t i = 0; i < rank; ++i)
    srcStride[i] = inStrides[perm[i]];
  Tensor result((*x)->type(), out);
  size_t es = esizeOf(result);
  Shape idx(rank, 0);
  int64_t src = 0;
  for (int64_t i = 0; i < result.numElements(); ++i) {
    copyElem(**x, src, result, i, es);
    for (int64_t k = rank; k-- > 0;) {
      if (++idx[k] < out[k]) {
        src += srcStride[k];
        break;
      }
      src -= srcStride[k] * (out[k] - 1);
      idx[k] = 0;
    }
  }
  return Outputs{std::move(result)};
}

llvm::Expected<Outputs> evalSlice(const Node &n) {
  auto x = need(n, 0);
  if (!x)
    return x.takeError();
  Shape starts, ends, axes, steps;
  if (n.opset >= 10) {
    auto s = need(n, 1), e = need(n, 2);
    if (!s)
      return s.takeError();
    if (!e)
      return e.takeError();
    starts = (*s)->toInt64s();
    ends = (*e)->toInt64s();
    if (const Tensor *a = n.input(3))
      axes = a->toInt64s();
    if (const Tensor *st = n.input(4))
      steps = st->toInt64s();
  } else {
    starts = n.attrInts("starts").value_or(Shape());
    ends = n.attrInts("ends").value_or(Shape());
    axes = n.attrInts("axes").value_or(Shape());
  }
  if (axes.empty()) {
    axes.resize(starts.size());
    std::iota(axes.begin(), axes.end(), 0);
  }
  if (steps.empty())
    steps.assign(starts.size(), 1);
  REQUIRE(ends.size() == starts.size() && axes.size() == starts.size() &&
              steps.size() == starts.size(),
          n, "starts, ends, axes and steps must have the same length");
  int64_t rank = (*x)->rank();
  const Shape &s = (*x)->shape();
  Shape begin(rank, 0), step(rank, 1), out = s;
  std::vector<bool> seen(rank, false);
  for (size_t i = 0; i < starts.size(); ++i) {
    auto ax = normAxis(n, axes[i], rank, "axis");
    if (!ax)
      return ax.takeError();
    REQUIRE(!seen[*ax], n, "axis " + std::to_string(axes[i]) + " is repeated");
    seen[*ax] = true;
    int64_t dim = s[*ax], st = steps[i], b = starts[i], e = ends[i];
    REQUIRE(st != 0, n, "step 0");
    if (b < 0)
      b += dim;
    if (e < 0)
      e += dim;
    // Positive steps clamp to [0, dim]; negative steps walk down from at most dim - 1 to -1.
    if (st > 0) {
      b = std::clamp<int64_t>(b, 0, dim);
      e = std::clamp<int64_t>(e, 0, dim);
      out[*ax] = e > b ? (e - b + st - 1) / st : 0;
    } else {
      b = std::clamp<int64_t>(b, 0, dim - 1);
      e = std::clamp<int64_t>(e, -1, dim - 1);
      out[*ax] = b > e ? (b - e - st - 1) / -st : 0;
    }
    begin[*ax] = b;
    step[*ax] = st;
  }
  Tensor result((*x)->type(), out);
  size_t es = esizeOf(result);
  Shape inStrides = stridesOf(s), idx(rank, 0);
  for (int64_t i = 0; i < result.numElements(); ++i) {
    int64_t src = 0;
    for (int64_t k = 0; k < rank; ++k)
      src += (begin[k] + idx[k] * step[k]) * inStrides[k];
    copyElem(**x, src, result, i, es);
    for (int64_t k = rank; k-- > 0;) {
      if (++idx[k] < out[k])
        break;
      idx[k] = 0;
    }
  }
  return Outputs{std::move(result)};
}

llvm::Expected<Outputs> evalExpand(const Node &n) {
  auto x = need(n, 0), shapeT = need(n, 1);
  if (!x)
    return x.takeError();
  if (!shapeT)
    return shapeT.takeError();
  auto shape = broadcast(n, (*x)->shape(), (*shapeT)->toInt64s());
  if (!shape)
    return shape.takeError();
  Tensor out((*x)->type(), *shape);
  auto m = broadcastMap((*x)->shape(), *shape);
  size_t es = esizeOf(out);
  for (int64_t i = 0; i < out.numElements(); ++i)
    copyElem(**x, m[i], out, i, es);
  return Outputs{std::move(out)};
}

llvm::Expected<Outputs> evalRange(const Node &n) {
  auto s = need(n, 0), l = need(n, 1), d = need(n, 2);
  if (!s)
    return s.takeError();
  if (!l)
    return l.takeError();
  if (!d)
    return d.takeError();
  ElemType type = (*s)->type();
  REQUIRE((*s)->numElements() == 1 && (*l)->numElements() == 1 && (*d)->numElements() == 1, n,
          "start, limit and delta must be scalars");
  if (isFloatType(type)) {
    double start = (*s)->getDouble(0), limit = (*l)->getDouble(0), delta = (*d)->getDouble(0);
    REQUIRE(delta != 0, n, "delta is 0");
    int64_t count = std::max<int64_t>(static_cast<int64_t>(std::ceil((limit - start) / delta)), 0);
    Tensor out(type, {count});
    for (int64_t i = 0; i < count; ++i)
      out.setDouble(i, start + i * delta);
    return Outputs{std::move(out)};
  }
  int64_t start = (*s)->getInt(0), limit = (*l)->getInt(0), delta = (*d)->getInt(0);
  REQUIRE(delta != 0, n, "delta is 0");
  int64_t span = limit - start;
  int64_t count = delta > 0 ? (span > 0 ? (span + delta - 1) / delta : 0)
                            : (span < 0 ? (-span - delta - 1) / -delta : 0);
  Tensor out(type, {count});
  for (int64_t i = 0; i < count; ++i)
    out.setInt(i, start + i * delta);
  return Outputs{std::move(out)};
}

llvm::Expected<Tensor> attrTensor(const Node &n, const ::onnx::AttributeProto &a) {
  return tensorFromProto(a.t(), "", n.label() + " attribute '" + a.name() + "'");
}

llvm::Expected<Outputs> evalConstantOfShape(const Node &n) {
  auto shapeT = need(n, 0);
  if (!shapeT)
    return shapeT.takeError();
  Shape shape = (*shapeT)->toInt64s();
  for (int64_t d : shape)
    REQUIRE(d >= 0, n, "negative dimension in shape " + shapeToString(shape));
  Tensor value = Tensor::fromFloats({0.0f}, {1});
  if (const auto *a = n.attr("value")) {
    auto v = attrTensor(n, *a);
    if (!v)
      return v.takeError();
    REQUIRE(v->numElements() == 1, n, "attribute 'value' must hold one element");
    value = std::move(*v);
  }
  Tensor out(value.type(), shape);
  size_t es = esizeOf(out);
  for (int64_t i = 0; i < out.numElements(); ++i)
    copyElem(value, 0, out, i, es);
  return Outputs{std::move(out)};
}

llvm::Expected<Outputs> evalConstant(const Node &n) {
  REQUIRE(n.proto.attribute_size() == 1, n, "needs exactly one value attribute");
  const auto &a = n.proto.attribute(0);
  if (a.name() == "value") {
    auto t = attrTensor(n, a);
    if (!t)
      return t.takeError();
    return Outputs{std::move(*t)};
  }
  if (a.name() == "value_float")
    return Outputs{Tensor::fromFloats({a.f()}, {})};
  if (a.name() == "value_floats")
    return Outputs{Tensor::fromFloats(std::vector<float>(a.floats().begin(), a.floats().end()),
                                      {a.floats_size()})};
  if (a.name() == "value_int")
    return Outputs{Tensor::scalarInt64(a.i())};
  if (a.name() == "value_ints")
    return Outputs{Tensor::fromInt64s(Shape(a.ints().begin(), a.ints().end()), {a.ints_size()})};
  return n.unsupported("attribute '" + a.name() +
                       "' is not supported (value, value_float(s) and value_int(s) are)");
}

llvm::Expected<Outputs> evalSplit(const Node &n) {
  auto x = need(n, 0);
  if (!x)
    return x.takeError();
  auto axis = normAxis(n, n.attrInt("axis", 0), (*x)->rank(), "axis");
  if (!axis)
    return axis.takeError();
  int64_t dim = (*x)->shape()[*axis];
  Shape sizes;
  if (n.opset >= 13) {
    if (const Tensor *s = n.input(1))
      sizes = s->toInt64s();
  } else if (auto s = n.attrInts("split")) {
    sizes = *s;
  }
  size_t parts = n.numOutputs();
  if (sizes.empty()) {
    if (const auto *no = n.attr("num_outputs"))
      parts = static_cast<size_t>(no->i());
    REQUIRE(parts > 0, n, "no outputs");
    // Opset 18 lets the last part be smaller; before, the split must be even.
    int64_t chunk = (dim + static_cast<int64_t>(parts) - 1) / static_cast<int64_t>(parts);
    for (size_t i = 0; i < parts; ++i)
      sizes.push_back(std::min(chunk, dim - chunk * static_cast<int64_t>(i)));
  }
  REQUIRE(std::accumulate(sizes.begin(), sizes.end(), int64_t(0)) == dim, n,
          "split sizes " + shapeToString(sizes) + " do not add up to dimension " +
              std::to_string(dim));
  const Shape &s = (*x)->shape();
  int64_t outer = product(Shape(s.begin(), s.begin() + *axis));
  int64_t inner = product(Shape(s.begin() + *axis + 1, s.end()));
  size_t es = esizeOf(**x);
  Outputs outs;
  int64_t offset = 0;
  for (int64_t size : sizes) {
    Shape shape = s;
    shape[*axis] = size;
    Tensor t((*x)->type(), shape);
    size_t chunk = size * inner * es;
    for (int64_t o = 0; o < outer; ++o)
      copyBytes(t.bytes().data() + o * chunk,
                  (*x)->bytes().data() + (o * dim + offset) * inner * es, chunk);
    offset += size;
    outs.push_back(std::move(t));
  }
  return outs;
}

llvm::Expected<Outputs> evalTrilu(const Node &n) {
  auto x = need(n, 0);
  if (!x)
    return x.takeError();
  REQUIRE((*x)->rank() >= 2, n, "input must have rank >= 2");
  int64_t k = 0;
  if (const Tensor *kt = n.input(1))
    k = kt->getInt(0);
  bool upper = n.attrInt("upper", 1);
  Tensor out = **x;
  int64_t rows = (*x)->shape()[(*x)->rank() - 2], cols = (*x)->shape().back();
  size_t es = esizeOf(out);
  for (int64_t i = 0; i < out.numElements(); ++i) {
    int64_t c = i % cols, r = (i / cols) % rows;
    bool keep = upper ? c - r >= k : c - r <= k;
    if (!keep)
      std::memset(out.bytes().data() + i * es, 0, es);
  }
  return Outputs{std::move(out)};
}

// ---- reductions, normalization, linear algebra ---------------------------------------------

enum class Reduce { Sum, Mean, Max, Min, Prod };

llvm::Expected<Outputs> evalReduce(const Node &n, Reduce kind) {
  auto x = need(n, 0);
  if (!x)
    return x.takeError();
  // ReduceSum takes axes as an input from opset 13, the others from opset 18.
  auto axes = axesOf(n, kind == Reduce::Sum ? 13 : 18, 1);
  if (!axes)
    return axes.takeError();
  int64_t rank = (*x)->rank();
  bool keep = n.attrInt("keepdims", 1);
  std::vector<bool> reduced(rank, false);
  if (!*axes || (*axes)->empty()) {
    if (n.attrInt("noop_with_empty_axes", 0))
      return Outputs{**x};
    std::fill(reduced.begin(), reduced.end(), true);
  } else {
    for (int64_t a : **axes) {
      auto ax = normAxis(n, a, rank, "axis");
      if (!ax)
        return ax.takeError();
      reduced[*ax] = true;
    }
  }
  const Shape &s = (*x)->shape();
  Shape keptShape(rank), outShape;
  for (int64_t k = 0; k < rank; ++k) {
    keptShape[k] = reduced[k] ? 1 : s[k];
    if (!reduced[k] || keep)
      outShape.push_back(keptShape[k]);
  }
  int64_t outCount = product(keptShape), groupSize = outCount ? (*x)->numElements() / std::max<int64_t>(outCount, 1) : 0;
  bool isInt = isIntLike((*x)->type());
  double init = kind == Reduce::Prod ? 1 : kind == Reduce::Max ? -INFINITY
                                        : kind == Reduce::Min ? INFINITY : 0;
  std::vector<double> acc(outCount, init);
  std::vector<int64_t> iacc(outCount, kind == Reduce::Prod ? 1
                                      : kind == Reduce::Max ? INT64_MIN
                                      : kind == Reduce::Min ? INT64_MAX : 0);
  Shape outStrides = stridesOf(keptShape), idx(rank, 0);
  for (int64_t i = 0; i < (*x)->numElements(); ++i) {
    int64_t o = 0;
    for (int64_t k = 0; k < rank; ++k)
      o += (reduced[k] ? 0 : idx[k]) * outStrides[k];
    if (isInt) {
      int64_t v = (*x)->getInt(i);
      switch (kind) {
      case Reduce::Sum:
      case Reduce::Mean:
        iacc[o] += v;
        break;
      case Reduce::Prod:
        iacc[o] *= v;
        break;
      case Reduce::Max:
        iacc[o] = std::max(iacc[o], v);
        break;
      case Reduce::Min:
        iacc[o] = std::min(iacc[o], v);
        break;
      }
    } else {
      double v = (*x)->getDouble(i);
      switch (kind) {
      case Reduce::Sum:
      case Reduce::Mean:
        acc[o] += v;
        break;
      case Reduce::Prod:
        acc[o] *= v;
        break;
      case Reduce::Max:
        acc[o] = std::isnan(v) || std::isnan(acc[o]) ? NAN : std::max(acc[o], v);
        break;
      case Reduce::Min:
        acc[o] = std::isnan(v) || std::isnan(acc[o]) ? NAN : std::min(acc[o], v);
        break;
      }
    }
    for (int64_t k = rank; k-- > 0;) {
      if (++idx[k] < s[k])
        break;
      idx[k] = 0;
    }
  }
  Tensor out((*x)->type(), outShape);
  for (int64_t o = 0; o < outCount; ++o) {
    if (isInt)
      out.setInt(o, kind == Reduce::Mean ? (groupSize ? iacc[o] / groupSize : 0) : iacc[o]);
    else
      out.setDouble(o, kind == Reduce::Mean ? acc[o] / groupSize : acc[o]);
  }
  return Outputs{std::move(out)};
}

llvm::Expected<Outputs> evalSoftmax(const Node &n, bool logarithm) {
  auto x = need(n, 0);
  if (!x)
    return x.takeError();
  int64_t rank = (*x)->rank();
  const Shape &s = (*x)->shape();
  // Opset 13 normalizes along one axis (default -1); before, the input is seen as 2-D
  // [prod(dims before axis), prod(dims from axis)] and the whole second part is normalized.
  bool legacy = n.opset < 13;
  auto axis = normAxis(n, n.attrInt("axis", legacy ? 1 : -1), rank, "axis");
  if (!axis)
    return axis.takeError();
  int64_t outer = product(Shape(s.begin(), s.begin() + *axis));
  int64_t len = legacy ? product(Shape(s.begin() + *axis, s.end())) : s[*axis];
  int64_t inner = legacy ? 1 : product(Shape(s.begin() + *axis + 1, s.end()));
  Tensor out((*x)->type(), s);
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t in = 0; in < inner; ++in) {
      auto at = [&](int64_t j) { return (o * len + j) * inner + in; };
      double mx = -INFINITY, sum = 0;
      for (int64_t j = 0; j < len; ++j)
        mx = std::max(mx, (*x)->getDouble(at(j)));
      for (int64_t j = 0; j < len; ++j)
        sum += std::exp((*x)->getDouble(at(j)) - mx);
      for (int64_t j = 0; j < len; ++j) {
        double v = (*x)->getDouble(at(j)) - mx;
        out.setDouble(at(j), logarithm ? v - std::log(sum) : std::exp(v) / sum);
      }
    }
  return Outputs{std::move(out)};
}

llvm::Expected<Outputs> evalMatMul(const Node &n) {
  auto a = need(n, 0), b = need(n, 1);
  if (!a)
    return a.takeError();
  if (!b)
    return b.takeError();
  Shape sa = (*a)->shape(), sb = (*b)->shape();
  REQUIRE(!sa.empty() && !sb.empty(), n, "MatMul inputs must have rank >= 1");
  // numpy.matmul: a 1-D operand gains a unit dimension that is dropped from the result.
  bool vecA = sa.size() == 1, vecB = sb.size() == 1;
  if (vecA)
    sa.insert(sa.begin(), 1);
  if (vecB)
    sb.push_back(1);
  int64_t M = sa[sa.size() - 2], K = sa.back(), N = sb.back();
  REQUIRE(sb[sb.size() - 2] == K, n,
          "inner dimensions differ: " + (*a)->describe() + " x " + (*b)->describe());
  Shape ba(sa.begin(), sa.end() - 2), bb(sb.begin(), sb.end() - 2);
  auto batch = broadcast(n, ba, bb);
  if (!batch)
    return batch.takeError();
  auto ma = broadcastMap(ba, *batch), mb = broadcastMap(bb, *batch);
  Shape outShape = *batch;
  if (!vecA)
    outShape.push_back(M);
  if (!vecB)
    outShape.push_back(N);
  Tensor out((*a)->type(), outShape);
  bool isInt = isIntLike((*a)->type());
  for (size_t bi = 0; bi < ma.size(); ++bi)
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) {
        double acc = 0;
        int64_t iacc = 0;
        for (int64_t k = 0; k < K; ++k) {
          int64_t ia = ma[bi] * M * K + i * K + k, ib = mb[bi] * K * N + k * N + j;
          if (isInt)
            iacc += (*a)->getInt(ia) * (*b)->getInt(ib);
          else
            acc += (*a)->getDouble(ia) * (*b)->getDouble(ib);
        }
        int64_t o = static_cast<int64_t>(bi) * M * N + i * N + j;
        if (isInt)
          out.setInt(o, iacc);
        else
          out.setDouble(o, acc);
      }
  return Outputs{std::move(out)};
}

// The index into a QuantizeLinear/DequantizeLinear scale (or zero point) for element |i| of a
// tensor of |shape|: 0 per tensor; the coordinate along |axis| per axis; with |block| > 0, the
// element's position in the scale tensor, whose |axis| dimension counts blocks.
int64_t quantParamIndex(const Shape &shape, const Shape &paramShape, int64_t axis, int64_t block,
                        int64_t i) {
  if (product(paramShape) == 1)
    return 0;
  int64_t inner = 1;
  for (size_t k = axis + 1; k < shape.size(); ++k)
    inner *= shape[k];
  const int64_t along = (i / inner) % shape[axis];
  if (block <= 0)
    return along;
  const int64_t outer = i / (inner * shape[axis]);
  return (outer * paramShape[axis] + along / block) * inner + i % inner;
}

// Checks the scale's shape against the three forms: scalar, 1-D per axis, blocked.
llvm::Error checkQuantParam(const Node &n, const Shape &shape, const Tensor &param, int64_t axis,
                            int64_t block, const char *what) {
  if (param.numElements() == 1 && (param.rank() == 0 || block <= 0))
    return llvm::Error::success();
  if (block <= 0) {
    if (param.rank() == 1 && param.shape()[0] == shape[axis])
      return llvm::Error::success();
  } else if (param.rank() == static_cast<int64_t>(shape.size())) {
    bool ok = true;
    for (size_t k = 0; k < shape.size(); ++k)
      ok &= param.shape()[k] ==
            (static_cast<int64_t>(k) == axis ? (shape[k] + block - 1) / block : shape[k]);
    if (ok)
      return llvm::Error::success();
  }
  return n.error(std::string(what) + " " + param.describe() + " fits neither per-tensor, per-axis " +
                 "(axis " + std::to_string(axis) + ") nor blocked (block_size " +
                 std::to_string(block) + ") quantization of " + shapeToString(shape));
}

// The (axis, block_size) of a QuantizeLinear/DequantizeLinear node over |shape|, with its scale
// and zero point (named |prefix|_scale, |prefix|_zero_point) checked against them. The axis
// matters only for per-axis and blocked scales; per-tensor ones ignore it (and its default of 1
// need not exist in a 1-D input).
llvm::Expected<std::pair<int64_t, int64_t>> quantLayout(const Node &n, const Shape &shape,
                                                        const Tensor &scale, const Tensor *zp,
                                                        const std::string &prefix) {
  llvm::Expected<int64_t> axis = 0;
  if (!shape.empty() && scale.numElements() != 1)
    axis = normAxis(n, n.attrInt("axis", 1), static_cast<int64_t>(shape.size()), "axis");
  if (!axis)
    return axis.takeError();
  const int64_t block = n.opset >= 21 ? n.attrInt("block_size", 0) : 0;
  if (!shape.empty()) {
    if (llvm::Error e = checkQuantParam(n, shape, scale, *axis, block, (prefix + "_scale").c_str()))
      return std::move(e);
    if (zp)
      if (llvm::Error e =
              checkQuantParam(n, shape, *zp, *axis, block, (prefix + "_zero_point").c_str()))
        return std::move(e);
  }
  return std::make_pair(*axis, block);
}

// QuantizeLinear (10+; axis 13+, block_size 21+): saturate(round_even(x / scale) + zero_point).
llvm::Expected<Outputs> evalQuantizeLinear(const Node &n) {
  auto x = need(n, 0), scale = need(n, 1);
  if (!x)
    return x.takeError();
  if (!scale)
    return scale.takeError();
  const Tensor *zp = n.input(2);
  const ElemType outType = zp ? zp->type() : ElemType::UInt8;
  int64_t lo, hi;
  switch (outType) {
  case ElemType::UInt8: lo = 0, hi = 255; break;
  case ElemType::Int8: lo = -128, hi = 127; break;
  case ElemType::UInt16: lo = 0, hi = 65535; break;
  case ElemType::Int16: lo = -32768, hi = 32767; break;
  default:
    return n.unsupported("output type " + elemTypeName(outType) +
                         " (supported: UINT8, INT8, UINT16, INT16)");
  }
  const Shape &shape = (*x)->shape();
  auto layout = quantLayout(n, shape, **scale, zp, "y");
  if (!layout)
    return layout.takeError();
  const auto [axis, block] = *layout;
  Tensor out(outType, shape);
  for (int64_t i = 0; i < (*x)->numElements(); ++i) {
    const int64_t p = shape.empty() ? 0 : quantParamIndex(shape, (*scale)->shape(), axis, block, i);
    // Divided in float32, as ONNX's reference and ONNX Runtime do: in double, 0.5 / (5 / 255)
    // lands just below 25.5 and rounds the other way.
    const float scaled = static_cast<float>((*x)->getDouble(i)) /
                         static_cast<float>((*scale)->getDouble(p));
    const double q = std::nearbyint(double(scaled)) + (zp ? double(zp->getInt(p)) : 0.0);
    out.setInt(i, static_cast<int64_t>(std::clamp(q, double(lo), double(hi))));
  }
  return Outputs{std::move(out)};
}

// DequantizeLinear (10+; axis 13+, block_size 21+): (x - zero_point) * scale, in scale's type.
llvm::Expected<Outputs> evalDequantizeLinear(const Node &n) {
  auto x = need(n, 0), scale = need(n, 1);
  if (!x)
    return x.takeError();
  if (!scale)
    return scale.takeError();
  const Tensor *zp = n.input(2);
  if (!isIntLike((*x)->type()) || (*x)->type() == ElemType::Bool)
    return n.unsupported("input type " + elemTypeName((*x)->type()) + " (supported: integers)");
  const Shape &shape = (*x)->shape();
  auto layout = quantLayout(n, shape, **scale, zp, "x");
  if (!layout)
    return layout.takeError();
  const auto [axis, block] = *layout;
  Tensor out((*scale)->type(), shape);
  for (int64_t i = 0; i < (*x)->numElements(); ++i) {
    const int64_t p = shape.empty() ? 0 : quantParamIndex(shape, (*scale)->shape(), axis, block, i);
    const int64_t z = zp ? zp->getInt(p) : 0;
    // float32 arithmetic, as the reference: (float)(x - zp) * scale.
    out.setDouble(i, static_cast<float>((*x)->getInt(i) - z) *
                         static_cast<float>((*scale)->getDouble(p)));
  }
  return Outputs{std::move(out)};
}

// MatMulInteger (10+): (A - a_zero_point) @ (B - b_zero_point) in int32; a_zero_point per
// tensor or per row of A, b_zero_point per tensor or per column of B.
llvm::Expected<Outputs> evalMatMulInteger(const Node &n) {
  auto a = need(n, 0), b = need(n, 1);
  if (!a)
    return a.takeError();
  if (!b)
    return b.takeError();
  const Tensor *az = n.input(2), *bz = n.input(3);
  Tensor sa = (*a)->castTo(ElemType::Int64), sb = (*b)->castTo(ElemType::Int64);
  const int64_t m = sa.rank() >= 2 ? sa.shape()[sa.rank() - 2] : 1;
  const int64_t cols = sb.rank() >= 1 ? sb.shape().back() : 1;
  auto shift = [&](Tensor &t, const Tensor *zp, bool rows, int64_t count) -> llvm::Error {
    if (!zp)
      return llvm::Error::success();
    if (zp->numElements() != 1 && zp->numElements() != count)
      return n.error("zero point " + zp->describe() + " is neither per tensor nor per " +
                     (rows ? "row" : "column"));
    const int64_t inner = rows ? t.shape().back() : 1;
    for (int64_t i = 0; i < t.numElements(); ++i) {
      const int64_t k = zp->numElements() == 1 ? 0 : rows ? (i / inner) % count : i % count;
      t.setInt(i, t.getInt(i) - zp->getInt(k));
    }
    return llvm::Error::success();
  };
  if (llvm::Error e = shift(sa, az, true, m))
    return std::move(e);
  if (llvm::Error e = shift(sb, bz, false, cols))
    return std::move(e);
  std::vector<std::optional<Tensor>> ins = {std::move(sa), std::move(sb)};
  Node matmul(n.proto, ins, n.opset);
  auto product = evalMatMul(matmul);
  if (!product)
    return product.takeError();
  return Outputs{(*product)[0].castTo(ElemType::Int32)};
}

llvm::Expected<Outputs> evalGemm(const Node &n) {
  auto a = need(n, 0), b = need(n, 1);
  if (!a)
    return a.takeError();
  if (!b)
    return b.takeError();
  REQUIRE((*a)->rank() == 2 && (*b)->rank() == 2, n, "A and B must be 2-D");
  bool ta = n.attrInt("transA", 0), tb = n.attrInt("transB", 0);
  double alpha = n.attrFloat("alpha", 1.0f), beta = n.attrFloat("beta", 1.0f);
  int64_t M = (*a)->shape()[ta ? 1 : 0], K = (*a)->shape()[ta ? 0 : 1];
  int64_t Kb = (*b)->shape()[tb ? 1 : 0], N = (*b)->shape()[tb ? 0 : 1];
  REQUIRE(K == Kb, n, "inner dimensions differ: " + (*a)->describe() + " x " + (*b)->describe());
  Tensor out((*a)->type(), {M, N});
  std::vector<int64_t> mc;
  const Tensor *c = n.input(2);
  if (c) {
    auto shape = broadcast(n, c->shape(), {M, N});
    if (!shape)
      return shape.takeError();
    REQUIRE(*shape == Shape({M, N}), n, "C " + c->describe() + " does not broadcast to [M, N]");
    mc = broadcastMap(c->shape(), {M, N});
  }
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) {
      double acc = 0;
      for (int64_t k = 0; k < K; ++k)
        acc += (*a)->getDouble(ta ? k * M + i : i * K + k) *
               (*b)->getDouble(tb ? j * K + k : k * N + j);
      double v = alpha * acc + (c ? beta * c->getDouble(mc[i * N + j]) : 0.0);
      out.setDouble(i * N + j, v);
    }
  return Outputs{std::move(out)};
}

llvm::Expected<Outputs> evalClip(const Node &n) {
  auto x = need(n, 0);
  if (!x)
    return x.takeError();
  double lo = -INFINITY, hi = INFINITY;
  std::optional<int64_t> ilo, ihi;
  if (n.opset >= 11) {
    if (const Tensor *t = n.input(1)) {
      lo = t->getDouble(0);
      ilo = t->getInt(0);
    }
    if (const Tensor *t = n.input(2)) {
      hi = t->getDouble(0);
      ihi = t->getInt(0);
    }
  } else {
    lo = n.attrFloat("min", -FLT_MAX);
    hi = n.attrFloat("max", FLT_MAX);
  }
  Tensor out((*x)->type(), (*x)->shape());
  bool isInt = isIntLike((*x)->type());
  for (int64_t i = 0; i < out.numElements(); ++i) {
    if (isInt) {
      int64_t v = (*x)->getInt(i);
      if (ilo)
        v = std::max(v, *ilo);
      if (ihi)
        v = std::min(v, *ihi);
      out.setInt(i, v);
    } else {
      double v = (*x)->getDouble(i);
      // NaN passes through, as max/min with a comparison would not guarantee.
      if (!std::isnan(v))
        v = std::min(std::max(v, lo), hi);
      out.setDouble(i, v);
    }
  }
  return Outputs{std::move(out)};
}

llvm::Expected<Outputs> evalLayerNorm(const Node &n) {
  auto x = need(n, 0), scale = need(n, 1);
  if (!x)
    return x.takeError();
  if (!scale)
    return scale.takeError();
  int64_t rank = (*x)->rank();
  auto axis = normAxis(n, n.attrInt("axis", -1), rank, "axis");
  if (!axis)
    return axis.takeError();
  double eps = n.attrFloat("epsilon", 1e-5f);
  auto stash = static_cast<ElemType>(n.attrInt("stash_type", 1));
  if (!isFloatType(stash))
    return n.unsupported("stash_type " + elemTypeName(stash) + " is not supported");
  const Shape &s = (*x)->shape();
  Shape normShape(s.begin() + *axis, s.end());
  int64_t outer = product(Shape(s.begin(), s.begin() + *axis)), len = product(normShape);
  const Tensor *bias = n.input(2);
  for (const Tensor *p : {*scale, bias})
    if (p) {
      auto bs = broadcast(n, p->shape(), normShape);
      if (!bs)
        return bs.takeError();
      REQUIRE(*bs == normShape, n,
              p->describe() + " does not broadcast to the normalized shape " +
                  shapeToString(normShape));
    }
  auto ms = broadcastMap((*scale)->shape(), normShape);
  std::vector<int64_t> mb = bias ? broadcastMap(bias->shape(), normShape) : std::vector<int64_t>();
  Shape statShape = s;
  for (int64_t k = *axis; k < rank; ++k)
    statShape[k] = 1;
  Tensor y((*x)->type(), s), mean(stash, statShape), invStd(stash, statShape);
  // The statistics are computed in the stash type's precision: round each step through it.
  auto round = [&](double v) {
    Tensor t(stash, {1});
    t.setDouble(0, v);
    return t.getDouble(0);
  };
  for (int64_t o = 0; o < outer; ++o) {
    double sum = 0, sq = 0;
    for (int64_t j = 0; j < len; ++j)
      sum += (*x)->getDouble(o * len + j);
    double mu = round(sum / len);
    for (int64_t j = 0; j < len; ++j) {
      double d = (*x)->getDouble(o * len + j) - mu;
      sq += d * d;
    }
    double inv = round(1.0 / std::sqrt(sq / len + eps));
    mean.setDouble(o, mu);
    invStd.setDouble(o, inv);
    for (int64_t j = 0; j < len; ++j) {
      double v = ((*x)->getDouble(o * len + j) - mu) * inv * (*scale)->getDouble(ms[j]);
      if (bias)
        v += bias->getDouble(mb[j]);
      y.setDouble(o * len + j, v);
    }
  }
  return Outputs{std::move(y), std::move(mean), std::move(invStd)};
}

// ---- the op table ---------------------------------------------------------------------------

using Handler = std::function<llvm::Expected<Outputs>(const Node &)>;

double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

const std::map<std::string, Handler> &handlers() {
  static const std::map<std::string, Handler> table = [] {
    std::map<std::string, Handler> t;
    auto bin = [&](const char *name, FloatBinary f, IntBinary g) {
      t[name] = [f, g](const Node &n) { return binary(n, f, g); };
    };
    bin("Add", [](double a, double b) { return a + b; },
        [](int64_t a, int64_t b) { return static_cast<int64_t>(uint64_t(a) + uint64_t(b)); });
    bin("Sub", [](double a, double b) { return a - b; },
        [](int64_t a, int64_t b) { return static_cast<int64_t>(uint64_t(a) - uint64_t(b)); });
    bin("Mul", [](double a, double b) { return a * b; },
        [](int64_t a, int64_t b) { return static_cast<int64_t>(uint64_t(a) * uint64_t(b)); });
    // Integer division truncates toward zero, like C and ONNX Runtime; x / 0 is left as 0.
    bin("Div", [](double a, double b) { return a / b; },
        [](int64_t a, int64_t b) { return b ? a / b : int64_t(0); });
    // Pow's result has the base's type; an integer base with an integer exponent stays exact.
    bin("Pow", [](double a, double b) { return std::pow(a, b); }, nullptr);
    auto var = [&](const char *name, FloatBinary f, IntBinary g) {
      t[name] = [f, g](const Node &n) { return variadic(n, f, g); };
    };
    var("Max", [](double a, double b) { return std::isnan(a) || std::isnan(b) ? NAN : std::max(a, b); },
        [](int64_t a, int64_t b) { return std::max(a, b); });
    var("Min", [](double a, double b) { return std::isnan(a) || std::isnan(b) ? NAN : std::min(a, b); },
        [](int64_t a, int64_t b) { return std::min(a, b); });
    var("Sum", [](double a, double b) { return a + b; }, [](int64_t a, int64_t b) { return a + b; });

    auto cmp = [&](const char *name, bool (*f)(double, double), bool (*g)(int64_t, int64_t)) {
      t[name] = [f, g](const Node &n) { return compare(n, f, g); };
    };
    cmp("Equal", [](double a, double b) { return a == b; }, [](int64_t a, int64_t b) { return a == b; });
    cmp("Less", [](double a, double b) { return a < b; }, [](int64_t a, int64_t b) { return a < b; });
    cmp("LessOrEqual", [](double a, double b) { return a <= b; },
        [](int64_t a, int64_t b) { return a <= b; });
    cmp("Greater", [](double a, double b) { return a > b; }, [](int64_t a, int64_t b) { return a > b; });
    cmp("GreaterOrEqual", [](double a, double b) { return a >= b; },
        [](int64_t a, int64_t b) { return a >= b; });
    cmp("And", [](double a, double b) { return a != 0 && b != 0; },
        [](int64_t a, int64_t b) { return a != 0 && b != 0; });
    cmp("Or", [](double a, double b) { return a != 0 || b != 0; },
        [](int64_t a, int64_t b) { return a != 0 || b != 0; });
    cmp("Xor", [](double a, double b) { return (a != 0) != (b != 0); },
        [](int64_t a, int64_t b) { return (a != 0) != (b != 0); });

    auto un = [&](const char *name, double (*f)(double), int64_t (*g)(int64_t)) {
      t[name] = [f, g](const Node &n) { return unary(n, f, g); };
    };
    un("Sqrt", [](double x) { return std::sqrt(x); }, nullptr);
    un("Reciprocal", [](double x) { return 1.0 / x; }, nullptr);
    un("Neg", [](double x) { return -x; }, [](int64_t x) { return -x; });
    un("Abs", [](double x) { return std::fabs(x); }, [](int64_t x) { return x < 0 ? -x : x; });
    un("Exp", [](double x) { return std::exp(x); }, nullptr);
    un("Log", [](double x) { return std::log(x); }, nullptr);
    un("Sigmoid", sigmoid, nullptr);
    un("Tanh", [](double x) { return std::tanh(x); }, nullptr);
    // Rotary tables are computed in-graph from position ids in PyTorch exports.
    un("Cos", [](double x) { return std::cos(x); }, nullptr);
    un("Sin", [](double x) { return std::sin(x); }, nullptr);
    un("Erf", [](double x) { return std::erf(x); }, nullptr);
    un("Relu", [](double x) { return x > 0 ? x : 0.0; }, [](int64_t x) { return x > 0 ? x : 0; });
    un("Floor", [](double x) { return std::floor(x); }, [](int64_t x) { return x; });
    un("Ceil", [](double x) { return std::ceil(x); }, [](int64_t x) { return x; });
    // Halves round to even: nearbyint under the default rounding mode.
    un("Round", [](double x) { return std::nearbyint(x); }, [](int64_t x) { return x; });
    un("Not", [](double x) { return x == 0 ? 1.0 : 0.0; }, [](int64_t x) { return int64_t(x == 0); });
    un("Sign", [](double x) { return x > 0 ? 1.0 : x < 0 ? -1.0 : 0.0; },
       [](int64_t x) { return int64_t(x > 0) - int64_t(x < 0); });

    t["Where"] = evalWhere;
    t["Cast"] = evalCast;
    t["Shape"] = evalShape;
    t["Size"] = evalSize;
    t["Identity"] = evalIdentity;
    t["Gather"] = evalGather;
    t["Unsqueeze"] = evalUnsqueeze;
    t["Squeeze"] = evalSqueeze;
    t["Reshape"] = evalReshape;
    t["Flatten"] = evalFlatten;
    t["Concat"] = evalConcat;
    t["Transpose"] = evalTranspose;
    t["Slice"] = evalSlice;
    t["Expand"] = evalExpand;
    t["Range"] = evalRange;
    t["ConstantOfShape"] = evalConstantOfShape;
    t["Constant"] = evalConstant;
    t["Split"] = evalSplit;
    t["Trilu"] = evalTrilu;
    t["ReduceSum"] = [](const Node &n) { return evalReduce(n, Reduce::Sum); };
    t["ReduceMean"] = [](const Node &n) { return evalReduce(n, Reduce::Mean); };
    t["ReduceMax"] = [](const Node &n) { return evalReduce(n, Reduce::Max); };
    t["ReduceMin"] = [](const Node &n) { return evalReduce(n, Reduce::Min); };
    t["ReduceProd"] = [](const Node &n) { return evalReduce(n, Reduce::Prod); };
    t["Softmax"] = [](const Node &n) { return evalSoftmax(n, false); };
    t["LogSoftmax"] = [](const Node &n) { return evalSoftmax(n, true); };
    t["MatMul"] = evalMatMul;
    t["Gemm"] = evalGemm;
    t["GatherND"] = evalGatherND;
    t["QuantizeLinear"] = evalQuantizeLinear;
    t["DequantizeLinear"] = evalDequantizeLinear;
    t["MatMulInteger"] = evalMatMulInteger;
    t["Clip"] = evalClip;
    t["LayerNormalization"] = evalLayerNorm;
    return t;
  }();
  return table;
}

} // namespace

const std::vector<std::string> &evaluatorOps() {
  static const std::vector<std::string> ops = [] {
    std::vector<std::string> v;
    for (const auto &[name, h] : handlers())
      v.push_back(name);
    return v;
  }();
  return ops;
}

bool isEvaluatorOp(llvm::StringRef domain, llvm::StringRef opType) {
  return (domain.empty() || domain == "ai.onnx") && handlers().count(opType.str());
}

llvm::Expected<std::vector<Tensor>> evaluateNode(const ::onnx::NodeProto &node,
                                                 llvm::ArrayRef<std::optional<Tensor>> inputs,
                                                 int64_t opset) {
  Node n(node, inputs, opset);
  if (!isEvaluatorOp(node.domain(), node.op_type()))
    return n.unsupported("op is not supported by the constant evaluator; supported ops (domain "
                         "ai.onnx): " +
                         llvm::join(evaluatorOps(), ", "));
  for (size_t i = 0; i < inputs.size(); ++i)
    if (inputs[i] && !elemSize(inputs[i]->type()))
      return n.unsupported("input " + std::to_string(i) + " has element type " +
                           elemTypeName(inputs[i]->type()) + ", which is not supported");
  auto outs = handlers().at(node.op_type())(n);
  if (!outs)
    return outs.takeError();
  if (outs->size() < n.numOutputs())
    return n.error("produced " + std::to_string(outs->size()) + " outputs, the node has " +
                   std::to_string(n.numOutputs()));
  outs->resize(n.numOutputs());
  return outs;
}

llvm::Error evaluateGraph(const ::onnx::GraphProto &graph, std::map<std::string, Tensor> &values,
                          int64_t opset) {
  for (const auto &node : graph.node()) {
    std::vector<std::optional<Tensor>> ins;
    for (const std::string &name : node.input()) {
      if (name.empty()) {
        ins.emplace_back();
        continue;
      }
      auto it = values.find(name);
      if (it == values.end())
        return llvm::createStringError(std::errc::invalid_argument,
                                       "node '%s' (%s): input '%s' has no constant value",
                                       node.name().c_str(), node.op_type().c_str(), name.c_str());
      ins.emplace_back(it->second);
    }
    auto outs = evaluateNode(node, ins, opset);
    if (!outs)
      return outs.takeError();
    for (int i = 0; i < node.output_size(); ++i)
      if (!node.output(i).empty())
        values[node.output(i)] = std::move((*outs)[i]);
  }
  return llvm::Error::success();
}

} // namespace tern::onnx
