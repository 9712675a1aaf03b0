#include "bench/trainer/bench.h"

#include <utility>
#include <variant>

namespace hpo::bench {

Result<std::unique_ptr<kernels::Backend>> MakeBenchBackend(const TrainerBenchOptions& options, int threads) {
  kernels::BackendOptions backend_options;
  backend_options.threads = threads;
  return kernels::MakeBackend(options.device, backend_options);
}

Result<std::optional<trainer::Datasets>> AccuracyData(const TrainerBenchOptions& options,
                                                      const Reporter& reporter, const std::string& section) {
  if (options.quick) {
    reporter.Note(section, section + ": skipped with --quick");
    return std::optional<trainer::Datasets>();
  }
  Result<trainer::Datasets> data = trainer::LoadFashionMnist(trainer::DatasetOptions{});
  if (data.status().code() == StatusCode::kNotFound) {
    reporter.Note(section, "Fashion-MNIST: not installed (apt install dataset-fashion-mnist); " + section +
                               " skipped (" + data.status().message() + ")");
    return std::optional<trainer::Datasets>();
  }
  HPO_RETURN_IF_ERROR(data.status());
  return std::optional<trainer::Datasets>(std::move(*data));
}

Value PeerValue(const Result<TorchFigures>& figures, const std::string& key) {
  if (!figures.ok()) return std::monostate{};
  return Opt(figures->Number(key));
}

Value Ratio(const Value& a, const Value& b) {
  const auto* x = std::get_if<double>(&a);
  const auto* y = std::get_if<double>(&b);
  if (x == nullptr || y == nullptr || !(*y > 0)) return std::monostate{};
  return *x / *y;
}

}  // namespace hpo::bench
