// hpo's side of hpo-bench-study: a real coordinator and real workers, one study, every trial read back.
#include <fcntl.h>
#include <google/protobuf/struct.pb.h>
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <thread>
#include <utility>

#include "bench/common/child.h"
#include "bench/common/rpc.h"
#include "bench/load/coordinator_process.h"
#include "bench/study/study.h"
#include "hpo/v1/service.grpc.pb.h"

extern char** environ;

namespace hpo::bench {
namespace {

using Clock = std::chrono::steady_clock;

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// An hpo-worker run as a child of the bench, its stdout and stderr in `log`. It dies with the bench
// (PR_SET_PDEATHSIG); the destructor stops it: SIGTERM (the worker stops its trials), SIGKILL after 10 s.
class WorkerProcess {
 public:
  // INTERNAL when it cannot be started.
  static Result<std::unique_ptr<WorkerProcess>> Start(const std::vector<std::string>& argv_text,
                                                      const std::string& log) {
    HPO_ASSIGN_OR_RETURN(const int pid, SpawnDaemon(argv_text, log));
    return std::unique_ptr<WorkerProcess>(new WorkerProcess(pid, log));
  }

  ~WorkerProcess() {
    kill(pid_, SIGTERM);
    if (!WaitFor(10.0)) {
      kill(pid_, SIGKILL);
      (void)WaitFor(10.0);
    }
  }
  WorkerProcess(const WorkerProcess&) = delete;
  WorkerProcess& operator=(const WorkerProcess&) = delete;

  // Whether its log says it registered; UNAVAILABLE (with the log) when it has ended.
  Result<bool> Registered() {
    int wait_status = 0;
    if (waitpid(pid_, &wait_status, WNOHANG) == pid_) {
      reaped_ = true;
      return UnavailableError("hpo-worker ended before it registered; its log:\n" + ReadAll(log_));
    }
    return ReadAll(log_).find("registered as") != std::string::npos;
  }

 private:
  WorkerProcess(pid_t pid, std::string log) : pid_(pid), log_(std::move(log)) {}

  // Waits up to `seconds` for the process to end; false when it still runs.
  bool WaitFor(double seconds) {
    const auto deadline = Clock::now() + std::chrono::duration<double>(seconds);
    while (!reaped_) {
      int wait_status = 0;
      const pid_t done = waitpid(pid_, &wait_status, WNOHANG);
      if (done == pid_ || (done < 0 && errno != EINTR)) {
        reaped_ = true;
        break;
      }
      if (Clock::now() >= deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return true;
  }

  const pid_t pid_;
  const std::string log_;
  bool reaped_ = false;
};

v1::StudySpec FmnistStudy(const StudyBenchOptions& options, uint64_t seed, bool asha) {
  v1::StudySpec spec;
  spec.set_name(std::string("hpo-bench-study-") + (asha ? "asha-" : "") + std::to_string(seed));
  auto add = [&](const char* name) {
    v1::Parameter* p = spec.add_parameters();
    p->set_name(name);
    return p;
  };
  v1::IntRange* layers = add("hidden_layers")->mutable_int_();
  layers->set_low(1);
  layers->set_high(2);
  v1::IntRange* width = add("width")->mutable_int_();
  width->set_low(16);
  width->set_high(512);
  width->set_log(true);
  v1::Categorical* activation = add("activation")->mutable_categorical();
  for (const char* choice : {"relu", "gelu", "tanh"}) activation->add_choices(choice);
  v1::FloatRange* lr = add("lr")->mutable_float_();
  lr->set_low(3e-4);
  lr->set_high(3e-3);
  lr->set_log(true);
  v1::Categorical* batch = add("batch_size")->mutable_categorical();
  for (const char* choice : {"64", "128", "256"}) batch->add_choices(choice);

  v1::Objective* accuracy = spec.add_objectives();
  accuracy->set_name("accuracy");
  accuracy->set_direction(v1::MAXIMIZE);
  v1::Objective* latency = spec.add_objectives();
  latency->set_name("latency_ms");
  latency->set_direction(v1::MINIMIZE);

  // No algorithm: the service's default for the budget (the model-based sampler under 500 trials).
  spec.mutable_budget()->set_max_trials(static_cast<uint32_t>(options.trials));
  spec.mutable_budget()->set_max_parallel(static_cast<uint32_t>(options.parallel));
  v1::BuiltinTask* task = spec.mutable_task()->mutable_builtin();
  auto& fixed = *task->mutable_fixed()->mutable_fields();
  fixed["epochs"].set_number_value(options.epochs);
  fixed["optimizer"].set_string_value("adamw");
  task->set_train_limit(static_cast<uint32_t>(options.train_limit));
  if (asha) {
    v1::AshaPruner* pruner = spec.mutable_pruner()->mutable_asha();
    pruner->set_min_resource(static_cast<uint32_t>(options.asha_min_resource));
    pruner->set_reduction_factor(static_cast<uint32_t>(options.asha_reduction_factor));
    pruner->set_max_resource(static_cast<uint32_t>(options.epochs));
  }
  spec.set_seed(seed);
  return spec;
}

// The algorithm the service chose for a study that named none.
std::string AlgorithmName(const v1::Algorithm& algorithm) {
  switch (algorithm.kind_case()) {
    case v1::Algorithm::kGp:
      return "gp";
    case v1::Algorithm::kNsga2:
      return "nsga2";
    case v1::Algorithm::kWoa:
      return "woa";
    case v1::Algorithm::kRandom:
      return "random";
    case v1::Algorithm::KIND_NOT_SET:
      break;
  }
  return "?";
}

double MetricOrNan(const v1::Trial& trial, const std::string& name) {
  const auto it = trial.metrics().find(name);
  return it == trial.metrics().end() ? std::nan("") : it->second;
}

}  // namespace

Result<RunRecord> RunHpoStudy(const StudyBenchOptions& options, uint64_t seed, bool asha,
                              const std::string& dir) {
  mkdir(dir.c_str(), 0755);
  HPO_ASSIGN_OR_RETURN(
      std::unique_ptr<CoordinatorProcess> coordinator,
      CoordinatorProcess::Start(
          {.binary = options.bin_dir + "/hpo-coordinator", .dir = dir, .db_name = "study.db"}));
  // Every worker registered before the study exists, so that its first trials start together.
  std::vector<std::unique_ptr<WorkerProcess>> workers;
  for (int w = 1; w <= options.parallel; ++w) {
    HPO_ASSIGN_OR_RETURN(
        std::unique_ptr<WorkerProcess> worker,
        WorkerProcess::Start({options.bin_dir + "/hpo-worker", "--coordinator", coordinator->address(),
                              "--slots", "1", "--threads", "1", "--name", "study-worker-" + std::to_string(w),
                              "--train-binary", options.bin_dir + "/hpo-train"},
                             dir + "/worker-" + std::to_string(w) + ".log"));
    workers.push_back(std::move(worker));
  }
  const auto register_deadline = Clock::now() + std::chrono::seconds(20);
  for (auto& worker : workers) {
    for (;;) {
      HPO_ASSIGN_OR_RETURN(const bool registered, worker->Registered());
      if (registered) break;
      if (Clock::now() >= register_deadline) return UnavailableError("a worker did not register within 20 s");
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }

  const auto stub = v1::StudyService::NewStub(
      grpc::CreateChannel(coordinator->address(), grpc::InsecureChannelCredentials()));
  v1::CreateStudyRequest create;
  *create.mutable_spec() = FmnistStudy(options, seed, asha);
  v1::Study study;
  HPO_RETURN_IF_ERROR(RpcStatus("CreateStudy", stub->CreateStudy(RpcContext().get(), create, &study)));
  const auto deadline = Clock::now() + std::chrono::duration<double>(options.timeout_s);
  while (study.state() == v1::STUDY_RUNNING) {
    if (Clock::now() >= deadline) {
      return DeadlineExceededError("the study did not finish within " + std::to_string(options.timeout_s) +
                                   " s");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
    v1::GetStudyRequest get;
    get.set_study_id(study.id());
    HPO_RETURN_IF_ERROR(RpcStatus("GetStudy", stub->GetStudy(RpcContext().get(), get, &study)));
  }
  v1::ListTrialsRequest list;
  list.set_study_id(study.id());
  v1::ListTrialsResponse trials;
  HPO_RETURN_IF_ERROR(RpcStatus("ListTrials", stub->ListTrials(RpcContext().get(), list, &trials)));

  RunRecord run;
  run.wall_s = static_cast<double>(study.finished_ms() - study.created_ms()) / 1000.0;
  run.detail = AlgorithmName(study.spec().algorithm()) + (asha ? " + asha" : "");
  for (const v1::Trial& t : trials.trials()) {
    TrialRecord record;
    record.number = t.number();
    record.accuracy = MetricOrNan(t, "accuracy");
    record.latency_ms = MetricOrNan(t, "latency_ms");
    record.epochs = static_cast<int>(t.progress().step());
    if (t.started_ms() > 0 && t.finished_ms() >= t.started_ms()) {
      record.seconds = static_cast<double>(t.finished_ms() - t.started_ms()) / 1000.0;
    }
    switch (t.state()) {
      case v1::TRIAL_COMPLETED:
        record.state = TrialRecord::State::kCompleted;
        record.epochs = options.epochs;
        break;
      case v1::TRIAL_PRUNED:
        record.state = TrialRecord::State::kPruned;
        break;
      default:
        record.state = TrialRecord::State::kFailed;
        break;
    }
    run.trials.push_back(record);
  }
  workers.clear();  // stopped before the coordinator, so that none reports to a closed port
  HPO_RETURN_IF_ERROR(coordinator->Stop());
  return run;
}

}  // namespace hpo::bench
