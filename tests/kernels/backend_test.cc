// Tests kernels/backend.cc: the factory's choices, the names, the AdamW coefficients.
#include "kernels/backend.h"

#include <gtest/gtest.h>

#include <cmath>

#include "kernels/cuda_device.h"

namespace hpo::kernels {
namespace {

TEST(BackendFactoryTest, CpuIsAlwaysThere) {
  auto backend = MakeBackend(BackendKind::kCpu, BackendOptions{});
  ASSERT_TRUE(backend.ok()) << backend.status().ToString();
  EXPECT_EQ((*backend)->kind(), BackendKind::kCpu);
  EXPECT_EQ(MakeBackend(BackendKind::kCpu, BackendOptions{.threads = 0}).status().code(),
            StatusCode::kInvalidArgument);
}

TEST(BackendFactoryTest, AutoFallsBackToCpu) {
  auto backend = MakeBackend(BackendKind::kAuto, BackendOptions{});
  ASSERT_TRUE(backend.ok()) << backend.status().ToString();
  // No CUDA backend exists yet, so auto is the CPU everywhere for now.
  EXPECT_EQ((*backend)->kind(), BackendKind::kCpu);
}

TEST(BackendFactoryTest, CudaWithoutDeviceIsFailedPrecondition) {
  if (CudaDeviceCount() > 0) {
    // A device answers: the CUDA backend is a later item, and says so.
    EXPECT_EQ(MakeBackend(BackendKind::kCuda, BackendOptions{}).status().code(), StatusCode::kUnimplemented);
    GTEST_SKIP() << "a CUDA device answers here";
  }
  const Status s = MakeBackend(BackendKind::kCuda, BackendOptions{}).status();
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("does not answer"), std::string::npos) << s.message();
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

TEST(BackendFactoryTest, AdamWCoefficients) {
  const AdamWHyper hyper{.lr = 0.1, .beta1 = 0.9, .beta2 = 0.99, .eps = 1e-8, .weight_decay = 0.5};
  const auto c = MakeAdamWCoeffs<double>(hyper, 2);
  EXPECT_NEAR(c.bias_correction1, 1 - 0.81, 1e-15);
  EXPECT_NEAR(c.bias_correction2, 1 - 0.9801, 1e-15);
  EXPECT_EQ(c.lr, 0.1);
  EXPECT_EQ(c.weight_decay, 0.5);
}

TEST(BackendFactoryTest, DTypeSizes) {
  EXPECT_EQ(DTypeSize(DType::kF32), 4u);
  EXPECT_EQ(DTypeSize(DType::kF64), 8u);
  EXPECT_EQ(DTypeSize(DType::kI32), 4u);
  EXPECT_EQ(ActivationName(Activation::kGelu), "gelu");
}

}  // namespace
}  // namespace hpo::kernels
