// Fixed-seed determinism of the CPU backend: two fresh backends running the same sequence of operations
// (a small training step: GEMMs, bias + activation, layer norm, dropout, loss, backward, gradient
// statistics, AdamW writing the half copy) on the same inputs produce the same bits, in every precision.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "kernels/backend.h"
#include "tests/kernels/kernels_test_util.h"

namespace hpo::kernels {
namespace {

// Runs one training step of a 2-layer network in `dtype` and returns the bytes of everything it wrote.
std::vector<std::vector<uint8_t>> TrainingStep(DType dtype) {
  auto made = MakeBackend(BackendKind::kCpu, BackendOptions{});
  EXPECT_TRUE(made.ok()) << made.status().ToString();
  if (!made.ok()) return {};
  Backend& b = **made;
  const int rows = 16, in = 40, hidden = 24, classes = 5;
  const DType acc = AccumulationType(dtype);
  const Transpose N = Transpose::kNo, T = Transpose::kYes;
  Buffer x = ktest::Make(b, dtype, ktest::RandomValues(dtype, rows * in, 1));
  Buffer labels =
      ktest::Make(b, DType::kI32, std::vector<double>{0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 0});
  // Master weights in fp32 (f64 for f64), with a rounded copy in dtype.
  const DType master = dtype == DType::kF64 ? DType::kF64 : DType::kF32;
  const size_t n_w1 = in * hidden, n_b1 = hidden, n_g = hidden, n_beta = hidden, n_w2 = hidden * classes,
               n_b2 = classes;
  const size_t n_params = n_w1 + n_b1 + n_g + n_beta + n_w2 + n_b2;
  std::vector<double> init = ktest::RandomValues(master, n_params, 2, 0.3);
  Buffer params = ktest::Make(b, master, init), copy = ktest::Zeros(b, dtype, n_params);
  Buffer grads = ktest::Zeros(b, master, n_params);
  Buffer m = ktest::Zeros(b, master, n_params), v = ktest::Zeros(b, master, n_params);
  EXPECT_TRUE(b.Cast(params.view(), copy.view()).ok());
  size_t offset = 0;
  auto take = [&](size_t n) {
    const size_t at = offset;
    offset += n;
    return at;
  };
  const size_t o_w1 = take(n_w1), o_b1 = take(n_b1), o_g = take(n_g), o_beta = take(n_beta),
               o_w2 = take(n_w2), o_b2 = take(n_b2);
  Buffer z1 = ktest::Zeros(b, dtype, rows * hidden), n1 = ktest::Zeros(b, dtype, rows * hidden),
         h1 = ktest::Zeros(b, dtype, rows * hidden), logits = ktest::Zeros(b, dtype, rows * classes),
         dlogits = ktest::Zeros(b, dtype, rows * classes), dh = ktest::Zeros(b, dtype, rows * hidden),
         mean = ktest::Zeros(b, acc, rows), rstd = ktest::Zeros(b, acc, rows), loss = ktest::Zeros(b, acc, 1);
  auto w = [&](size_t o, size_t n) { return copy.Sub(o, n); };
  auto g = [&](size_t o, size_t n) { return grads.Sub(o, n); };
  // Gradients live in the master type: GEMMs from halves write fp32, dbias and dgamma are fp32 sums.
  std::vector<Status> s;
  s.push_back(b.Gemm(N, N, rows, hidden, in, 1.0, x.view(), w(o_w1, n_w1), 0.0, z1.view()));
  s.push_back(
      b.BiasActivationForward(Activation::kIdentity, rows, hidden, w(o_b1, n_b1), z1.view(), z1.view()));
  s.push_back(b.LayerNormForward(rows, hidden, 1e-5, z1.view(), w(o_g, n_g), w(o_beta, n_beta), n1.view(),
                                 mean.view(), rstd.view()));
  s.push_back(b.BiasActivationForward(Activation::kGelu, rows, hidden, ConstView(), n1.view(), h1.view()));
  s.push_back(b.Dropout(0.25, 1234, 7, h1.view(), h1.view()));
  s.push_back(b.Gemm(N, N, rows, classes, hidden, 1.0, h1.view(), w(o_w2, n_w2), 0.0, logits.view()));
  s.push_back(b.BiasActivationForward(Activation::kIdentity, rows, classes, w(o_b2, n_b2), logits.view(),
                                      logits.view()));
  s.push_back(b.SoftmaxCrossEntropy(LossOptions{.label_smoothing = 0.1, .grad_scale = 256}, rows, classes,
                                    logits.view(), labels.view(), loss.view(), dlogits.view()));
  s.push_back(b.BiasActivationBackward(Activation::kIdentity, rows, classes, logits.view(), dlogits.view(),
                                       dlogits.view(), g(o_b2, n_b2)));
  s.push_back(b.Gemm(T, N, hidden, classes, rows, 1.0, h1.view(), dlogits.view(), 0.0, g(o_w2, n_w2)));
  s.push_back(b.Gemm(N, T, rows, hidden, classes, 1.0, dlogits.view(), w(o_w2, n_w2), 0.0, dh.view()));
  s.push_back(b.Dropout(0.25, 1234, 7, dh.view(), dh.view()));
  s.push_back(
      b.BiasActivationBackward(Activation::kGelu, rows, hidden, n1.view(), dh.view(), dh.view(), View()));
  s.push_back(b.LayerNormBackward(rows, hidden, z1.view(), w(o_g, n_g), mean.view(), rstd.view(), dh.view(),
                                  dh.view(), g(o_g, n_g), g(o_beta, n_beta)));
  s.push_back(b.BiasActivationBackward(Activation::kIdentity, rows, hidden, z1.view(), dh.view(), dh.view(),
                                       g(o_b1, n_b1)));
  s.push_back(b.Gemm(T, N, in, hidden, rows, 1.0, x.view(), dh.view(), 0.0, g(o_w1, n_w1)));
  Result<GradStats> stats = b.GradientStats(grads.view());
  EXPECT_TRUE(stats.ok());
  s.push_back(b.AdamWUpdate(AdamWHyper{}, 1, 1.0 / 256, params.view(), grads.view(), m.view(), v.view(),
                            copy.view()));
  for (size_t i = 0; i < s.size(); ++i) EXPECT_TRUE(s[i].ok()) << "op " << i << ": " << s[i].ToString();
  std::vector<std::vector<uint8_t>> out;
  for (const Buffer* buffer :
       {&z1, &n1, &h1, &logits, &dlogits, &dh, &mean, &rstd, &loss, &grads, &params, &copy, &m, &v}) {
    out.push_back(ktest::GetBytes(b, buffer->view()));
  }
  const double sum_squares = stats.ok() ? stats->sum_squares : 0;
  std::vector<uint8_t> sum_bytes(sizeof(double));
  std::memcpy(sum_bytes.data(), &sum_squares, sizeof(double));
  out.push_back(sum_bytes);
  return out;
}

class DeterminismTest : public ::testing::TestWithParam<DType> {};

TEST_P(DeterminismTest, SameSeedsSameBits) {
  const auto first = TrainingStep(GetParam());
  const auto second = TrainingStep(GetParam());
  ASSERT_EQ(first.size(), 15u);
  ASSERT_EQ(first.size(), second.size());
  for (size_t i = 0; i < first.size(); ++i) EXPECT_EQ(first[i], second[i]) << "output " << i;
  // Not vacuous: the step produced gradients and a loss.
  EXPECT_NE(first[9], std::vector<uint8_t>(first[9].size(), 0));
  EXPECT_NE(first[8], std::vector<uint8_t>(first[8].size(), 0));
}

INSTANTIATE_TEST_SUITE_P(Precisions, DeterminismTest,
                         ::testing::Values(DType::kF32, DType::kF64, DType::kF16, DType::kBF16),
                         [](const ::testing::TestParamInfo<DType>& param_info) {
                           return std::string(DTypeName(param_info.param));
                         });

}  // namespace
}  // namespace hpo::kernels
