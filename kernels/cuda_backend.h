// The CUDA backend's factory. Defined in the CUDA sources when the build has CUDA, and in
// cuda_device_none.cc (always FAILED_PRECONDITION) otherwise, so that kernels/backend.cc needs no #ifs.
// The backend itself (class CudaBackend, kernels/cuda_backend.cc) is private to the CUDA sources.
//
// What is particular to the device, within kernels/backend.h's contract:
// - All work (kernels, cuBLAS, copies, zero fills) runs in issue order on one CUDA stream per backend;
//   operations return once their work is queued. Waits: Synchronize, Download, CountCorrect,
//   GradientStats, TimeMs, and Upload from ordinary (pageable) host memory, which waits so that the caller
//   may reuse its buffer at once. Upload from page-locked memory (Backend::AllocateHost, cudaMallocHost)
//   does not wait: keep that source unchanged until the next wait.
// - Errors found while work runs surface at the next wait: a CUDA error as INTERNAL (RESOURCE_EXHAUSTED
//   for memory), a SoftmaxCrossEntropy label outside [0, cols) or an embedding token outside [0, vocab) as
//   INVALID_ARGUMENT, reported once.
// - Device memory comes from one arena per backend (kernels/cuda_backend_arena.h): chunks of at least
//   64 MiB from cudaMalloc, carved into 256-byte aligned blocks and reused after release without returning
//   to the driver, so a training loop that frees and allocates the same sizes calls cudaMalloc only while
//   its working set grows; everything goes back when the backend is destroyed.
// - Sums over rows and buffers (dbias, dgamma, dbeta, the mean loss, GradientStats) have a fixed order
//   that depends only on the shapes, and cuBLAS runs with a fixed workspace on the one stream, so a run
//   repeats bit for bit on the same GPU model and driver. The order differs from the CPU backend's, except
//   in the convolution-network operations (Col2Im, the pools, batch norm; kernels/cuda_conv.cu), the
//   depthwise convolution (kernels/cuda_depthwise.cu), the embedding gradient and RMS norm's dgamma
//   (kernels/cuda_transformer.cu), which gather each output's terms in the CPU backend's order.
// - Attention (kernels/cuda_attention.cu) is a tiled flash-attention kernel with an online softmax, so its
//   sums differ in order from the CPU backend's whole-row softmax and the two agree to rounding; its backward
//   pass uses no atomics (dk and dv per key tile, dq per query tile), so it too repeats bit for bit.
// - The element math is compiled without FMA contraction (--fmad=false), like the host code, so
//   element-wise results (activations aside, whose libm differs) agree bit for bit with the CPU backend;
//   SGD and AdamW steps in particular.
// - GEMMs: fp16/bf16 inputs on tensor cores with fp32 accumulation and every reduction in fp32 (also when
//   C is half), fp32 inputs in plain fp32 (no TF32), fp64 in fp64.
// - One device per backend: each operation makes options.device current on the calling thread.
#ifndef HPO_KERNELS_CUDA_BACKEND_H_
#define HPO_KERNELS_CUDA_BACKEND_H_

#include <memory>

#include "base/status.h"
#include "kernels/backend.h"

namespace hpo::kernels {

// The CUDA backend on device options.device: cuBLAS GEMMs (fp16/bf16 inputs on tensor cores, fp32
// compute), kernels over the shared element math, device memory from one arena, every CUDA and cuBLAS call
// checked into a Status carrying file and line. FAILED_PRECONDITION when the device does not answer or
// the build has no CUDA; RESOURCE_EXHAUSTED when its memory cannot be had.
Result<std::unique_ptr<Backend>> MakeCudaBackend(const BackendOptions& options);

}  // namespace hpo::kernels

#endif  // HPO_KERNELS_CUDA_BACKEND_H_
