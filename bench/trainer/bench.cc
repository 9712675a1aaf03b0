#include "bench/trainer/bench.h"

#include <variant>

namespace hpo::bench {

Result<std::unique_ptr<kernels::Backend>> MakeBenchBackend(const TrainerBenchOptions& options, int threads) {
  kernels::BackendOptions backend_options;
  backend_options.threads = threads;
  return kernels::MakeBackend(options.device, backend_options);
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
