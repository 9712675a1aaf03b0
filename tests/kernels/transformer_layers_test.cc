// Tests the transformer layers of kernels/backend.h on the CPU backend (kernels/cpu_transformer.cc and their
// checks in kernels/backend_checks.cc): the embedding gather and its gradient (repeated and absent tokens,
// the order of the sums), RMS norm and SwiGLU against direct fp64 formulas, every backward pass against
// central differences in fp64, SwiGLU's silu against the kSilu activation bit for bit, the half types
// against the fp32 computation rounded once, the same bits on 1 and 4 threads, and INVALID_ARGUMENT for bad
// arguments. The CUDA backend's agreement with these is in cuda_backend_test.cc.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "kernels/backend.h"
#include "tests/kernels/kernels_test_util.h"

namespace hpo::kernels {
namespace {

constexpr DType kF32 = DType::kF32, kF64 = DType::kF64, kF16 = DType::kF16, kBF16 = DType::kBF16,
                kI32 = DType::kI32;

size_t Size(int64_t n) { return static_cast<size_t>(n); }

class TransformerLayersTest : public ktest::CpuTest {
 protected:
  // y = RmsNorm(x, gamma) in fp64; returns y (and rstd through the pointer, when given).
  std::vector<double> RmsNorm(int64_t rows, int64_t cols, const std::vector<double>& x,
                              const std::vector<double>& gamma, std::vector<double>* rstd = nullptr) {
    Buffer xb = Make(x), gb = Make(gamma), y = Zeros(x.size()), r = Zeros(Size(rows));
    EXPECT_TRUE(backend_->RmsNormForward(rows, cols, kEps, xb.view(), gb.view(), y.view(), r.view()).ok());
    if (rstd != nullptr) *rstd = Get(r.view());
    return Get(y.view());
  }

  static constexpr double kEps = 1e-5;
};

using ktest::CheckAgainstFiniteDifferences;
using ktest::Dot;

// Tokens with repeats (and, for vocab > 5, tokens that never occur).
std::vector<double> Tokens(int64_t rows, int64_t vocab) {
  std::vector<double> t(Size(rows));
  for (int64_t r = 0; r < rows; ++r)
    t[Size(r)] = static_cast<double>((r * 7 + r / 3) % std::min<int64_t>(vocab, 5));
  return t;
}

// --- Embedding ---

TEST_F(TransformerLayersTest, EmbeddingForwardCopiesTheTokensRowsInEveryType) {
  const int64_t rows = 13, vocab = 9, dim = 6;
  const std::vector<double> tokens = Tokens(rows, vocab);
  for (DType dt : {kF32, kF64, kF16, kBF16}) {
    const std::vector<double> table = ktest::RandomValues(dt, Size(vocab * dim), 1);
    Buffer tb = Make(kI32, tokens), tab = Make(dt, table),
           out = Make(dt, std::vector<double>(Size(rows * dim), 7));
    ASSERT_TRUE(backend_->EmbeddingForward(rows, vocab, dim, tb.view(), tab.view(), out.view()).ok());
    const std::vector<double> got = Get(out.view());
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t c = 0; c < dim; ++c) {
        ASSERT_EQ(got[Size(r * dim + c)], table[Size(static_cast<int64_t>(tokens[Size(r)]) * dim + c)])
            << DTypeName(dt) << " row " << r;
      }
    }
  }
}

TEST_F(TransformerLayersTest, EmbeddingBackwardSumsRepeatedTokensInRowOrderAndZeroesAbsentOnes) {
  const int64_t rows = 40, vocab = 8, dim = 5;
  const std::vector<double> tokens = Tokens(rows, vocab);  // tokens 0..4 repeated, 5..7 absent
  for (DType dt : {kF32, kF64, kF16, kBF16}) {
    const DType acc = AccumulationType(dt);
    const std::vector<double> dout = ktest::RandomValues(dt, Size(rows * dim), 2);
    Buffer tb = Make(kI32, tokens), db = Make(dt, dout),
           dtable = Make(acc, std::vector<double>(Size(vocab * dim), 9.0));  // overwritten
    ASSERT_TRUE(backend_->EmbeddingBackward(rows, vocab, dim, tb.view(), db.view(), dtable.view()).ok());
    // The reference adds in order of r in the accumulation type (float, double for f64).
    std::vector<double> want(Size(vocab * dim), 0.0);
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t c = 0; c < dim; ++c) {
        double& w = want[Size(static_cast<int64_t>(tokens[Size(r)]) * dim + c)];
        w = acc == kF64
                ? w + dout[Size(r * dim + c)]
                : static_cast<float>(static_cast<float>(w) + static_cast<float>(dout[Size(r * dim + c)]));
      }
    }
    EXPECT_EQ(Get(dtable.view()), want) << DTypeName(dt);
    for (int64_t i = 5 * dim; i < vocab * dim; ++i) EXPECT_EQ(want[Size(i)], 0.0);
  }
}

// L = sum weights * Embedding(table): dL/dtable = EmbeddingBackward(weights).
TEST_F(TransformerLayersTest, EmbeddingBackwardMatchesFiniteDifferences) {
  const int64_t rows = 11, vocab = 6, dim = 3;
  const std::vector<double> tokens = Tokens(rows, vocab),
                            table = ktest::RandomValues(kF64, Size(vocab * dim), 3),
                            weights = ktest::RandomValues(kF64, Size(rows * dim), 4);
  Buffer tb = Make(kI32, tokens);
  auto objective = [&](const std::vector<double>& t) {
    Buffer tab = Make(t), out = Zeros(Size(rows * dim));
    EXPECT_TRUE(backend_->EmbeddingForward(rows, vocab, dim, tb.view(), tab.view(), out.view()).ok());
    return Dot(weights, Get(out.view()));
  };
  Buffer wb = Make(weights), dtable = Zeros(Size(vocab * dim));
  ASSERT_TRUE(backend_->EmbeddingBackward(rows, vocab, dim, tb.view(), wb.view(), dtable.view()).ok());
  CheckAgainstFiniteDifferences("dtable", table, objective, Get(dtable.view()));
}

// --- RMS norm ---

TEST_F(TransformerLayersTest, RmsNormForwardIsTheFormula) {
  for (const auto& [rows, cols] : {std::pair<int64_t, int64_t>{3, 5}, {4, 37}, {2, 1}}) {
    const std::vector<double> x = ktest::RandomValues(kF64, Size(rows * cols), 5, 2.0),
                              gamma = ktest::RandomValues(kF64, Size(cols), 6);
    std::vector<double> rstd;
    const std::vector<double> y = RmsNorm(rows, cols, x, gamma, &rstd);
    for (int64_t r = 0; r < rows; ++r) {
      double squares = 0;
      for (int64_t c = 0; c < cols; ++c) squares += x[Size(r * cols + c)] * x[Size(r * cols + c)];
      const double want_rstd = 1 / std::sqrt(squares / static_cast<double>(cols) + kEps);
      EXPECT_NEAR(rstd[Size(r)], want_rstd, 1e-13 * want_rstd) << rows << "x" << cols << " row " << r;
      for (int64_t c = 0; c < cols; ++c) {
        const double want = x[Size(r * cols + c)] * want_rstd * gamma[Size(c)];
        EXPECT_NEAR(y[Size(r * cols + c)], want, 1e-13 * (1 + std::fabs(want)));
      }
    }
  }
}

// L = sum weights * RmsNorm(x, gamma): dx and dgamma from RmsNormBackward(dy = weights).
TEST_F(TransformerLayersTest, RmsNormBackwardMatchesFiniteDifferences) {
  const int64_t rows = 70, cols = 7;  // three chunks of rows for dgamma
  const std::vector<double> x0 = ktest::RandomValues(kF64, Size(rows * cols), 7),
                            gamma0 = ktest::RandomValues(kF64, Size(cols), 8),
                            weights = ktest::RandomValues(kF64, Size(rows * cols), 9);
  std::vector<double> rstd;
  RmsNorm(rows, cols, x0, gamma0, &rstd);
  Buffer xb = Make(x0), gb = Make(gamma0), rb = Make(rstd), dy = Make(weights), dx = Zeros(Size(rows * cols)),
         dgamma = Make(std::vector<double>(Size(cols), 5.0));  // overwritten
  ASSERT_TRUE(
      backend_
          ->RmsNormBackward(rows, cols, xb.view(), gb.view(), rb.view(), dy.view(), dx.view(), dgamma.view())
          .ok());
  CheckAgainstFiniteDifferences(
      "dx", x0, [&](const std::vector<double>& x) { return Dot(weights, RmsNorm(rows, cols, x, gamma0)); },
      Get(dx.view()));
  CheckAgainstFiniteDifferences(
      "dgamma", gamma0,
      [&](const std::vector<double>& g) { return Dot(weights, RmsNorm(rows, cols, x0, g)); },
      Get(dgamma.view()));
  // In place (dx = dy) gives the same values.
  ASSERT_TRUE(
      backend_
          ->RmsNormBackward(rows, cols, xb.view(), gb.view(), rb.view(), dy.view(), dy.view(), dgamma.view())
          .ok());
  EXPECT_EQ(Get(dy.view()), Get(dx.view()));
}

// --- SwiGLU ---

std::vector<double> SwiGluReference(int64_t rows, int64_t hidden, const std::vector<double>& h) {
  std::vector<double> y(Size(rows * hidden));
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < hidden; ++c) {
      const double g = h[Size(r * 2 * hidden + c)], u = h[Size(r * 2 * hidden + hidden + c)];
      y[Size(r * hidden + c)] = g / (1 + std::exp(-g)) * u;
    }
  }
  return y;
}

TEST_F(TransformerLayersTest, SwiGluForwardIsTheFormula) {
  const int64_t rows = 3, hidden = 11;
  const std::vector<double> h = ktest::RandomValues(kF64, Size(rows * 2 * hidden), 10, 3.0);
  Buffer hb = Make(h), y = Zeros(Size(rows * hidden));
  ASSERT_TRUE(backend_->SwiGluForward(rows, hidden, hb.view(), y.view()).ok());
  const std::vector<double> got = Get(y.view()), want = SwiGluReference(rows, hidden, h);
  for (size_t i = 0; i < want.size(); ++i)
    EXPECT_NEAR(got[i], want[i], 1e-14 * (1 + std::fabs(want[i]))) << i;
}

TEST_F(TransformerLayersTest, SwiGluBackwardMatchesFiniteDifferences) {
  const int64_t rows = 4, hidden = 5;
  const std::vector<double> h0 = ktest::RandomValues(kF64, Size(rows * 2 * hidden), 11, 2.0),
                            weights = ktest::RandomValues(kF64, Size(rows * hidden), 12);
  auto objective = [&](const std::vector<double>& h) {
    Buffer hb = Make(h), y = Zeros(Size(rows * hidden));
    EXPECT_TRUE(backend_->SwiGluForward(rows, hidden, hb.view(), y.view()).ok());
    return Dot(weights, Get(y.view()));
  };
  Buffer hb = Make(h0), dy = Make(weights), dh = Make(std::vector<double>(h0.size(), 3.0));
  ASSERT_TRUE(backend_->SwiGluBackward(rows, hidden, hb.view(), dy.view(), dh.view()).ok());
  CheckAgainstFiniteDifferences("dh", h0, objective, Get(dh.view()));
}

// With u = 1, SwiGLU is silu itself: the kSilu activation's values and derivatives, bit for bit.
TEST_F(TransformerLayersTest, SwiGluUsesTheSiluActivationsElementMath) {
  const int64_t rows = 2, hidden = 300;
  for (DType dt : {kF32, kF64, kBF16}) {
    const std::vector<double> g = ktest::RandomValues(dt, Size(rows * hidden), 13, 4.0),
                              dy = ktest::RandomValues(dt, Size(rows * hidden), 14);
    std::vector<double> h(Size(rows * 2 * hidden), 1.0);
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t c = 0; c < hidden; ++c) h[Size(r * 2 * hidden + c)] = g[Size(r * hidden + c)];
    }
    Buffer hb = Make(dt, h), gb = Make(dt, g), dyb = Make(dt, dy), y = Zeros(dt, Size(rows * hidden)),
           silu = Zeros(dt, Size(rows * hidden)), dh = Zeros(dt, h.size()),
           dz = Zeros(dt, Size(rows * hidden));
    ASSERT_TRUE(backend_->SwiGluForward(rows, hidden, hb.view(), y.view()).ok());
    ASSERT_TRUE(
        backend_->BiasActivationForward(Activation::kSilu, rows, hidden, View{}, gb.view(), silu.view())
            .ok());
    EXPECT_EQ(Get(y.view()), Get(silu.view())) << DTypeName(dt);
    ASSERT_TRUE(backend_->SwiGluBackward(rows, hidden, hb.view(), dyb.view(), dh.view()).ok());
    ASSERT_TRUE(backend_
                    ->BiasActivationBackward(Activation::kSilu, rows, hidden, gb.view(), dyb.view(),
                                             dz.view(), View{})
                    .ok());
    const std::vector<double> dh_values = Get(dh.view()), dz_values = Get(dz.view());
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t c = 0; c < hidden; ++c) {
        ASSERT_EQ(dh_values[Size(r * 2 * hidden + c)], dz_values[Size(r * hidden + c)]) << DTypeName(dt);
      }
    }
  }
}

// --- Half types: the fp32 computation on the same (exactly widened) values, rounded once ---

class TransformerHalfTest : public TransformerLayersTest, public ::testing::WithParamInterface<DType> {};

TEST_P(TransformerHalfTest, EveryOperationIsTheFp32ComputationRoundedOnce) {
  const DType dt = GetParam();
  const int64_t rows = 70, cols = 40, vocab = 7;
  const std::vector<double> x = ktest::RandomValues(dt, Size(rows * cols), 20, 2.0),
                            gamma = ktest::RandomValues(dt, Size(cols), 21),
                            dy = ktest::RandomValues(dt, Size(rows * cols), 22),
                            half_dy = ktest::RandomValues(dt, Size(rows * cols / 2), 23),
                            tokens = Tokens(rows, vocab);
  std::vector<std::vector<double>> results[2];  // [0] half, [1] f32
  const DType types[2] = {dt, kF32};
  for (int t = 0; t < 2; ++t) {
    const DType type = types[t];
    Buffer xb = Make(type, x), gb = Make(type, gamma), dyb = Make(type, dy), hdy = Make(type, half_dy),
           tb = Make(kI32, tokens), y = Zeros(type, x.size()), rstd = Zeros(kF32, Size(rows)),
           dx = Zeros(type, x.size()), dgamma = Zeros(kF32, Size(cols)), swiglu = Zeros(type, x.size() / 2),
           dh = Zeros(type, x.size()), emb = Zeros(type, Size(rows * cols)),
           dtable = Zeros(kF32, Size(vocab * cols));
    ASSERT_TRUE(backend_->RmsNormForward(rows, cols, kEps, xb.view(), gb.view(), y.view(), rstd.view()).ok());
    ASSERT_TRUE(backend_
                    ->RmsNormBackward(rows, cols, xb.view(), gb.view(), rstd.view(), dyb.view(), dx.view(),
                                      dgamma.view())
                    .ok());
    ASSERT_TRUE(backend_->SwiGluForward(rows, cols / 2, xb.view(), swiglu.view()).ok());
    ASSERT_TRUE(backend_->SwiGluBackward(rows, cols / 2, xb.view(), hdy.view(), dh.view()).ok());
    ASSERT_TRUE(backend_->EmbeddingForward(rows, vocab, cols, tb.view(), xb.view(), emb.view()).ok());
    ASSERT_TRUE(backend_->EmbeddingBackward(rows, vocab, cols, tb.view(), dyb.view(), dtable.view()).ok());
    for (const Buffer* b : {&y, &dx, &swiglu, &dh, &emb, &rstd, &dgamma, &dtable})
      results[t].push_back(Get(b->view()));
  }
  const char* names[] = {"rms y", "rms dx", "swiglu y", "swiglu dh", "embedding", "rstd", "dgamma", "dtable"};
  for (size_t i = 0; i < results[0].size(); ++i) {
    ASSERT_EQ(results[0][i].size(), results[1][i].size());
    for (size_t j = 0; j < results[0][i].size(); ++j) {
      // Half outputs: the fp32 value rounded once; fp32 outputs (statistics, gradients): the same bits.
      const double want = i < 5 ? ktest::RoundTo(dt, results[1][i][j]) : results[1][i][j];
      ASSERT_EQ(results[0][i][j], want) << names[i] << " [" << j << "]";
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Halves, TransformerHalfTest, ::testing::Values(kF16, kBF16), ktest::DTypeParamName);

// --- Threads: whole rows, column ranges and fixed chunks, so the thread count changes no bit ---

TEST(TransformerThreadsTest, ThreadCountChangesNoResult) {
  const int64_t rows = 4096, cols = 256, vocab = 256;  // large enough to split over 4 threads
  const size_t size = Size(rows * cols);
  std::vector<double> tokens(Size(rows));
  for (int64_t r = 0; r < rows; ++r) tokens[Size(r)] = static_cast<double>((r * r + 3 * r) % vocab);
  ktest::ExpectSameBytesOnOneAndFourThreads([&](Backend& b) {
    std::vector<std::vector<uint8_t>> results;
    for (DType dt : {kF32, kBF16}) {
      Buffer x = ktest::Make(b, dt, ktest::RandomValues(dt, size, 30)),
             gamma = ktest::Make(b, dt, ktest::RandomValues(dt, Size(cols), 31)),
             dy = ktest::Make(b, dt, ktest::RandomValues(dt, size, 32)), tb = ktest::Make(b, kI32, tokens),
             y = ktest::Zeros(b, dt, size), rstd = ktest::Zeros(b, kF32, Size(rows)),
             dx = ktest::Zeros(b, dt, size), dgamma = ktest::Zeros(b, kF32, Size(cols)),
             swiglu = ktest::Zeros(b, dt, size / 2), dh = ktest::Zeros(b, dt, size),
             table = ktest::Make(b, dt, ktest::RandomValues(dt, Size(vocab * cols), 33)),
             emb = ktest::Zeros(b, dt, size), dtable = ktest::Zeros(b, kF32, Size(vocab * cols));
      EXPECT_TRUE(b.RmsNormForward(rows, cols, 1e-5, x.view(), gamma.view(), y.view(), rstd.view()).ok());
      EXPECT_TRUE(b.RmsNormBackward(rows, cols, x.view(), gamma.view(), rstd.view(), dy.view(), dx.view(),
                                    dgamma.view())
                      .ok());
      EXPECT_TRUE(b.SwiGluForward(rows, cols / 2, x.view(), swiglu.view()).ok());
      EXPECT_TRUE(b.SwiGluBackward(rows, cols / 2, x.view(), dy.Sub(0, size / 2), dh.view()).ok());
      EXPECT_TRUE(b.EmbeddingForward(rows, vocab, cols, tb.view(), table.view(), emb.view()).ok());
      EXPECT_TRUE(b.EmbeddingBackward(rows, vocab, cols, tb.view(), dy.view(), dtable.view()).ok());
      for (const Buffer* buffer : {&y, &rstd, &dx, &dgamma, &swiglu, &dh, &emb, &dtable}) {
        results.push_back(ktest::GetBytes(b, buffer->view()));
      }
    }
    return results;
  });
}

// --- Bad arguments: INVALID_ARGUMENT naming the operation and the argument, nothing touched ---

TEST_F(TransformerLayersTest, EmbeddingRejectsBadArgumentsAndTokensOutOfRange) {
  const int64_t rows = 4, vocab = 3, dim = 2;
  Buffer tokens = Make(kI32, {0, 2, 1, 2}), bad_tokens = Make(kI32, {0, 2, 3, 1}),
         negative = Make(kI32, {0, -1, 1, 1}), float_tokens = Make(kF32, {0, 1, 2, 0}),
         table = Make(kF32, std::vector<double>(Size(vocab * dim), 1.0)),
         out = Make(kF32, std::vector<double>(Size(rows * dim), 2.0)), out16 = Zeros(kF16, Size(rows * dim)),
         dout = Make(kF16, std::vector<double>(Size(rows * dim), 1.0)),
         dtable = Make(kF32, std::vector<double>(Size(vocab * dim), 3.0)),
         dtable16 = Zeros(kF16, Size(vocab * dim));
  EXPECT_INVALID(backend_->EmbeddingForward(-1, vocab, dim, tokens.view(), table.view(), out.view()),
                 "EmbeddingForward: rows = -1");
  EXPECT_INVALID(
      backend_->EmbeddingForward(rows, int64_t{1} << 31, dim, tokens.view(), table.view(), out.view()),
      "EmbeddingForward: vocab = 2147483648");
  EXPECT_INVALID(backend_->EmbeddingForward(rows, vocab, dim, float_tokens.view(), table.view(), out.view()),
                 "EmbeddingForward: tokens has element type f32, expected i32");
  EXPECT_INVALID(backend_->EmbeddingForward(rows, vocab, dim, tokens.view(), tokens.view(), out.view()),
                 "EmbeddingForward: table has element type i32");
  EXPECT_INVALID(backend_->EmbeddingForward(rows, vocab, dim, tokens.view(), table.view(), out16.view()),
                 "EmbeddingForward: out has element type f16, expected f32");
  EXPECT_INVALID(backend_->EmbeddingForward(rows, vocab, dim, tokens.view(), table.Sub(0, 5), out.view()),
                 "EmbeddingForward: table holds 5 elements, needs 6");
  EXPECT_INVALID(backend_->EmbeddingForward(rows, vocab, dim, tokens.Sub(0, 3), table.view(), out.view()),
                 "EmbeddingForward: tokens holds 3 elements, needs 4");
  EXPECT_INVALID(backend_->EmbeddingForward(rows, vocab, dim, tokens.view(), out.view(), out.view()),
                 "EmbeddingForward: table and out overlap");
  EXPECT_INVALID(backend_->EmbeddingForward(rows, vocab, dim, bad_tokens.view(), table.view(), out.view()),
                 "EmbeddingForward: tokens[2] = 3 is outside [0, vocab = 3)");
  EXPECT_INVALID(backend_->EmbeddingForward(rows, vocab, dim, negative.view(), table.view(), out.view()),
                 "EmbeddingForward: tokens[1] = -1 is outside");
  EXPECT_INVALID(backend_->EmbeddingBackward(rows, vocab, dim, tokens.view(), dout.view(), dtable16.view()),
                 "EmbeddingBackward: dtable has element type f16, expected f32");
  EXPECT_INVALID(backend_->EmbeddingBackward(rows, vocab, dim, tokens.view(), dout.view(), dtable.Sub(0, 4)),
                 "EmbeddingBackward: dtable holds 4 elements, needs 6");
  EXPECT_INVALID(backend_->EmbeddingBackward(rows, vocab, dim, tokens.view(), tokens.view(), dtable.view()),
                 "EmbeddingBackward: dout has element type i32");
  EXPECT_INVALID(backend_->EmbeddingBackward(rows, vocab, dim, bad_tokens.view(), dout.view(), dtable.view()),
                 "EmbeddingBackward: tokens[2] = 3 is outside [0, vocab = 3)");
  EXPECT_INVALID(backend_->EmbeddingBackward(rows, 0, dim, tokens.view(), dout.view(), dtable.view()),
                 "EmbeddingBackward: tokens[0] = 0 is outside [0, vocab = 0)");
  EXPECT_EQ(Get(out.view()), std::vector<double>(Size(rows * dim), 2.0));
  EXPECT_EQ(Get(dtable.view()), std::vector<double>(Size(vocab * dim), 3.0));
}

TEST_F(TransformerLayersTest, RmsNormAndSwiGluRejectBadArguments) {
  const int64_t rows = 4, cols = 3;
  const size_t size = Size(rows * cols);
  Buffer x = Make(kF16, std::vector<double>(size, 1.0)), g = Make(kF16, {1, 1, 1}),
         y = Make(kF16, std::vector<double>(size, 5.0)), rstd = Make(kF32, {6, 6, 6, 6}),
         rstd16 = Zeros(kF16, 4), dgamma = Make(kF32, {7, 7, 7}), x32 = Zeros(kF32, size);
  EXPECT_INVALID(backend_->RmsNormForward(rows, cols, 0.0, x.view(), g.view(), y.view(), rstd.view()),
                 "RmsNormForward: eps = 0");
  EXPECT_INVALID(backend_->RmsNormForward(rows, cols, NAN, x.view(), g.view(), y.view(), rstd.view()),
                 "RmsNormForward: eps = nan");
  EXPECT_INVALID(backend_->RmsNormForward(rows, -2, 1e-5, x.view(), g.view(), y.view(), rstd.view()),
                 "RmsNormForward: cols = -2");
  EXPECT_INVALID(backend_->RmsNormForward(rows, cols, 1e-5, x.view(), g.view(), y.view(), rstd16.view()),
                 "RmsNormForward: rstd has element type f16, expected f32");
  EXPECT_INVALID(backend_->RmsNormForward(rows, cols, 1e-5, x.view(), g.Sub(0, 2), y.view(), rstd.view()),
                 "RmsNormForward: gamma holds 2 elements, needs 3");
  EXPECT_INVALID(backend_->RmsNormForward(rows, cols, 1e-5, x.view(), g.view(), x32.view(), rstd.view()),
                 "RmsNormForward: y has element type f32, expected f16");
  EXPECT_INVALID(backend_->RmsNormForward(rows, cols, 1e-5, x.view(), g.view(), x.view(), rstd.view()),
                 "RmsNormForward: x and y overlap");
  EXPECT_INVALID(backend_->RmsNormBackward(rows, cols, x.view(), g.view(), rstd.view(), y.view(), y.view(),
                                           rstd16.view()),
                 "RmsNormBackward: dgamma has element type f16, expected f32");
  EXPECT_INVALID(backend_->RmsNormBackward(rows, cols, x.view(), g.view(), rstd.Sub(0, 3), y.view(), y.view(),
                                           dgamma.view()),
                 "RmsNormBackward: rstd holds 3 elements, needs 4");
  EXPECT_INVALID(backend_->RmsNormBackward(rows, cols, x.view(), g.view(), rstd.view(), y.view(), x.view(),
                                           dgamma.view()),
                 "RmsNormBackward: x and dx overlap");
  EXPECT_INVALID(backend_->RmsNormBackward(rows, cols, x.view(), g.view(), rstd.view(), y.view(), y.view(),
                                           rstd.Sub(0, 3)),
                 "RmsNormBackward: rstd and dgamma overlap");
  // SwiGLU: h is rows x 2 hidden.
  EXPECT_INVALID(backend_->SwiGluForward(rows, -1, x.view(), y.view()), "SwiGluForward: hidden = -1");
  EXPECT_INVALID(backend_->SwiGluForward(1, int64_t{1} << 30, x.view(), y.view()),
                 "SwiGluForward: 2 * hidden = 2147483648");
  EXPECT_INVALID(backend_->SwiGluForward(rows, 2, x.view(), y.view()),
                 "SwiGluForward: h holds 12 elements, needs 16");
  EXPECT_INVALID(backend_->SwiGluForward(rows, 1, x.view(), x32.view()),
                 "SwiGluForward: y has element type f32, expected f16");
  EXPECT_INVALID(backend_->SwiGluForward(rows, 1, x.view(), x.Sub(4, 4)), "SwiGluForward: h and y overlap");
  EXPECT_INVALID(backend_->SwiGluBackward(rows, 1, x.view(), y.Sub(0, 3), y.Sub(4, 8)),
                 "SwiGluBackward: dy holds 3 elements, needs 4");
  EXPECT_INVALID(backend_->SwiGluBackward(rows, 1, x.view(), y.Sub(0, 4), y.Sub(2, 8)),
                 "SwiGluBackward: dy and dh overlap");
  EXPECT_INVALID(backend_->SwiGluBackward(rows, 1, x.view(), x32.view(), y.view()),
                 "SwiGluBackward: dy has element type f32, expected f16");
  EXPECT_EQ(Get(y.view()), std::vector<double>(size, 5.0));
  EXPECT_EQ(Get(rstd.view()), (std::vector<double>{6, 6, 6, 6}));
  EXPECT_EQ(Get(dgamma.view()), (std::vector<double>{7, 7, 7}));
}

}  // namespace
}  // namespace hpo::kernels
