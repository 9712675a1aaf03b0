// Tests trainer/mlp.cc, cnn.cc, vit.cc, lm.cc and transformer.cc against PyTorch: each case builds one of
// our models in fp32 on the CPU backend, perturbs its initial parameters (biases, shifts and gains drawn
// around their initial values, transformer weights scaled up so that attention is far from uniform), and
// runs one training pass (forward, mean softmax cross-entropy, backward) and then an inference pass on a
// random batch. tests/trainer/torch_parity.py loads the same parameters and inputs into the PyTorch twin of
// the model (bench/trainer/torch_models.py, written with nn.Linear, nn.Conv2d, nn.BatchNorm2d, ...), runs
// the same passes in float64, and writes back its logits and every parameter gradient in our layout.
//
// Each compared tensor (training logits, inference logits, each parameter's gradient) must agree to a
// relative error max_i |ours_i - torch_i| / max_i |torch_i| <= 1e-4 (the denominator floored at 1e-6 for
// logits and 1e-6 x the model's largest gradient entry for gradients). A gradient that is 0 in exact
// arithmetic (PyTorch's float64 one is below 1e-12 x the largest: the key bias's without rope, since a
// softmax ignores a constant added to all of a query's scores) is rounding noise on our side and must stay
// below 1e-5 x the largest.
//
// One test per family, its cases in one PyTorch process. Skips itself when /usr/bin/python3 is missing or
// cannot import torch.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "base/rng.h"
#include "bench/trainer/torch_models.h"
#include "kernels/cpu_backend.h"
#include "tests/testing/temp_dir.h"
#include "tests/trainer/model_test_util.h"
#include "trainer/cnn.h"
#include "trainer/lm.h"
#include "trainer/mlp.h"
#include "trainer/vit.h"

namespace hpo::trainer {
namespace {

using kernels::DType;
using testing::Download;
using testing::Upload;

constexpr double kTolerance = 1e-4;
constexpr double kZeroGradient = 1e-5;
constexpr const char* kPython = "/usr/bin/python3";

// --- The cases ---

using MakeModel = std::function<Result<std::unique_ptr<Model>>(kernels::Backend&, int64_t rows)>;

struct ParityCase {
  std::string name;
  std::string family;  // torch_models.build's: "mlp", "cnn", "vit", "lm"
  std::string config;  // its config, a JSON object
  MakeModel make;
  int64_t input_size = 0;    // per example: pixels or features (f32), or tokens (i32)
  int64_t classes = 0;       // logits per output
  double weight_scale = 1;   // multiplies the initial weight matrices
  bool token_input = false;  // inputs are token ids in [0, classes)
};

template <typename M, typename C>
MakeModel Maker(const C& config) {
  return [config](kernels::Backend& backend, int64_t rows) -> Result<std::unique_ptr<Model>> {
    HPO_ASSIGN_OR_RETURN(M model, M::Create(backend, config, DType::kF32, rows, /*seed=*/7));
    return std::unique_ptr<Model>(std::make_unique<M>(std::move(model)));
  };
}

ParityCase MlpCase(const std::string& name, const MlpConfig& c) {
  return {name, "mlp", bench::TorchConfig(c), Maker<Mlp>(c), c.input_dim, c.classes};
}

ParityCase CnnCase(const std::string& name, const CnnConfig& c) {
  return {name, "cnn", bench::TorchConfig(c), Maker<Cnn>(c), c.height * c.width * c.channels, c.classes};
}

ParityCase VitCase(const std::string& name, const VitConfig& c) {
  return {name,      "vit", bench::TorchConfig(c), Maker<Vit>(c), c.height * c.width * c.channels,
          c.classes, 10.0};
}

ParityCase LmCase(const std::string& name, const LmConfig& c) {
  return {name, "lm", bench::TorchConfig(c), Maker<Lm>(c), c.seq_len, c.vocab, 10.0, /*token_input=*/true};
}

CnnConfig SmallCnn() {
  CnnConfig c;
  c.height = 9;  // odd: the max pool drops the last row and column, as PyTorch's floors
  c.width = 9;
  c.channels = 2;
  c.classes = 5;
  c.stage_channels = {4, 6};
  return c;
}

TransformerConfig SmallBlocks() {
  TransformerConfig t;
  t.d_model = 16;
  t.layers = 2;
  t.heads = 4;
  t.kv_heads = 4;
  t.ffn_hidden = 24;
  return t;
}

VitConfig SmallVit(PositionKind position) {
  VitConfig c;
  c.height = 9;  // 4 x 4 patches of 2 x 2; the last row and column of pixels are dropped
  c.width = 9;
  c.channels = 3;
  c.classes = 5;
  c.patch_size = 2;
  c.position = position;
  c.transformer = SmallBlocks();
  return c;
}

LmConfig SmallLm(PositionKind position) {
  LmConfig c;
  c.vocab = 11;
  c.seq_len = 10;
  c.position = position;
  c.transformer = SmallBlocks();
  return c;
}

std::vector<ParityCase> Cases() {
  std::vector<ParityCase> cases;
  cases.push_back(MlpCase("mlp_layernorm_residual_gelu", {.input_dim = 10,
                                                          .hidden_layers = 2,
                                                          .width = 12,
                                                          .activation = kernels::Activation::kGelu,
                                                          .classes = 5,
                                                          .layer_norm = true,
                                                          .residual = true}));
  cases.push_back(
      MlpCase("mlp_tanh",
              {.input_dim = 10, .hidden_layers = 1, .width = 7, .activation = kernels::Activation::kTanh}));

  cases.push_back(CnnCase("cnn_batchnorm_maxpool", SmallCnn()));
  CnnConfig strided = SmallCnn();
  strided.blocks = 2;
  strided.stride_downsample = true;
  strided.residual = true;
  cases.push_back(CnnCase("cnn_stride_residual_projection", strided));
  CnnConfig depthwise = SmallCnn();
  depthwise.depthwise = true;
  depthwise.residual = true;
  cases.push_back(CnnCase("cnn_depthwise", depthwise));
  CnnConfig plain = SmallCnn();
  plain.batch_norm = false;
  plain.kernel_size = 5;
  plain.activation = kernels::Activation::kSilu;
  cases.push_back(CnnCase("cnn_no_batchnorm", plain));
  CnnConfig averaged = SmallCnn();
  averaged.global_pool = true;
  cases.push_back(CnnCase("cnn_global_average_pooling", averaged));

  cases.push_back(VitCase("vit_learned_layernorm_prenorm_gelu", SmallVit(PositionKind::kLearned)));
  VitConfig sinusoidal = SmallVit(PositionKind::kSinusoidal);
  sinusoidal.transformer.norm = NormKind::kRmsNorm;
  sinusoidal.transformer.post_norm = true;
  sinusoidal.transformer.ffn = FfnKind::kSwiGlu;
  cases.push_back(VitCase("vit_sinusoidal_rmsnorm_postnorm_swiglu", sinusoidal));
  VitConfig rope = SmallVit(PositionKind::kRope);
  rope.transformer.kv_heads = 2;
  rope.transformer.ffn = FfnKind::kSwiGlu;
  cases.push_back(VitCase("vit_rope_gqa_swiglu", rope));
  VitConfig alibi = SmallVit(PositionKind::kAlibi);
  alibi.transformer.kv_heads = 1;
  alibi.transformer.window = 3;
  alibi.transformer.norm = NormKind::kRmsNorm;
  cases.push_back(VitCase("vit_alibi_mqa_window_rmsnorm", alibi));
  VitConfig window = SmallVit(PositionKind::kRope);
  window.transformer.kv_heads = 2;
  window.transformer.window = 5;
  window.transformer.post_norm = true;
  cases.push_back(VitCase("vit_rope_gqa_window_postnorm", window));

  cases.push_back(LmCase("lm_rope", SmallLm(PositionKind::kRope)));
  LmConfig alibi_lm = SmallLm(PositionKind::kAlibi);
  alibi_lm.transformer.kv_heads = 1;
  alibi_lm.transformer.post_norm = true;
  cases.push_back(LmCase("lm_alibi_mqa_postnorm", alibi_lm));
  cases.push_back(LmCase("lm_learned", SmallLm(PositionKind::kLearned)));
  LmConfig local = SmallLm(PositionKind::kRope);
  local.transformer.kv_heads = 2;
  local.transformer.window = 4;
  local.transformer.norm = NormKind::kRmsNorm;
  local.transformer.ffn = FfnKind::kSwiGlu;
  cases.push_back(LmCase("lm_rope_gqa_window_rmsnorm_swiglu", local));
  cases.push_back(LmCase("lm_sinusoidal", SmallLm(PositionKind::kSinusoidal)));
  return cases;
}

// --- Running both sides ---

constexpr int64_t kRows = 4;

struct Outcome {
  std::vector<ParamInfo> layout;
  std::vector<float> logits, eval_logits, grads;       // ours
  std::vector<float> ref_logits, ref_eval, ref_grads;  // PyTorch's
};

template <typename T>
void WriteFile(const std::string& path, const std::vector<T>& values) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(values.data()),
            static_cast<std::streamsize>(values.size() * sizeof(T)));
}

std::vector<float> ReadFloats(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<float> values(bytes.size() / sizeof(float));
  std::copy(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(values.size() * sizeof(float)),
            reinterpret_cast<char*>(values.data()));
  return values;
}

std::string ReadText(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// Runs our side of `c`, writes its inputs for PyTorch into `folder` and returns our outputs, or the error.
Result<Outcome> RunOurs(kernels::Backend& backend, const ParityCase& c, const std::string& folder) {
  HPO_ASSIGN_OR_RETURN(std::unique_ptr<Model> model, c.make(backend, kRows));
  Outcome outcome;
  outcome.layout = model->layout();
  std::vector<float> params = Download<float>(backend, model->params());
  Rng rng(11);
  for (const ParamInfo& info : outcome.layout) {
    for (size_t i = 0; i < info.count; ++i) {
      float& p = params[info.offset + i];
      if (info.kind == ParamKind::kWeight) {
        p = static_cast<float>(p * c.weight_scale);
      } else if (info.kind != ParamKind::kEmbedding) {
        p = static_cast<float>((info.kind == ParamKind::kNormGain ? 1.0 : 0.0) + 0.3 * rng.Normal());
      }
    }
  }
  HPO_RETURN_IF_ERROR(backend.Upload(std::span<const float>(params), model->params()));
  HPO_RETURN_IF_ERROR(model->SyncComputeParams());

  const int64_t outputs = kRows * model->outputs_per_row();
  std::vector<int32_t> labels(static_cast<size_t>(outputs));
  for (int32_t& l : labels) l = static_cast<int32_t>(rng.UniformInt(static_cast<uint64_t>(c.classes)));
  kernels::Buffer x;
  const auto x_size = static_cast<size_t>(kRows * c.input_size);
  if (c.token_input) {
    std::vector<int32_t> tokens(x_size);
    for (int32_t& t : tokens) t = static_cast<int32_t>(rng.UniformInt(static_cast<uint64_t>(c.classes)));
    WriteFile(folder + "/x.bin", tokens);
    x = Upload(backend, tokens);
  } else {
    std::vector<float> pixels(x_size);
    for (float& v : pixels) v = static_cast<float>(rng.Normal());
    WriteFile(folder + "/x.bin", pixels);
    x = Upload(backend, pixels);
  }
  WriteFile(folder + "/params.bin", params);
  WriteFile(folder + "/labels.bin", labels);

  kernels::Buffer lb = Upload(backend, labels);
  kernels::Buffer loss = Upload(backend, std::vector<float>{0.0F});
  HPO_RETURN_IF_ERROR(model->ForwardBackward(x.view(), lb.view(), kRows, loss.view()));
  const auto logits_size = static_cast<size_t>(outputs * c.classes);
  outcome.logits = Download<float>(backend, model->logits().Sub(0, logits_size));
  outcome.grads = Download<float>(backend, model->grads());
  HPO_RETURN_IF_ERROR(model->Forward(x.view(), kRows));
  outcome.eval_logits = Download<float>(backend, model->logits().Sub(0, logits_size));
  return outcome;
}

std::string ManifestEntry(const ParityCase& c, const Outcome& o) {
  std::ostringstream s;
  s << R"({"name": ")" << c.name << R"(", "family": ")" << c.family << R"(", "config": )" << c.config
    << R"(, "rows": )" << kRows << R"(, "input": ")" << (c.token_input ? "i32" : "f32")
    << R"(", "params": [)";
  for (size_t i = 0; i < o.layout.size(); ++i) {
    const ParamInfo& p = o.layout[i];
    s << (i > 0 ? ", " : "") << R"({"name": ")" << p.name << R"(", "rows": )" << p.rows << R"(, "cols": )"
      << p.cols << R"(, "offset": )" << p.offset << "}";
  }
  s << "]}";
  return s.str();
}

double MaxAbs(const float* a, size_t n) {
  double m = 0;
  for (size_t i = 0; i < n; ++i) m = std::max(m, std::fabs(static_cast<double>(a[i])));
  return m;
}

// max_i |a_i - b_i| / max(max_i |b_i|, floor).
double RelativeError(const float* a, const float* b, size_t n, double floor) {
  double diff = 0, scale = floor;
  for (size_t i = 0; i < n; ++i) {
    diff = std::max(diff, std::fabs(static_cast<double>(a[i]) - b[i]));
    scale = std::max(scale, std::fabs(static_cast<double>(b[i])));
  }
  return diff / scale;
}

constexpr int kNoTorch = 77;     // torch_parity.py's exit status when it cannot import torch
constexpr int kNoCommand = 127;  // the shell's when there is no kPython

struct BothRun {
  std::vector<Outcome> outcomes;  // with the ref_* fields filled
  bool no_torch = false;
  std::string failure;  // empty on success
};

// Runs `cases` on our side, then PyTorch's once over all of them.
BothRun RunBoth(const std::vector<ParityCase>& cases) {
  BothRun run;
  std::vector<Outcome>& outcomes = run.outcomes;
  const auto fail = [&run](std::string what) {
    run.failure = std::move(what);
    return std::move(run);
  };
  auto backend = kernels::CpuBackend::Create(kernels::BackendOptions{});
  if (!backend.ok()) return fail(backend.status().ToString());
  const hpo::testing::TempDir dir;
  std::string manifest = R"({"cases": [)";
  for (const ParityCase& c : cases) {
    const std::string folder = dir.File(c.name);
    std::filesystem::create_directory(folder);
    Result<Outcome> outcome = RunOurs(**backend, c, folder);
    if (!outcome.ok()) return fail(c.name + ": " + outcome.status().ToString());
    manifest += (outcomes.empty() ? "" : ", ") + ManifestEntry(c, *outcome);
    outcomes.push_back(std::move(*outcome));
  }
  manifest += "]}";
  std::ofstream(dir.File("manifest.json")) << manifest;
  const std::string command = std::string(kPython) + " " + HPO_SOURCE_DIR +
                              "/tests/trainer/torch_parity.py " + dir.path() + " >" + dir.File("log") +
                              " 2>&1";
  const int status = std::system(command.c_str());
  if (status != -1 && WIFEXITED(status) &&
      (WEXITSTATUS(status) == kNoTorch || WEXITSTATUS(status) == kNoCommand)) {
    run.no_torch = true;
    return run;
  }
  if (status != 0) return fail("torch_parity.py failed:\n" + ReadText(dir.File("log")));
  for (size_t i = 0; i < cases.size(); ++i) {
    const std::string folder = dir.File(cases[i].name);
    outcomes[i].ref_logits = ReadFloats(folder + "/logits.bin");
    outcomes[i].ref_eval = ReadFloats(folder + "/eval_logits.bin");
    outcomes[i].ref_grads = ReadFloats(folder + "/grads.bin");
  }
  return run;
}

void Compare(const std::string& name, const Outcome& o) {
  SCOPED_TRACE(name);
  ASSERT_EQ(o.ref_logits.size(), o.logits.size());
  ASSERT_EQ(o.ref_eval.size(), o.eval_logits.size());
  ASSERT_EQ(o.ref_grads.size(), o.grads.size());
  const double logits_error = RelativeError(o.logits.data(), o.ref_logits.data(), o.logits.size(), 1e-6);
  const double eval_error =
      RelativeError(o.eval_logits.data(), o.ref_eval.data(), o.eval_logits.size(), 1e-6);
  EXPECT_LE(logits_error, kTolerance) << "training-pass logits";
  EXPECT_LE(eval_error, kTolerance) << "inference-pass logits";
  const double largest = MaxAbs(o.ref_grads.data(), o.ref_grads.size());
  ASSERT_GT(largest, 0);
  // A gradient that is 0 in exact arithmetic (the key bias's: a softmax ignores a constant added to all
  // of a query's scores) is fp32 rounding noise on our side: it must stay below kZeroGradient x the
  // model's largest gradient entry.
  double worst = 0, worst_zero = 0;
  std::string worst_name;
  for (const ParamInfo& info : o.layout) {
    const float* ours = o.grads.data() + info.offset;
    const float* ref = o.ref_grads.data() + info.offset;
    if (MaxAbs(ref, info.count) <= 1e-12 * largest) {
      const double noise = MaxAbs(ours, info.count) / largest;
      EXPECT_LE(noise, kZeroGradient) << "gradient of " << info.name << " (0 in exact arithmetic)";
      worst_zero = std::max(worst_zero, noise);
      continue;
    }
    const double error = RelativeError(ours, ref, info.count, 1e-6 * largest);
    EXPECT_LE(error, kTolerance) << "gradient of " << info.name;
    if (error >= worst) {
      worst = error;
      worst_name = info.name;
    }
  }
  std::printf(
      "[ parity ] %s: logits %.2e, inference logits %.2e, worst gradient %.2e (%s), zero gradients %.1e\n",
      name.c_str(), logits_error, eval_error, worst, worst_name.c_str(), worst_zero);
}

// One test per family: its cases run in one PyTorch process (importing torch takes about a second).
class TorchParityTest : public ::testing::TestWithParam<std::string> {};

TEST_P(TorchParityTest, LogitsAndEveryGradientMatchPyTorch) {
  std::vector<ParityCase> cases;
  for (ParityCase& c : Cases()) {
    if (c.family == GetParam()) cases.push_back(std::move(c));
  }
  ASSERT_FALSE(cases.empty());
  const BothRun run = RunBoth(cases);
  if (run.no_torch)
    GTEST_SKIP() << kPython << " is missing or cannot import torch (apt install python3-torch)";
  ASSERT_TRUE(run.failure.empty()) << run.failure;
  for (size_t i = 0; i < cases.size(); ++i) Compare(cases[i].name, run.outcomes[i]);
}

INSTANTIATE_TEST_SUITE_P(Families, TorchParityTest, ::testing::Values("mlp", "cnn", "vit", "lm"),
                         [](const ::testing::TestParamInfo<std::string>& family) { return family.param; });

}  // namespace
}  // namespace hpo::trainer
