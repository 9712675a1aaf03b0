// CpuBackend: the Backend on the host CPU. GEMM runs on OpenBLAS (cblas_sgemm for kF32, cblas_dgemm for
// the kF64 reference path); every element loop calls the shared math of kernels/element.h, single-
// threaded, with the activation dispatched once per call rather than per element.
//
// Threads: OpenBLAS runs GEMMs on `BackendOptions::threads` threads (set with openblas_set_num_threads,
// which is process-wide). With one thread (the default) every operation runs on the caller's thread and
// no pool thread is woken, so nothing spins between calls. Operations are synchronous; Synchronize()
// returns OK at once.
//
// Not thread-safe (one owner at a time, like every Backend). Memory is 64-byte aligned host memory.
#ifndef HPO_KERNELS_CPU_BACKEND_H_
#define HPO_KERNELS_CPU_BACKEND_H_

#include <memory>
#include <string>

#include "base/status.h"
#include "kernels/backend.h"

namespace hpo::kernels {

class CpuBackend final : public Backend {
 public:
  // INVALID_ARGUMENT unless 1 <= options.threads <= kMaxThreads.
  static Result<std::unique_ptr<CpuBackend>> Create(const BackendOptions& options);
  static constexpr int kMaxThreads = 1024;

  BackendKind kind() const override { return BackendKind::kCpu; }
  // "cpu: <model name from /proc/cpuinfo> (N threads)".
  std::string DeviceName() const override;
  int threads() const { return threads_; }

  Status Fill(View dst, double value) override;
  Status Gemm(Transpose trans_a, Transpose trans_b, int64_t m, int64_t n, int64_t k, double alpha,
              ConstView a, ConstView b, double beta, View c) override;
  Status BiasActivationForward(Activation act, int64_t rows, int64_t cols, ConstView bias, View z,
                               View y) override;
  Status BiasActivationBackward(Activation act, int64_t rows, int64_t cols, ConstView z, ConstView dy,
                                View dz, View dbias) override;
  Status SoftmaxCrossEntropy(int64_t rows, int64_t cols, ConstView logits, ConstView labels, View loss,
                             View dlogits) override;
  Result<int64_t> CountCorrect(int64_t rows, int64_t cols, ConstView logits, ConstView labels) override;
  Status SgdMomentumUpdate(const SgdHyper& hyper, View w, ConstView g, View velocity) override;
  Status AdamWUpdate(const AdamWHyper& hyper, int64_t step, View w, ConstView g, View m, View v) override;
  Status Synchronize() override { return Status::Ok(); }

 protected:
  Result<void*> AllocateBytes(size_t bytes) override;
  void FreeBytes(void* data) override;
  Status CopyToDevice(const void* host, void* device, size_t bytes) override;
  Status CopyToHost(const void* device, void* host, size_t bytes) override;

 private:
  CpuBackend(int threads, std::string cpu_model) : threads_(threads), cpu_model_(std::move(cpu_model)) {}

  int threads_;
  std::string cpu_model_;
};

}  // namespace hpo::kernels

#endif  // HPO_KERNELS_CPU_BACKEND_H_
