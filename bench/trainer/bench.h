// hpo-bench-trainer: side-by-side measurements of the trainer and its kernels (training-step throughput,
// the step's own GEMMs, batch-1 latency, Fashion-MNIST accuracy) against PyTorch run in the same
// invocation where it is installed. A benchmark, not a test: it prints figures and ratios and fails only
// on errors.
//
// This header holds what the sections share: the run options, the precisions measured, and the entry
// point of each section. Single-threaded (the backends may use threads of their own).
#ifndef HPO_BENCH_TRAINER_BENCH_H_
#define HPO_BENCH_TRAINER_BENCH_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "bench/common/report.h"
#include "bench/trainer/torch_peer.h"
#include "kernels/backend.h"
#include "trainer/dataset.h"
#include "trainer/precision.h"

namespace hpo::bench {

struct TrainerBenchOptions {
  bool quick = false;  // fewer and shorter repeats, no accuracy section: the whole program in seconds
  bool json = false;   // one JSON object per row instead of tables
  int threads = 1;     // the CPU backend's threads (and PyTorch's); >= 1
  kernels::BackendKind device = kernels::BackendKind::kAuto;
  TorchPeer* torch = nullptr;  // PyTorch beside hpo; null or !available(): hpo's figures only
};

// fp32, bf16, fp16: the order of every table.
inline constexpr trainer::Precision kPrecisions[] = {trainer::Precision::kFp32, trainer::Precision::kBf16,
                                                     trainer::Precision::kFp16};

// A backend of options.device with `threads` CPU threads. OpenBLAS's thread count is process-wide (the
// last CPU backend created sets it), so a section keeps one backend alive at a time.
Result<std::unique_ptr<kernels::Backend>> MakeBenchBackend(const TrainerBenchOptions& options, int threads);

// Fashion-MNIST for an accuracy section named `section`: nothing (and a note saying why) with --quick or
// where the dataset is not installed; the error when it cannot be read.
Result<std::optional<trainer::Datasets>> AccuracyData(const TrainerBenchOptions& options,
                                                      const Reporter& reporter, const std::string& section);

// PyTorch's figure `key` from its run `figures`, or nothing (no peer, or the key was not measured).
Value PeerValue(const Result<TorchFigures>& figures, const std::string& key);
// a / b as a number, or nothing when either is missing or b is not positive.
Value Ratio(const Value& a, const Value& b);

// The sections; each prints its tables and returns the first error it met.
// --section step (step_table) and --section gemm (gemm_table): one pass measures both.
Status RunStepSection(const TrainerBenchOptions& options, const Reporter& reporter, bool step_table,
                      bool gemm_table);
Status RunLatencySection(const TrainerBenchOptions& options, const Reporter& reporter);  // --section latency
Status RunAccuracySection(const TrainerBenchOptions& options,
                          const Reporter& reporter);  // --section accuracy
// --section arch: the CNN, ViT and language-model families' training throughput, batch-1 latency and
// decode latency beside PyTorch (bench/trainer/torch_arch.py).
Status RunArchSection(const TrainerBenchOptions& options, const Reporter& reporter);
// --section arch-accuracy (not with --quick): CNN and ViT on Fashion-MNIST, 10 epochs, beside PyTorch.
Status RunArchAccuracySection(const TrainerBenchOptions& options, const Reporter& reporter);

}  // namespace hpo::bench

#endif  // HPO_BENCH_TRAINER_BENCH_H_
