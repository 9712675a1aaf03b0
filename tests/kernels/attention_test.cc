// Tests the attention operations of kernels/backend.h (AttentionForward, AttentionBackward, Rope; CPU:
// kernels/cpu_attention.cc, CUDA: kernels/cuda_attention.cu, checks: kernels/backend_checks.cc):
// - the forward pass against a GEMM-based reference that materialises each (batch, head) score matrix with
//   Backend::Gemm in fp64 and applies the mask, ALiBi and softmax on the host in fp64, for every mask, ALiBi,
//   MHA / GQA / MQA, odd and typical head_dim, cross attention and decoding with q_offset;
// - decoding token by token against the KV cache equals the full causal forward pass;
// - the backward pass and Rope against fp64 central differences; Rope against its formula and its inverse;
// - the half types equal the fp32 computation of the same values rounded once (bit for bit on the CPU);
// - the CPU backend's results are the same bits on 1 and 4 threads;
// - INVALID_ARGUMENT for bad shapes, types, sizes and overlaps, with nothing touched;
// - the CUDA backend (CudaAttentionTest, gpu label; skipped without a device) against the CPU backend for
//   every case and element type, against the GEMM reference on the device, and run to run.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
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

struct Case {
  std::string name;
  AttentionShape shape;
};

AttentionShape Shape(int64_t batch, int64_t q_len, int64_t kv_len, int64_t heads, int64_t kv_heads,
                     int64_t head_dim) {
  AttentionShape s;
  s.batch = batch;
  s.q_len = q_len;
  s.kv_len = kv_len;
  s.heads = heads;
  s.kv_heads = kv_heads;
  s.head_dim = head_dim;
  return s;
}

// Every mask, ALiBi, MHA / GQA / MQA, odd and typical head_dim, cross attention and decoding.
std::vector<Case> Cases() {
  std::vector<Case> cases;
  cases.push_back({"full", Shape(2, 5, 5, 2, 2, 3)});
  AttentionShape s = Shape(2, 6, 6, 2, 2, 16);
  s.causal = true;
  cases.push_back({"causal", s});
  s = Shape(1, 7, 7, 2, 2, 3);
  s.causal = true;
  s.window = 3;
  cases.push_back({"causal_window", s});
  s = Shape(2, 6, 6, 2, 1, 4);
  s.window = 2;
  cases.push_back({"bidirectional_window", s});
  s = Shape(1, 6, 6, 4, 4, 3);
  s.causal = true;
  s.alibi = true;
  cases.push_back({"causal_alibi", s});
  s = Shape(1, 5, 5, 3, 3, 2);
  s.alibi = true;
  s.scale = 0.7;
  cases.push_back({"bidirectional_alibi_scale", s});
  s = Shape(2, 5, 5, 4, 2, 16);
  s.causal = true;
  cases.push_back({"gqa", s});
  s = Shape(1, 5, 5, 4, 1, 3);
  cases.push_back({"mqa", s});
  s = Shape(2, 3, 7, 2, 2, 3);
  s.causal = true;
  s.q_offset = 4;
  cases.push_back({"chunk_after_cache", s});
  s = Shape(2, 1, 6, 4, 2, 3);
  s.causal = true;
  s.q_offset = 5;
  s.alibi = true;
  cases.push_back({"decode_gqa_alibi", s});
  s = Shape(1, 1, 6, 2, 1, 16);
  s.causal = true;
  s.q_offset = 5;
  s.window = 4;
  cases.push_back({"decode_mqa_window", s});
  s = Shape(1, 3, 4, 2, 2, 3);  // positions 4, 5, 6 with a window of 2: the last two see no key
  s.causal = true;
  s.q_offset = 4;
  s.window = 2;
  cases.push_back({"queries_without_keys", s});
  return cases;
}

// Whether the query at position p sees key j: the definition of AttentionShape, written out independently
// of kernels/element.h.
bool Visible(const AttentionShape& s, int64_t p, int64_t j) {
  if (s.causal && j > p) return false;
  if (s.window > 0 && std::abs(p - j) >= s.window) return false;
  return true;
}

struct AttentionResult {
  std::vector<double> o, lse;
};

// The GEMM-based reference on `backend` (fp64): per (batch, head) the score matrix scale Q K^T by
// Backend::Gemm, the mask, ALiBi and softmax on the host in fp64, then O = P V by Backend::Gemm.
AttentionResult GemmReference(Backend& backend, const AttentionShape& s, const std::vector<double>& q,
                              const std::vector<double>& k, const std::vector<double>& v) {
  const int64_t dim = s.head_dim, group = s.heads / s.kv_heads;
  const double scale = s.scale != 0 ? s.scale : 1.0 / std::sqrt(static_cast<double>(dim));
  AttentionResult out{std::vector<double>(Size(s.q_elements()), 0.0),
                      std::vector<double>(Size(s.lse_elements()), -INFINITY)};
  if (s.q_len == 0) return out;
  for (int64_t b = 0; b < s.batch; ++b) {
    for (int64_t h = 0; h < s.heads; ++h) {
      const int64_t g = h / group;
      std::vector<double> qm(Size(s.q_len * dim)), km(Size(std::max<int64_t>(1, s.kv_len) * dim), 0.0),
          vm(km.size(), 0.0);
      for (int64_t i = 0; i < s.q_len; ++i) {
        for (int64_t d = 0; d < dim; ++d)
          qm[Size(i * dim + d)] = q[Size(((b * s.q_len + i) * s.heads + h) * dim + d)];
      }
      for (int64_t j = 0; j < s.kv_len; ++j) {
        for (int64_t d = 0; d < dim; ++d) {
          const size_t at = Size(((b * s.kv_len + j) * s.kv_heads + g) * dim + d);
          km[Size(j * dim + d)] = k[at];
          vm[Size(j * dim + d)] = v[at];
        }
      }
      const int64_t kv = std::max<int64_t>(1, s.kv_len);
      Buffer qb = ktest::Make(backend, kF64, qm), kb = ktest::Make(backend, kF64, km),
             vb = ktest::Make(backend, kF64, vm), scores = ktest::Zeros(backend, kF64, Size(s.q_len * kv)),
             ob = ktest::Zeros(backend, kF64, Size(s.q_len * dim));
      EXPECT_TRUE(backend
                      .Gemm(Transpose::kNo, Transpose::kYes, s.q_len, kv, dim, scale, qb.view(), kb.view(),
                            0.0, scores.view())
                      .ok());
      std::vector<double> p = ktest::Get(backend, scores.view());
      const double slope =
          s.alibi ? std::pow(2.0, -8.0 * static_cast<double>(h + 1) / static_cast<double>(s.heads)) : 0;
      for (int64_t i = 0; i < s.q_len; ++i) {
        const int64_t pos = s.q_offset + i;
        double m = -INFINITY;
        for (int64_t j = 0; j < kv; ++j) {
          double& x = p[Size(i * kv + j)];
          x = j < s.kv_len && Visible(s, pos, j) ? x - slope * static_cast<double>(std::abs(pos - j))
                                                 : -INFINITY;
          m = std::max(m, x);
        }
        double sum = 0;
        for (int64_t j = 0; j < kv; ++j) {
          double& x = p[Size(i * kv + j)];
          x = m == -INFINITY ? 0.0 : std::exp(x - m);
          sum += x;
        }
        for (int64_t j = 0; j < kv; ++j) p[Size(i * kv + j)] = sum > 0 ? p[Size(i * kv + j)] / sum : 0.0;
        out.lse[Size((b * s.heads + h) * s.q_len + i)] = sum > 0 ? m + std::log(sum) : -INFINITY;
      }
      Buffer pb = ktest::Make(backend, kF64, p);
      EXPECT_TRUE(backend
                      .Gemm(Transpose::kNo, Transpose::kNo, s.q_len, dim, kv, 1.0, pb.view(), vb.view(), 0.0,
                            ob.view())
                      .ok());
      const std::vector<double> om = ktest::Get(backend, ob.view());
      for (int64_t i = 0; i < s.q_len; ++i) {
        for (int64_t d = 0; d < dim; ++d)
          out.o[Size(((b * s.q_len + i) * s.heads + h) * dim + d)] = om[Size(i * dim + d)];
      }
    }
  }
  return out;
}

std::unique_ptr<Backend> Cpu(int threads = 1) {
  auto made = MakeBackend(BackendKind::kCpu, BackendOptions{.threads = threads});
  EXPECT_TRUE(made.ok()) << made.status().ToString();
  return made.ok() ? std::move(*made) : nullptr;
}

// The inputs of one case: q, k, v, and the upstream gradient dout, random and rounded to dtype.
struct Inputs {
  std::vector<double> q, k, v, dout;
};

Inputs RandomInputs(DType dtype, const AttentionShape& s, uint64_t seed) {
  return Inputs{ktest::RandomValues(dtype, Size(s.q_elements()), seed),
                ktest::RandomValues(dtype, Size(s.kv_elements()), seed + 1),
                ktest::RandomValues(dtype, Size(s.kv_elements()), seed + 2),
                ktest::RandomValues(dtype, Size(s.q_elements()), seed + 3)};
}

// Everything one forward and backward pass produce on `backend` in `dtype`: o, lse, dq, dk, dv. With
// o_override, the backward pass takes that o instead of the forward pass's (values of dtype).
struct Outputs {
  std::vector<double> o, lse, dq, dk, dv;
  std::vector<std::vector<uint8_t>> bytes;  // the same, bit for bit
};

Outputs RunPasses(Backend& backend, DType dtype, const AttentionShape& s, const Inputs& in,
                  const std::vector<double>* o_override = nullptr) {
  const DType acc = AccumulationType(dtype);
  Buffer q = ktest::Make(backend, dtype, in.q), k = ktest::Make(backend, dtype, in.k),
         v = ktest::Make(backend, dtype, in.v), dout = ktest::Make(backend, dtype, in.dout),
         o = ktest::Zeros(backend, dtype, Size(s.q_elements())),
         lse = ktest::Zeros(backend, acc, Size(s.lse_elements())),
         dq = ktest::Zeros(backend, dtype, Size(s.q_elements())),
         dk = ktest::Zeros(backend, dtype, Size(s.kv_elements())),
         dv = ktest::Zeros(backend, dtype, Size(s.kv_elements()));
  Status st = backend.AttentionForward(s, q.view(), k.view(), v.view(), o.view(), lse.view());
  EXPECT_TRUE(st.ok()) << st.ToString();
  Buffer o_used = o_override != nullptr ? ktest::Make(backend, dtype, *o_override) : Buffer();
  st = backend.AttentionBackward(s, q.view(), k.view(), v.view(),
                                 o_override != nullptr ? o_used.view() : o.view(), dout.view(), lse.view(),
                                 dq.view(), dk.view(), dv.view());
  EXPECT_TRUE(st.ok()) << st.ToString();
  Outputs out;
  out.o = ktest::Get(backend, o.view());
  out.lse = ktest::Get(backend, lse.view());
  out.dq = ktest::Get(backend, dq.view());
  out.dk = ktest::Get(backend, dk.view());
  out.dv = ktest::Get(backend, dv.view());
  for (const Buffer* b : {&o, &lse, &dq, &dk, &dv}) out.bytes.push_back(ktest::GetBytes(backend, b->view()));
  return out;
}

// |got - want| <= atol + rel |want| element by element; infinities must match exactly.
void ExpectNear(const std::vector<double>& got, const std::vector<double>& want, double atol, double rel,
                const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < got.size(); ++i) {
    if (std::isinf(want[i])) {
      EXPECT_EQ(got[i], want[i]) << what << " [" << i << "]";
    } else {
      EXPECT_NEAR(got[i], want[i], atol + rel * std::fabs(want[i])) << what << " [" << i << "]";
    }
  }
}

// --- Forward against the GEMM reference ---

TEST(AttentionTest, ForwardMatchesTheGemmReferenceForEveryMaskAndHeadLayout) {
  auto cpu = Cpu();
  for (const Case& c : Cases()) {
    const Inputs in = RandomInputs(kF64, c.shape, 10);
    const Outputs got = RunPasses(*cpu, kF64, c.shape, in);
    const AttentionResult want = GemmReference(*cpu, c.shape, in.q, in.k, in.v);
    ExpectNear(got.o, want.o, 1e-12, 1e-12, c.name + " o");
    ExpectNear(got.lse, want.lse, 1e-12, 1e-12, c.name + " lse");
  }
}

TEST(AttentionTest, QueriesThatSeeNoKeyGetZeroAndMinusInfinity) {
  auto cpu = Cpu();
  const Case c = Cases().back();
  ASSERT_EQ(c.name, "queries_without_keys");
  const Outputs got = RunPasses(*cpu, kF32, c.shape, RandomInputs(kF32, c.shape, 11));
  // Per head: positions 4 (sees key 3), 5 and 6 (see nothing).
  for (int64_t h = 0; h < 2; ++h) {
    EXPECT_TRUE(std::isfinite(got.lse[Size(h * 3)]));
    for (int64_t i = 1; i < 3; ++i) EXPECT_EQ(got.lse[Size(h * 3 + i)], -INFINITY);
  }
  for (int64_t i = 1; i < 3; ++i) {
    for (int64_t x = 0; x < 2 * 3; ++x) EXPECT_EQ(got.o[Size(i * 6 + x)], 0.0);
    for (int64_t x = 0; x < 2 * 3; ++x) EXPECT_EQ(got.dq[Size(i * 6 + x)], 0.0);
  }
  // With no keys at all, every query is such a query.
  AttentionShape empty = Shape(2, 3, 0, 2, 1, 4);
  const Outputs none = RunPasses(*cpu, kF32, empty, RandomInputs(kF32, empty, 12));
  EXPECT_EQ(none.o, std::vector<double>(Size(empty.q_elements()), 0.0));
  EXPECT_EQ(none.lse, std::vector<double>(Size(empty.lse_elements()), -INFINITY));
  EXPECT_EQ(none.dq, std::vector<double>(Size(empty.q_elements()), 0.0));
}

TEST(AttentionTest, DecodingTokenByTokenEqualsTheFullCausalPass) {
  auto cpu = Cpu();
  for (int64_t window : {0, 3}) {
    AttentionShape full = Shape(1, 9, 9, 4, 2, 5);
    full.causal = true;
    full.alibi = true;
    full.window = window;
    const Inputs in = RandomInputs(kF64, full, 20);
    const Outputs want = RunPasses(*cpu, kF64, full, in);
    const int64_t row = full.heads * full.head_dim, kv_row = full.kv_heads * full.head_dim;
    for (int64_t t = 0; t < full.q_len; ++t) {
      AttentionShape step = full;
      step.q_len = 1;
      step.kv_len = t + 1;
      step.q_offset = t;
      Buffer q = ktest::Make(*cpu, kF64,
                             std::vector<double>(in.q.begin() + t * row, in.q.begin() + (t + 1) * row)),
             k = ktest::Make(*cpu, kF64, std::vector<double>(in.k.begin(), in.k.begin() + (t + 1) * kv_row)),
             v = ktest::Make(*cpu, kF64, std::vector<double>(in.v.begin(), in.v.begin() + (t + 1) * kv_row)),
             o = ktest::Zeros(*cpu, kF64, Size(row)), lse = ktest::Zeros(*cpu, kF64, Size(full.heads));
      ASSERT_TRUE(cpu->AttentionForward(step, q.view(), k.view(), v.view(), o.view(), lse.view()).ok());
      const std::vector<double> got = ktest::Get(*cpu, o.view()), got_lse = ktest::Get(*cpu, lse.view());
      for (int64_t x = 0; x < row; ++x) {
        EXPECT_NEAR(got[Size(x)], want.o[Size(t * row + x)], 1e-12) << "window " << window << " token " << t;
      }
      for (int64_t h = 0; h < full.heads; ++h) {
        EXPECT_NEAR(got_lse[Size(h)], want.lse[Size(h * full.q_len + t)], 1e-12) << "token " << t;
      }
    }
  }
}

// --- Backward against central differences (fp64) ---

TEST(AttentionTest, BackwardMatchesFiniteDifferencesForEveryMaskAndHeadLayout) {
  auto cpu = Cpu();
  for (const Case& c : Cases()) {
    const AttentionShape& s = c.shape;
    const Inputs in = RandomInputs(kF64, s, 30);
    // L = sum dout * o, whose gradient AttentionBackward computes from dout.
    auto loss = [&](const std::vector<double>& q, const std::vector<double>& k,
                    const std::vector<double>& v) {
      Buffer qb = ktest::Make(*cpu, kF64, q), kb = ktest::Make(*cpu, kF64, k),
             vb = ktest::Make(*cpu, kF64, v), o = ktest::Zeros(*cpu, kF64, Size(s.q_elements())),
             lse = ktest::Zeros(*cpu, kF64, Size(s.lse_elements()));
      EXPECT_TRUE(cpu->AttentionForward(s, qb.view(), kb.view(), vb.view(), o.view(), lse.view()).ok());
      return ktest::Dot(in.dout, ktest::Get(*cpu, o.view()));
    };
    const Outputs got = RunPasses(*cpu, kF64, s, in);
    ktest::CheckAgainstFiniteDifferences(
        c.name + " dq", in.q, [&](const std::vector<double>& x) { return loss(x, in.k, in.v); }, got.dq);
    ktest::CheckAgainstFiniteDifferences(
        c.name + " dk", in.k, [&](const std::vector<double>& x) { return loss(in.q, x, in.v); }, got.dk);
    ktest::CheckAgainstFiniteDifferences(
        c.name + " dv", in.v, [&](const std::vector<double>& x) { return loss(in.q, in.k, x); }, got.dv);
  }
}

// --- Rope ---

void RopeReference(int64_t rows, int64_t len, int64_t heads, int64_t dim, int64_t pos_offset, double base,
                   std::vector<double>& x) {
  const int64_t half = dim / 2;
  for (int64_t r = 0; r < rows; ++r) {
    const double pos = static_cast<double>(pos_offset + r % len);
    for (int64_t h = 0; h < heads; ++h) {
      double* row = x.data() + (r * heads + h) * dim;
      for (int64_t i = 0; i < half; ++i) {
        const double angle = pos * std::pow(base, -2.0 * static_cast<double>(i) / static_cast<double>(dim));
        const double a = row[i], b = row[i + half];
        row[i] = a * std::cos(angle) - b * std::sin(angle);
        row[i + half] = a * std::sin(angle) + b * std::cos(angle);
      }
    }
  }
}

TEST(RopeTest, MatchesTheFormulaHonoursTheOffsetAndInvertsExactly) {
  auto cpu = Cpu();
  const int64_t batch = 2, len = 5, heads = 3, dim = 8;
  for (int64_t offset : {0, 7}) {
    for (double base : {10000.0, 500.0}) {
      const std::vector<double> x0 = ktest::RandomValues(kF64, Size(batch * len * heads * dim), 40);
      Buffer x = ktest::Make(*cpu, kF64, x0);
      ASSERT_TRUE(cpu->Rope(batch, len, heads, dim, offset, base, false, x.view()).ok());
      std::vector<double> want = x0;
      RopeReference(batch * len, len, heads, dim, offset, base, want);
      ExpectNear(ktest::Get(*cpu, x.view()), want, 1e-13, 1e-13, "rope offset " + std::to_string(offset));
      ASSERT_TRUE(cpu->Rope(batch, len, heads, dim, offset, base, true, x.view()).ok());
      ExpectNear(ktest::Get(*cpu, x.view()), x0, 1e-13, 1e-13, "rope inverse");
    }
  }
  // Position 0 is the identity; the offset moves every token.
  const std::vector<double> x0 = ktest::RandomValues(kF64, 2 * 4, 41);
  Buffer x = ktest::Make(*cpu, kF64, x0);
  ASSERT_TRUE(cpu->Rope(1, 1, 2, 4, 0, 10000.0, false, x.view()).ok());
  EXPECT_EQ(ktest::Get(*cpu, x.view()), x0);
  ASSERT_TRUE(cpu->Rope(1, 1, 2, 4, 3, 10000.0, false, x.view()).ok());
  EXPECT_NE(ktest::Get(*cpu, x.view()), x0);
}

// Rope is linear: L = w . Rope(x) has gradient Rope(inverse)(w), its adjoint.
TEST(RopeTest, InverseIsTheGradientByFiniteDifferences) {
  auto cpu = Cpu();
  const int64_t batch = 2, len = 3, heads = 2, dim = 6, offset = 2;
  const size_t n = Size(batch * len * heads * dim);
  const std::vector<double> x0 = ktest::RandomValues(kF64, n, 42), w = ktest::RandomValues(kF64, n, 43);
  Buffer g = ktest::Make(*cpu, kF64, w);
  ASSERT_TRUE(cpu->Rope(batch, len, heads, dim, offset, 100.0, true, g.view()).ok());
  ktest::CheckAgainstFiniteDifferences(
      "rope", x0,
      [&](const std::vector<double>& x) {
        Buffer xb = ktest::Make(*cpu, kF64, x);
        EXPECT_TRUE(cpu->Rope(batch, len, heads, dim, offset, 100.0, false, xb.view()).ok());
        return ktest::Dot(w, ktest::Get(*cpu, xb.view()));
      },
      ktest::Get(*cpu, g.view()));
}

// --- Half types: the fp32 computation of the same values, rounded once ---

class AttentionHalfTest : public ::testing::TestWithParam<DType> {};

TEST_P(AttentionHalfTest, EqualsTheFp32ComputationRoundedOnce) {
  const DType dt = GetParam();
  auto cpu = Cpu();
  for (const Case& c : Cases()) {
    const Inputs in = RandomInputs(dt, c.shape, 50);  // values of dt, exact in fp32
    const Outputs half = RunPasses(*cpu, dt, c.shape, in);
    // The fp32 backward pass gets the o the half forward pass stored, as the half backward pass does.
    const Outputs single = RunPasses(*cpu, kF32, c.shape, in, &half.o);
    EXPECT_EQ(half.o, ktest::RoundAll(dt, single.o)) << c.name;
    EXPECT_EQ(half.lse, single.lse) << c.name;
    EXPECT_EQ(half.dq, ktest::RoundAll(dt, single.dq)) << c.name;
    EXPECT_EQ(half.dk, ktest::RoundAll(dt, single.dk)) << c.name;
    EXPECT_EQ(half.dv, ktest::RoundAll(dt, single.dv)) << c.name;
  }
  // Rope likewise.
  const std::vector<double> x0 = ktest::RandomValues(dt, 2 * 5 * 3 * 8, 51);
  Buffer x = ktest::Make(*cpu, dt, x0), x32 = ktest::Make(*cpu, kF32, x0);
  ASSERT_TRUE(cpu->Rope(2, 5, 3, 8, 4, 10000.0, false, x.view()).ok());
  ASSERT_TRUE(cpu->Rope(2, 5, 3, 8, 4, 10000.0, false, x32.view()).ok());
  EXPECT_EQ(ktest::Get(*cpu, x.view()), ktest::RoundAll(dt, ktest::Get(*cpu, x32.view())));
}

INSTANTIATE_TEST_SUITE_P(Halves, AttentionHalfTest, ::testing::Values(kF16, kBF16),
                         [](const ::testing::TestParamInfo<DType>& param_info) {
                           return std::string(DTypeName(param_info.param));
                         });

// --- Threads: each output is computed by one thread alone, so the thread count changes no bit ---

TEST(AttentionThreadsTest, ThreadCountChangesNoResult) {
  AttentionShape s = Shape(4, 70, 70, 4, 2, 16);  // large enough to split over 4 threads
  s.causal = true;
  s.alibi = true;
  const Inputs in32 = RandomInputs(kF32, s, 60), in16 = RandomInputs(kBF16, s, 61);
  std::vector<std::vector<uint8_t>> results[2];
  for (int t = 0; t < 2; ++t) {
    auto cpu = Cpu(t == 0 ? 1 : 4);
    for (DType dt : {kF32, kBF16}) {
      Outputs out = RunPasses(*cpu, dt, s, dt == kF32 ? in32 : in16);
      for (auto& b : out.bytes) results[t].push_back(std::move(b));
      Buffer x = ktest::Make(*cpu, dt, dt == kF32 ? in32.q : in16.q);
      ASSERT_TRUE(cpu->Rope(s.batch, s.q_len, s.heads, s.head_dim, 3, 10000.0, false, x.view()).ok());
      results[t].push_back(ktest::GetBytes(*cpu, x.view()));
    }
  }
  ASSERT_EQ(results[0].size(), results[1].size());
  for (size_t i = 0; i < results[0].size(); ++i) EXPECT_EQ(results[0][i], results[1][i]) << "output " << i;
}

// --- Bad arguments: INVALID_ARGUMENT naming the operation and the argument, nothing touched ---

#define EXPECT_INVALID(s, text)                                                    \
  do {                                                                             \
    const Status status_ = (s);                                                    \
    EXPECT_EQ(status_.code(), StatusCode::kInvalidArgument) << status_.ToString(); \
    EXPECT_NE(status_.message().find(text), std::string::npos)                     \
        << "message '" << status_.message() << "' lacks '" << (text) << "'";       \
  } while (false)

TEST(AttentionTest, RejectsBadShapesTypesSizesAndOverlaps) {
  auto cpu = Cpu();
  const AttentionShape s = Shape(2, 3, 4, 4, 2, 8);
  const size_t nq = Size(s.q_elements()), nkv = Size(s.kv_elements()), nl = Size(s.lse_elements());
  Buffer q = ktest::Make(*cpu, kF32, std::vector<double>(nq, 1.0)),
         k = ktest::Make(*cpu, kF32, std::vector<double>(nkv, 1.0)),
         v = ktest::Make(*cpu, kF32, std::vector<double>(nkv, 1.0)),
         o = ktest::Make(*cpu, kF32, std::vector<double>(nq, 5.0)),
         lse = ktest::Make(*cpu, kF32, std::vector<double>(nl, 6.0)), k16 = ktest::Zeros(*cpu, kF16, nkv),
         lse64 = ktest::Zeros(*cpu, kF64, nl), labels = ktest::Zeros(*cpu, kI32, nq),
         dq = ktest::Make(*cpu, kF32, std::vector<double>(nq, 7.0)),
         dk = ktest::Make(*cpu, kF32, std::vector<double>(nkv, 8.0)),
         dv = ktest::Make(*cpu, kF32, std::vector<double>(nkv, 9.0));
  auto forward = [&](const AttentionShape& shape) {
    return cpu->AttentionForward(shape, q.view(), k.view(), v.view(), o.view(), lse.view());
  };
  AttentionShape bad = s;
  bad.kv_heads = 3;
  EXPECT_INVALID(forward(bad), "AttentionForward: shape.heads = 4 is not a multiple of shape.kv_heads = 3");
  bad = s;
  bad.kv_heads = 0;
  EXPECT_INVALID(forward(bad), "AttentionForward: shape.kv_heads = 0");
  bad = s;
  bad.head_dim = 129;
  EXPECT_INVALID(forward(bad), "AttentionForward: shape.head_dim = 129 exceeds 128");
  bad = s;
  bad.window = -1;
  EXPECT_INVALID(forward(bad), "AttentionForward: shape.window = -1");
  bad = s;
  bad.q_offset = -2;
  EXPECT_INVALID(forward(bad), "AttentionForward: shape.q_offset = -2");
  bad = s;
  bad.batch = -1;
  EXPECT_INVALID(forward(bad), "AttentionForward: shape.batch = -1");
  bad = s;
  bad.scale = -0.5;
  EXPECT_INVALID(forward(bad), "AttentionForward: shape.scale");
  bad.scale = std::numeric_limits<double>::quiet_NaN();
  EXPECT_INVALID(forward(bad), "AttentionForward: shape.scale");
  bad = s;
  bad.batch = int64_t{1} << 20;
  bad.q_len = int64_t{1} << 12;
  EXPECT_INVALID(forward(bad), "AttentionForward: shape's batch * q_len");
  bad = s;
  bad.q_len = 4;  // q holds 2 * 3 * 4 * 8 elements
  EXPECT_INVALID(forward(bad), "AttentionForward: q holds 192 elements, needs 256");
  EXPECT_INVALID(cpu->AttentionForward(s, q.view(), k16.view(), v.view(), o.view(), lse.view()),
                 "AttentionForward: k has element type f16, expected f32");
  EXPECT_INVALID(cpu->AttentionForward(s, q.view(), k.view(), v.view(), o.view(), lse64.view()),
                 "AttentionForward: lse has element type f64, expected f32");
  EXPECT_INVALID(cpu->AttentionForward(s, labels.view(), k.view(), v.view(), o.view(), lse.view()),
                 "AttentionForward: q has element type i32");
  EXPECT_INVALID(cpu->AttentionForward(s, q.view(), k.view(), v.Sub(0, nkv - 1), o.view(), lse.view()),
                 "AttentionForward: v holds");
  EXPECT_INVALID(cpu->AttentionForward(s, q.view(), k.view(), v.view(), q.view(), lse.view()),
                 "AttentionForward: q and o overlap");
  auto backward = [&](const AttentionShape& shape, View dq_view, View dk_view) {
    return cpu->AttentionBackward(shape, q.view(), k.view(), v.view(), o.view(), o.view(), lse.view(),
                                  dq_view, dk_view, dv.view());
  };
  bad = s;
  bad.heads = 3;
  EXPECT_INVALID(backward(bad, dq.view(), dk.view()), "AttentionBackward: shape.heads = 3");
  EXPECT_INVALID(backward(s, dq.view(), dk.Sub(0, 3)), "AttentionBackward: dk holds 3 elements");
  EXPECT_INVALID(backward(s, dq.view(), dv.view()), "AttentionBackward: dk and dv overlap");
  EXPECT_INVALID(backward(s, o.view(), dk.view()), "AttentionBackward: o and dq overlap");
  EXPECT_INVALID(cpu->AttentionBackward(s, q.view(), k.view(), v.view(), o.view(), o.view(), lse64.view(),
                                        dq.view(), dk.view(), dv.view()),
                 "AttentionBackward: lse has element type f64");
  // Rope.
  EXPECT_INVALID(cpu->Rope(2, 3, 4, 7, 0, 10000.0, false, q.view()), "Rope: head_dim = 7 must be even");
  EXPECT_INVALID(cpu->Rope(2, 3, 4, 8, -1, 10000.0, false, q.view()), "Rope: pos_offset = -1");
  EXPECT_INVALID(cpu->Rope(2, 3, 4, 8, 0, 0.0, false, q.view()), "Rope: base = 0");
  EXPECT_INVALID(cpu->Rope(2, 3, 4, 8, 0, INFINITY, false, q.view()), "Rope: base = inf");
  EXPECT_INVALID(cpu->Rope(2, 4, 4, 8, 0, 10000.0, false, q.view()), "Rope: x holds 192 elements, needs 256");
  EXPECT_INVALID(cpu->Rope(2, 3, 4, 8, 0, 10000.0, false, labels.view()), "Rope: x has element type i32");
  // Nothing was touched.
  EXPECT_EQ(ktest::Get(*cpu, o.view()), std::vector<double>(nq, 5.0));
  EXPECT_EQ(ktest::Get(*cpu, lse.view()), std::vector<double>(nl, 6.0));
  EXPECT_EQ(ktest::Get(*cpu, q.view()), std::vector<double>(nq, 1.0));
  EXPECT_EQ(ktest::Get(*cpu, dq.view()), std::vector<double>(nq, 7.0));
  EXPECT_EQ(ktest::Get(*cpu, dk.view()), std::vector<double>(nkv, 8.0));
  EXPECT_EQ(ktest::Get(*cpu, dv.view()), std::vector<double>(nkv, 9.0));
}

// --- The CUDA backend against the CPU backend (device only; gpu label) ---

class CudaAttentionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Result<std::unique_ptr<Backend>> backend = MakeBackend(BackendKind::kCuda, BackendOptions{});
    if (!backend.ok()) GTEST_SKIP() << "no CUDA backend here: " << backend.status().ToString();
    gpu_ = std::move(*backend);
    cpu_ = Cpu();
  }

  std::unique_ptr<Backend> gpu_, cpu_;
};

// The cases above, plus long sequences that take many tiles (and the largest head_dim).
std::vector<Case> DeviceCases() {
  std::vector<Case> cases = Cases();
  AttentionShape s = Shape(2, 150, 150, 4, 2, 64);
  s.causal = true;
  cases.push_back({"long_causal_gqa_64", s});
  s = Shape(1, 97, 97, 2, 2, 128);
  s.window = 20;
  s.alibi = true;
  cases.push_back({"long_window_alibi_128", s});
  s = Shape(1, 33, 300, 3, 1, 40);
  s.causal = true;
  s.q_offset = 267;
  cases.push_back({"long_chunk_mqa_40", s});
  return cases;
}

// Tolerances of the device against the CPU: the online softmax sums in another order and the device's
// exp differs from the host's by an ulp or two, so fp32 agrees to a few ulps of the largest terms, and a
// half result may round to the neighbouring value.
double AbsoluteTolerance(DType dt) {
  switch (dt) {
    case DType::kF64:
      return 1e-12;
    case DType::kF32:
      return 2e-5;
    default:
      return 4 * ktest::Eps(dt);
  }
}

TEST_F(CudaAttentionTest, ForwardBackwardAndRopeMatchTheCpuInEveryType) {
  for (DType dt : {kF32, kF64, kF16, kBF16}) {
    for (const Case& c : DeviceCases()) {
      const Inputs in = RandomInputs(dt, c.shape, 70);
      const Outputs cpu = RunPasses(*cpu_, dt, c.shape, in);
      // Both backward passes from the CPU's o, so that they differ only by their own arithmetic.
      const Outputs gpu = RunPasses(*gpu_, dt, c.shape, in, &cpu.o);
      const double atol = AbsoluteTolerance(dt), rel = dt == kF64 ? 1e-12 : 2 * ktest::Eps(dt) + 1e-5;
      const std::string what = std::string(DTypeName(dt)) + " " + c.name;
      ExpectNear(gpu.o, cpu.o, atol, rel, what + " o");
      ExpectNear(gpu.lse, cpu.lse, atol, rel, what + " lse");
      ExpectNear(gpu.dq, cpu.dq, atol, rel, what + " dq");
      ExpectNear(gpu.dk, cpu.dk, atol, rel, what + " dk");
      ExpectNear(gpu.dv, cpu.dv, atol, rel, what + " dv");
    }
    const std::vector<double> x0 = ktest::RandomValues(dt, 3 * 7 * 2 * 10, 71);
    Buffer xc = ktest::Make(*cpu_, dt, x0), xg = ktest::Make(*gpu_, dt, x0);
    for (bool inverse : {false, true}) {
      ASSERT_TRUE(cpu_->Rope(3, 7, 2, 10, 1000, 10000.0, inverse, xc.view()).ok());
      ASSERT_TRUE(gpu_->Rope(3, 7, 2, 10, 1000, 10000.0, inverse, xg.view()).ok());
      ExpectNear(ktest::Get(*gpu_, xg.view()), ktest::Get(*cpu_, xc.view()), AbsoluteTolerance(dt),
                 dt == kF64 ? 1e-12 : 2 * ktest::Eps(dt), std::string(DTypeName(dt)) + " rope");
    }
  }
}

TEST_F(CudaAttentionTest, ForwardMatchesTheGemmReferenceOnTheDevice) {
  for (const Case& c : DeviceCases()) {
    const Inputs in = RandomInputs(kF64, c.shape, 80);
    const Outputs got = RunPasses(*gpu_, kF64, c.shape, in);
    const AttentionResult want = GemmReference(*gpu_, c.shape, in.q, in.k, in.v);
    ExpectNear(got.o, want.o, 1e-12, 1e-12, c.name + " o");
    ExpectNear(got.lse, want.lse, 1e-12, 1e-12, c.name + " lse");
  }
}

TEST_F(CudaAttentionTest, RepeatsBitForBit) {
  for (const Case& c : DeviceCases()) {
    const Inputs in = RandomInputs(kBF16, c.shape, 90);
    const Outputs first = RunPasses(*gpu_, kBF16, c.shape, in), second = RunPasses(*gpu_, kBF16, c.shape, in);
    EXPECT_EQ(first.bytes, second.bytes) << c.name;
  }
}

}  // namespace
}  // namespace hpo::kernels
