#include "trainer/cnn.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>

#include "base/rng.h"

namespace hpo::trainer {

using kernels::Activation;
using kernels::Buffer;
using kernels::ConstView;
using kernels::Conv2dShape;
using kernels::DType;
using kernels::Transpose;
using kernels::View;

namespace {

size_t Size(int64_t n) { return static_cast<size_t>(n); }

// A 1x1 window with stride 1 and no padding: the input is its own patch matrix.
bool IsPointwise(const Conv2dShape& s) {
  return s.kernel_h == 1 && s.kernel_w == 1 && s.stride_h == 1 && s.stride_w == 1 && s.pad_h == 0 &&
         s.pad_w == 0;
}

Conv2dShape Window(int64_t h, int64_t w, int64_t c, int64_t kernel, int64_t stride, int64_t pad) {
  return Conv2dShape{.batch = 1,
                     .height = h,
                     .width = w,
                     .channels = c,
                     .kernel_h = kernel,
                     .kernel_w = kernel,
                     .stride_h = stride,
                     .stride_w = stride,
                     .pad_h = pad,
                     .pad_w = pad};
}

Conv2dShape Batched(Conv2dShape s, int64_t batch) {
  s.batch = batch;
  return s;
}

}  // namespace

Result<Cnn> Cnn::Create(kernels::Backend& backend, const CnnConfig& config, DType dtype, int64_t max_rows,
                        uint64_t seed) {
  const auto bad = [](const std::string& what) { return InvalidArgumentError("Cnn: " + what); };
  if (config.height < 1 || config.width < 1 || config.channels < 1) {
    return bad("bad image shape " + std::to_string(config.height) + "x" + std::to_string(config.width) + "x" +
               std::to_string(config.channels));
  }
  if (config.classes < 2) return bad("classes " + std::to_string(config.classes) + " must be >= 2");
  if (config.stage_channels.empty() || config.stage_channels.size() > 4) {
    return bad(std::to_string(config.stage_channels.size()) + " stages; 1 to 4 are supported");
  }
  for (const int64_t c : config.stage_channels) {
    if (c < 1 || c > 4096) return bad("stage channels " + std::to_string(c) + " outside [1, 4096]");
  }
  if (config.blocks < 1 || config.blocks > 16) {
    return bad("blocks " + std::to_string(config.blocks) + " outside [1, 16]");
  }
  if (config.kernel_size < 1 || config.kernel_size > 7 || config.kernel_size % 2 == 0) {
    return bad("kernel_size " + std::to_string(config.kernel_size) + " must be odd, in [1, 7]");
  }
  if (!(config.dropout >= 0 && config.dropout < 1)) {
    return bad("dropout " + std::to_string(config.dropout) + " is outside [0, 1)");
  }
  HPO_RETURN_IF_ERROR(CheckModelDtype("Cnn", dtype));
  if (max_rows < 1) return bad("max_rows " + std::to_string(max_rows) + " must be >= 1");

  Cnn cnn(backend, config, max_rows);
  cnn.dropout_seed_ = DeriveSeed(seed, kDropoutStream);
  HPO_RETURN_IF_ERROR(cnn.Build(dtype));
  HPO_RETURN_IF_ERROR(cnn.InitParams(seed));
  return cnn;
}

Status Cnn::Build(DType dtype) {
  const CnnConfig& c = config_;
  int64_t h = c.height, w = c.width, channels = c.channels;
  const int64_t k = c.kernel_size;
  for (size_t s = 0; s < c.stage_channels.size(); ++s) {
    for (int b = 0; b < c.blocks; ++b) {
      int64_t stride = 1;
      if (s > 0 && b == 0) {
        if (c.stride_downsample) {
          stride = 2;
        } else {
          if (h < 2 || w < 2) {
            return InvalidArgumentError("Cnn: stage " + std::to_string(s + 1) + " cannot halve a " +
                                        std::to_string(h) + "x" + std::to_string(w) +
                                        " image; use fewer stages or larger images");
          }
          Unit pool;
          pool.pool = true;
          pool.shape = Window(h, w, channels, 2, 2, 0);
          pool.out_h = pool.shape.out_height();
          pool.out_w = pool.shape.out_width();
          pool.out_c = channels;
          h = pool.out_h;
          w = pool.out_w;
          units_.push_back(std::move(pool));
        }
      }
      const int64_t out_c = c.stage_channels[s];
      std::string name(1, 's');  // (appends: GCC 12 warns falsely (-Wrestrict) on literal + temporary)
      name += std::to_string(s + 1);
      name += 'b';
      name += std::to_string(b + 1);
      name += '.';
      Unit unit;
      unit.shape = Window(h, w, channels, k, stride, k / 2);
      unit.out_h = unit.shape.out_height();
      unit.out_w = unit.shape.out_width();
      unit.out_c = out_c;
      unit.depthwise = c.depthwise && !units_.empty();
      if (unit.depthwise) {
        unit.w = params_.Add(name + "dw", k * k, channels, ParamKind::kWeight);
        unit.pw = params_.Add(name + "pw", channels, out_c, ParamKind::kWeight);
      } else {
        unit.w = params_.Add(name + "w", k * k * channels, out_c, ParamKind::kWeight);
      }
      if (c.batch_norm) {
        unit.gamma = params_.Add(name + "gamma", 1, out_c, ParamKind::kNormGain);
        unit.beta = params_.Add(name + "beta", 1, out_c, ParamKind::kNormShift);
      } else {
        unit.b = params_.Add(name + "b", 1, out_c, ParamKind::kBias);
      }
      if (c.residual && (channels != out_c || stride != 1)) {
        unit.project = true;
        unit.project_shape = Window(h, w, channels, 1, stride, 0);
        unit.proj_w = params_.Add(name + "proj_w", channels, out_c, ParamKind::kWeight);
        unit.proj_b = params_.Add(name + "proj_b", 1, out_c, ParamKind::kBias);
      }
      h = unit.out_h;
      w = unit.out_w;
      channels = out_c;
      units_.push_back(std::move(unit));
    }
  }
  features_ = c.global_pool ? channels : h * w * channels;
  head_w_ = params_.Add("head.w", features_, c.classes, ParamKind::kWeight);
  head_b_ = params_.Add("head.b", 1, c.classes, ParamKind::kBias);
  HPO_RETURN_IF_ERROR(params_.Allocate(*backend_, dtype));

  kernels::Backend& be = *backend_;
  const DType master = kernels::AccumulationType(dtype);
  const int64_t rows = max_rows_;
  int64_t largest = c.height * c.width * c.channels;  // per image, over every activation
  int64_t cols = 1;
  const auto cols_for = [&](const Conv2dShape& s) {
    if (IsPointwise(s)) return;
    const int64_t one = s.out_height() * s.out_width() * s.patch_size();
    cols = std::max(cols, std::max(one, std::min(kColsBudget, rows * one)));
  };
  for (Unit& unit : units_) {
    const auto out_size = Size(rows * unit.out_size());
    largest = std::max({largest, unit.in_size(), unit.out_size()});
    HPO_ASSIGN_OR_RETURN(unit.out, be.Allocate(out_size, dtype));
    if (unit.pool) {
      HPO_ASSIGN_OR_RETURN(unit.argmax, be.Allocate(out_size, DType::kI32));
      continue;
    }
    HPO_ASSIGN_OR_RETURN(unit.z, be.Allocate(out_size, dtype));
    if (unit.depthwise) {
      const int64_t dw_size = unit.out_h * unit.out_w * unit.shape.channels;
      largest = std::max(largest, dw_size);
      HPO_ASSIGN_OR_RETURN(unit.dw_out, be.Allocate(Size(rows * dw_size), dtype));
    } else {
      cols_for(unit.shape);
    }
    if (unit.project) cols_for(unit.project_shape);
    if (c.batch_norm) {
      HPO_ASSIGN_OR_RETURN(unit.n, be.Allocate(out_size, dtype));
      const auto channels_size = Size(unit.out_c);
      HPO_ASSIGN_OR_RETURN(unit.mean, be.Allocate(channels_size, master));
      HPO_ASSIGN_OR_RETURN(unit.rstd, be.Allocate(channels_size, master));
      HPO_ASSIGN_OR_RETURN(unit.running_mean, be.Allocate(channels_size, master));
      HPO_ASSIGN_OR_RETURN(unit.running_var, be.Allocate(channels_size, master));
      HPO_RETURN_IF_ERROR(be.Fill(unit.running_var.view(), 1.0));
    }
  }
  HPO_ASSIGN_OR_RETURN(cols_, be.Allocate(Size(cols), dtype));
  HPO_ASSIGN_OR_RETURN(pooled_, be.Allocate(Size(rows * features_), dtype));
  HPO_ASSIGN_OR_RETURN(logits_, be.Allocate(Size(rows * c.classes), dtype));
  HPO_ASSIGN_OR_RETURN(dlogits_, be.Allocate(Size(rows * c.classes), dtype));
  const auto act_size = Size(rows * largest);
  HPO_ASSIGN_OR_RETURN(grad_a_, be.Allocate(act_size, dtype));
  HPO_ASSIGN_OR_RETURN(grad_b_, be.Allocate(act_size, dtype));
  HPO_ASSIGN_OR_RETURN(scratch_, be.Allocate(act_size, dtype));
  HPO_ASSIGN_OR_RETURN(scratch2_, be.Allocate(act_size, dtype));
  return Status::Ok();
}

Status Cnn::InitParams(uint64_t seed) {
  Rng rng(DeriveSeed(seed, kInitStream));
  std::vector<double> values(params_.size(), 0.0);
  for (size_t i = 0; i < params_.layout().size(); ++i) {
    const ParamInfo& p = params_.info(i);
    if (p.kind == ParamKind::kNormGain)
      std::fill_n(values.begin() + static_cast<ptrdiff_t>(p.offset), p.count, 1.0);
    if (p.kind != ParamKind::kWeight) continue;  // biases and shifts stay 0
    const double fan_in = static_cast<double>(p.rows), fan_out = static_cast<double>(p.cols);
    const bool glorot = i == head_w_ || config_.activation == Activation::kTanh;
    const double stddev = glorot ? std::sqrt(2.0 / (fan_in + fan_out)) : std::sqrt(2.0 / fan_in);
    for (size_t e = 0; e < p.count; ++e) values[p.offset + e] = stddev * rng.Normal();
  }
  return params_.Initialize(values);
}

std::vector<ConstView> Cnn::RunningStats() const {
  std::vector<ConstView> stats;
  for (const Unit& unit : units_) {
    if (unit.running_mean.size() == 0) continue;
    stats.push_back(unit.running_mean.view());
    stats.push_back(unit.running_var.view());
  }
  return stats;
}

ConstView Cnn::UnitInput(size_t u, ConstView x, int64_t rows) const {
  if (u == 0) return x;
  const Unit& prev = units_[u - 1];
  return prev.out.Sub(0, Size(rows * prev.out_size()));
}

Status Cnn::Convolve(const Conv2dShape& shape, int64_t rows, int64_t out_c, ConstView x, ConstView w,
                     View y) {
  kernels::Backend& b = *backend_;
  const int64_t out_hw = shape.out_height() * shape.out_width();
  if (IsPointwise(shape)) {
    return b.Gemm(Transpose::kNo, Transpose::kNo, rows * out_hw, out_c, shape.channels, 1.0, x, w, 0.0, y);
  }
  const int64_t one = out_hw * shape.patch_size();
  const int64_t in_size = shape.height * shape.width * shape.channels;
  const int64_t group = std::max<int64_t>(1, static_cast<int64_t>(cols_.size()) / one);
  for (int64_t start = 0; start < rows; start += group) {
    const int64_t g = std::min(group, rows - start);
    const View cols = cols_.Sub(0, Size(g * one));
    HPO_RETURN_IF_ERROR(b.Im2Col(Batched(shape, g), x.Sub(Size(start * in_size), Size(g * in_size)), cols));
    HPO_RETURN_IF_ERROR(b.Gemm(Transpose::kNo, Transpose::kNo, g * out_hw, out_c, shape.patch_size(), 1.0,
                               cols, w, 0.0, y.Sub(Size(start * out_hw * out_c), Size(g * out_hw * out_c))));
  }
  return Status::Ok();
}

Status Cnn::ConvolveBackward(const Conv2dShape& shape, int64_t rows, int64_t out_c, ConstView x, ConstView w,
                             ConstView dy, View dw, View dx) {
  kernels::Backend& b = *backend_;
  const int64_t out_hw = shape.out_height() * shape.out_width();
  if (IsPointwise(shape)) {
    HPO_RETURN_IF_ERROR(
        b.Gemm(Transpose::kYes, Transpose::kNo, shape.channels, out_c, rows * out_hw, 1.0, x, dy, 0.0, dw));
    if (dx.size == 0) return Status::Ok();
    return b.Gemm(Transpose::kNo, Transpose::kYes, rows * out_hw, shape.channels, out_c, 1.0, dy, w, 0.0, dx);
  }
  const int64_t one = out_hw * shape.patch_size();
  const int64_t in_size = shape.height * shape.width * shape.channels;
  const int64_t group = std::max<int64_t>(1, static_cast<int64_t>(cols_.size()) / one);
  for (int64_t start = 0; start < rows; start += group) {
    const int64_t g = std::min(group, rows - start);
    const Conv2dShape s = Batched(shape, g);
    const View cols = cols_.Sub(0, Size(g * one));
    const ConstView dy_g = dy.Sub(Size(start * out_hw * out_c), Size(g * out_hw * out_c));
    HPO_RETURN_IF_ERROR(b.Im2Col(s, x.Sub(Size(start * in_size), Size(g * in_size)), cols));
    HPO_RETURN_IF_ERROR(b.Gemm(Transpose::kYes, Transpose::kNo, shape.patch_size(), out_c, g * out_hw, 1.0,
                               cols, dy_g, start == 0 ? 0.0 : 1.0, dw));
    if (dx.size == 0) continue;
    HPO_RETURN_IF_ERROR(b.Gemm(Transpose::kNo, Transpose::kYes, g * out_hw, shape.patch_size(), out_c, 1.0,
                               dy_g, w, 0.0, cols));
    HPO_RETURN_IF_ERROR(b.Col2Im(s, cols, dx.Sub(Size(start * in_size), Size(g * in_size))));
  }
  return Status::Ok();
}

Status Cnn::ConvForward(Unit& unit, ConstView in, int64_t rows, bool training) {
  kernels::Backend& b = *backend_;
  const int64_t pixels = rows * unit.out_h * unit.out_w;
  const auto size = Size(pixels * unit.out_c);
  const View z = unit.z.Sub(0, size);
  if (unit.depthwise) {
    const View dw = unit.dw_out.Sub(0, Size(pixels * unit.shape.channels));
    HPO_RETURN_IF_ERROR(b.DepthwiseConv2dForward(Batched(unit.shape, rows), in, Weights(unit.w), dw));
    HPO_RETURN_IF_ERROR(b.Gemm(Transpose::kNo, Transpose::kNo, pixels, unit.out_c, unit.shape.channels, 1.0,
                               dw, Weights(unit.pw), 0.0, z));
  } else {
    HPO_RETURN_IF_ERROR(Convolve(unit.shape, rows, unit.out_c, in, Weights(unit.w), z));
  }
  const View out = unit.out.Sub(0, size);
  if (config_.batch_norm) {
    const View n = unit.n.Sub(0, size);
    if (training) {
      // The running variance needs two values; a 1x1 image of a batch of 1 leaves the statistics alone.
      const bool update = pixels >= 2;
      HPO_RETURN_IF_ERROR(b.BatchNormForward(pixels, unit.out_c, kBatchNormEps, kBatchNormMomentum, z,
                                             Weights(unit.gamma), Weights(unit.beta), n, unit.mean.view(),
                                             unit.rstd.view(), update ? unit.running_mean.view() : View(),
                                             update ? unit.running_var.view() : View()));
    } else {
      HPO_RETURN_IF_ERROR(b.BatchNormInference(pixels, unit.out_c, kBatchNormEps, z, Weights(unit.gamma),
                                               Weights(unit.beta), unit.running_mean.view(),
                                               unit.running_var.view(), n));
    }
    HPO_RETURN_IF_ERROR(b.BiasActivationForward(config_.activation, pixels, unit.out_c, ConstView(), n, out));
  } else {
    HPO_RETURN_IF_ERROR(
        b.BiasActivationForward(config_.activation, pixels, unit.out_c, Weights(unit.b), z, out));
  }
  if (!config_.residual) return Status::Ok();
  if (!unit.project) return b.Axpy(1.0, in, out);
  const View shortcut = scratch_.Sub(0, size);
  HPO_RETURN_IF_ERROR(Convolve(unit.project_shape, rows, unit.out_c, in, Weights(unit.proj_w), shortcut));
  HPO_RETURN_IF_ERROR(b.BiasActivationForward(Activation::kIdentity, pixels, unit.out_c, Weights(unit.proj_b),
                                              shortcut, shortcut));
  return b.Axpy(1.0, shortcut, out);
}

Status Cnn::ConvBackward(Unit& unit, ConstView in, int64_t rows, View dout, View dx) {
  kernels::Backend& b = *backend_;
  const int64_t pixels = rows * unit.out_h * unit.out_w;
  const auto size = Size(pixels * unit.out_c);
  const ConstView pre = config_.batch_norm ? unit.n.Sub(0, size) : unit.z.Sub(0, size);
  // The residual path still needs dout, so the block's path works on a copy.
  const View dpre = config_.residual ? scratch2_.Sub(0, size) : dout;
  HPO_RETURN_IF_ERROR(b.BiasActivationBackward(config_.activation, pixels, unit.out_c, pre, dout, dpre,
                                               config_.batch_norm ? View() : Grad(unit.b)));
  if (config_.batch_norm) {
    HPO_RETURN_IF_ERROR(b.BatchNormBackward(pixels, unit.out_c, unit.z.Sub(0, size), Weights(unit.gamma),
                                            unit.mean.view(), unit.rstd.view(), dpre, dpre, Grad(unit.gamma),
                                            Grad(unit.beta)));
  }
  if (unit.depthwise) {
    const int64_t in_c = unit.shape.channels;
    const ConstView dw = unit.dw_out.Sub(0, Size(pixels * in_c));
    HPO_RETURN_IF_ERROR(
        b.Gemm(Transpose::kYes, Transpose::kNo, in_c, unit.out_c, pixels, 1.0, dw, dpre, 0.0, Grad(unit.pw)));
    const View ddw = scratch_.Sub(0, Size(pixels * in_c));
    HPO_RETURN_IF_ERROR(b.Gemm(Transpose::kNo, Transpose::kYes, pixels, in_c, unit.out_c, 1.0, dpre,
                               Weights(unit.pw), 0.0, ddw));
    HPO_RETURN_IF_ERROR(
        b.DepthwiseConv2dBackward(Batched(unit.shape, rows), in, Weights(unit.w), ddw, dx, Grad(unit.w)));
  } else {
    HPO_RETURN_IF_ERROR(
        ConvolveBackward(unit.shape, rows, unit.out_c, in, Weights(unit.w), dpre, Grad(unit.w), dx));
  }
  if (!config_.residual) return Status::Ok();
  if (!unit.project) return dx.size == 0 ? Status::Ok() : b.Axpy(1.0, dout, dx);
  HPO_RETURN_IF_ERROR(b.BiasActivationBackward(Activation::kIdentity, pixels, unit.out_c, dout, dout, dout,
                                               Grad(unit.proj_b)));
  const View dshortcut = dx.size == 0 ? View() : scratch_.Sub(0, Size(rows * unit.in_size()));
  HPO_RETURN_IF_ERROR(ConvolveBackward(unit.project_shape, rows, unit.out_c, in, Weights(unit.proj_w), dout,
                                       Grad(unit.proj_w), dshortcut));
  return dx.size == 0 ? Status::Ok() : b.Axpy(1.0, dshortcut, dx);
}

Status Cnn::Forward(ConstView x, int64_t rows) { return ForwardPass(x, rows, /*training=*/false, 0); }

Status Cnn::ForwardPass(ConstView x, int64_t rows, bool training, uint64_t step) {
  if (rows < 1 || rows > max_rows_) {
    return InvalidArgumentError("Cnn::Forward: rows " + std::to_string(rows) + " outside [1, " +
                                std::to_string(max_rows_) + "]");
  }
  const int64_t in_size = config_.height * config_.width * config_.channels;
  if (x.size < Size(rows * in_size)) {
    return InvalidArgumentError("Cnn::Forward: x holds " + std::to_string(x.size) + " elements, " +
                                std::to_string(rows) + " images need " + std::to_string(rows * in_size));
  }
  kernels::Backend& b = *backend_;
  for (size_t u = 0; u < units_.size(); ++u) {
    Unit& unit = units_[u];
    const ConstView in = UnitInput(u, x, rows);
    if (unit.pool) {
      const auto size = Size(rows * unit.out_size());
      HPO_RETURN_IF_ERROR(
          b.MaxPool2dForward(Batched(unit.shape, rows), in, unit.out.Sub(0, size), unit.argmax.Sub(0, size)));
    } else {
      HPO_RETURN_IF_ERROR(ConvForward(unit, in, rows, training));
    }
  }
  // The classifier's input: the last block's output averaged over its pixels, or all of it.
  const Unit& last = units_.back();
  const ConstView out = last.out.Sub(0, Size(rows * last.out_size()));
  const View pooled = pooled_.Sub(0, Size(rows * features_));
  if (config_.global_pool) {
    HPO_RETURN_IF_ERROR(b.GlobalAvgPoolForward(rows, last.out_h * last.out_w, last.out_c, out, pooled));
  } else {
    HPO_RETURN_IF_ERROR(b.Cast(out, pooled));
  }
  if (training && config_.dropout > 0) {
    HPO_RETURN_IF_ERROR(b.Dropout(config_.dropout, dropout_seed_, DropoutStream(step), pooled, pooled));
  }
  const View logits = logits_.Sub(0, Size(rows * config_.classes));
  HPO_RETURN_IF_ERROR(b.Gemm(Transpose::kNo, Transpose::kNo, rows, config_.classes, features_, 1.0, pooled,
                             Weights(head_w_), 0.0, logits));
  return b.BiasActivationForward(Activation::kIdentity, rows, config_.classes, Weights(head_b_), logits,
                                 logits);
}

Status Cnn::ForwardBackward(ConstView x, ConstView labels, int64_t rows,
                            const kernels::LossOptions& loss_options, uint64_t step, View loss) {
  HPO_RETURN_IF_ERROR(ForwardPass(x, rows, /*training=*/true, step));
  kernels::Backend& b = *backend_;
  const int64_t classes = config_.classes;
  const auto logits_size = Size(rows * classes);
  const View dlogits = dlogits_.Sub(0, logits_size);
  HPO_RETURN_IF_ERROR(
      b.SoftmaxCrossEntropy(loss_options, rows, classes, logits_.Sub(0, logits_size), labels, loss, dlogits));
  const Unit& last = units_.back();
  const ConstView pooled = pooled_.Sub(0, Size(rows * features_));
  HPO_RETURN_IF_ERROR(b.BiasActivationBackward(Activation::kIdentity, rows, classes, dlogits, dlogits,
                                               dlogits, Grad(head_b_)));
  HPO_RETURN_IF_ERROR(b.Gemm(Transpose::kYes, Transpose::kNo, features_, classes, rows, 1.0, pooled, dlogits,
                             0.0, Grad(head_w_)));
  View dout = grad_a_.Sub(0, Size(rows * last.out_size()));
  // The features' gradient: the last block's own (flattened), or spread over its pixels.
  const View dpooled = config_.global_pool ? scratch_.Sub(0, Size(rows * features_)) : dout;
  HPO_RETURN_IF_ERROR(b.Gemm(Transpose::kNo, Transpose::kYes, rows, features_, classes, 1.0, dlogits,
                             Weights(head_w_), 0.0, dpooled));
  if (config_.dropout > 0) {
    HPO_RETURN_IF_ERROR(b.Dropout(config_.dropout, dropout_seed_, DropoutStream(step), dpooled, dpooled));
  }
  if (config_.global_pool) {
    HPO_RETURN_IF_ERROR(b.GlobalAvgPoolBackward(rows, last.out_h * last.out_w, last.out_c, dpooled, dout));
  }
  bool next_is_b = true;
  for (size_t u = units_.size(); u-- > 0;) {
    Unit& unit = units_[u];
    const ConstView in = UnitInput(u, x, rows);
    Buffer& next = next_is_b ? grad_b_ : grad_a_;
    const View dx = u > 0 ? next.Sub(0, Size(rows * unit.in_size())) : View();
    if (unit.pool) {
      HPO_RETURN_IF_ERROR(b.MaxPool2dBackward(Batched(unit.shape, rows), dout,
                                              unit.argmax.Sub(0, Size(rows * unit.out_size())), dx));
    } else {
      HPO_RETURN_IF_ERROR(ConvBackward(unit, in, rows, dout, dx));
    }
    dout = dx;
    next_is_b = !next_is_b;
  }
  return Status::Ok();
}

}  // namespace hpo::trainer
