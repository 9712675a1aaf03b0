// hpo-bench-study's parts: one Fashion-MNIST accuracy/latency study run by hpo (a real hpo-coordinator and
// real hpo-workers, started as child processes) or by Optuna's TPE (bench/study/optuna_study.py, run by
// /usr/bin/python3), both training with the same hpo-train binary over the same space, and the trials each
// run ended with. main.cc runs them seed after seed and judges every run's front with one hypervolume.
//
// The space is examples/fmnist-quick.json's: hidden_layers 1..2, width 16..512 (log), activation
// relu|gelu|tanh, lr 3e-4..3e-3 (log), batch_size 64|128|256; objectives accuracy (maximised) and latency_ms
// (minimised); fixed knobs epochs and optimizer adamw; no constraint.
//
// Not thread-safe: each function runs one study to its end on the calling thread and stops every process
// it started before it returns.
#ifndef HPO_BENCH_STUDY_STUDY_H_
#define HPO_BENCH_STUDY_STUDY_H_

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"

namespace hpo::bench {

struct StudyBenchOptions {
  std::string bin_dir;  // REQUIRED: holds hpo-coordinator, hpo-worker and hpo-train
  std::string python = "/usr/bin/python3";
  std::string optuna_script;  // REQUIRED for RunOptunaStudy: optuna_study.py
  int trials = 40;            // the study's max_trials
  int parallel = 2;           // trials at once: max_parallel, workers (1 slot each), Optuna's n_jobs
  int epochs = 4;             // the fixed epochs (ASHA's max_resource)
  int train_limit = 20000;    // training images per trial
  double timeout_s = 3600;    // a run not finished by then is an error
  // hpo+asha's pruner: ASHA's min_resource and reduction_factor (max_resource: the epochs).
  int asha_min_resource = 1;
  int asha_reduction_factor = 4;
};

// What one trial ended with. `accuracy` and `latency_ms` are its last reported values (a pruned trial's at
// its last step); NaN when it reported none.
struct TrialRecord {
  enum class State { kCompleted, kPruned, kFailed };
  State state = State::kFailed;
  uint32_t number = 0;
  double accuracy = 0;
  double latency_ms = 0;
  int epochs = 0;  // epochs trained: the fixed epochs for a completed trial, the last step for a pruned one
  double seconds = 0;  // from its start to its end on the worker (hpo) or in study.optimize (Optuna)
};

struct RunRecord {
  std::vector<TrialRecord> trials;
  double wall_s = 0;   // the study's wall time: created to finished (hpo), study.optimize (Optuna)
  std::string detail;  // what ran it, e.g. "gp" or "optuna 3.1.0"
};

// hpo's run: a fresh coordinator on its own SQLite file under `dir` (created), `options.parallel` workers
// (--slots 1 --threads 1 each), and one study seeded `seed` with no algorithm named (the service's default
// for the budget) and, when `asha`, the ASHA pruner (options.asha_min_resource and
// asha_reduction_factor, max_resource the epochs). Returns every trial once the study has ended;
// UNAVAILABLE when a process cannot start, INTERNAL when a call fails, DEADLINE_EXCEEDED after
// options.timeout_s.
Result<RunRecord> RunHpoStudy(const StudyBenchOptions& options, uint64_t seed, bool asha,
                              const std::string& dir);

// Optuna's run: optuna_study.py with `sampler` ("tpe" or "tpe-mv") and `seed`. FAILED_PRECONDITION when
// the script cannot import optuna; INTERNAL when it fails or prints no result.
Result<RunRecord> RunOptunaStudy(const StudyBenchOptions& options, uint64_t seed, const std::string& sampler);

// The installed Optuna's version, or "" when `python` cannot import it.
std::string OptunaVersion(const std::string& python);

}  // namespace hpo::bench

#endif  // HPO_BENCH_STUDY_STUDY_H_
