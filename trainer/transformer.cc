#include "trainer/transformer.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>

namespace hpo::trainer {

using kernels::Activation;
using kernels::ConstView;
using kernels::DType;
using kernels::Transpose;
using kernels::View;

namespace {

size_t Size(int64_t n) { return static_cast<size_t>(n); }

}  // namespace

Status CheckTransformerConfig(const TransformerConfig& c, const std::string& who) {
  const auto bad = [&who](const std::string& what) { return InvalidArgumentError(who + ": " + what); };
  if (c.d_model < 1 || c.layers < 1 || c.heads < 1 || c.kv_heads < 1 || c.ffn_hidden < 1) {
    return bad("d_model " + std::to_string(c.d_model) + ", layers " + std::to_string(c.layers) + ", heads " +
               std::to_string(c.heads) + ", kv_heads " + std::to_string(c.kv_heads) + " and ffn_hidden " +
               std::to_string(c.ffn_hidden) + " must all be >= 1");
  }
  if (c.d_model % c.heads != 0) {
    return bad("heads " + std::to_string(c.heads) + " must divide d_model " + std::to_string(c.d_model));
  }
  if (c.heads % c.kv_heads != 0) {
    return bad("kv_heads " + std::to_string(c.kv_heads) + " must divide heads " + std::to_string(c.heads));
  }
  if (c.head_dim() > kernels::kMaxAttentionHeadDim) {
    return bad("head size " + std::to_string(c.head_dim()) + " (d_model / heads) is above " +
               std::to_string(kernels::kMaxAttentionHeadDim));
  }
  if (c.rope && c.head_dim() % 2 != 0) {
    return bad("rope needs an even head size, not " + std::to_string(c.head_dim()));
  }
  if (c.window < 0) return bad("window " + std::to_string(c.window) + " must be >= 0");
  if (!(c.dropout >= 0 && c.dropout < 1))
    return bad("dropout " + std::to_string(c.dropout) + " is outside [0, 1)");
  return Status::Ok();
}

void FillNormal(const ParamInfo& info, double std, Rng& rng, std::vector<double>& values) {
  for (size_t i = 0; i < info.count; ++i) values[info.offset + i] = std * rng.Normal();
}

std::vector<double> SinusoidalPositions(int64_t len, int64_t d) {
  std::vector<double> table(Size(len * d));
  for (int64_t p = 0; p < len; ++p) {
    for (int64_t c = 0; c < d; ++c) {
      const double angle =
          static_cast<double>(p) / std::pow(10000.0, static_cast<double>(c - c % 2) / static_cast<double>(d));
      table[Size(p * d + c)] = c % 2 == 0 ? std::sin(angle) : std::cos(angle);
    }
  }
  return table;
}

void TransformerStack::AddNorm(ParamSet& params, const std::string& name, Norm& norm) const {
  norm.gamma = params.Add(name + ".gamma", 1, config_.d_model, ParamKind::kNormGain);
  if (config_.norm == NormKind::kLayerNorm) {
    norm.beta = params.Add(name + ".beta", 1, config_.d_model, ParamKind::kNormShift);
  }
}

void TransformerStack::AddParams(ParamSet& params) {
  const int64_t d = config_.d_model;
  layers_.clear();
  layers_.resize(static_cast<size_t>(config_.layers));
  for (int l = 0; l < config_.layers; ++l) {
    Layer& layer = layers_[static_cast<size_t>(l)];
    std::string p(1, 'l');  // (appends: GCC 12 warns falsely (-Wrestrict) on literal + temporary)
    p += std::to_string(l);
    p += '.';
    AddNorm(params, p + "norm1", layer.norm1);
    layer.wq = params.Add(p + "wq", d, q_width(), ParamKind::kWeight);
    layer.bq = params.Add(p + "bq", 1, q_width(), ParamKind::kBias);
    layer.wk = params.Add(p + "wk", d, kv_width(), ParamKind::kWeight);
    layer.bk = params.Add(p + "bk", 1, kv_width(), ParamKind::kBias);
    layer.wv = params.Add(p + "wv", d, kv_width(), ParamKind::kWeight);
    layer.bv = params.Add(p + "bv", 1, kv_width(), ParamKind::kBias);
    layer.wo = params.Add(p + "wo", q_width(), d, ParamKind::kWeight);
    layer.bo = params.Add(p + "bo", 1, d, ParamKind::kBias);
    AddNorm(params, p + "norm2", layer.norm2);
    layer.w1 = params.Add(p + "w1", d, ffn_width(), ParamKind::kWeight);
    layer.b1 = params.Add(p + "b1", 1, ffn_width(), ParamKind::kBias);
    layer.w2 = params.Add(p + "w2", config_.ffn_hidden, d, ParamKind::kWeight);
    layer.b2 = params.Add(p + "b2", 1, d, ParamKind::kBias);
  }
  if (!config_.post_norm) AddNorm(params, "norm_f", final_norm_);
}

void TransformerStack::InitValues(const ParamSet& params, Rng& rng, std::vector<double>& values) const {
  const auto normal = [&](size_t index) {
    const ParamInfo& info = params.info(index);
    for (size_t i = 0; i < info.count; ++i) values[info.offset + i] = kInitStd * rng.Normal();
  };
  const auto ones = [&](size_t index) {
    const ParamInfo& info = params.info(index);
    std::fill_n(values.begin() + static_cast<std::ptrdiff_t>(info.offset), info.count, 1.0);
  };
  for (const Layer& layer : layers_) {
    ones(layer.norm1.gamma);
    ones(layer.norm2.gamma);
    for (const size_t w : {layer.wq, layer.wk, layer.wv, layer.wo, layer.w1, layer.w2}) normal(w);
  }
  if (!config_.post_norm) ones(final_norm_.gamma);
  // Biases and shifts stay 0.
}

Status TransformerStack::Allocate(kernels::Backend& backend, DType dtype, int64_t max_rows) {
  backend_ = &backend;
  max_rows_ = max_rows;
  const DType master = kernels::AccumulationType(dtype);
  const int64_t d = config_.d_model;
  const auto alloc = [&](kernels::Buffer& buffer, int64_t count, DType type) -> Status {
    HPO_ASSIGN_OR_RETURN(buffer, backend.Allocate(Size(count), type));
    return Status::Ok();
  };
  const auto norm = [&](Norm& n) -> Status {
    if (config_.norm == NormKind::kLayerNorm) HPO_RETURN_IF_ERROR(alloc(n.mean, max_rows, master));
    return alloc(n.rstd, max_rows, master);
  };
  for (Layer& layer : layers_) {
    HPO_RETURN_IF_ERROR(norm(layer.norm1));
    HPO_RETURN_IF_ERROR(norm(layer.norm2));
    if (!config_.post_norm) {
      HPO_RETURN_IF_ERROR(alloc(layer.a1, max_rows * d, dtype));
      HPO_RETURN_IF_ERROR(alloc(layer.a2, max_rows * d, dtype));
    } else {
      HPO_RETURN_IF_ERROR(alloc(layer.s1, max_rows * d, dtype));
      HPO_RETURN_IF_ERROR(alloc(layer.s2, max_rows * d, dtype));
    }
    HPO_RETURN_IF_ERROR(alloc(layer.q, max_rows * q_width(), dtype));
    HPO_RETURN_IF_ERROR(alloc(layer.k, max_rows * kv_width(), dtype));
    HPO_RETURN_IF_ERROR(alloc(layer.v, max_rows * kv_width(), dtype));
    HPO_RETURN_IF_ERROR(alloc(layer.o, max_rows * q_width(), dtype));
    HPO_RETURN_IF_ERROR(alloc(layer.lse, max_rows * config_.heads, master));
    HPO_RETURN_IF_ERROR(alloc(layer.h, max_rows * d, dtype));
    HPO_RETURN_IF_ERROR(alloc(layer.f_pre, max_rows * ffn_width(), dtype));
    HPO_RETURN_IF_ERROR(alloc(layer.f_act, max_rows * config_.ffn_hidden, dtype));
    HPO_RETURN_IF_ERROR(alloc(layer.out, max_rows * d, dtype));
  }
  if (!config_.post_norm) {
    HPO_RETURN_IF_ERROR(norm(final_norm_));
    HPO_RETURN_IF_ERROR(alloc(final_, max_rows * d, dtype));
  }
  HPO_RETURN_IF_ERROR(alloc(tmp_d_, max_rows * d, dtype));
  HPO_RETURN_IF_ERROR(alloc(tmp_d2_, max_rows * d, dtype));
  HPO_RETURN_IF_ERROR(alloc(da_, max_rows * q_width(), dtype));
  HPO_RETURN_IF_ERROR(alloc(tmp_f_, max_rows * config_.ffn_hidden, dtype));
  if (config_.ffn == FfnKind::kSwiGlu) HPO_RETURN_IF_ERROR(alloc(tmp_f2_, max_rows * ffn_width(), dtype));
  HPO_RETURN_IF_ERROR(alloc(dq_, max_rows * q_width(), dtype));
  HPO_RETURN_IF_ERROR(alloc(dk_, max_rows * kv_width(), dtype));
  return alloc(dv_, max_rows * kv_width(), dtype);
}

Status TransformerStack::AllocateCache(int64_t max_len) {
  if (backend_ == nullptr) return FailedPreconditionError("TransformerStack: AllocateCache before Allocate");
  const DType dtype = layers_.empty() ? DType::kF32 : layers_[0].k.dtype();
  for (Layer& layer : layers_) {
    HPO_ASSIGN_OR_RETURN(layer.k_cache, backend_->Allocate(Size(max_len * kv_width()), dtype));
    HPO_ASSIGN_OR_RETURN(layer.v_cache, backend_->Allocate(Size(max_len * kv_width()), dtype));
  }
  cache_len_ = max_len;
  return Status::Ok();
}

kernels::AttentionShape TransformerStack::Shape(int64_t batch, int64_t len, int64_t kv_len,
                                                int64_t pos_offset) const {
  kernels::AttentionShape s;
  s.batch = batch;
  s.q_len = len;
  s.kv_len = kv_len;
  s.heads = config_.heads;
  s.kv_heads = config_.kv_heads;
  s.head_dim = config_.head_dim();
  s.q_offset = pos_offset;
  s.causal = config_.causal;
  s.window = config_.window;
  s.alibi = config_.alibi;
  return s;
}

Status TransformerStack::Linear(const ParamSet& params, size_t w, size_t b, int64_t rows, ConstView x,
                                View y) {
  const ParamInfo& wi = params.info(w);
  HPO_RETURN_IF_ERROR(backend_->Gemm(Transpose::kNo, Transpose::kNo, rows, wi.cols, wi.rows, 1.0, x,
                                     params.Weights(wi), 0.0, y));
  return backend_->BiasActivationForward(Activation::kIdentity, rows, wi.cols, params.Weights(params.info(b)),
                                         y, y);
}

Status TransformerStack::NormForward(const ParamSet& params, Norm& norm, int64_t rows, ConstView x, View y) {
  const int64_t d = config_.d_model;
  const ConstView gamma = params.Weights(params.info(norm.gamma));
  if (config_.norm == NormKind::kRmsNorm) {
    return backend_->RmsNormForward(rows, d, kNormEps, x, gamma, y, norm.rstd.Sub(0, Size(rows)));
  }
  return backend_->LayerNormForward(rows, d, kNormEps, x, gamma, params.Weights(params.info(norm.beta)), y,
                                    norm.mean.Sub(0, Size(rows)), norm.rstd.Sub(0, Size(rows)));
}

Status TransformerStack::AddResidual(const ParamSet& params, Norm& norm, int64_t rows, ConstView in,
                                     ConstView branch, View sum, View out) {
  HPO_RETURN_IF_ERROR(backend_->Cast(in, sum));
  HPO_RETURN_IF_ERROR(backend_->Axpy(1.0, branch, sum));
  return config_.post_norm ? NormForward(params, norm, rows, sum, out) : Status::Ok();
}

Status TransformerStack::NormBackward(ParamSet& params, Norm& norm, int64_t rows, ConstView x, ConstView dy,
                                      View dx) {
  const int64_t d = config_.d_model;
  const ConstView gamma = params.Weights(params.info(norm.gamma));
  if (config_.norm == NormKind::kRmsNorm) {
    return backend_->RmsNormBackward(rows, d, x, gamma, norm.rstd.Sub(0, Size(rows)), dy, dx,
                                     params.Grad(params.info(norm.gamma)));
  }
  return backend_->LayerNormBackward(
      rows, d, x, gamma, norm.mean.Sub(0, Size(rows)), norm.rstd.Sub(0, Size(rows)), dy, dx,
      params.Grad(params.info(norm.gamma)), params.Grad(params.info(norm.beta)));
}

Status TransformerStack::Forward(const ParamSet& params, ConstView x, int64_t batch, int64_t len,
                                 int64_t pos_offset, bool training, uint64_t dropout_seed, uint64_t step,
                                 bool use_cache) {
  kernels::Backend& b = *backend_;
  const int64_t rows = batch * len;
  if (batch < 1 || len < 1 || rows > max_rows_) {
    return InvalidArgumentError("TransformerStack::Forward: " + std::to_string(batch) + " sequences of " +
                                std::to_string(len) + " tokens; at most " + std::to_string(max_rows_) +
                                " tokens, at least 1");
  }
  if (use_cache && (batch != 1 || pos_offset < 0 || pos_offset + len > cache_len_)) {
    return InvalidArgumentError(
        "TransformerStack::Forward: the KV cache holds " + std::to_string(cache_len_) +
        " positions of one sequence; asked for positions [" + std::to_string(pos_offset) + ", " +
        std::to_string(pos_offset + len) + ") of " + std::to_string(batch));
  }
  const int64_t d = config_.d_model, hd = config_.head_dim();
  const auto n = Size(rows * d);
  const bool drop = training && config_.dropout > 0;
  ConstView in = x;
  for (size_t li = 0; li < layers_.size(); ++li) {
    Layer& layer = layers_[li];
    const int l = static_cast<int>(li);
    // Attention.
    ConstView a_in = in;
    if (!config_.post_norm) {
      HPO_RETURN_IF_ERROR(NormForward(params, layer.norm1, rows, in, layer.a1.Sub(0, n)));
      a_in = layer.a1.Sub(0, n);
    }
    const View q = layer.q.Sub(0, Size(rows * q_width()));
    const auto kv_n = Size(rows * kv_width());
    const View k = use_cache ? layer.k_cache.Sub(Size(pos_offset * kv_width()), kv_n) : layer.k.Sub(0, kv_n);
    const View v = use_cache ? layer.v_cache.Sub(Size(pos_offset * kv_width()), kv_n) : layer.v.Sub(0, kv_n);
    HPO_RETURN_IF_ERROR(Linear(params, layer.wq, layer.bq, rows, a_in, q));
    HPO_RETURN_IF_ERROR(Linear(params, layer.wk, layer.bk, rows, a_in, k));
    HPO_RETURN_IF_ERROR(Linear(params, layer.wv, layer.bv, rows, a_in, v));
    if (config_.rope) {
      HPO_RETURN_IF_ERROR(b.Rope(batch, len, config_.heads, hd, pos_offset, config_.rope_base, false, q));
      HPO_RETURN_IF_ERROR(b.Rope(batch, len, config_.kv_heads, hd, pos_offset, config_.rope_base, false, k));
    }
    const int64_t kv_len = use_cache ? pos_offset + len : len;
    const ConstView keys = use_cache ? layer.k_cache.Sub(0, Size(kv_len * kv_width())) : ConstView(k);
    const ConstView values = use_cache ? layer.v_cache.Sub(0, Size(kv_len * kv_width())) : ConstView(v);
    const View o = layer.o.Sub(0, Size(rows * q_width()));
    HPO_RETURN_IF_ERROR(b.AttentionForward(Shape(batch, len, kv_len, use_cache ? pos_offset : 0), q, keys,
                                           values, o, layer.lse.Sub(0, Size(rows * config_.heads))));
    const View proj = tmp_d_.Sub(0, n);
    HPO_RETURN_IF_ERROR(Linear(params, layer.wo, layer.bo, rows, o, proj));
    if (drop)
      HPO_RETURN_IF_ERROR(b.Dropout(config_.dropout, dropout_seed, DropoutStream(step, l, 0), proj, proj));
    const View h = layer.h.Sub(0, n);
    HPO_RETURN_IF_ERROR(
        AddResidual(params, layer.norm1, rows, in, proj, config_.post_norm ? layer.s1.Sub(0, n) : h, h));
    // Feed-forward.
    ConstView f_in = h;
    if (!config_.post_norm) {
      HPO_RETURN_IF_ERROR(NormForward(params, layer.norm2, rows, h, layer.a2.Sub(0, n)));
      f_in = layer.a2.Sub(0, n);
    }
    const int64_t f = config_.ffn_hidden;
    const View f_pre = layer.f_pre.Sub(0, Size(rows * ffn_width()));
    const View f_act = layer.f_act.Sub(0, Size(rows * f));
    const ParamInfo& w1 = params.info(layer.w1);
    HPO_RETURN_IF_ERROR(b.Gemm(Transpose::kNo, Transpose::kNo, rows, ffn_width(), d, 1.0, f_in,
                               params.Weights(w1), 0.0, f_pre));
    const ConstView b1 = params.Weights(params.info(layer.b1));
    if (config_.ffn == FfnKind::kSwiGlu) {
      HPO_RETURN_IF_ERROR(
          b.BiasActivationForward(Activation::kIdentity, rows, ffn_width(), b1, f_pre, f_pre));
      HPO_RETURN_IF_ERROR(b.SwiGluForward(rows, f, f_pre, f_act));
    } else {
      HPO_RETURN_IF_ERROR(b.BiasActivationForward(Activation::kGelu, rows, f, b1, f_pre, f_act));
    }
    const View ffn = tmp_d_.Sub(0, n);
    HPO_RETURN_IF_ERROR(Linear(params, layer.w2, layer.b2, rows, f_act, ffn));
    if (drop)
      HPO_RETURN_IF_ERROR(b.Dropout(config_.dropout, dropout_seed, DropoutStream(step, l, 1), ffn, ffn));
    const View out = layer.out.Sub(0, n);
    HPO_RETURN_IF_ERROR(
        AddResidual(params, layer.norm2, rows, h, ffn, config_.post_norm ? layer.s2.Sub(0, n) : out, out));
    in = out;
  }
  if (!config_.post_norm) {
    HPO_RETURN_IF_ERROR(NormForward(params, final_norm_, rows, in, final_.Sub(0, n)));
    in = final_.Sub(0, n);
  }
  output_ = in;
  rows_ = rows;
  batch_ = batch;
  len_ = len;
  return Status::Ok();
}

Status TransformerStack::Backward(ParamSet& params, ConstView x, View dout, View dx, uint64_t dropout_seed,
                                  uint64_t step) {
  kernels::Backend& b = *backend_;
  const int64_t rows = rows_, d = config_.d_model, f = config_.ffn_hidden, hd = config_.head_dim();
  const auto n = Size(rows * d);
  const bool drop = config_.dropout > 0;
  const auto bias_grad = [&](size_t bias, int64_t cols, View dy) {
    return b.BiasActivationBackward(Activation::kIdentity, rows, cols, dy, dy, dy,
                                    params.Grad(params.info(bias)));
  };
  const auto weight_grad = [&](size_t w, ConstView in, ConstView dy) {
    const ParamInfo& info = params.info(w);
    return b.Gemm(Transpose::kYes, Transpose::kNo, info.rows, info.cols, rows, 1.0, in, dy, 0.0,
                  params.Grad(info));
  };
  // dinput = dy W^T (+ beta * dinput).
  const auto input_grad = [&](size_t w, ConstView dy, double beta, View dinput) {
    const ParamInfo& info = params.info(w);
    return b.Gemm(Transpose::kNo, Transpose::kYes, rows, info.rows, info.cols, 1.0, dy, params.Weights(info),
                  beta, dinput);
  };
  const View g = dout.Sub(0, n);
  if (!config_.post_norm) {
    HPO_RETURN_IF_ERROR(NormBackward(params, final_norm_, rows, layers_.back().out.Sub(0, n), g, g));
  }
  for (size_t li = layers_.size(); li-- > 0;) {
    Layer& layer = layers_[li];
    const int l = static_cast<int>(li);
    const ConstView in = li == 0 ? x : ConstView(layers_[li - 1].out.Sub(0, n));
    const ConstView h = layer.h.Sub(0, n);
    // g: the gradient of the layer's output.
    if (config_.post_norm)
      HPO_RETURN_IF_ERROR(NormBackward(params, layer.norm2, rows, layer.s2.Sub(0, n), g, g));
    // Feed-forward branch; g also flows to h unchanged.
    const View dffn = tmp_d_.Sub(0, n);
    HPO_RETURN_IF_ERROR(b.Cast(g, dffn));
    if (drop)
      HPO_RETURN_IF_ERROR(b.Dropout(config_.dropout, dropout_seed, DropoutStream(step, l, 1), dffn, dffn));
    HPO_RETURN_IF_ERROR(bias_grad(layer.b2, d, dffn));
    const ConstView f_act = layer.f_act.Sub(0, Size(rows * f));
    HPO_RETURN_IF_ERROR(weight_grad(layer.w2, f_act, dffn));
    const View dact = tmp_f_.Sub(0, Size(rows * f));
    HPO_RETURN_IF_ERROR(input_grad(layer.w2, dffn, 0.0, dact));
    const ConstView f_pre = layer.f_pre.Sub(0, Size(rows * ffn_width()));
    View dz = dact;
    if (config_.ffn == FfnKind::kSwiGlu) {
      dz = tmp_f2_.Sub(0, Size(rows * ffn_width()));
      HPO_RETURN_IF_ERROR(b.SwiGluBackward(rows, f, f_pre, dact, dz));
      HPO_RETURN_IF_ERROR(bias_grad(layer.b1, ffn_width(), dz));
    } else {
      HPO_RETURN_IF_ERROR(b.BiasActivationBackward(Activation::kGelu, rows, f, f_pre, dact, dact,
                                                   params.Grad(params.info(layer.b1))));
    }
    const ConstView f_in = config_.post_norm ? h : ConstView(layer.a2.Sub(0, n));
    HPO_RETURN_IF_ERROR(weight_grad(layer.w1, f_in, dz));
    const View df_in = tmp_d_.Sub(0, n);
    HPO_RETURN_IF_ERROR(input_grad(layer.w1, dz, 0.0, df_in));
    if (!config_.post_norm) HPO_RETURN_IF_ERROR(NormBackward(params, layer.norm2, rows, h, df_in, df_in));
    HPO_RETURN_IF_ERROR(b.Axpy(1.0, df_in, g));  // g: the gradient of h
    if (config_.post_norm)
      HPO_RETURN_IF_ERROR(NormBackward(params, layer.norm1, rows, layer.s1.Sub(0, n), g, g));
    // Attention branch; g also flows to the layer's input unchanged.
    const View dproj = tmp_d_.Sub(0, n);
    HPO_RETURN_IF_ERROR(b.Cast(g, dproj));
    if (drop)
      HPO_RETURN_IF_ERROR(b.Dropout(config_.dropout, dropout_seed, DropoutStream(step, l, 0), dproj, dproj));
    HPO_RETURN_IF_ERROR(bias_grad(layer.bo, d, dproj));
    const ConstView o = layer.o.Sub(0, Size(rows * q_width()));
    HPO_RETURN_IF_ERROR(weight_grad(layer.wo, o, dproj));
    const View d_o = da_.Sub(0, Size(rows * q_width()));
    HPO_RETURN_IF_ERROR(input_grad(layer.wo, dproj, 0.0, d_o));
    const View dq = dq_.Sub(0, Size(rows * q_width()));
    const View dk = dk_.Sub(0, Size(rows * kv_width()));
    const View dv = dv_.Sub(0, Size(rows * kv_width()));
    HPO_RETURN_IF_ERROR(
        b.AttentionBackward(Shape(batch_, len_, len_, 0), layer.q.Sub(0, Size(rows * q_width())),
                            layer.k.Sub(0, Size(rows * kv_width())), layer.v.Sub(0, Size(rows * kv_width())),
                            o, d_o, layer.lse.Sub(0, Size(rows * config_.heads)), dq, dk, dv));
    if (config_.rope) {
      HPO_RETURN_IF_ERROR(b.Rope(batch_, len_, config_.heads, hd, 0, config_.rope_base, true, dq));
      HPO_RETURN_IF_ERROR(b.Rope(batch_, len_, config_.kv_heads, hd, 0, config_.rope_base, true, dk));
    }
    HPO_RETURN_IF_ERROR(bias_grad(layer.bq, q_width(), dq));
    HPO_RETURN_IF_ERROR(bias_grad(layer.bk, kv_width(), dk));
    HPO_RETURN_IF_ERROR(bias_grad(layer.bv, kv_width(), dv));
    const ConstView a_in = config_.post_norm ? in : ConstView(layer.a1.Sub(0, n));
    HPO_RETURN_IF_ERROR(weight_grad(layer.wq, a_in, dq));
    HPO_RETURN_IF_ERROR(weight_grad(layer.wk, a_in, dk));
    HPO_RETURN_IF_ERROR(weight_grad(layer.wv, a_in, dv));
    const View da_in = tmp_d2_.Sub(0, n);
    HPO_RETURN_IF_ERROR(input_grad(layer.wq, dq, 0.0, da_in));
    HPO_RETURN_IF_ERROR(input_grad(layer.wk, dk, 1.0, da_in));
    HPO_RETURN_IF_ERROR(input_grad(layer.wv, dv, 1.0, da_in));
    if (!config_.post_norm) HPO_RETURN_IF_ERROR(NormBackward(params, layer.norm1, rows, in, da_in, da_in));
    HPO_RETURN_IF_ERROR(b.Axpy(1.0, da_in, g));  // g: the gradient of the layer's input
  }
  if (dx.size == 0) return Status::Ok();
  return b.Cast(g, dx.Sub(0, n));
}

}  // namespace hpo::trainer
