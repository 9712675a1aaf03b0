// Tests trainer/param_set.h: the layout of added tensors, the master, gradient and compute buffers per
// precision, initialisation and the compute copy's rounding, and bad input.
#include "trainer/param_set.h"

#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "kernels/cpu_backend.h"
#include "kernels/half.h"

namespace hpo::trainer {
namespace {

using kernels::DType;

std::unique_ptr<kernels::Backend> Cpu() {
  auto backend = kernels::MakeBackend(kernels::BackendKind::kCpu, kernels::BackendOptions{});
  EXPECT_TRUE(backend.ok());
  return std::move(*backend);
}

ParamSet TwoTensors() {
  ParamSet set;
  EXPECT_EQ(set.Add("w0", 3, 2, ParamKind::kWeight), 0u);
  EXPECT_EQ(set.Add("b0", 1, 2, ParamKind::kBias), 1u);
  return set;
}

TEST(ParamSetTest, LaysTensorsOutInOrder) {
  const ParamSet set = TwoTensors();
  ASSERT_EQ(set.layout().size(), 2u);
  EXPECT_EQ(set.size(), 8u);
  EXPECT_EQ(set.info(0).name, "w0");
  EXPECT_EQ(set.info(0).offset, 0u);
  EXPECT_EQ(set.info(0).count, 6u);
  EXPECT_TRUE(set.info(0).decays());
  EXPECT_EQ(set.info(1).offset, 6u);
  EXPECT_EQ(set.info(1).count, 2u);
  EXPECT_FALSE(set.info(1).decays());
}

TEST(ParamSetTest, Fp32ReadsItsMastersAndHalfItsRoundedCopy) {
  auto backend = Cpu();
  const std::vector<double> values = {0.1, -0.2, 0.3, 1.0 / 3, 2.5, -7.0, 0.0, 1e-3};
  for (const DType dtype : {DType::kF32, DType::kBF16, DType::kF16}) {
    SCOPED_TRACE(kernels::DTypeName(dtype));
    ParamSet set = TwoTensors();
    ASSERT_TRUE(set.Allocate(*backend, dtype).ok());
    EXPECT_EQ(set.master_dtype(), DType::kF32);
    EXPECT_EQ(set.params().size, 8u);
    EXPECT_EQ(set.grads().size, 8u);
    EXPECT_EQ(set.compute().size, dtype == DType::kF32 ? 0u : 8u);
    ASSERT_TRUE(set.Initialize(values).ok());
    std::vector<float> master(8);
    ASSERT_TRUE(backend->Download(set.params(), std::span<float>(master)).ok());
    for (size_t i = 0; i < 8; ++i) EXPECT_EQ(master[i], static_cast<float>(values[i])) << i;
    const kernels::ConstView bias = set.Weights(set.info(1));
    EXPECT_EQ(bias.dtype, dtype);
    EXPECT_EQ(bias.size, 2u);
    if (dtype == DType::kF32) {
      std::vector<float> b(2);
      ASSERT_TRUE(backend->Download(bias, std::span<float>(b)).ok());
      EXPECT_EQ(b[0], static_cast<float>(values[6]));
      EXPECT_EQ(b[1], static_cast<float>(values[7]));
    }
    // The compute copy follows the masters after a change made outside the optimizer.
    ASSERT_TRUE(backend->Fill(set.params(), 0.5).ok());
    ASSERT_TRUE(set.SyncCompute().ok());
    std::vector<float> weights(6);
    kernels::Buffer widened = *backend->Allocate(6, DType::kF32);
    ASSERT_TRUE(backend->Cast(set.Weights(set.info(0)), widened.view()).ok());
    ASSERT_TRUE(backend->Download(widened.view(), std::span<float>(weights)).ok());
    for (const float w : weights) EXPECT_EQ(w, 0.5f);
    EXPECT_EQ(set.Grad(set.info(1)).size, 2u);
  }
}

TEST(ParamSetTest, RefusesBadInput) {
  auto backend = Cpu();
  ParamSet ints = TwoTensors();
  const Status bad_type = ints.Allocate(*backend, DType::kI32);
  EXPECT_EQ(bad_type.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad_type.message().find("not floating"), std::string::npos) << bad_type.message();
  ParamSet set = TwoTensors();
  ASSERT_TRUE(set.Allocate(*backend, DType::kF32).ok());
  const Status short_values = set.Initialize(std::vector<double>(7, 0.0));
  EXPECT_EQ(short_values.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(short_values.message(), "ParamSet::Initialize: 7 values for 8 parameters");
}

}  // namespace
}  // namespace hpo::trainer
