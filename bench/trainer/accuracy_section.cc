// Section accuracy (not with --quick): trainer::Train, 5 epochs of MLP 784-256-256-10, AdamW lr 1e-3,
// weight decay 0.01, batch 128 on Fashion-MNIST, in fp32, bf16 and fp16: test accuracy and training
// samples/s, beside PyTorch's same recipe (fp32, bf16 autocast) in the same run.
#include <algorithm>
#include <memory>
#include <string>

#include "bench/trainer/bench.h"
#include "trainer/dataset.h"
#include "trainer/train.h"

namespace hpo::bench {
namespace {

constexpr int kEpochs = 5;

}  // namespace

Status RunAccuracySection(const TrainerBenchOptions& options, const Reporter& reporter) {
  HPO_ASSIGN_OR_RETURN(const std::optional<trainer::Datasets> data,
                       AccuracyData(options, reporter, "accuracy"));
  if (!data.has_value()) return Status::Ok();

  Result<TorchFigures> torch = FailedPreconditionError("no PyTorch");
  if (options.torch != nullptr && options.torch->available()) {
    torch = options.torch->Run("accuracy", {"--epochs", std::to_string(kEpochs)});
    if (!torch.ok()) reporter.Note("accuracy", "PyTorch: " + torch.status().ToString() + "; no ratios");
  }

  HPO_ASSIGN_OR_RETURN(const std::unique_ptr<kernels::Backend> backend,
                       MakeBenchBackend(options, options.threads));
  Table table(reporter, "accuracy", "accuracy",
              "Fashion-MNIST, MLP 784-256-256-10 relu, AdamW lr 1e-3 wd 0.01, batch 128, " +
                  std::to_string(kEpochs) + " epochs, seed 0 (" + backend->DeviceName() + ")",
              {{"precision", "prec", Column::Format::kText},
               {"val_accuracy", "val acc", Column::Format::kFixed, 4},
               {"test_accuracy", "test acc", Column::Format::kFixed, 4},
               {"torch_test_accuracy", "torch test acc", Column::Format::kFixed, 4},
               {"diff_points", "diff pts", Column::Format::kFixed, 2},
               {"samples_per_s", "samples/s", Column::Format::kFixed, 0},
               {"torch_samples_per_s", "torch samples/s", Column::Format::kFixed, 0},
               {"ratio", "hpo/torch", Column::Format::kRatio, 2},
               {"train_time_s", "train s", Column::Format::kFixed, 1},
               {"skipped_steps", "skipped", Column::Format::kAuto}});
  for (const trainer::Precision precision : kPrecisions) {
    trainer::TrainConfig config;
    config.precision = precision;
    config.weight_decay = 0.01;
    config.epochs = kEpochs;
    config.threads = options.threads;
    HPO_ASSIGN_OR_RETURN(const trainer::TrainMetrics metrics, trainer::Train(config, *backend, *data));
    const std::string name(trainer::PrecisionName(precision));
    const double samples_per_s =
        static_cast<double>(data->train.count) * kEpochs / std::max(metrics.train_time_s, 1e-9);
    const Value torch_acc = PeerValue(torch, "acc_" + name + "_test");
    const Value torch_sps = PeerValue(torch, "acc_" + name + "_sps");
    Value diff;
    if (const auto* t = std::get_if<double>(&torch_acc)) diff = (metrics.test_accuracy - *t) * 100;
    table.Add({name, metrics.accuracy, metrics.test_accuracy, torch_acc, diff, samples_per_s, torch_sps,
               Ratio(samples_per_s, torch_sps), metrics.train_time_s, metrics.skipped_steps});
  }
  table.Print();
  reporter.Note(
      "accuracy",
      "hpo trains on the first " + std::to_string(data->train.count) + " training images (the last " +
          std::to_string(data->validation.count) +
          " are held out for validation) and its train time includes the per-epoch validation pass; "
          "PyTorch trains on all 60000 with no validation. samples/s = training images x epochs / train "
          "time. diff pts = (hpo - torch) test accuracy in percentage points.");
  return Status::Ok();
}

}  // namespace hpo::bench
