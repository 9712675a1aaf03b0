// hpo-train: trains one builtin trial and prints its metrics as one JSON line on stdout, after a progress
// line per epoch.
//
//   hpo-train [--data-dir DIR | --train-images F --train-labels F [--test-images F --test-labels F]
//              | --text-file F] [--validation-fraction X] [--test-fraction X] [--train-limit N]
//             [--threads N] [--backend auto|cpu|cuda] [--list-knobs [--json]] [--KNOB=VALUE ...]
//
// Data: Fashion-MNIST from --data-dir, or your own arrays (.npy or IDX, raw or gzipped, told apart by
// their first bytes), or a text file of bytes for a language model.
// Knobs are those of trainer/knobs.h (--list-knobs prints the catalog as a tree, --json as JSON). After every
// epoch a progress line goes to stdout, one JSON object with a "step" (trainer/train.h ProgressToJson), which
// the worker relays to the coordinator for early stopping, and a line for people to stderr; the metrics line,
// without a "step", comes last.
// Exit 0 on success; on failure one line "hpo-train: <message>" on stderr and exit 1, or exit 2 for bad
// arguments.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "kernels/backend.h"
#include "trainer/config.h"
#include "trainer/dataset.h"
#include "trainer/knobs.h"
#include "trainer/train.h"

namespace {

constexpr int kExitFailure = 1;
constexpr int kExitBadArguments = 2;

int Fail(int code, const std::string& message) {
  std::fprintf(stderr, "hpo-train: %s\n", message.c_str());
  return code;
}

std::string KnobHelp(const hpo::trainer::Knob& knob) {
  std::string range;
  if (knob.type == hpo::trainer::KnobType::kCategorical) {
    for (std::string_view choice : knob.choices) range += (range.empty() ? "" : "|") + std::string(choice);
  } else {
    range = std::string(hpo::trainer::KnobTypeName(knob.type)) + " in [" +
            hpo::trainer::JsonNumber(knob.min) + ", " + hpo::trainer::JsonNumber(knob.max) + "]";
  }
  return "knob: " + range + ", default " + std::string(knob.default_value) + ". " + std::string(knob.help);
}

int Main(int argc, char** argv) {
  using namespace hpo;
  using namespace hpo::trainer;

  CLI::App app(
      "hpo-train: trains one trial (an mlp, cnn, vit or byte-level language model) on Fashion-MNIST, your "
      "own "
      ".npy or IDX arrays, or a text file, and prints its metrics as one JSON line");
  TrainConfig defaults;
  std::string data_dir = defaults.data_dir;
  int64_t train_limit = 0;
  int threads = 1;
  std::string backend_name = "auto";
  bool list_knobs = false;
  bool json = false;
  app.add_option("--data-dir", data_dir, "directory of the Fashion-MNIST .gz files")->capture_default_str();
  app.add_option(
         "--train-limit", train_limit,
         "use only the first N training examples (bytes of a text file; 0: all, 50,000 of Fashion-MNIST)")
      ->capture_default_str();
  app.add_option("--threads", threads, "CPU threads for the BLAS")->capture_default_str();
  app.add_option("--backend", backend_name, "auto, cpu or cuda")->capture_default_str();
  app.add_flag(
      "--list-knobs", list_knobs,
      "print the knob catalog as a tree (each family's knobs under the value of model that has them) "
      "and exit");
  app.add_flag("--json", json, "with --list-knobs: print the knob and metric catalog as JSON");
  // Users' own data instead of Fashion-MNIST: arrays (.npy or IDX), or text.
  NpyDataOptions npy;
  TextDataOptions text;
  std::string layout = "nhwc";
  CLI::Option* data_flags[] = {
      app.add_option(
          "--train-images", npy.train_images,
          "your own training examples, .npy or IDX (raw or gzipped), told apart by their first bytes: "
          "(N, D), (N, H, W) or (N, H, W, C) / (N, C, H, W) of uint8 (.npy: or float32)"),
      app.add_option("--train-labels", npy.train_labels,
                     "their labels: (N,) whole numbers 0..255, in the images' format"),
      app.add_option("--test-images", npy.test_images,
                     "test examples; without them a test split is held out"),
      app.add_option("--test-labels", npy.test_labels, "their labels"),
      app.add_option("--image-layout", layout, "the layout of 4-D .npy image arrays")
          ->check(CLI::IsMember({"nhwc", "nchw"}))
          ->capture_default_str()};
  CLI::Option* text_flag = app.add_option(
      "--text-file", text.path, "a text file (any bytes, at most 1 GiB) for a byte-level language model");
  for (CLI::Option* flag : data_flags) text_flag->excludes(flag);
  CLI::Option* validation_flag =
      app.add_option("--validation-fraction", npy.validation_fraction,
                     "share of the training (or text) file held out for validation, its end (text: 0.1)")
          ->capture_default_str();
  CLI::Option* test_flag =
      app.add_option("--test-fraction", npy.test_fraction,
                     "without test files: share of the training (or text) file held out for testing, before "
                     "the validation share (text: 0.1)")
          ->capture_default_str();
  const auto knobs = Knobs();
  std::vector<std::string> knob_values(knobs.size());
  std::vector<CLI::Option*> knob_options(knobs.size());
  for (size_t i = 0; i < knobs.size(); ++i) {
    knob_options[i] = app.add_option("--" + std::string(knobs[i].name), knob_values[i], KnobHelp(knobs[i]));
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    std::printf("%s", app.help().c_str());
    return 0;
  } catch (const CLI::ParseError& e) {
    return Fail(kExitBadArguments, e.what());
  }
  if (list_knobs) {
    std::printf("%s%s", json ? CatalogJson().c_str() : CatalogTree().c_str(), json ? "\n" : "");
    return 0;
  }

  std::vector<std::string> assignments;
  for (size_t i = 0; i < knobs.size(); ++i) {
    if (knob_options[i]->count() > 0)
      assignments.push_back(std::string(knobs[i].name) + "=" + knob_values[i]);
  }
  Result<TrainConfig> config = ConfigFromArgs(assignments);
  if (!config.ok()) return Fail(kExitBadArguments, config.status().message());
  config->data_dir = data_dir;
  config->train_limit = train_limit;
  config->threads = threads;
  if (Status s = ValidateConfig(*config); !s.ok()) return Fail(kExitBadArguments, s.message());
  Result<kernels::BackendKind> kind = kernels::ParseBackendKind(backend_name);
  if (!kind.ok()) return Fail(kExitBadArguments, kind.status().message());

  Result<std::unique_ptr<kernels::Backend>> backend =
      kernels::MakeBackend(*kind, kernels::BackendOptions{.threads = config->threads});
  if (!backend.ok()) return Fail(kExitFailure, backend.status().message());
  std::fprintf(stderr, "device: %s\nknobs: %s\n", (*backend)->DeviceName().c_str(),
               KnobsToString(*config).c_str());

  npy.layout = layout == "nchw" ? ImageLayout::kNCHW : ImageLayout::kNHWC;
  npy.train_limit = config->train_limit;
  if (validation_flag->count() > 0) text.validation_fraction = npy.validation_fraction;
  if (test_flag->count() > 0) text.test_fraction = npy.test_fraction;
  text.train_limit = config->train_limit;
  const bool own_arrays = !npy.train_images.empty() || !npy.train_labels.empty() ||
                          !npy.test_images.empty() || !npy.test_labels.empty();
  Result<Datasets> data =
      text_flag->count() > 0 ? LoadTextDataset(text)
      : own_arrays
          ? LoadArrayDatasets(npy)
          : LoadFashionMnist(DatasetOptions{.dir = config->data_dir, .train_limit = config->train_limit});
  if (!data.ok()) {
    // --train-limit beyond the training examples and bad data options are bad arguments; bad files are not.
    return Fail(IsDataOptionError(data.status()) ? kExitBadArguments : kExitFailure, data.status().message());
  }

  Result<TrainMetrics> metrics = Train(*config, **backend, *data, [](const EpochReport& r) {
    std::printf("%s\n", ProgressToJson(r).c_str());
    std::fflush(stdout);  // at once: the worker relays it while training goes on
    std::fprintf(stderr, "epoch %d/%d: train_loss %.4f val_accuracy %.4f val_loss %.4f (%.2f s)\n", r.epoch,
                 r.epochs, r.train_loss, r.val_accuracy, r.val_loss, r.elapsed_s);
  });
  if (!metrics.ok()) return Fail(kExitFailure, metrics.status().message());
  std::printf("%s\n", MetricsToJson(*metrics).c_str());
  std::fflush(stdout);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return Main(argc, argv);
  } catch (const std::exception& e) {
    return Fail(kExitFailure, std::string("internal error: ") + e.what());
  }
}
