// Tests kernels/backend.cc: the factory's choices, the names and properties of element types, the optimizer
// coefficients, the byte accounting of Buffers, host staging memory and the default TimeMs.
#include "kernels/backend.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "kernels/cuda_device.h"
#include "tests/kernels/kernels_test_util.h"

namespace hpo::kernels {
namespace {

TEST(BackendFactoryTest, CpuIsAlwaysThere) {
  auto backend = MakeBackend(BackendKind::kCpu, BackendOptions{});
  ASSERT_TRUE(backend.ok()) << backend.status().ToString();
  EXPECT_EQ((*backend)->kind(), BackendKind::kCpu);
  EXPECT_EQ(MakeBackend(BackendKind::kCpu, BackendOptions{.threads = 0}).status().code(),
            StatusCode::kInvalidArgument);
}

TEST(BackendFactoryTest, AutoPicksCudaOnlyWhereADeviceAnswers) {
  auto backend = MakeBackend(BackendKind::kAuto, BackendOptions{});
  ASSERT_TRUE(backend.ok()) << backend.status().ToString();
  if (!CudaCompiledIn() || CudaDeviceCount() == 0) {
    EXPECT_EQ((*backend)->kind(), BackendKind::kCpu);
  } else {
    // A device answers: CUDA, unless opening it failed, which falls back to the CPU.
    EXPECT_EQ((*backend)->kind(), MakeBackend(BackendKind::kCuda, BackendOptions{}).ok() ? BackendKind::kCuda
                                                                                         : BackendKind::kCpu);
  }
}

TEST(BackendFactoryTest, CudaWithoutDeviceIsFailedPrecondition) {
  if (CudaDeviceCount() > 0) GTEST_SKIP() << "a CUDA device answers here";
  const Status s = MakeBackend(BackendKind::kCuda, BackendOptions{}).status();
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition) << s.ToString();
  EXPECT_FALSE(CudaDeviceName(0).ok());
}

TEST(BackendFactoryTest, KindNamesRoundTrip) {
  for (BackendKind kind : {BackendKind::kAuto, BackendKind::kCpu, BackendKind::kCuda}) {
    auto parsed = ParseBackendKind(BackendKindName(kind));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, kind);
  }
  const Status s = ParseBackendKind("tpu").status();
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("tpu"), std::string::npos);
}

TEST(BackendTypesTest, SizesNamesAndKinds) {
  struct Row {
    DType dtype;
    size_t size;
    std::string_view name;
    bool floating, half;
    DType accumulation;
  };
  const Row rows[] = {{DType::kF32, 4, "f32", true, false, DType::kF32},
                      {DType::kF64, 8, "f64", true, false, DType::kF64},
                      {DType::kI32, 4, "i32", false, false, DType::kF32},
                      {DType::kF16, 2, "f16", true, true, DType::kF32},
                      {DType::kBF16, 2, "bf16", true, true, DType::kF32}};
  for (const Row& row : rows) {
    EXPECT_EQ(DTypeSize(row.dtype), row.size) << row.name;
    EXPECT_EQ(DTypeName(row.dtype), row.name);
    EXPECT_EQ(IsFloating(row.dtype), row.floating) << row.name;
    EXPECT_EQ(IsHalf(row.dtype), row.half) << row.name;
    if (row.floating) {
      EXPECT_EQ(AccumulationType(row.dtype), row.accumulation) << row.name;
    }
  }
  EXPECT_EQ(DTypeOf<Half>(), DType::kF16);
  EXPECT_EQ(DTypeOf<BFloat16>(), DType::kBF16);
  EXPECT_EQ(ActivationName(Activation::kIdentity), "identity");
  EXPECT_EQ(ActivationName(Activation::kRelu), "relu");
  EXPECT_EQ(ActivationName(Activation::kGelu), "gelu");
  EXPECT_EQ(ActivationName(Activation::kTanh), "tanh");
  EXPECT_EQ(ActivationName(Activation::kSilu), "silu");
}

TEST(BackendCoefficientsTest, AdamW) {
  const AdamWHyper hyper{.lr = 0.1, .beta1 = 0.9, .beta2 = 0.99, .eps = 1e-8, .weight_decay = 0.5};
  const auto c = MakeAdamWCoeffs<double>(hyper, 2, 0.125);
  EXPECT_NEAR(c.bias_correction1, 1 - 0.81, 1e-15);
  EXPECT_NEAR(c.bias_correction2, 1 - 0.9801, 1e-15);
  EXPECT_EQ(c.lr, 0.1);
  EXPECT_EQ(c.beta1, 0.9);
  EXPECT_EQ(c.beta2, 0.99);
  EXPECT_EQ(c.eps, 1e-8);
  EXPECT_EQ(c.weight_decay, 0.5);
  EXPECT_EQ(c.grad_scale, 0.125);
  const auto f = MakeAdamWCoeffs<float>(hyper, 1);
  EXPECT_EQ(f.grad_scale, 1.0f);
  EXPECT_EQ(f.bias_correction1, static_cast<float>(1 - 0.9));
  EXPECT_EQ(f.lr, 0.1f);
}

TEST(BackendCoefficientsTest, Sgd) {
  const SgdHyper hyper{.lr = 0.05, .momentum = 0.8, .weight_decay = 1e-4, .nesterov = true};
  const auto c = MakeSgdCoeffs<double>(hyper, 0.25);
  EXPECT_EQ(c.lr, 0.05);
  EXPECT_EQ(c.momentum, 0.8);
  EXPECT_EQ(c.weight_decay, 1e-4);
  EXPECT_EQ(c.grad_scale, 0.25);
  EXPECT_TRUE(c.nesterov);
  const auto f = MakeSgdCoeffs<float>(SgdHyper{});
  EXPECT_EQ(f.lr, 0.01f);
  EXPECT_EQ(f.momentum, 0.9f);
  EXPECT_EQ(f.grad_scale, 1.0f);
  EXPECT_FALSE(f.nesterov);
}

TEST(BackendMemoryTest, BytesInUseAndPeak) {
  auto made = MakeBackend(BackendKind::kCpu, BackendOptions{});
  ASSERT_TRUE(made.ok());
  Backend& backend = **made;
  EXPECT_EQ(backend.bytes_in_use(), 0u);
  EXPECT_EQ(backend.peak_bytes(), 0u);
  {
    auto a = backend.Allocate(100, DType::kF32);  // 400 bytes
    auto b = backend.Allocate(10, DType::kF16);   // 20
    auto c = backend.Allocate(3, DType::kF64);    // 24
    ASSERT_TRUE(a.ok() && b.ok() && c.ok());
    EXPECT_EQ(backend.bytes_in_use(), 444u);
    EXPECT_EQ(backend.peak_bytes(), 444u);
    *b = Buffer();  // frees 20
    EXPECT_EQ(backend.bytes_in_use(), 424u);
    EXPECT_EQ(backend.peak_bytes(), 444u);
    // Moving a buffer moves no bytes; the moved-from one frees nothing.
    Buffer moved = std::move(*a);
    EXPECT_EQ(backend.bytes_in_use(), 424u);
    auto d = backend.Allocate(7, DType::kBF16);  // 14
    ASSERT_TRUE(d.ok());
    EXPECT_EQ(backend.bytes_in_use(), 438u);
    EXPECT_EQ(backend.peak_bytes(), 444u);
    auto e = backend.Allocate(5, DType::kI32);  // 20: a new peak
    ASSERT_TRUE(e.ok());
    EXPECT_EQ(backend.bytes_in_use(), 458u);
    EXPECT_EQ(backend.peak_bytes(), 458u);
    // Empty buffers hold nothing.
    auto empty = backend.Allocate(0, DType::kF32);
    ASSERT_TRUE(empty.ok());
    EXPECT_EQ(backend.bytes_in_use(), 458u);
  }
  EXPECT_EQ(backend.bytes_in_use(), 0u);
  EXPECT_EQ(backend.peak_bytes(), 458u);
}

// Host staging memory: zero-filled, aligned for SIMD loads, uploads from it land, moves hand the memory
// over (the moved-from buffer frees nothing), and none of it counts as backend memory.
TEST(BackendMemoryTest, HostBuffersStageUploads) {
  auto made = MakeBackend(BackendKind::kCpu, BackendOptions{});
  ASSERT_TRUE(made.ok());
  Backend& backend = **made;
  auto empty = backend.AllocateHost(0);
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->data(), nullptr);
  EXPECT_EQ(empty->bytes(), 0u);
  auto host = backend.AllocateHost(5 * sizeof(float));
  ASSERT_TRUE(host.ok());
  ASSERT_NE(host->data(), nullptr);
  EXPECT_EQ(host->bytes(), 20u);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(host->data()) % 64, 0u);
  auto* values = static_cast<float*>(host->data());
  for (int i = 0; i < 5; ++i) EXPECT_EQ(values[i], 0.0f);
  for (int i = 0; i < 5; ++i) values[i] = 0.5f * static_cast<float>(i);
  EXPECT_EQ(backend.bytes_in_use(), 0u);
  auto device = backend.Allocate(5, DType::kF32);
  ASSERT_TRUE(device.ok());
  ASSERT_TRUE(backend.Upload(std::span<const float>(values, 5), device->view()).ok());
  std::vector<float> back(5);
  ASSERT_TRUE(backend.Download(device->view(), std::span<float>(back)).ok());
  EXPECT_EQ(back, (std::vector<float>{0.0f, 0.5f, 1.0f, 1.5f, 2.0f}));
  HostBuffer moved = std::move(*host);
  EXPECT_EQ(moved.data(), values);
  EXPECT_EQ(host->data(), nullptr);
  EXPECT_EQ(host->bytes(), 0u);
  moved = std::move(*empty);  // frees the staged values
  EXPECT_EQ(moved.data(), nullptr);
}

TEST(BackendTimeTest, TimeMsIsPositiveAndPassesErrorsThrough) {
  auto made = MakeBackend(BackendKind::kCpu, BackendOptions{});
  ASSERT_TRUE(made.ok());
  Backend& backend = **made;
  const int n = 128;
  Buffer a = ktest::Make(backend, DType::kF32, ktest::RandomValues(DType::kF32, n * n, 1));
  Buffer c = ktest::Zeros(backend, DType::kF32, n * n);
  int calls = 0;
  Result<double> ms = backend.TimeMs([&] {
    ++calls;
    return backend.Gemm(Transpose::kNo, Transpose::kNo, n, n, n, 1.0, a.view(), a.view(), 0.0, c.view());
  });
  ASSERT_TRUE(ms.ok()) << ms.status().ToString();
  EXPECT_EQ(calls, 1);
  EXPECT_GT(*ms, 0.0);
  EXPECT_LT(*ms, 60e3);
  // The work's error comes back as it is.
  Result<double> failed = backend.TimeMs([&] {
    return backend.Gemm(Transpose::kNo, Transpose::kNo, n + 1, n, n, 1.0, a.view(), a.view(), 0.0, c.view());
  });
  EXPECT_EQ(failed.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(failed.status().message().find("Gemm: a holds"), std::string::npos) << failed.status().message();
  Result<double> custom = backend.TimeMs([] { return DataLossError("disk gone"); });
  EXPECT_EQ(custom.status(), DataLossError("disk gone"));
}

}  // namespace
}  // namespace hpo::kernels
