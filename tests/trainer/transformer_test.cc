// Tests trainer/transformer.cc, trainer/vit.cc and trainer/lm.cc: the analytic gradients of the real model
// code in double precision against central finite differences, for every knob of the blocks (layer or RMS
// norm, pre- or post-norm, GELU or SwiGLU, MHA / GQA / MQA, sliding windows, each position encoding,
// dropout); decoding with the KV cache against full forward passes; half-precision forward passes against
// fp32; bad shapes; and learning small tasks through Train.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "base/rng.h"
#include "kernels/cpu_backend.h"
#include "tests/trainer/model_test_util.h"
#include "tests/trainer/test_util.h"
#include "trainer/lm.h"
#include "trainer/train.h"
#include "trainer/vit.h"

namespace hpo::trainer {
namespace {

using kernels::DType;
using testing::Download;
using testing::Upload;

// Weights of std 0.4 rather than 0.02, so that attention scores are large enough for every gradient to be
// resolved; the key bias's gradient is exactly 0 (a softmax ignores a constant added to a query's scores),
// so near-zero gradients compare absolutely at 1e-5, well above the differences' rounding.
constexpr testing::GradientCheck kCheck{.tolerance = 1e-6, .floor = 1e-5, .weight_scale = 20.0};

class TransformerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto backend = kernels::CpuBackend::Create(kernels::BackendOptions{});
    ASSERT_TRUE(backend.ok());
    backend_ = std::move(*backend);
  }

  static TransformerConfig Blocks() {
    TransformerConfig t;
    t.d_model = 8;
    t.layers = 2;
    t.heads = 2;
    t.kv_heads = 2;
    t.ffn_hidden = 6;
    return t;
  }

  // A 6x6 image of 2 channels in 2x2 patches: 9 tokens.
  static VitConfig SmallVit() {
    VitConfig config;
    config.height = 6;
    config.width = 6;
    config.channels = 2;
    config.classes = 3;
    config.patch_size = 2;
    config.transformer = Blocks();
    return config;
  }

  static LmConfig SmallLm() {
    LmConfig config;
    config.vocab = 7;
    config.seq_len = 6;
    config.transformer = Blocks();
    return config;
  }

  void CheckVit(const VitConfig& config, const kernels::LossOptions& options, const std::string& what) {
    SCOPED_TRACE(what);
    const int64_t rows = 2;
    auto vit = Vit::Create(*backend_, config, DType::kF64, rows, 7);
    ASSERT_TRUE(vit.ok()) << vit.status().ToString();
    Rng rng(5);
    std::vector<double> x(static_cast<size_t>(rows * 72));
    for (double& v : x) v = rng.Normal();
    testing::CheckModelGradients(*backend_, *vit, x, {0, 2}, rows, options, /*step=*/3, kCheck);
  }

  void CheckLm(const LmConfig& config, const std::string& what) {
    SCOPED_TRACE(what);
    const int64_t rows = 2;
    auto lm = Lm::Create(*backend_, config, DType::kF64, rows, 7);
    ASSERT_TRUE(lm.ok()) << lm.status().ToString();
    std::vector<int32_t> tokens, labels;
    Rng rng(3);
    for (int64_t i = 0; i < rows * config.seq_len; ++i) {
      tokens.push_back(static_cast<int32_t>(rng.UniformInt(static_cast<uint64_t>(config.vocab))));
      labels.push_back(static_cast<int32_t>(rng.UniformInt(static_cast<uint64_t>(config.vocab))));
    }
    kernels::Buffer token_buffer = Upload(*backend_, tokens);
    testing::CheckModelGradients(*backend_, *lm, token_buffer.view(), labels, rows, kernels::LossOptions{},
                                 /*step=*/1, kCheck);
  }

  std::unique_ptr<kernels::CpuBackend> backend_;
};

TEST_F(TransformerTest, VitGradientsOfEveryBlockKindMatchFiniteDifferences) {
  CheckVit(SmallVit(), {}, "pre-norm layer norm, gelu, learned positions");
  VitConfig post = SmallVit();
  post.transformer.post_norm = true;
  post.transformer.norm = NormKind::kRmsNorm;
  post.position = PositionKind::kSinusoidal;
  CheckVit(post, {}, "post-norm rms norm, sinusoidal");
  VitConfig swiglu = SmallVit();
  swiglu.transformer.ffn = FfnKind::kSwiGlu;
  swiglu.transformer.heads = 4;
  swiglu.transformer.kv_heads = 2;
  swiglu.position = PositionKind::kRope;
  CheckVit(swiglu, {}, "swiglu, gqa, rope");
  VitConfig local = SmallVit();
  local.transformer.kv_heads = 1;
  local.transformer.window = 3;
  local.position = PositionKind::kAlibi;
  local.transformer.dropout = 0.2;
  CheckVit(local, {.label_smoothing = 0.1, .grad_scale = 4.0}, "mqa, sliding window, alibi, dropout");
}

TEST_F(TransformerTest, LmGradientsMatchFiniteDifferences) {
  CheckLm(SmallLm(), "causal, learned positions");
  LmConfig rope = SmallLm();
  rope.position = PositionKind::kRope;
  rope.transformer.kv_heads = 1;
  rope.transformer.ffn = FfnKind::kSwiGlu;
  rope.transformer.norm = NormKind::kRmsNorm;
  CheckLm(rope, "rope, mqa, swiglu, rms norm");
  LmConfig local = SmallLm();
  local.position = PositionKind::kAlibi;
  local.transformer.window = 2;
  local.transformer.post_norm = true;
  CheckLm(local, "alibi, sliding window, post-norm");
}

// Prefill of a prompt and then one token at a time against the KV cache give every position the logits
// of one full forward pass, for each position encoding and attention kind.
TEST_F(TransformerTest, DecodingWithTheKvCacheEqualsTheFullForwardPass) {
  for (const PositionKind position :
       {PositionKind::kLearned, PositionKind::kSinusoidal, PositionKind::kRope, PositionKind::kAlibi}) {
    for (const int64_t window : {int64_t{0}, int64_t{3}}) {
      SCOPED_TRACE(std::string(PositionKindName(position)) + " window " + std::to_string(window));
      LmConfig config = SmallLm();
      config.seq_len = 9;
      config.position = position;
      config.transformer.window = window;
      config.transformer.heads = 4;
      config.transformer.kv_heads = 2;
      auto lm = Lm::Create(*backend_, config, DType::kF64, 1, 11);
      ASSERT_TRUE(lm.ok()) << lm.status().ToString();
      std::vector<int32_t> tokens = {3, 1, 4, 1, 5, 2, 6, 5, 3};
      kernels::Buffer tb = Upload(*backend_, tokens);
      ASSERT_TRUE(lm->Forward(tb.view(), 1).ok());
      const std::vector<double> full = Download<double>(*backend_, lm->logits().Sub(0, 9 * 7));
      const int64_t prompt = 4;
      ASSERT_TRUE(lm->Prefill(tb.Sub(0, prompt), prompt).ok());
      std::vector<double> decoded = Download<double>(*backend_, lm->logits().Sub(0, prompt * 7));
      for (int64_t pos = prompt; pos < 9; ++pos) {
        const Status s = lm->DecodeStep(tb.Sub(static_cast<size_t>(pos), 1), pos);
        ASSERT_TRUE(s.ok()) << s.ToString();
        const std::vector<double> step = Download<double>(*backend_, lm->logits().Sub(0, 7));
        decoded.insert(decoded.end(), step.begin(), step.end());
      }
      ASSERT_EQ(decoded.size(), full.size());
      for (size_t i = 0; i < full.size(); ++i) EXPECT_NEAR(decoded[i], full[i], 1e-12) << i;
    }
  }
  auto lm = Lm::Create(*backend_, SmallLm(), DType::kF64, 1, 1);
  ASSERT_TRUE(lm.ok());
  kernels::Buffer tb = Upload(*backend_, std::vector<int32_t>{1, 2, 3, 4, 5, 6, 0});
  EXPECT_EQ(lm->DecodeStep(tb.Sub(0, 1), 1).code(), StatusCode::kInvalidArgument);  // nothing cached yet
  EXPECT_EQ(lm->Prefill(tb.view(), 7).code(), StatusCode::kInvalidArgument);        // beyond the context
  ASSERT_TRUE(lm->Prefill(tb.view(), 6).ok());
  EXPECT_EQ(lm->DecodeStep(tb.Sub(0, 1), 6).code(), StatusCode::kInvalidArgument);
}

TEST_F(TransformerTest, HalfPrecisionForwardTracksFloat) {
  VitConfig config = SmallVit();
  config.transformer.d_model = 16;
  config.transformer.heads = 4;
  config.transformer.kv_heads = 4;
  config.transformer.ffn_hidden = 32;
  const int64_t rows = 3;
  std::vector<float> x(static_cast<size_t>(rows * 72));
  Rng rng(4);
  for (float& v : x) v = static_cast<float>(rng.Normal());
  auto logits_in = [&](DType dtype) {
    auto vit = Vit::Create(*backend_, config, dtype, rows, 9);
    EXPECT_TRUE(vit.ok());
    return testing::ForwardLogits(*backend_, *vit, x, rows, 3);
  };
  const std::vector<float> f32 = logits_in(DType::kF32);
  for (const auto& [dtype, tolerance] : {std::pair{DType::kF16, 0.01}, std::pair{DType::kBF16, 0.05}}) {
    const std::vector<float> half = logits_in(dtype);
    for (size_t i = 0; i < f32.size(); ++i) {
      EXPECT_NEAR(half[i], f32[i], tolerance * (1 + std::fabs(f32[i])))
          << kernels::DTypeName(dtype) << " " << i;
    }
  }
}

TEST_F(TransformerTest, RejectsBadShapes) {
  VitConfig heads = SmallVit();
  heads.transformer.heads = 3;
  EXPECT_EQ(Vit::Create(*backend_, heads, DType::kF32, 2, 1).status().message(),
            "Vit: heads 3 must divide d_model 8");
  VitConfig kv = SmallVit();
  kv.transformer.kv_heads = 3;
  EXPECT_EQ(Vit::Create(*backend_, kv, DType::kF32, 2, 1).status().message(),
            "Vit: kv_heads 3 must divide heads 2");
  VitConfig patch = SmallVit();
  patch.patch_size = 7;
  EXPECT_EQ(Vit::Create(*backend_, patch, DType::kF32, 2, 1).status().message(),
            "Vit: patch_size 7 does not fit a 6x6 image");
  LmConfig rope = SmallLm();
  rope.transformer.d_model = 6;
  rope.transformer.heads = 2;
  rope.position = PositionKind::kRope;
  EXPECT_EQ(Lm::Create(*backend_, rope, DType::kF32, 2, 1).status().message(),
            "Lm: rope needs an even head size, not 3");
  auto vit = Vit::Create(*backend_, SmallVit(), DType::kF32, 2, 1);
  ASSERT_TRUE(vit.ok());
  EXPECT_EQ(vit->tokens(), 9);
  kernels::Buffer x = Upload(*backend_, std::vector<float>(3 * 72, 0.5f));
  EXPECT_EQ(vit->Forward(x.view(), 3).code(), StatusCode::kInvalidArgument);
}

TEST(TransformerTrainTest, VitLearnsBarsThroughTrain) {
  Datasets data;
  data.classes = 2;
  data.height = data.width = 8;
  data.channels = 1;
  data.train = testing::Bars(512, 1);
  data.validation = testing::Bars(200, 2);
  data.test = testing::Bars(200, 3);
  TrainConfig config;
  config.model = ModelKind::kVit;
  config.patch_size = 2;
  config.d_model = 16;
  config.heads = 2;
  config.layers = 2;
  config.batch_size = 32;
  config.epochs = 8;
  config.lr = 0.003;
  for (const PositionKind position : {PositionKind::kLearned, PositionKind::kRope}) {
    SCOPED_TRACE(PositionKindName(position));
    config.position = position;
    auto backend = kernels::MakeBackend(kernels::BackendKind::kCpu, kernels::BackendOptions{});
    ASSERT_TRUE(backend.ok());
    auto metrics = Train(config, **backend, data);
    ASSERT_TRUE(metrics.ok()) << metrics.status().ToString();
    EXPECT_GT(metrics->accuracy, 0.95);
    EXPECT_GT(metrics->test_accuracy, 0.95);
    EXPECT_FALSE(metrics->language_model);
  }
}

// A text whose every byte follows from the two before it (a pattern of period 7 in words of a small
// grammar): a model that sees its context predicts almost every byte.
std::vector<uint8_t> PatternText(size_t bytes) {
  const std::string words[] = {"abc ", "abd ", "bca "};
  std::vector<uint8_t> text;
  for (size_t i = 0; text.size() < bytes; ++i) {
    for (const char c : words[i % 3]) text.push_back(static_cast<uint8_t>(c));
  }
  text.resize(bytes);
  return text;
}

TEST(TransformerTrainTest, LmLearnsAPatternTextAndReportsItsFigures) {
  Datasets data;
  data.classes = 256;
  data.text.train = PatternText(4000);
  data.text.validation = PatternText(600);
  data.text.test = PatternText(600);
  TrainConfig config;
  config.model = ModelKind::kLm;
  config.seq_len = 24;
  config.d_model = 32;
  config.heads = 4;
  config.kv_heads = 2;
  config.layers = 2;
  config.position = PositionKind::kRope;
  config.batch_size = 16;
  config.epochs = 6;
  config.lr = 0.003;
  auto backend = kernels::MakeBackend(kernels::BackendKind::kCpu, kernels::BackendOptions{});
  ASSERT_TRUE(backend.ok());
  std::vector<EpochReport> reports;
  auto metrics = Train(config, **backend, data, [&](const EpochReport& r) { reports.push_back(r); });
  ASSERT_TRUE(metrics.ok()) << metrics.status().ToString();
  // After "ab" the next byte is c or d (one bit); every other byte is certain given the word: about
  // 1/4 bit per byte at best, 8 for a uniform guess.
  EXPECT_GT(metrics->accuracy, 0.85);
  EXPECT_LT(metrics->bits_per_byte, 1.0);
  EXPECT_NEAR(metrics->bits_per_byte, metrics->loss / std::log(2.0), 1e-12);
  EXPECT_TRUE(metrics->language_model);
  EXPECT_GT(metrics->decode_ms, 0);
  EXPECT_GE(metrics->decode_p99_ms, metrics->decode_ms);
  EXPECT_GT(metrics->prefill_tokens_per_s, 0);
  const std::string line = MetricsToJson(*metrics);
  EXPECT_NE(line.find(",\"bits_per_byte\":"), std::string::npos) << line;
  EXPECT_NE(line.find(",\"decode_ms\":"), std::string::npos) << line;
  ASSERT_EQ(reports.size(), 6u);
  EXPECT_NE(ProgressToJson(reports[0]).find("\"prefill_tokens_per_s\":"), std::string::npos);
  EXPECT_NE(ProgressToJson(reports[5]).find("\"bits_per_byte\":"), std::string::npos);
  EXPECT_EQ(ProgressToJson(reports[5]).find("decode_ms"), std::string::npos);
}

TEST(TransformerTrainTest, TextAndImageFamiliesRefuseTheOthersData) {
  Datasets text;
  text.classes = 256;
  text.text.train = PatternText(400);
  text.text.validation = PatternText(100);
  text.text.test = PatternText(100);
  auto backend = kernels::MakeBackend(kernels::BackendKind::kCpu, kernels::BackendOptions{});
  ASSERT_TRUE(backend.ok());
  TrainConfig vit;
  vit.model = ModelKind::kVit;
  EXPECT_EQ(Train(vit, **backend, text).status().message(), "a text file trains model lm only, not vit");
  TrainConfig lm;
  lm.model = ModelKind::kLm;
  lm.seq_len = 128;
  EXPECT_EQ(Train(lm, **backend, text).status().message(),
            "the validation text holds 100 bytes; seq_len 128 needs at least 129");
  Datasets images;
  images.classes = 2;
  images.height = images.width = 8;
  images.channels = 1;
  images.train = testing::Bars(8, 1);
  images.validation = testing::Bars(8, 2);
  images.test = testing::Bars(8, 3);
  EXPECT_EQ(Train(lm, **backend, images).status().message(),
            "model lm trains on a text file (--text-file, or task.builtin.text)");
}

}  // namespace
}  // namespace hpo::trainer
