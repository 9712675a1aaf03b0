// The public operations of Backend: each checks its arguments, identically for every backend, and only
// then calls the backend's *Impl. A failed check is INVALID_ARGUMENT naming the operation and the argument,
// e.g. "Gemm: b has element type f32, expected f16", and touches nothing.
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>

#include "kernels/backend.h"

namespace hpo::kernels {
namespace {

Status Invalid(std::string_view op, const std::string& what) {
  return InvalidArgumentError(std::string(op) + ": " + what);
}

std::string TypeName(DType dtype) { return std::string(DTypeName(dtype)); }

// Dimensions are in [0, 2^31-1] on every backend (BLAS interfaces take int).
Status CheckDim(std::string_view op, std::string_view name, int64_t value) {
  if (value < 0 || value > std::numeric_limits<int32_t>::max()) {
    return Invalid(op, std::string(name) + " = " + std::to_string(value) + " is out of range [0, 2^31-1]");
  }
  return Status::Ok();
}

Status CheckFloating(std::string_view op, std::string_view name, const ConstView& view) {
  if (!IsFloating(view.dtype)) {
    return Invalid(op, std::string(name) + " has element type " + TypeName(view.dtype) +
                           ", expected a floating type (f32, f64, f16 or bf16)");
  }
  return Status::Ok();
}

Status CheckType(std::string_view op, std::string_view name, const ConstView& view, DType want) {
  if (view.dtype != want) {
    return Invalid(
        op, std::string(name) + " has element type " + TypeName(view.dtype) + ", expected " + TypeName(want));
  }
  return Status::Ok();
}

// `view` holds at least `need` elements, and points somewhere when it must.
Status CheckSize(std::string_view op, std::string_view name, const ConstView& view, int64_t need) {
  if (view.size < static_cast<uint64_t>(need) || (need > 0 && view.data == nullptr)) {
    return Invalid(op, std::string(name) + " holds " + std::to_string(view.data == nullptr ? 0 : view.size) +
                           " elements, needs " + std::to_string(need));
  }
  return Status::Ok();
}

Status CheckView(std::string_view op, std::string_view name, const ConstView& view, DType want,
                 int64_t need) {
  HPO_RETURN_IF_ERROR(CheckType(op, name, view, want));
  return CheckSize(op, name, view, need);
}

// `view` holds exactly `want` elements (the operands of the element-wise updates).
Status CheckSameSize(std::string_view op, std::string_view name, const ConstView& view, std::string_view of,
                     size_t want) {
  if (view.size != want || (want > 0 && view.data == nullptr)) {
    return Invalid(op, std::string(name) + " holds " + std::to_string(view.size) + " elements, " +
                           std::string(of) + " " + std::to_string(want) + "; they must be equal");
  }
  return Status::Ok();
}

// Whether the memory of two views overlaps.
bool Overlap(const ConstView& a, const ConstView& b) {
  if (a.size == 0 || b.size == 0 || a.data == nullptr || b.data == nullptr) return false;
  const auto a0 = reinterpret_cast<uintptr_t>(a.data);
  const auto b0 = reinterpret_cast<uintptr_t>(b.data);
  const uintptr_t a1 = a0 + a.size * DTypeSize(a.dtype);
  const uintptr_t b1 = b0 + b.size * DTypeSize(b.dtype);
  return a0 < b1 && b0 < a1;
}

Status CheckDisjoint(std::string_view op, std::string_view name_a, const ConstView& a,
                     std::string_view name_b, const ConstView& b) {
  if (Overlap(a, b)) return Invalid(op, std::string(name_a) + " and " + std::string(name_b) + " overlap");
  return Status::Ok();
}

Status CheckActivation(std::string_view op, Activation act) {
  switch (act) {
    case Activation::kIdentity:
    case Activation::kRelu:
    case Activation::kGelu:
    case Activation::kTanh:
    case Activation::kSilu:
      return Status::Ok();
  }
  return Invalid(op, "act = " + std::to_string(static_cast<int>(act)) + " is not an activation");
}

Status CheckGradScale(std::string_view op, double grad_scale) {
  if (!(std::isfinite(grad_scale) && grad_scale > 0)) {
    return Invalid(op, "grad_scale = " + std::to_string(grad_scale) + " must be finite and > 0");
  }
  return Status::Ok();
}

// The operands of an optimizer step: w of kF32 or kF64; the others (`operands`, named) of w's type and
// size; w_copy empty or floating of w's size; none overlapping.
Status CheckUpdate(std::string_view op, const View& w,
                   std::initializer_list<std::pair<const char*, ConstView>> operands, const View& w_copy) {
  if (w.dtype != DType::kF32 && w.dtype != DType::kF64) {
    return Invalid(op, "w has element type " + TypeName(w.dtype) + ", expected f32 or f64");
  }
  if (w.size > 0 && w.data == nullptr) return Invalid(op, "w holds no memory");
  for (const auto& [name, view] : operands) {
    HPO_RETURN_IF_ERROR(CheckType(op, name, view, w.dtype));
    HPO_RETURN_IF_ERROR(CheckSameSize(op, name, view, "w", w.size));
    HPO_RETURN_IF_ERROR(CheckDisjoint(op, "w", w, name, view));
  }
  for (auto i = operands.begin(); i != operands.end(); ++i) {
    for (auto j = i + 1; j != operands.end(); ++j) {
      HPO_RETURN_IF_ERROR(CheckDisjoint(op, i->first, i->second, j->first, j->second));
    }
  }
  if (w_copy.size == 0) return Status::Ok();
  HPO_RETURN_IF_ERROR(CheckFloating(op, "w_copy", w_copy));
  HPO_RETURN_IF_ERROR(CheckSameSize(op, "w_copy", w_copy, "w", w.size));
  HPO_RETURN_IF_ERROR(CheckDisjoint(op, "w", w, "w_copy", w_copy));
  for (const auto& [name, view] : operands)
    HPO_RETURN_IF_ERROR(CheckDisjoint(op, name, view, "w_copy", w_copy));
  return Status::Ok();
}

// The fields of a Conv2dShape (see its comment in backend.h), before anything derived from them is used.
Status CheckConv2dShape(std::string_view op, const Conv2dShape& s) {
  constexpr int64_t kMax = std::numeric_limits<int32_t>::max();
  const std::pair<const char*, int64_t> positive[] = {
      {"batch", s.batch},       {"height", s.height},     {"width", s.width},       {"channels", s.channels},
      {"kernel_h", s.kernel_h}, {"kernel_w", s.kernel_w}, {"stride_h", s.stride_h}, {"stride_w", s.stride_w}};
  for (const auto& [name, value] : positive) {
    if (value < 1 || value > kMax) {
      std::string what = "shape.";
      what += name;
      what += " = " + std::to_string(value) + " is out of range [1, 2^31-1]";
      return Invalid(op, what);
    }
  }
  for (const auto& [name, value] : {std::pair<const char*, int64_t>{"pad_h", s.pad_h}, {"pad_w", s.pad_w}}) {
    if (value < 0 || value > kMax) {
      std::string what = "shape.";
      what += name;
      what += " = " + std::to_string(value) + " is out of range [0, 2^31-1]";
      return Invalid(op, what);
    }
  }
  if (s.out_height() < 1 || s.out_width() < 1) {
    std::string what = "shape gives an output of " + std::to_string(s.out_height()) + " x " +
                       std::to_string(s.out_width()) + " pixels (kernel ";
    what +=
        std::to_string(s.kernel_h) + " x " + std::to_string(s.kernel_w) + " over " + std::to_string(s.height);
    what += " x " + std::to_string(s.width) + " padded by " + std::to_string(s.pad_h) + ", " +
            std::to_string(s.pad_w) + "), needs at least 1 x 1";
    return Invalid(op, what);
  }
  // The matrices the shape implies: every dimension within 2^31-1 (each factor is, so no product of two
  // overflows int64 before its check).
  const auto check_product = [&](const char* name, std::initializer_list<int64_t> factors) -> Status {
    int64_t product = 1;
    for (int64_t f : factors) {
      product *= f;
      if (product > kMax) {
        std::string what = "shape's ";
        what += name;
        what += " exceed 2^31-1";
        return Invalid(op, what);
      }
    }
    return Status::Ok();
  };
  HPO_RETURN_IF_ERROR(check_product("input pixels (batch * height * width)", {s.batch, s.height, s.width}));
  HPO_RETURN_IF_ERROR(check_product("output pixels (batch * out_height * out_width)",
                                    {s.batch, s.out_height(), s.out_width()}));
  return check_product("patch elements (kernel_h * kernel_w * channels)",
                       {s.kernel_h, s.kernel_w, s.channels});
}

// A pooling window may not lie wholly in the padding: pad < kernel.
Status CheckPoolPadding(std::string_view op, const Conv2dShape& s) {
  if (s.pad_h >= s.kernel_h || s.pad_w >= s.kernel_w) {
    return Invalid(op, "shape.pad_h = " + std::to_string(s.pad_h) + ", pad_w = " + std::to_string(s.pad_w) +
                           " must be below kernel_h = " + std::to_string(s.kernel_h) + ", kernel_w = " +
                           std::to_string(s.kernel_w) + " (a window wholly in the padding has no maximum)");
  }
  if (s.input_size() > std::numeric_limits<int32_t>::max()) {
    return Invalid(op, "x holds " + std::to_string(s.input_size()) +
                           " elements, more than an i32 argmax can index (2^31-1)");
  }
  return Status::Ok();
}

using Operand = std::tuple<const char*, ConstView, int64_t>;  // name, view, elements used from its start

// No output overlaps another output or an input (inputs may share memory among themselves).
Status CheckOutputsDisjoint(std::string_view op, std::initializer_list<Operand> outputs,
                            std::initializer_list<Operand> inputs) {
  const auto used = [](const Operand& o) {
    return std::get<1>(o).Sub(0, static_cast<size_t>(std::get<2>(o)));
  };
  for (auto i = outputs.begin(); i != outputs.end(); ++i) {
    for (auto j = i + 1; j != outputs.end(); ++j) {
      HPO_RETURN_IF_ERROR(CheckDisjoint(op, std::get<0>(*i), used(*i), std::get<0>(*j), used(*j)));
    }
    for (const Operand& in : inputs) {
      HPO_RETURN_IF_ERROR(CheckDisjoint(op, std::get<0>(in), used(in), std::get<0>(*i), used(*i)));
    }
  }
  return Status::Ok();
}

Status CheckMomentum(std::string_view op, double momentum) {
  if (!(momentum >= 0 && momentum <= 1)) {
    return Invalid(op, "momentum = " + std::to_string(momentum) + " is outside [0, 1]");
  }
  return Status::Ok();
}

Status CheckEps(std::string_view op, double eps) {
  if (!(std::isfinite(eps) && eps > 0)) return Invalid(op, "eps = " + std::to_string(eps) + " must be > 0");
  return Status::Ok();
}

// rows and cols in [0, 2^31-1], and x a floating matrix of at least rows * cols elements: the preamble of
// the row operations (the norms).
Status CheckRowMatrix(std::string_view op, int64_t rows, int64_t cols, const ConstView& x) {
  HPO_RETURN_IF_ERROR(CheckDim(op, "rows", rows));
  HPO_RETURN_IF_ERROR(CheckDim(op, "cols", cols));
  HPO_RETURN_IF_ERROR(CheckFloating(op, "x", x));
  return CheckSize(op, "x", x, rows * cols);
}

}  // namespace

Status Backend::Fill(View dst, double value) {
  constexpr std::string_view kOp = "Fill";
  if (dst.size > 0 && dst.data == nullptr) return Invalid(kOp, "dst holds no memory");
  if (dst.dtype == DType::kI32) {
    if (!(value >= std::numeric_limits<int32_t>::min() && value <= std::numeric_limits<int32_t>::max())) {
      return Invalid(kOp, "value = " + std::to_string(value) + " is not in the range of i32");
    }
  }
  if (dst.size == 0) return Status::Ok();
  return FillImpl(dst, value);
}

Status Backend::Cast(ConstView src, View dst) {
  constexpr std::string_view kOp = "Cast";
  HPO_RETURN_IF_ERROR(CheckFloating(kOp, "src", src));
  HPO_RETURN_IF_ERROR(CheckFloating(kOp, "dst", dst));
  if (src.size > 0 && src.data == nullptr) return Invalid(kOp, "src holds no memory");
  HPO_RETURN_IF_ERROR(CheckSize(kOp, "dst", dst, static_cast<int64_t>(src.size)));
  if (src.size == 0 || (src.data == dst.data && src.dtype == dst.dtype)) return Status::Ok();
  HPO_RETURN_IF_ERROR(CheckDisjoint(kOp, "src", src, "dst", dst.Sub(0, src.size)));
  return CastImpl(src, dst);
}

Status Backend::Gemm(Transpose trans_a, Transpose trans_b, int64_t m, int64_t n, int64_t k, double alpha,
                     ConstView a, ConstView b, double beta, View c) {
  constexpr std::string_view kOp = "Gemm";
  HPO_RETURN_IF_ERROR(CheckDim(kOp, "m", m));
  HPO_RETURN_IF_ERROR(CheckDim(kOp, "n", n));
  HPO_RETURN_IF_ERROR(CheckDim(kOp, "k", k));
  HPO_RETURN_IF_ERROR(CheckFloating(kOp, "a", a));
  HPO_RETURN_IF_ERROR(CheckSize(kOp, "a", a, m * k));
  HPO_RETURN_IF_ERROR(CheckView(kOp, "b", b, a.dtype, k * n));
  if (IsHalf(a.dtype) && c.dtype == DType::kF32) {
    HPO_RETURN_IF_ERROR(CheckSize(kOp, "c", c, m * n));
  } else if (c.dtype != a.dtype) {
    return Invalid(kOp, "c has element type " + TypeName(c.dtype) + ", expected " + TypeName(a.dtype) +
                            (IsHalf(a.dtype) ? " or f32" : ""));
  } else {
    HPO_RETURN_IF_ERROR(CheckSize(kOp, "c", c, m * n));
  }
  // Only the elements the product reads and writes count.
  const ConstView c_used = c.Sub(0, static_cast<size_t>(m * n));
  HPO_RETURN_IF_ERROR(CheckDisjoint(kOp, "a", a.Sub(0, static_cast<size_t>(m * k)), "c", c_used));
  HPO_RETURN_IF_ERROR(CheckDisjoint(kOp, "b", b.Sub(0, static_cast<size_t>(k * n)), "c", c_used));
  if (m == 0 || n == 0) return Status::Ok();
  return GemmImpl(trans_a, trans_b, m, n, k, alpha, a, b, beta, c);
}

Status Backend::BiasActivationForward(Activation act, int64_t rows, int64_t cols, ConstView bias, View z,
                                      View y) {
  constexpr std::string_view kOp = "BiasActivationForward";
  HPO_RETURN_IF_ERROR(CheckActivation(kOp, act));
  HPO_RETURN_IF_ERROR(CheckDim(kOp, "rows", rows));
  HPO_RETURN_IF_ERROR(CheckDim(kOp, "cols", cols));
  HPO_RETURN_IF_ERROR(CheckFloating(kOp, "z", z));
  HPO_RETURN_IF_ERROR(CheckSize(kOp, "z", z, rows * cols));
  HPO_RETURN_IF_ERROR(CheckView(kOp, "y", y, z.dtype, rows * cols));
  if (bias.size > 0) HPO_RETURN_IF_ERROR(CheckView(kOp, "bias", bias, z.dtype, cols));
  if (rows == 0 || cols == 0) return Status::Ok();
  return BiasActivationForwardImpl(act, rows, cols, bias, z, y);
}

Status Backend::BiasActivationBackward(Activation act, int64_t rows, int64_t cols, ConstView z, ConstView dy,
                                       View dz, View dbias) {
  constexpr std::string_view kOp = "BiasActivationBackward";
  HPO_RETURN_IF_ERROR(CheckActivation(kOp, act));
  HPO_RETURN_IF_ERROR(CheckDim(kOp, "rows", rows));
  HPO_RETURN_IF_ERROR(CheckDim(kOp, "cols", cols));
  HPO_RETURN_IF_ERROR(CheckFloating(kOp, "z", z));
  HPO_RETURN_IF_ERROR(CheckSize(kOp, "z", z, rows * cols));
  HPO_RETURN_IF_ERROR(CheckView(kOp, "dy", dy, z.dtype, rows * cols));
  HPO_RETURN_IF_ERROR(CheckView(kOp, "dz", dz, z.dtype, rows * cols));
  if (dbias.size > 0) HPO_RETURN_IF_ERROR(CheckView(kOp, "dbias", dbias, AccumulationType(z.dtype), cols));
  if (cols == 0) return Status::Ok();
  return BiasActivationBackwardImpl(act, rows, cols, z, dy, dz, dbias);
}

Status Backend::SoftmaxCrossEntropy(const LossOptions& options, int64_t rows, int64_t cols, ConstView logits,
                                    ConstView labels, View loss, View dlogits) {
  constexpr std::string_view kOp = "SoftmaxCrossEntropy";
  const double eps = options.label_smoothing;
  if (!(eps >= 0 && eps < 1)) {
    return Invalid(kOp, "label_smoothing = " + std::to_string(eps) + " is outside [0, 1)");
  }
  HPO_RETURN_IF_ERROR(CheckGradScale(kOp, options.grad_scale));
  HPO_RETURN_IF_ERROR(CheckDim(kOp, "rows", rows));
  HPO_RETURN_IF_ERROR(CheckDim(kOp, "cols", cols));
  if (rows == 0 || cols == 0) return Invalid(kOp, "needs rows >= 1 and cols >= 1");
  HPO_RETURN_IF_ERROR(CheckFloating(kOp, "logits", logits));
  HPO_RETURN_IF_ERROR(CheckSize(kOp, "logits", logits, rows * cols));
  HPO_RETURN_IF_ERROR(CheckView(kOp, "labels", labels, DType::kI32, rows));
  HPO_RETURN_IF_ERROR(CheckView(kOp, "loss", loss, AccumulationType(logits.dtype), 1));
  if (dlogits.size > 0) HPO_RETURN_IF_ERROR(CheckView(kOp, "dlogits", dlogits, logits.dtype, rows * cols));
  return SoftmaxCrossEntropyImpl(options, rows, cols, logits, labels, loss, dlogits);
}

Result<int64_t> Backend::CountCorrect(int64_t rows, int64_t cols, ConstView logits, ConstView labels) {
  constexpr std::string_view kOp = "CountCorrect";
  HPO_RETURN_IF_ERROR(CheckDim(kOp, "rows", rows));
  HPO_RETURN_IF_ERROR(CheckDim(kOp, "cols", cols));
  if (cols == 0) return Invalid(kOp, "needs cols >= 1");
  HPO_RETURN_IF_ERROR(CheckFloating(kOp, "logits", logits));
  HPO_RETURN_IF_ERROR(CheckSize(kOp, "logits", logits, rows * cols));
  HPO_RETURN_IF_ERROR(CheckView(kOp, "labels", labels, DType::kI32, rows));
  if (rows == 0) return int64_t{0};
  return CountCorrectImpl(rows, cols, logits, labels);
}

Status Backend::Dropout(double p, uint64_t seed, uint64_t stream, ConstView x, View y) {
  constexpr std::string_view kOp = "Dropout";
  if (!(p >= 0 && p < 1)) return Invalid(kOp, "p = " + std::to_string(p) + " is outside [0, 1)");
  HPO_RETURN_IF_ERROR(CheckFloating(kOp, "x", x));
  if (x.size > 0 && x.data == nullptr) return Invalid(kOp, "x holds no memory");
  HPO_RETURN_IF_ERROR(CheckType(kOp, "y", y, x.dtype));
  HPO_RETURN_IF_ERROR(CheckSameSize(kOp, "y", y, "x", x.size));
  if (x.size == 0) return Status::Ok();
  return DropoutImpl(p, seed, stream, x, y);
}

Status Backend::LayerNormForward(int64_t rows, int64_t cols, double eps, ConstView x, ConstView gamma,
                                 ConstView beta, View y, View mean, View rstd) {
  constexpr std::string_view kOp = "LayerNormForward";
  if (!(std::isfinite(eps) && eps > 0)) return Invalid(kOp, "eps = " + std::to_string(eps) + " must be > 0");
  HPO_RETURN_IF_ERROR(CheckRowMatrix(kOp, rows, cols, x));
  const DType acc = AccumulationType(x.dtype);
  HPO_RETURN_IF_ERROR(CheckView(kOp, "gamma", gamma, x.dtype, cols));
  HPO_RETURN_IF_ERROR(CheckView(kOp, "beta", beta, x.dtype, cols));
  HPO_RETURN_IF_ERROR(CheckView(kOp, "y", y, x.dtype, rows * cols));
  HPO_RETURN_IF_ERROR(CheckView(kOp, "mean", mean, acc, rows));
  HPO_RETURN_IF_ERROR(CheckView(kOp, "rstd", rstd, acc, rows));
  HPO_RETURN_IF_ERROR(CheckDisjoint(kOp, "x", x.Sub(0, static_cast<size_t>(rows * cols)), "y",
                                    y.Sub(0, static_cast<size_t>(rows * cols))));
  if (rows == 0 || cols == 0) return Status::Ok();
  return LayerNormForwardImpl(rows, cols, eps, x, gamma, beta, y, mean, rstd);
}

Status Backend::LayerNormBackward(int64_t rows, int64_t cols, ConstView x, ConstView gamma, ConstView mean,
                                  ConstView rstd, ConstView dy, View dx, View dgamma, View dbeta) {
  constexpr std::string_view kOp = "LayerNormBackward";
  HPO_RETURN_IF_ERROR(CheckRowMatrix(kOp, rows, cols, x));
  const DType acc = AccumulationType(x.dtype);
  HPO_RETURN_IF_ERROR(CheckView(kOp, "gamma", gamma, x.dtype, cols));
  HPO_RETURN_IF_ERROR(CheckView(kOp, "mean", mean, acc, rows));
  HPO_RETURN_IF_ERROR(CheckView(kOp, "rstd", rstd, acc, rows));
  HPO_RETURN_IF_ERROR(CheckView(kOp, "dy", dy, x.dtype, rows * cols));
  HPO_RETURN_IF_ERROR(CheckView(kOp, "dx", dx, x.dtype, rows * cols));
  HPO_RETURN_IF_ERROR(CheckView(kOp, "dgamma", dgamma, acc, cols));
  HPO_RETURN_IF_ERROR(CheckView(kOp, "dbeta", dbeta, acc, cols));
  if (cols == 0) return Status::Ok();
  return LayerNormBackwardImpl(rows, cols, x, gamma, mean, rstd, dy, dx, dgamma, dbeta);
}

namespace {

// rows, vocab, dim of the embedding, and tokens (kI32, rows).
Status CheckEmbeddingDims(std::string_view op, int64_t rows, int64_t vocab, int64_t dim,
                          const ConstView& tokens) {
  HPO_RETURN_IF_ERROR(CheckDim(op, "rows", rows));
  HPO_RETURN_IF_ERROR(CheckDim(op, "vocab", vocab));
  HPO_RETURN_IF_ERROR(CheckDim(op, "dim", dim));
  return CheckView(op, "tokens", tokens, DType::kI32, rows);
}

// rows and hidden of SwiGLU, 2 * hidden included.
Status CheckSwiGluDims(std::string_view op, int64_t rows, int64_t hidden) {
  HPO_RETURN_IF_ERROR(CheckDim(op, "rows", rows));
  HPO_RETURN_IF_ERROR(CheckDim(op, "hidden", hidden));
  return CheckDim(op, "2 * hidden", 2 * hidden);
}

}  // namespace

Status Backend::EmbeddingForward(int64_t rows, int64_t vocab, int64_t dim, ConstView tokens, ConstView table,
                                 View out) {
  constexpr std::string_view kOp = "EmbeddingForward";
  HPO_RETURN_IF_ERROR(CheckEmbeddingDims(kOp, rows, vocab, dim, tokens));
  HPO_RETURN_IF_ERROR(CheckFloating(kOp, "table", table));
  HPO_RETURN_IF_ERROR(CheckSize(kOp, "table", table, vocab * dim));
  HPO_RETURN_IF_ERROR(CheckView(kOp, "out", out, table.dtype, rows * dim));
  HPO_RETURN_IF_ERROR(CheckOutputsDisjoint(kOp, {{"out", out, rows * dim}},
                                           {{"tokens", tokens, rows}, {"table", table, vocab * dim}}));
  if (rows == 0) return Status::Ok();
  return EmbeddingForwardImpl(rows, vocab, dim, tokens, table, out);
}

Status Backend::EmbeddingBackward(int64_t rows, int64_t vocab, int64_t dim, ConstView tokens, ConstView dout,
                                  View dtable) {
  constexpr std::string_view kOp = "EmbeddingBackward";
  HPO_RETURN_IF_ERROR(CheckEmbeddingDims(kOp, rows, vocab, dim, tokens));
  HPO_RETURN_IF_ERROR(CheckFloating(kOp, "dout", dout));
  HPO_RETURN_IF_ERROR(CheckSize(kOp, "dout", dout, rows * dim));
  HPO_RETURN_IF_ERROR(CheckView(kOp, "dtable", dtable, AccumulationType(dout.dtype), vocab * dim));
  HPO_RETURN_IF_ERROR(CheckOutputsDisjoint(kOp, {{"dtable", dtable, vocab * dim}},
                                           {{"tokens", tokens, rows}, {"dout", dout, rows * dim}}));
  if (rows == 0 && (vocab == 0 || dim == 0)) return Status::Ok();
  return EmbeddingBackwardImpl(rows, vocab, dim, tokens, dout, dtable);
}

Status Backend::RmsNormForward(int64_t rows, int64_t cols, double eps, ConstView x, ConstView gamma, View y,
                               View rstd) {
  constexpr std::string_view kOp = "RmsNormForward";
  HPO_RETURN_IF_ERROR(CheckEps(kOp, eps));
  HPO_RETURN_IF_ERROR(CheckRowMatrix(kOp, rows, cols, x));
  const int64_t size = rows * cols;
  HPO_RETURN_IF_ERROR(CheckView(kOp, "gamma", gamma, x.dtype, cols));
  HPO_RETURN_IF_ERROR(CheckView(kOp, "y", y, x.dtype, size));
  HPO_RETURN_IF_ERROR(CheckView(kOp, "rstd", rstd, AccumulationType(x.dtype), rows));
  HPO_RETURN_IF_ERROR(CheckOutputsDisjoint(kOp, {{"y", y, size}, {"rstd", rstd, rows}},
                                           {{"x", x, size}, {"gamma", gamma, cols}}));
  if (rows == 0 || cols == 0) return Status::Ok();
  return RmsNormForwardImpl(rows, cols, eps, x, gamma, y, rstd);
}

Status Backend::RmsNormBackward(int64_t rows, int64_t cols, ConstView x, ConstView gamma, ConstView rstd,
                                ConstView dy, View dx, View dgamma) {
  constexpr std::string_view kOp = "RmsNormBackward";
  HPO_RETURN_IF_ERROR(CheckRowMatrix(kOp, rows, cols, x));
  const DType acc = AccumulationType(x.dtype);
  const int64_t size = rows * cols;
  HPO_RETURN_IF_ERROR(CheckView(kOp, "gamma", gamma, x.dtype, cols));
  HPO_RETURN_IF_ERROR(CheckView(kOp, "rstd", rstd, acc, rows));
  HPO_RETURN_IF_ERROR(CheckView(kOp, "dy", dy, x.dtype, size));
  HPO_RETURN_IF_ERROR(CheckView(kOp, "dx", dx, x.dtype, size));
  HPO_RETURN_IF_ERROR(CheckView(kOp, "dgamma", dgamma, acc, cols));
  // dx may be dy itself; the outputs overlap no input otherwise.
  const bool in_place = dx.data == dy.data && dx.dtype == dy.dtype;
  HPO_RETURN_IF_ERROR(CheckOutputsDisjoint(
      kOp, {{"dx", dx, size}, {"dgamma", dgamma, cols}},
      {{"x", x, size}, {"gamma", gamma, cols}, {"rstd", rstd, rows}, {"dy", dy, in_place ? 0 : size}}));
  if (cols == 0) return Status::Ok();
  return RmsNormBackwardImpl(rows, cols, x, gamma, rstd, dy, dx, dgamma);
}

Status Backend::SwiGluForward(int64_t rows, int64_t hidden, ConstView h, View y) {
  constexpr std::string_view kOp = "SwiGluForward";
  HPO_RETURN_IF_ERROR(CheckSwiGluDims(kOp, rows, hidden));
  HPO_RETURN_IF_ERROR(CheckFloating(kOp, "h", h));
  HPO_RETURN_IF_ERROR(CheckSize(kOp, "h", h, rows * 2 * hidden));
  HPO_RETURN_IF_ERROR(CheckView(kOp, "y", y, h.dtype, rows * hidden));
  HPO_RETURN_IF_ERROR(CheckOutputsDisjoint(kOp, {{"y", y, rows * hidden}}, {{"h", h, rows * 2 * hidden}}));
  if (rows == 0 || hidden == 0) return Status::Ok();
  return SwiGluForwardImpl(rows, hidden, h, y);
}

Status Backend::SwiGluBackward(int64_t rows, int64_t hidden, ConstView h, ConstView dy, View dh) {
  constexpr std::string_view kOp = "SwiGluBackward";
  HPO_RETURN_IF_ERROR(CheckSwiGluDims(kOp, rows, hidden));
  HPO_RETURN_IF_ERROR(CheckFloating(kOp, "h", h));
  HPO_RETURN_IF_ERROR(CheckSize(kOp, "h", h, rows * 2 * hidden));
  HPO_RETURN_IF_ERROR(CheckView(kOp, "dy", dy, h.dtype, rows * hidden));
  HPO_RETURN_IF_ERROR(CheckView(kOp, "dh", dh, h.dtype, rows * 2 * hidden));
  HPO_RETURN_IF_ERROR(CheckOutputsDisjoint(kOp, {{"dh", dh, rows * 2 * hidden}},
                                           {{"h", h, rows * 2 * hidden}, {"dy", dy, rows * hidden}}));
  if (rows == 0 || hidden == 0) return Status::Ok();
  return SwiGluBackwardImpl(rows, hidden, h, dy, dh);
}

Status Backend::DepthwiseConv2dForward(const Conv2dShape& s, ConstView x, ConstView w, View y) {
  constexpr std::string_view kOp = "DepthwiseConv2dForward";
  HPO_RETURN_IF_ERROR(CheckConv2dShape(kOp, s));
  HPO_RETURN_IF_ERROR(CheckFloating(kOp, "x", x));
  const int64_t w_size = s.patch_size(), y_size = s.out_pixels() * s.channels;
  HPO_RETURN_IF_ERROR(CheckSize(kOp, "x", x, s.input_size()));
  HPO_RETURN_IF_ERROR(CheckView(kOp, "w", w, x.dtype, w_size));
  HPO_RETURN_IF_ERROR(CheckView(kOp, "y", y, x.dtype, y_size));
  HPO_RETURN_IF_ERROR(
      CheckOutputsDisjoint(kOp, {{"y", y, y_size}}, {{"x", x, s.input_size()}, {"w", w, w_size}}));
  return DepthwiseConv2dForwardImpl(s, x, w, y);
}

Status Backend::DepthwiseConv2dBackward(const Conv2dShape& s, ConstView x, ConstView w, ConstView dy, View dx,
                                        View dw) {
  constexpr std::string_view kOp = "DepthwiseConv2dBackward";
  HPO_RETURN_IF_ERROR(CheckConv2dShape(kOp, s));
  HPO_RETURN_IF_ERROR(CheckFloating(kOp, "x", x));
  const int64_t w_size = s.patch_size(), y_size = s.out_pixels() * s.channels;
  const int64_t dx_size = dx.size > 0 ? s.input_size() : 0;
  HPO_RETURN_IF_ERROR(CheckSize(kOp, "x", x, s.input_size()));
  HPO_RETURN_IF_ERROR(CheckView(kOp, "w", w, x.dtype, w_size));
  HPO_RETURN_IF_ERROR(CheckView(kOp, "dy", dy, x.dtype, y_size));
  if (dx.size > 0) HPO_RETURN_IF_ERROR(CheckView(kOp, "dx", dx, x.dtype, dx_size));
  HPO_RETURN_IF_ERROR(CheckView(kOp, "dw", dw, AccumulationType(x.dtype), w_size));
  HPO_RETURN_IF_ERROR(CheckOutputsDisjoint(kOp, {{"dx", dx, dx_size}, {"dw", dw, w_size}},
                                           {{"x", x, s.input_size()}, {"w", w, w_size}, {"dy", dy, y_size}}));
  return DepthwiseConv2dBackwardImpl(s, x, w, dy, dx, dw);
}

Status Backend::Im2Col(const Conv2dShape& s, ConstView x, View cols) {
  constexpr std::string_view kOp = "Im2Col";
  HPO_RETURN_IF_ERROR(CheckConv2dShape(kOp, s));
  HPO_RETURN_IF_ERROR(CheckFloating(kOp, "x", x));
  HPO_RETURN_IF_ERROR(CheckSize(kOp, "x", x, s.input_size()));
  const int64_t cols_size = s.out_pixels() * s.patch_size();
  HPO_RETURN_IF_ERROR(CheckView(kOp, "cols", cols, x.dtype, cols_size));
  HPO_RETURN_IF_ERROR(CheckOutputsDisjoint(kOp, {{"cols", cols, cols_size}}, {{"x", x, s.input_size()}}));
  return Im2ColImpl(s, x, cols);
}

Status Backend::Col2Im(const Conv2dShape& s, ConstView cols, View x) {
  constexpr std::string_view kOp = "Col2Im";
  HPO_RETURN_IF_ERROR(CheckConv2dShape(kOp, s));
  HPO_RETURN_IF_ERROR(CheckFloating(kOp, "cols", cols));
  const int64_t cols_size = s.out_pixels() * s.patch_size();
  HPO_RETURN_IF_ERROR(CheckSize(kOp, "cols", cols, cols_size));
  HPO_RETURN_IF_ERROR(CheckView(kOp, "x", x, cols.dtype, s.input_size()));
  HPO_RETURN_IF_ERROR(CheckOutputsDisjoint(kOp, {{"x", x, s.input_size()}}, {{"cols", cols, cols_size}}));
  return Col2ImImpl(s, cols, x);
}

Status Backend::MaxPool2dForward(const Conv2dShape& s, ConstView x, View y, View argmax) {
  constexpr std::string_view kOp = "MaxPool2dForward";
  HPO_RETURN_IF_ERROR(CheckConv2dShape(kOp, s));
  HPO_RETURN_IF_ERROR(CheckPoolPadding(kOp, s));
  HPO_RETURN_IF_ERROR(CheckFloating(kOp, "x", x));
  HPO_RETURN_IF_ERROR(CheckSize(kOp, "x", x, s.input_size()));
  const int64_t out_size = s.out_pixels() * s.channels;
  HPO_RETURN_IF_ERROR(CheckView(kOp, "y", y, x.dtype, out_size));
  HPO_RETURN_IF_ERROR(CheckView(kOp, "argmax", argmax, DType::kI32, out_size));
  HPO_RETURN_IF_ERROR(CheckOutputsDisjoint(kOp, {{"y", y, out_size}, {"argmax", argmax, out_size}},
                                           {{"x", x, s.input_size()}}));
  return MaxPool2dForwardImpl(s, x, y, argmax);
}

Status Backend::MaxPool2dBackward(const Conv2dShape& s, ConstView dy, ConstView argmax, View dx) {
  constexpr std::string_view kOp = "MaxPool2dBackward";
  HPO_RETURN_IF_ERROR(CheckConv2dShape(kOp, s));
  HPO_RETURN_IF_ERROR(CheckPoolPadding(kOp, s));
  HPO_RETURN_IF_ERROR(CheckFloating(kOp, "dy", dy));
  const int64_t out_size = s.out_pixels() * s.channels;
  HPO_RETURN_IF_ERROR(CheckSize(kOp, "dy", dy, out_size));
  HPO_RETURN_IF_ERROR(CheckView(kOp, "argmax", argmax, DType::kI32, out_size));
  HPO_RETURN_IF_ERROR(CheckView(kOp, "dx", dx, dy.dtype, s.input_size()));
  HPO_RETURN_IF_ERROR(CheckOutputsDisjoint(kOp, {{"dx", dx, s.input_size()}},
                                           {{"dy", dy, out_size}, {"argmax", argmax, out_size}}));
  return MaxPool2dBackwardImpl(s, dy, argmax, dx);
}

namespace {

// batch, pixels, channels of the global average pool: each in [1, 2^31-1], batch * pixels too.
Status CheckPoolDims(std::string_view op, int64_t batch, int64_t pixels, int64_t channels) {
  HPO_RETURN_IF_ERROR(CheckDim(op, "batch", batch));
  HPO_RETURN_IF_ERROR(CheckDim(op, "pixels", pixels));
  HPO_RETURN_IF_ERROR(CheckDim(op, "channels", channels));
  if (batch < 1 || pixels < 1 || channels < 1) {
    return Invalid(op, "needs batch, pixels and channels >= 1 (have " + std::to_string(batch) + ", " +
                           std::to_string(pixels) + ", " + std::to_string(channels) + ")");
  }
  return CheckDim(op, "batch * pixels", batch * pixels);
}

}  // namespace

Status Backend::GlobalAvgPoolForward(int64_t batch, int64_t pixels, int64_t channels, ConstView x, View y) {
  constexpr std::string_view kOp = "GlobalAvgPoolForward";
  HPO_RETURN_IF_ERROR(CheckPoolDims(kOp, batch, pixels, channels));
  HPO_RETURN_IF_ERROR(CheckFloating(kOp, "x", x));
  const int64_t in_size = batch * pixels * channels;
  HPO_RETURN_IF_ERROR(CheckSize(kOp, "x", x, in_size));
  HPO_RETURN_IF_ERROR(CheckView(kOp, "y", y, x.dtype, batch * channels));
  HPO_RETURN_IF_ERROR(CheckOutputsDisjoint(kOp, {{"y", y, batch * channels}}, {{"x", x, in_size}}));
  return GlobalAvgPoolForwardImpl(batch, pixels, channels, x, y);
}

Status Backend::GlobalAvgPoolBackward(int64_t batch, int64_t pixels, int64_t channels, ConstView dy,
                                      View dx) {
  constexpr std::string_view kOp = "GlobalAvgPoolBackward";
  HPO_RETURN_IF_ERROR(CheckPoolDims(kOp, batch, pixels, channels));
  HPO_RETURN_IF_ERROR(CheckFloating(kOp, "dy", dy));
  const int64_t in_size = batch * pixels * channels;
  HPO_RETURN_IF_ERROR(CheckSize(kOp, "dy", dy, batch * channels));
  HPO_RETURN_IF_ERROR(CheckView(kOp, "dx", dx, dy.dtype, in_size));
  HPO_RETURN_IF_ERROR(CheckOutputsDisjoint(kOp, {{"dx", dx, in_size}}, {{"dy", dy, batch * channels}}));
  return GlobalAvgPoolBackwardImpl(batch, pixels, channels, dy, dx);
}

Status Backend::BatchNormForward(int64_t rows, int64_t cols, double eps, double momentum, ConstView x,
                                 ConstView gamma, ConstView beta, View y, View mean, View rstd,
                                 View running_mean, View running_var) {
  constexpr std::string_view kOp = "BatchNormForward";
  HPO_RETURN_IF_ERROR(CheckEps(kOp, eps));
  HPO_RETURN_IF_ERROR(CheckMomentum(kOp, momentum));
  HPO_RETURN_IF_ERROR(CheckDim(kOp, "rows", rows));
  HPO_RETURN_IF_ERROR(CheckDim(kOp, "cols", cols));
  if (rows < 1) return Invalid(kOp, "needs rows >= 1 (the batch statistics of no rows are undefined)");
  if (rows < 2 && running_var.size > 0) {
    return Invalid(kOp, "rows = 1 has no unbiased variance for running_var (needs rows >= 2)");
  }
  HPO_RETURN_IF_ERROR(CheckFloating(kOp, "x", x));
  const DType acc = AccumulationType(x.dtype);
  const int64_t size = rows * cols;
  HPO_RETURN_IF_ERROR(CheckSize(kOp, "x", x, size));
  HPO_RETURN_IF_ERROR(CheckView(kOp, "gamma", gamma, x.dtype, cols));
  HPO_RETURN_IF_ERROR(CheckView(kOp, "beta", beta, x.dtype, cols));
  HPO_RETURN_IF_ERROR(CheckView(kOp, "y", y, x.dtype, size));
  HPO_RETURN_IF_ERROR(CheckView(kOp, "mean", mean, acc, cols));
  HPO_RETURN_IF_ERROR(CheckView(kOp, "rstd", rstd, acc, cols));
  if (running_mean.size > 0) HPO_RETURN_IF_ERROR(CheckView(kOp, "running_mean", running_mean, acc, cols));
  if (running_var.size > 0) HPO_RETURN_IF_ERROR(CheckView(kOp, "running_var", running_var, acc, cols));
  // Outputs are written while inputs are still read: none may overlap another or an input.
  const int64_t running_mean_used = running_mean.size > 0 ? cols : 0;
  const int64_t running_var_used = running_var.size > 0 ? cols : 0;
  HPO_RETURN_IF_ERROR(CheckOutputsDisjoint(kOp,
                                           {{"y", y, size},
                                            {"mean", mean, cols},
                                            {"rstd", rstd, cols},
                                            {"running_mean", running_mean, running_mean_used},
                                            {"running_var", running_var, running_var_used}},
                                           {{"x", x, size}, {"gamma", gamma, cols}, {"beta", beta, cols}}));
  if (cols == 0) return Status::Ok();
  return BatchNormForwardImpl(rows, cols, eps, momentum, x, gamma, beta, y, mean, rstd, running_mean,
                              running_var);
}

Status Backend::BatchNormInference(int64_t rows, int64_t cols, double eps, ConstView x, ConstView gamma,
                                   ConstView beta, ConstView running_mean, ConstView running_var, View y) {
  constexpr std::string_view kOp = "BatchNormInference";
  HPO_RETURN_IF_ERROR(CheckEps(kOp, eps));
  HPO_RETURN_IF_ERROR(CheckRowMatrix(kOp, rows, cols, x));
  const DType acc = AccumulationType(x.dtype);
  const int64_t size = rows * cols;
  HPO_RETURN_IF_ERROR(CheckView(kOp, "gamma", gamma, x.dtype, cols));
  HPO_RETURN_IF_ERROR(CheckView(kOp, "beta", beta, x.dtype, cols));
  HPO_RETURN_IF_ERROR(CheckView(kOp, "running_mean", running_mean, acc, cols));
  HPO_RETURN_IF_ERROR(CheckView(kOp, "running_var", running_var, acc, cols));
  HPO_RETURN_IF_ERROR(CheckView(kOp, "y", y, x.dtype, size));
  // y may be x itself (element-wise, in place), but may overlap nothing else.
  const bool in_place = y.data == x.data && y.dtype == x.dtype;
  HPO_RETURN_IF_ERROR(CheckOutputsDisjoint(kOp, {{"y", y, size}},
                                           {{"x", x, in_place ? 0 : size},
                                            {"gamma", gamma, cols},
                                            {"beta", beta, cols},
                                            {"running_mean", running_mean, cols},
                                            {"running_var", running_var, cols}}));
  if (size == 0) return Status::Ok();
  return BatchNormInferenceImpl(rows, cols, eps, x, gamma, beta, running_mean, running_var, y);
}

Status Backend::BatchNormBackward(int64_t rows, int64_t cols, ConstView x, ConstView gamma, ConstView mean,
                                  ConstView rstd, ConstView dy, View dx, View dgamma, View dbeta) {
  constexpr std::string_view kOp = "BatchNormBackward";
  HPO_RETURN_IF_ERROR(CheckDim(kOp, "rows", rows));
  HPO_RETURN_IF_ERROR(CheckDim(kOp, "cols", cols));
  if (rows < 1) return Invalid(kOp, "needs rows >= 1");
  HPO_RETURN_IF_ERROR(CheckFloating(kOp, "x", x));
  const DType acc = AccumulationType(x.dtype);
  const int64_t size = rows * cols;
  HPO_RETURN_IF_ERROR(CheckSize(kOp, "x", x, size));
  HPO_RETURN_IF_ERROR(CheckView(kOp, "gamma", gamma, x.dtype, cols));
  HPO_RETURN_IF_ERROR(CheckView(kOp, "mean", mean, acc, cols));
  HPO_RETURN_IF_ERROR(CheckView(kOp, "rstd", rstd, acc, cols));
  HPO_RETURN_IF_ERROR(CheckView(kOp, "dy", dy, x.dtype, size));
  HPO_RETURN_IF_ERROR(CheckView(kOp, "dx", dx, x.dtype, size));
  HPO_RETURN_IF_ERROR(CheckView(kOp, "dgamma", dgamma, acc, cols));
  HPO_RETURN_IF_ERROR(CheckView(kOp, "dbeta", dbeta, acc, cols));
  // dx may be dy itself; the outputs overlap no input otherwise.
  const bool in_place = dx.data == dy.data && dx.dtype == dy.dtype;
  HPO_RETURN_IF_ERROR(
      CheckOutputsDisjoint(kOp, {{"dx", dx, size}, {"dgamma", dgamma, cols}, {"dbeta", dbeta, cols}},
                           {{"x", x, size},
                            {"gamma", gamma, cols},
                            {"mean", mean, cols},
                            {"rstd", rstd, cols},
                            {"dy", dy, in_place ? 0 : size}}));
  if (cols == 0) return Status::Ok();
  return BatchNormBackwardImpl(rows, cols, x, gamma, mean, rstd, dy, dx, dgamma, dbeta);
}

Status Backend::Axpy(double alpha, ConstView x, View y) {
  constexpr std::string_view kOp = "Axpy";
  HPO_RETURN_IF_ERROR(CheckFloating(kOp, "x", x));
  if (x.size > 0 && x.data == nullptr) return Invalid(kOp, "x holds no memory");
  HPO_RETURN_IF_ERROR(CheckView(kOp, "y", y, x.dtype, static_cast<int64_t>(x.size)));
  if (x.size == 0) return Status::Ok();
  return AxpyImpl(alpha, x, y);
}

Result<GradStats> Backend::GradientStats(ConstView g) {
  constexpr std::string_view kOp = "GradientStats";
  HPO_RETURN_IF_ERROR(CheckFloating(kOp, "g", g));
  if (g.size > 0 && g.data == nullptr) return Invalid(kOp, "g holds no memory");
  if (g.size == 0) return GradStats{};
  return GradientStatsImpl(g);
}

Status Backend::SgdMomentumUpdate(const SgdHyper& hyper, double grad_scale, View w, ConstView g,
                                  View velocity, View w_copy) {
  constexpr std::string_view kOp = "SgdMomentumUpdate";
  HPO_RETURN_IF_ERROR(CheckGradScale(kOp, grad_scale));
  HPO_RETURN_IF_ERROR(CheckUpdate(kOp, w, {{"g", g}, {"velocity", velocity}}, w_copy));
  if (w.size == 0) return Status::Ok();
  return SgdMomentumUpdateImpl(hyper, grad_scale, w, g, velocity, w_copy);
}

Status Backend::AdamWUpdate(const AdamWHyper& hyper, int64_t step, double grad_scale, View w, ConstView g,
                            View m, View v, View w_copy) {
  constexpr std::string_view kOp = "AdamWUpdate";
  if (step < 1) return Invalid(kOp, "step = " + std::to_string(step) + " must be >= 1");
  HPO_RETURN_IF_ERROR(CheckGradScale(kOp, grad_scale));
  HPO_RETURN_IF_ERROR(CheckUpdate(kOp, w, {{"g", g}, {"m", m}, {"v", v}}, w_copy));
  if (w.size == 0) return Status::Ok();
  return AdamWUpdateImpl(hyper, step, grad_scale, w, g, m, v, w_copy);
}

}  // namespace hpo::kernels

namespace hpo::kernels {
namespace {

// The fields of an AttentionShape (see its comment in backend.h), before anything derived from them is used.
Status CheckAttentionShape(std::string_view op, const AttentionShape& s) {
  constexpr int64_t kMax = std::numeric_limits<int32_t>::max();
  const std::pair<const char*, int64_t> sizes[] = {{"batch", s.batch},
                                                   {"q_len", s.q_len},
                                                   {"kv_len", s.kv_len},
                                                   {"q_offset", s.q_offset},
                                                   {"window", s.window}};
  for (const auto& [name, value] : sizes) {
    if (value < 0 || value > kMax) {
      std::string what = "shape.";
      what += name;
      what += " = " + std::to_string(value) + " is out of range [0, 2^31-1]";
      return Invalid(op, what);
    }
  }
  const std::pair<const char*, int64_t> counts[] = {
      {"heads", s.heads}, {"kv_heads", s.kv_heads}, {"head_dim", s.head_dim}};
  for (const auto& [name, value] : counts) {
    if (value < 1 || value > kMax) {
      std::string what = "shape.";
      what += name;
      what += " = " + std::to_string(value) + " is out of range [1, 2^31-1]";
      return Invalid(op, what);
    }
  }
  if (s.heads % s.kv_heads != 0) {
    return Invalid(op, "shape.heads = " + std::to_string(s.heads) +
                           " is not a multiple of shape.kv_heads = " + std::to_string(s.kv_heads));
  }
  if (s.head_dim > kMaxAttentionHeadDim) {
    return Invalid(op, "shape.head_dim = " + std::to_string(s.head_dim) + " exceeds " +
                           std::to_string(kMaxAttentionHeadDim) + ", the largest the attention kernels take");
  }
  if (!(std::isfinite(s.scale) && s.scale >= 0)) {
    return Invalid(
        op, "shape.scale = " + std::to_string(s.scale) + " must be finite and >= 0 (0: 1/sqrt(head_dim))");
  }
  // Each factor is within 2^31-1, so no product of two overflows int64 before its check.
  const std::pair<const char*, int64_t> products[] = {{"batch * q_len", s.batch * s.q_len},
                                                      {"batch * kv_len", s.batch * s.kv_len},
                                                      {"heads * head_dim", s.heads * s.head_dim},
                                                      {"q_offset + q_len", s.q_offset + s.q_len}};
  for (const auto& [name, value] : products) {
    if (value > kMax) {
      std::string what = "shape's ";
      what += name;
      what += " = " + std::to_string(value) + " exceeds 2^31-1";
      return Invalid(op, what);
    }
  }
  return Status::Ok();
}

}  // namespace

Status Backend::AttentionForward(const AttentionShape& s, ConstView q, ConstView k, ConstView v, View o,
                                 View lse) {
  constexpr std::string_view kOp = "AttentionForward";
  HPO_RETURN_IF_ERROR(CheckAttentionShape(kOp, s));
  HPO_RETURN_IF_ERROR(CheckFloating(kOp, "q", q));
  const int64_t q_size = s.q_elements(), kv_size = s.kv_elements(), lse_size = s.lse_elements();
  HPO_RETURN_IF_ERROR(CheckSize(kOp, "q", q, q_size));
  HPO_RETURN_IF_ERROR(CheckView(kOp, "k", k, q.dtype, kv_size));
  HPO_RETURN_IF_ERROR(CheckView(kOp, "v", v, q.dtype, kv_size));
  HPO_RETURN_IF_ERROR(CheckView(kOp, "o", o, q.dtype, q_size));
  HPO_RETURN_IF_ERROR(CheckView(kOp, "lse", lse, AccumulationType(q.dtype), lse_size));
  HPO_RETURN_IF_ERROR(CheckOutputsDisjoint(kOp, {{"o", o, q_size}, {"lse", lse, lse_size}},
                                           {{"q", q, q_size}, {"k", k, kv_size}, {"v", v, kv_size}}));
  if (q_size == 0) return Status::Ok();
  return AttentionForwardImpl(s, q, k, v, o, lse);
}

Status Backend::AttentionBackward(const AttentionShape& s, ConstView q, ConstView k, ConstView v, ConstView o,
                                  ConstView dout, ConstView lse, View dq, View dk, View dv) {
  constexpr std::string_view kOp = "AttentionBackward";
  HPO_RETURN_IF_ERROR(CheckAttentionShape(kOp, s));
  HPO_RETURN_IF_ERROR(CheckFloating(kOp, "q", q));
  const int64_t q_size = s.q_elements(), kv_size = s.kv_elements(), lse_size = s.lse_elements();
  HPO_RETURN_IF_ERROR(CheckSize(kOp, "q", q, q_size));
  HPO_RETURN_IF_ERROR(CheckView(kOp, "k", k, q.dtype, kv_size));
  HPO_RETURN_IF_ERROR(CheckView(kOp, "v", v, q.dtype, kv_size));
  HPO_RETURN_IF_ERROR(CheckView(kOp, "o", o, q.dtype, q_size));
  HPO_RETURN_IF_ERROR(CheckView(kOp, "dout", dout, q.dtype, q_size));
  HPO_RETURN_IF_ERROR(CheckView(kOp, "lse", lse, AccumulationType(q.dtype), lse_size));
  HPO_RETURN_IF_ERROR(CheckView(kOp, "dq", dq, q.dtype, q_size));
  HPO_RETURN_IF_ERROR(CheckView(kOp, "dk", dk, q.dtype, kv_size));
  HPO_RETURN_IF_ERROR(CheckView(kOp, "dv", dv, q.dtype, kv_size));
  HPO_RETURN_IF_ERROR(CheckOutputsDisjoint(kOp,
                                           {{"dq", dq, q_size}, {"dk", dk, kv_size}, {"dv", dv, kv_size}},
                                           {{"q", q, q_size},
                                            {"k", k, kv_size},
                                            {"v", v, kv_size},
                                            {"o", o, q_size},
                                            {"dout", dout, q_size},
                                            {"lse", lse, lse_size}}));
  if (q_size == 0 && kv_size == 0) return Status::Ok();
  return AttentionBackwardImpl(s, q, k, v, o, dout, lse, dq, dk, dv);
}

Status Backend::Rope(int64_t batch, int64_t len, int64_t heads, int64_t head_dim, int64_t pos_offset,
                     double base, bool inverse, View x) {
  constexpr std::string_view kOp = "Rope";
  HPO_RETURN_IF_ERROR(CheckDim(kOp, "batch", batch));
  HPO_RETURN_IF_ERROR(CheckDim(kOp, "len", len));
  HPO_RETURN_IF_ERROR(CheckDim(kOp, "heads", heads));
  HPO_RETURN_IF_ERROR(CheckDim(kOp, "head_dim", head_dim));
  HPO_RETURN_IF_ERROR(CheckDim(kOp, "pos_offset", pos_offset));
  HPO_RETURN_IF_ERROR(CheckDim(kOp, "batch * len", batch * len));
  HPO_RETURN_IF_ERROR(CheckDim(kOp, "heads * head_dim", heads * head_dim));
  HPO_RETURN_IF_ERROR(CheckDim(kOp, "pos_offset + len", pos_offset + len));
  if (head_dim % 2 != 0) return Invalid(kOp, "head_dim = " + std::to_string(head_dim) + " must be even");
  if (!(std::isfinite(base) && base > 0)) {
    return Invalid(kOp, "base = " + std::to_string(base) + " must be finite and > 0");
  }
  HPO_RETURN_IF_ERROR(CheckFloating(kOp, "x", x));
  const int64_t size = batch * len * heads * head_dim;
  HPO_RETURN_IF_ERROR(CheckSize(kOp, "x", x, size));
  if (size == 0) return Status::Ok();
  return RopeImpl(batch, len, heads, head_dim, pos_offset, base, inverse, x);
}

}  // namespace hpo::kernels
