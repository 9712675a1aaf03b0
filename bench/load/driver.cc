#include "bench/load/driver.h"

#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <span>
#include <utility>

#include "bench/common/report.h"
#include "hpo/v1/service.grpc.pb.h"
#include "problems/problem.h"

namespace hpo::bench {
namespace {

using Steady = std::chrono::steady_clock;

double MsSince(Steady::time_point start) {
  return std::chrono::duration<double, std::milli>(Steady::now() - start).count();
}

// A deadline for a call that may wait `wait_ms` on the server: generous, so that only a hung call hits it.
void SetDeadline(grpc::ClientContext& context, uint32_t wait_ms) {
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(wait_ms) +
                       std::chrono::seconds(30));
}

std::string WorkerName(std::string prefix, int index) { return prefix += std::to_string(index); }

// Registers a simulated worker; its id, or 0 after logging the error.
uint64_t Register(v1::WorkerService::Stub& stub, const std::string& name, ErrorLog& errors) {
  grpc::ClientContext context;
  SetDeadline(context, 0);
  v1::RegisterWorkerRequest request;
  request.set_name(name);
  request.set_slots(1);
  request.set_device("hpo-bench-load");
  v1::RegisterWorkerResponse response;
  const grpc::Status status = stub.RegisterWorker(&context, request, &response);
  if (!status.ok()) {
    errors.Add("RegisterWorker", status);
    return 0;
  }
  return response.worker_id();
}

// The two calls of a worker's cycle answered at once from memory: AcquireTrial hands out a trial shaped as
// the coordinator's answer for the load study (a ZDT1 trial of four parameters with its lease, task and
// objectives), CompleteTrial acknowledges; RegisterWorker numbers the workers. No store, no optimizer:
// what is left is the transport and the protobuf work of a cycle, on the stack the coordinator serves on
// (the callback API).
class TrivialWorkerService final : public v1::WorkerService::CallbackService {
 public:
  TrivialWorkerService() {
    v1::Trial* trial = template_.mutable_trial();
    trial->set_study_id(1);
    trial->set_state(v1::TRIAL_RUNNING);
    trial->set_attempt(1);
    trial->set_created_ms(1'700'000'000'000);
    trial->set_started_ms(1'700'000'000'000);
    for (const char* name : {"x1", "x2", "x3", "x4"}) (*trial->mutable_params())[name].set_double_value(0.5);
    template_.mutable_lease()->set_token(std::string(32, 'a'));
    template_.mutable_lease()->set_expires_ms(1'700'000'600'000);
    template_.mutable_task()->mutable_synthetic()->set_function("zdt1");
    template_.mutable_task()->mutable_synthetic()->set_dims(4);
    for (const char* name : {"f1", "f2"}) {
      v1::Objective* objective = template_.add_objectives();
      objective->set_name(name);
      objective->set_direction(v1::MINIMIZE);
    }
  }

  grpc::ServerUnaryReactor* RegisterWorker(grpc::CallbackServerContext* context,
                                           const v1::RegisterWorkerRequest* /*request*/,
                                           v1::RegisterWorkerResponse* response) override {
    response->set_worker_id(next_worker_.fetch_add(1) + 1);
    return Done(context);
  }
  grpc::ServerUnaryReactor* AcquireTrial(grpc::CallbackServerContext* context,
                                         const v1::AcquireTrialRequest* request,
                                         v1::AcquireTrialResponse* response) override {
    const uint64_t n = next_trial_.fetch_add(1);
    *response = template_;
    response->mutable_trial()->set_id(n + 1);
    response->mutable_trial()->set_number(static_cast<uint32_t>(n));
    response->mutable_trial()->set_worker_id(request->worker_id());
    response->mutable_trial()->set_seed(n);
    response->mutable_lease()->set_trial_id(n + 1);
    return Done(context);
  }
  grpc::ServerUnaryReactor* CompleteTrial(grpc::CallbackServerContext* context,
                                          const v1::CompleteTrialRequest* /*request*/,
                                          v1::CompleteTrialResponse* /*response*/) override {
    return Done(context);
  }

 private:
  static grpc::ServerUnaryReactor* Done(grpc::CallbackServerContext* context) {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

  v1::AcquireTrialResponse template_;
  std::atomic<uint64_t> next_worker_{0};
  std::atomic<uint64_t> next_trial_{0};
};

// A start line for a group of threads: each Arrive()s when ready and waits; Open() lets them all go.
class StartLine {
 public:
  void Arrive() {
    std::unique_lock lock(mu_);
    ++arrived_;
    changed_.notify_all();
    changed_.wait(lock, [this] { return open_; });
  }
  // Waits until `count` threads have arrived (or left: Leave()).
  void WaitFor(int count) {
    std::unique_lock lock(mu_);
    changed_.wait(lock, [&] { return arrived_ >= count; });
  }
  void Leave() {  // a thread that will never arrive
    std::lock_guard lock(mu_);
    ++arrived_;
    changed_.notify_all();
  }
  void Open() {
    std::lock_guard lock(mu_);
    open_ = true;
    changed_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable changed_;
  int arrived_ = 0;    // GUARDED_BY(mu_)
  bool open_ = false;  // GUARDED_BY(mu_)
};

}  // namespace

std::shared_ptr<grpc::Channel> MakeChannel(const std::string& address) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetMaxReceiveMessageSize(256 << 20);
  return grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
}

Percentiles ComputePercentiles(std::vector<double> ms) {
  Percentiles p;
  p.count = ms.size();
  if (ms.empty()) {
    p.p50 = p.p99 = p.max = std::nan("");
    return p;
  }
  std::sort(ms.begin(), ms.end());
  const auto rank = [&](double q) {
    const auto k = static_cast<size_t>(std::ceil(q * static_cast<double>(ms.size())));
    return ms[std::clamp<size_t>(k, 1, ms.size()) - 1];
  };
  p.p50 = rank(0.50);
  p.p99 = rank(0.99);
  p.max = ms.back();
  return p;
}

void ErrorLog::Add(const char* call, const grpc::Status& status) {
  if (count_.fetch_add(1) != 0) return;
  std::lock_guard lock(mu_);
  first_ =
      std::string(call) + ": code " + std::to_string(status.error_code()) + ": " + status.error_message();
}

std::string ErrorLog::first() const {
  std::lock_guard lock(mu_);
  return first_;
}

Result<LoadFigures> RunLoad(const LoadOptions& options) {
  HPO_ASSIGN_OR_RETURN(const problems::Problem problem,
                       problems::MakeProblem(options.function, options.dims));
  ErrorLog errors;
  StartLine start_line;
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> completed{0};
  std::atomic<uint64_t> empty_polls{0};
  std::mutex mu;
  std::condition_variable changed;
  int finished = 0;                        // GUARDED_BY(mu)
  std::optional<Steady::time_point> last;  // GUARDED_BY(mu); the options.trials-th completion
  LoadFigures figures;                     // GUARDED_BY(mu) while the threads run
  // The problem's variable and objective names, as the coordinator's synthetic task names them.
  std::vector<std::string> param_names(problem.dims, "x");
  for (size_t i = 0; i < problem.dims; ++i) param_names[i] += std::to_string(i + 1);
  std::vector<std::string> metric_names(problem.num_objectives, "f");
  for (size_t m = 0; m < problem.num_objectives; ++m) metric_names[m] += std::to_string(m + 1);

  const auto work = [&](int index) {
    const auto stub = v1::WorkerService::NewStub(MakeChannel(options.address));
    const uint64_t worker_id = Register(*stub, WorkerName("bench-load-", index), errors);
    std::vector<double> acquire_ms;
    std::vector<double> complete_ms;
    if (worker_id == 0) {
      start_line.Leave();
    } else {
      start_line.Arrive();
    }
    int consecutive_errors = 0;
    std::vector<double> x(problem.dims);
    // Paced runs: this worker's slots, `period` apart, staggered over the workers.
    const auto period = std::chrono::duration_cast<Steady::duration>(
        std::chrono::duration<double>(options.pace_per_s > 0 ? options.workers / options.pace_per_s : 0.0));
    Steady::time_point slot = Steady::now() + period * index / options.workers;
    while (worker_id != 0 && !stop.load() && consecutive_errors < 50) {
      if (options.pace_per_s > 0) {
        std::this_thread::sleep_until(slot);
        slot = std::max(slot + period, Steady::now() - period);  // an overrun does not bank slots
      }
      grpc::ClientContext acquire_context;
      SetDeadline(acquire_context, options.wait_ms);
      v1::AcquireTrialRequest acquire;
      acquire.set_worker_id(worker_id);
      acquire.set_wait_ms(options.wait_ms);
      v1::AcquireTrialResponse assignment;
      const auto asked = Steady::now();
      const grpc::Status acquired = stub->AcquireTrial(&acquire_context, acquire, &assignment);
      const double acquire_time = MsSince(asked);
      if (!acquired.ok()) {
        errors.Add("AcquireTrial", acquired);
        ++consecutive_errors;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
        continue;
      }
      if (!assignment.has_trial()) {
        empty_polls.fetch_add(1);
        if (completed.load() >= options.trials) break;
        continue;
      }
      acquire_ms.push_back(acquire_time);
      // The objectives, at once: the synthetic problem at the trial's parameters x1..xn.
      const auto& params = assignment.trial().params();
      for (size_t i = 0; i < problem.dims; ++i) {
        const auto it = params.find(param_names[i]);
        if (it == params.end()) {
          errors.Add("AcquireTrial",
                     grpc::Status(grpc::StatusCode::INTERNAL, "a trial without parameter " + param_names[i]));
        }
        x[i] = it == params.end() ? problem.lower[i] : it->second.double_value();
      }
      const std::vector<double> f = problem.evaluate(std::span<const double>(x));
      v1::CompleteTrialRequest complete;
      complete.set_worker_id(worker_id);
      complete.set_trial_id(assignment.trial().id());
      complete.set_lease_token(assignment.lease().token());
      complete.set_device("hpo-bench-load");
      for (size_t m = 0; m < f.size(); ++m) (*complete.mutable_metrics())[metric_names[m]] = f[m];
      grpc::ClientContext complete_context;
      SetDeadline(complete_context, 0);
      v1::CompleteTrialResponse done;
      const auto reported = Steady::now();
      const grpc::Status status = stub->CompleteTrial(&complete_context, complete, &done);
      if (!status.ok()) {
        errors.Add("CompleteTrial", status);
        ++consecutive_errors;
        continue;
      }
      complete_ms.push_back(MsSince(reported));
      consecutive_errors = 0;
      if (completed.fetch_add(1) + 1 == options.trials) {
        std::lock_guard lock(mu);
        last = Steady::now();
        changed.notify_all();
      }
    }
    std::lock_guard lock(mu);
    figures.acquire_ms.insert(figures.acquire_ms.end(), acquire_ms.begin(), acquire_ms.end());
    figures.complete_ms.insert(figures.complete_ms.end(), complete_ms.begin(), complete_ms.end());
    ++finished;
    changed.notify_all();
  };

  std::vector<std::thread> threads;
  threads.reserve(static_cast<size_t>(options.workers));
  for (int i = 0; i < options.workers; ++i) threads.emplace_back(work, i);
  start_line.WaitFor(options.workers);
  if (options.on_start) options.on_start();
  const double cpu_start = ProcessCpuSeconds();
  const auto start = Steady::now();
  start_line.Open();
  {
    std::unique_lock lock(mu);
    figures.timed_out = !changed.wait_for(lock, std::chrono::duration<double>(options.timeout_s),
                                          [&] { return last.has_value() || finished == options.workers; });
    figures.wall_s = std::chrono::duration<double>(last.value_or(Steady::now()) - start).count();
  }
  figures.client_cpu_s = ProcessCpuSeconds() - cpu_start;
  if (options.on_end) options.on_end();
  stop.store(true);
  for (std::thread& t : threads) t.join();
  figures.cycles = completed.load();
  figures.empty_polls = empty_polls.load();
  figures.errors = errors.count();
  figures.first_error = errors.first();
  return figures;
}

IdleWorkers::IdleWorkers(std::string address, int workers, uint32_t wait_ms)
    : address_(std::move(address)), wait_ms_(wait_ms) {
  threads_.reserve(static_cast<size_t>(workers));
  for (int i = 0; i < workers; ++i) threads_.emplace_back([this, i] { Work(i); });
}

IdleWorkers::~IdleWorkers() { (void)Stop(); }

void IdleWorkers::Work(int index) {
  const auto stub = v1::WorkerService::NewStub(MakeChannel(address_));
  const uint64_t worker_id = Register(*stub, WorkerName("bench-idle-", index), errors_);
  if (worker_id == 0) return;
  registered_.fetch_add(1);
  IdleFigures mine;
  while (!stop_.load()) {
    grpc::ClientContext context;
    SetDeadline(context, wait_ms_);
    v1::AcquireTrialRequest request;
    request.set_worker_id(worker_id);
    request.set_wait_ms(wait_ms_);
    v1::AcquireTrialResponse response;
    const auto asked = Steady::now();
    polling_.fetch_add(1);
    const grpc::Status status = stub->AcquireTrial(&context, request, &response);
    polling_.fetch_sub(1);
    const double ms = MsSince(asked);
    if (!status.ok()) {
      errors_.Add("AcquireTrial", status);
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      continue;
    }
    ++mine.polls;
    mine.poll_ms.push_back(ms);
    if (response.has_trial()) {
      ++mine.trials;
    } else if (ms < 0.5 * wait_ms_) {
      ++mine.early;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));  // as hpo-worker does; no spinning
    }
  }
  std::lock_guard lock(mu_);
  figures_.polls += mine.polls;
  figures_.trials += mine.trials;
  figures_.early += mine.early;
  figures_.poll_ms.insert(figures_.poll_ms.end(), mine.poll_ms.begin(), mine.poll_ms.end());
}

IdleFigures IdleWorkers::Stop() {
  stop_.store(true);
  for (std::thread& t : threads_) {
    if (t.joinable()) t.join();
  }
  std::lock_guard lock(mu_);
  figures_.errors = errors_.count();
  figures_.first_error = errors_.first();
  return figures_;
}

int ServeTrivial(const std::string& port_file) {
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);  // before gRPC starts its threads, which inherit it

  TrivialWorkerService service;
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  const std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    std::fprintf(stderr, "hpo-bench-load: the trivial server cannot listen on loopback\n");
    return 1;
  }
  {
    const std::string partial = port_file + ".partial";
    std::ofstream out(partial);
    out << port << "\n";
    out.close();
    if (!out || std::rename(partial.c_str(), port_file.c_str()) != 0) {
      std::fprintf(stderr, "hpo-bench-load: cannot write %s\n", port_file.c_str());
      return 1;
    }
  }
  int signal = 0;
  sigwait(&stop_signals, &signal);
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  return 0;
}

}  // namespace hpo::bench
