// Tests the CUDA backend (kernels/cuda_backend.cc) where a device answers, and its device-memory arena
// (kernels/cuda_backend_arena.cc) everywhere, on a fake chunk source. Op-by-op agreement with the CPU backend
// is parity_test.cc's; here is what is particular to the device: the arena, device-side error reporting,
// memory exhaustion, event timing, tensor-core GEMMs, dropout masks and run-to-run repeatability, and the
// convolution-network operations, the transformer layers and the depthwise convolution against the CPU
// backend in every element type (with the embedding's out-of-range tokens reported from Synchronize).
//
// The device cases skip themselves (GTEST_SKIP) where MakeBackend(kCuda) fails: no device, or no CUDA build.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "kernels/backend.h"
#include "kernels/cuda_backend_arena.h"
#include "kernels/half.h"
#include "tests/kernels/kernels_test_util.h"

namespace hpo::kernels {
namespace {

constexpr size_t kKiB = size_t{1} << 10;
constexpr size_t kMiB = size_t{1} << 20;

// --- DeviceArena on a fake source (host only) ---

// Hands out fake, 256-aligned, never adjacent addresses within a byte budget (the arena never touches the
// memory it manages). Must outlive the arena that uses it.
class FakeChunkSource {
 public:
  explicit FakeChunkSource(size_t budget) : budget_(budget) {}

  DeviceArena::ChunkSource source() {
    DeviceArena::ChunkSource source;
    source.allocate = [this](size_t bytes) -> Result<void*> {
      if (fail_with_.has_value()) return *fail_with_;
      if (bytes > budget_ - in_use_) return ResourceExhaustedError("fake source: out of memory");
      const uintptr_t address = next_;
      next_ += (bytes + kMiB - 1) / kMiB * kMiB + kMiB;  // a gap: chunks never touch
      live_[address] = bytes;
      in_use_ += bytes;
      ++allocations_;
      return reinterpret_cast<void*>(address);
    };
    source.release = [this](void* chunk) {
      const auto it = live_.find(reinterpret_cast<uintptr_t>(chunk));
      ASSERT_NE(it, live_.end()) << "released a chunk twice or one never given";
      in_use_ -= it->second;
      live_.erase(it);
      ++releases_;
    };
    return source;
  }

  void FailWith(Status status) { fail_with_ = std::move(status); }
  size_t in_use() const { return in_use_; }
  size_t live_chunks() const { return live_.size(); }
  int allocations() const { return allocations_; }
  int releases() const { return releases_; }

 private:
  size_t budget_;
  size_t in_use_ = 0;
  uintptr_t next_ = uintptr_t{1} << 40;
  std::map<uintptr_t, size_t> live_;
  std::optional<Status> fail_with_;
  int allocations_ = 0;
  int releases_ = 0;
};

uintptr_t Address(void* p) { return reinterpret_cast<uintptr_t>(p); }

TEST(DeviceArenaTest, RoundsUpToAlignedBlocks) {
  FakeChunkSource fake(64 * kMiB);
  DeviceArena arena(fake.source(), kMiB);
  auto a = arena.Allocate(1);
  auto b = arena.Allocate(257);
  auto c = arena.Allocate(0);
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  EXPECT_EQ(Address(*a) % DeviceArena::kAlignment, 0u);
  EXPECT_EQ(Address(*b) % DeviceArena::kAlignment, 0u);
  EXPECT_EQ(Address(*b), Address(*a) + 256);  // carved from one chunk, in address order
  EXPECT_EQ(Address(*c), Address(*b) + 512);
  EXPECT_EQ(arena.allocated_bytes(), 256u + 512u + 256u);
  EXPECT_EQ(arena.reserved_bytes(), kMiB);
  EXPECT_EQ(fake.allocations(), 1);
}

TEST(DeviceArenaTest, ReusesAFreedBlockWithoutAskingTheSource) {
  FakeChunkSource fake(64 * kMiB);
  DeviceArena arena(fake.source(), kMiB);
  auto a = arena.Allocate(1000);
  ASSERT_TRUE(a.ok());
  arena.Free(*a);
  EXPECT_EQ(arena.allocated_bytes(), 0u);
  auto b = arena.Allocate(1000);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(*b, *a);
  EXPECT_EQ(fake.allocations(), 1);
}

TEST(DeviceArenaTest, SteadyStateTrainingNeverGrows) {
  FakeChunkSource fake(size_t{1} << 40);
  DeviceArena arena(fake.source(), 8 * kMiB);
  const size_t sizes[] = {3 * kMiB, 5 * kMiB + 17, kKiB, 17 * kMiB, 300, 2 * kMiB};
  size_t reserved_after_first = 0;
  int allocations_after_first = 0;
  for (int step = 0; step < 200; ++step) {
    std::vector<void*> blocks;
    for (size_t bytes : sizes) {
      auto block = arena.Allocate(bytes);
      ASSERT_TRUE(block.ok()) << block.status().ToString();
      blocks.push_back(*block);
    }
    // Free in an order that changes from step to step.
    for (size_t i = 0; i < blocks.size(); ++i)
      arena.Free(blocks[(i * 5 + static_cast<size_t>(step)) % blocks.size()]);
    EXPECT_EQ(arena.allocated_bytes(), 0u);
    if (step == 0) {
      reserved_after_first = arena.reserved_bytes();
      allocations_after_first = fake.allocations();
    }
  }
  EXPECT_EQ(arena.reserved_bytes(), reserved_after_first);
  EXPECT_EQ(fake.allocations(), allocations_after_first);
}

TEST(DeviceArenaTest, MergesFreeNeighboursInEveryOrder) {
  const int orders[][3] = {{0, 1, 2}, {0, 2, 1}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0}};
  for (const auto& order : orders) {
    FakeChunkSource fake(64 * kMiB);
    DeviceArena arena(fake.source(), kMiB);
    void* blocks[3];
    for (void*& block : blocks) {
      auto b = arena.Allocate(256 * kKiB);
      ASSERT_TRUE(b.ok());
      block = *b;
    }
    for (int i : order) arena.Free(blocks[i]);
    EXPECT_EQ(arena.largest_free_block(), kMiB) << order[0] << order[1] << order[2];
    auto whole = arena.Allocate(kMiB);  // fits only if everything merged back into one block
    ASSERT_TRUE(whole.ok());
    EXPECT_EQ(*whole, blocks[0]);
    EXPECT_EQ(fake.allocations(), 1);
  }
}

TEST(DeviceArenaTest, BestFitPrefersTheSmallestHole) {
  FakeChunkSource fake(64 * kMiB);
  DeviceArena arena(fake.source(), kMiB);
  auto big = arena.Allocate(100 * kKiB);
  auto fence1 = arena.Allocate(kKiB);
  auto small = arena.Allocate(50 * kKiB);
  auto fence2 = arena.Allocate(kKiB);
  ASSERT_TRUE(big.ok() && fence1.ok() && small.ok() && fence2.ok());
  arena.Free(*big);
  arena.Free(*small);
  auto fit = arena.Allocate(40 * kKiB);
  ASSERT_TRUE(fit.ok());
  EXPECT_EQ(*fit, *small);
}

TEST(DeviceArenaTest, ALargeRequestGetsAChunkOfItsOwnSize) {
  FakeChunkSource fake(64 * kMiB);
  DeviceArena arena(fake.source(), kMiB);
  ASSERT_TRUE(arena.Allocate(5 * kMiB + 1).ok());
  EXPECT_EQ(arena.chunk_count(), 1u);
  EXPECT_EQ(arena.reserved_bytes(), 5 * kMiB + 256);
}

TEST(DeviceArenaTest, ExhaustionReturnsFreeChunksAndRetries) {
  FakeChunkSource fake(3 * kMiB);
  DeviceArena arena(fake.source(), 2 * kMiB);
  auto a = arena.Allocate(kMiB);  // a 2 MiB chunk
  ASSERT_TRUE(a.ok());
  arena.Free(*a);
  auto b = arena.Allocate(3 * kMiB);  // needs the idle chunk's memory back
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(fake.releases(), 1);
  EXPECT_EQ(arena.chunk_count(), 1u);
  EXPECT_EQ(arena.reserved_bytes(), 3 * kMiB);
}

TEST(DeviceArenaTest, ExhaustionFallsBackToTheExactSizeThenReportsResourceExhausted) {
  FakeChunkSource fake(3 * kMiB + kMiB / 2);
  DeviceArena arena(fake.source(), 2 * kMiB);
  auto a = arena.Allocate(kMiB);  // chunk 1: 2 MiB, 1 MiB of it free
  ASSERT_TRUE(a.ok());
  auto b = arena.Allocate(kMiB + kMiB / 2);  // a 2 MiB chunk does not fit the budget; 1.5 MiB does
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(arena.reserved_bytes(), 3 * kMiB + kMiB / 2);
  auto c = arena.Allocate(kMiB);  // the rest of chunk 1
  ASSERT_TRUE(c.ok());
  const Status full = arena.Allocate(256).status();
  EXPECT_EQ(full.code(), StatusCode::kResourceExhausted);
  EXPECT_NE(full.message().find("cannot reserve"), std::string::npos) << full.message();
  EXPECT_NE(full.message().find("fake source: out of memory"), std::string::npos) << full.message();
}

TEST(DeviceArenaTest, OtherSourceErrorsPassThrough) {
  FakeChunkSource fake(64 * kMiB);
  DeviceArena arena(fake.source(), kMiB);
  fake.FailWith(InternalError("device lost"));
  const Status s = arena.Allocate(10).status();
  EXPECT_EQ(s.code(), StatusCode::kInternal);
  EXPECT_NE(s.message().find("device lost"), std::string::npos);
}

TEST(DeviceArenaTest, DestructionReturnsEveryChunk) {
  FakeChunkSource fake(64 * kMiB);
  {
    DeviceArena arena(fake.source(), kMiB);
    ASSERT_TRUE(arena.Allocate(3 * kMiB).ok());
    ASSERT_TRUE(arena.Allocate(10).ok());
    ASSERT_TRUE(arena.Allocate(2 * kMiB).ok());
    EXPECT_EQ(fake.live_chunks(), 3u);
  }
  EXPECT_EQ(fake.live_chunks(), 0u);
  EXPECT_EQ(fake.in_use(), 0u);
}

// --- The CUDA backend (device only) ---

class CudaBackendTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Result<std::unique_ptr<Backend>> backend = MakeBackend(BackendKind::kCuda, BackendOptions{});
    if (!backend.ok()) GTEST_SKIP() << "no CUDA backend here: " << backend.status().ToString();
    backend_ = std::move(*backend);
  }

  Buffer Alloc(Backend& backend, size_t count, DType dtype) {
    Result<Buffer> buffer = backend.Allocate(count, dtype);
    EXPECT_TRUE(buffer.ok()) << buffer.status().ToString();
    return buffer.ok() ? std::move(*buffer) : Buffer();
  }

  template <typename T>
  Buffer Upload(Backend& backend, const std::vector<T>& values) {
    Buffer buffer = Alloc(backend, values.size(), DTypeOf<T>());
    EXPECT_TRUE(backend.Upload(std::span<const T>(values), buffer.view()).ok());
    return buffer;
  }

  template <typename T>
  std::vector<T> Download(Backend& backend, const Buffer& buffer) {
    std::vector<T> values(buffer.size());
    const Status s = backend.Download(buffer.view(), std::span<T>(values));
    EXPECT_TRUE(s.ok()) << s.ToString();
    return values;
  }

  std::unique_ptr<Backend> backend_;
};

std::vector<float> RandomFloats(size_t n, uint64_t seed, float lo = -1.0f, float hi = 1.0f) {
  std::mt19937_64 rng(seed);
  std::vector<float> values(n);
  for (float& v : values) v = lo + (hi - lo) * static_cast<float>(rng() >> 40) / static_cast<float>(1 << 24);
  return values;
}

template <typename H>
std::vector<H> ToHalves(const std::vector<float>& values) {
  std::vector<H> out(values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    out[i].bits = std::is_same_v<H, Half> ? FloatToHalfBits(values[i]) : FloatToBf16Bits(values[i]);
  }
  return out;
}

TEST_F(CudaBackendTest, NamesItsDevice) {
  EXPECT_EQ(backend_->kind(), BackendKind::kCuda);
  EXPECT_EQ(backend_->DeviceName().rfind("cuda: ", 0), 0u) << backend_->DeviceName();
  EXPECT_GT(backend_->DeviceName().size(), 6u);
}

TEST_F(CudaBackendTest, AllocationsAreZeroedAndTheArenaReusesFreedMemory) {
  void* first = nullptr;
  size_t peak_after_first = 0;
  for (int step = 0; step < 50; ++step) {
    Buffer a = Alloc(*backend_, kMiB, DType::kF32);
    Buffer b = Alloc(*backend_, 3 * kKiB, DType::kF16);
    Buffer c = Alloc(*backend_, 5 * kMiB + 3, DType::kF64);
    if (step == 0) first = a.view().data;
    EXPECT_EQ(a.view().data, first) << "step " << step;  // best fit hands the same block back
    if (step % 10 == 0) {
      for (float v : Download<float>(*backend_, a)) ASSERT_EQ(v, 0.0f);
      for (double v : Download<double>(*backend_, c)) ASSERT_EQ(v, 0.0);
    }
    ASSERT_TRUE(backend_->Fill(a.view(), 3.0).ok());  // dirty the memory for the next step
    ASSERT_TRUE(backend_->Fill(c.view(), -1.0).ok());
    if (step == 0) peak_after_first = backend_->peak_bytes();
  }
  EXPECT_EQ(backend_->peak_bytes(), peak_after_first);
  EXPECT_EQ(backend_->bytes_in_use(), 0u);
  EXPECT_TRUE(backend_->Synchronize().ok());
}

TEST_F(CudaBackendTest, AHugeAllocationIsResourceExhaustedAndTheBackendCarriesOn) {
  const Status huge = backend_->Allocate(size_t{1} << 44, DType::kF32).status();  // 64 TiB
  EXPECT_EQ(huge.code(), StatusCode::kResourceExhausted) << huge.ToString();
  Buffer small = Alloc(*backend_, 1000, DType::kF32);
  ASSERT_TRUE(backend_->Fill(small.view(), 2.5).ok());
  for (float v : Download<float>(*backend_, small)) ASSERT_EQ(v, 2.5f);
  EXPECT_TRUE(backend_->Synchronize().ok());
}

TEST_F(CudaBackendTest, ALabelOutOfRangeIsReportedBySynchronizeOnce) {
  const int64_t rows = 4, cols = 3;
  Buffer logits = Upload(*backend_, RandomFloats(rows * cols, 1));
  Buffer labels = Upload(*backend_, std::vector<int32_t>{0, 2, 3, 1});  // 3 is out of range
  Buffer loss = Alloc(*backend_, 1, DType::kF32);
  Buffer dlogits = Alloc(*backend_, rows * cols, DType::kF32);
  ASSERT_TRUE(backend_
                  ->SoftmaxCrossEntropy(LossOptions{}, rows, cols, logits.view(), labels.view(), loss.view(),
                                        dlogits.view())
                  .ok());  // found on the device, later
  const Status s = backend_->Synchronize();
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.ToString();
  EXPECT_NE(s.message().find("label"), std::string::npos) << s.message();
  EXPECT_TRUE(backend_->Synchronize().ok());  // reported once, then cleared

  // Good labels afterwards: no error.
  Buffer good = Upload(*backend_, std::vector<int32_t>{0, 2, 1, 1});
  ASSERT_TRUE(backend_
                  ->SoftmaxCrossEntropy(LossOptions{}, rows, cols, logits.view(), good.view(), loss.view(),
                                        dlogits.view())
                  .ok());
  EXPECT_TRUE(backend_->Synchronize().ok());
  EXPECT_TRUE(std::isfinite(Download<float>(*backend_, loss)[0]));
}

TEST_F(CudaBackendTest, TimeMsMeasuresDeviceWorkAndPassesErrorsOn) {
  const int64_t n = 512;
  Buffer a = Upload(*backend_, RandomFloats(n * n, 2));
  Buffer b = Upload(*backend_, RandomFloats(n * n, 3));
  Buffer c = Alloc(*backend_, n * n, DType::kF32);
  Result<double> ms = backend_->TimeMs([&] {
    for (int i = 0; i < 4; ++i) {
      HPO_RETURN_IF_ERROR(
          backend_->Gemm(Transpose::kNo, Transpose::kNo, n, n, n, 1.0, a.view(), b.view(), 0.0, c.view()));
    }
    return Status::Ok();
  });
  ASSERT_TRUE(ms.ok()) << ms.status().ToString();
  EXPECT_GT(*ms, 0.0);
  EXPECT_LT(*ms, 10000.0);
  EXPECT_EQ(backend_->TimeMs([] { return InvalidArgumentError("work failed"); }).status().code(),
            StatusCode::kInvalidArgument);
}

// fp16 (and bf16) inputs run on tensor cores with fp32 accumulation; products of halves are exact in fp32,
// so only the order of the sums differs from the CPU: |gpu - cpu| <= 2 k 2^-24 sum_k |alpha a b| + beta
// terms.
TEST_F(CudaBackendTest, HalfGemmOnTensorCoresMatchesTheCpu) {
  Result<std::unique_ptr<Backend>> cpu_or = MakeBackend(BackendKind::kCpu, BackendOptions{});
  ASSERT_TRUE(cpu_or.ok());
  Backend& cpu = **cpu_or;
  const int64_t m = 96, n = 80, k = 200;
  const double alpha = 1.5, beta = 0.5;
  for (Transpose ta : {Transpose::kNo, Transpose::kYes}) {
    for (Transpose tb : {Transpose::kNo, Transpose::kYes}) {
      const std::vector<Half> a = ToHalves<Half>(RandomFloats(m * k, 10));
      const std::vector<Half> b = ToHalves<Half>(RandomFloats(k * n, 11));
      const std::vector<float> c0 = RandomFloats(m * n, 12);
      std::vector<float> results[2];
      Backend* backends[2] = {backend_.get(), &cpu};
      for (int i = 0; i < 2; ++i) {
        Buffer da = Upload(*backends[i], a);
        Buffer db = Upload(*backends[i], b);
        Buffer dc = Upload(*backends[i], c0);
        const Status s = backends[i]->Gemm(ta, tb, m, n, k, alpha, da.view(), db.view(), beta, dc.view());
        ASSERT_TRUE(s.ok()) << s.ToString();
        results[i] = Download<float>(*backends[i], dc);
      }
      // Bound from sum_k |a b| (element (r, c) of op(A) op(B)).
      for (int64_t r = 0; r < m; ++r) {
        for (int64_t c = 0; c < n; ++c) {
          double abs_sum = 0;
          for (int64_t j = 0; j < k; ++j) {
            const double av = HalfBitsToFloat(a[ta == Transpose::kNo ? r * k + j : j * m + r].bits);
            const double bv = HalfBitsToFloat(b[tb == Transpose::kNo ? j * n + c : c * k + j].bits);
            abs_sum += std::fabs(av * bv);
          }
          const double tol =
              2.0 * k * std::ldexp(1.0, -24) * (alpha * abs_sum + beta * std::fabs(c0[r * n + c])) + 1e-6;
          ASSERT_NEAR(results[0][r * n + c], results[1][r * n + c], tol)
              << "trans_a " << (ta == Transpose::kYes) << " trans_b " << (tb == Transpose::kYes) << " at "
              << r << "," << c;
        }
      }
    }
  }
}

// Same (seed, stream) => the same elements dropped and the same kept values, on the GPU and the CPU.
TEST_F(CudaBackendTest, DropoutMasksAreTheCpuBackendsBitForBit) {
  Result<std::unique_ptr<Backend>> cpu_or = MakeBackend(BackendKind::kCpu, BackendOptions{});
  ASSERT_TRUE(cpu_or.ok());
  Backend& cpu = **cpu_or;
  const size_t n = 10007;
  const std::vector<float> x = RandomFloats(n, 20, 0.5f, 2.0f);  // never zero: a zero output means dropped
  for (double p : {0.1, 0.37, 0.9}) {
    std::vector<float> f32[2];
    std::vector<Half> f16[2];
    Backend* backends[2] = {backend_.get(), &cpu};
    for (int i = 0; i < 2; ++i) {
      Buffer dx = Upload(*backends[i], x);
      Buffer dy = Alloc(*backends[i], n, DType::kF32);
      ASSERT_TRUE(backends[i]->Dropout(p, 0x0123456789abcdefull, 7, dx.view(), dy.view()).ok());
      f32[i] = Download<float>(*backends[i], dy);
      Buffer hx = Upload(*backends[i], ToHalves<Half>(x));
      ASSERT_TRUE(backends[i]->Dropout(p, 0x0123456789abcdefull, 7, hx.view(), hx.view()).ok());  // in place
      f16[i] = Download<Half>(*backends[i], hx);
    }
    size_t dropped = 0;
    for (size_t j = 0; j < n; ++j) {
      ASSERT_EQ(FloatBits(f32[0][j]), FloatBits(f32[1][j])) << "p " << p << " element " << j;
      ASSERT_EQ(f16[0][j].bits, f16[1][j].bits) << "p " << p << " element " << j;
      dropped += f32[0][j] == 0.0f;
    }
    EXPECT_NEAR(static_cast<double>(dropped) / n, p, 0.03);
  }
}

// One training step's worth of operations in mixed precision; returns every result's bytes.
std::vector<uint8_t> RunStep(Backend& backend) {
  const int64_t batch = 64, in = 128, hidden = 256, classes = 10;
  std::vector<uint8_t> out;
  auto keep = [&](const void* data, size_t bytes) {
    const auto* p = static_cast<const uint8_t*>(data);
    out.insert(out.end(), p, p + bytes);
  };
  auto check = [](const Status& s) { EXPECT_TRUE(s.ok()) << s.ToString(); };
  auto upload = [&](const std::vector<float>& values) {
    Result<Buffer> buffer = backend.Allocate(values.size(), DType::kF32);
    EXPECT_TRUE(buffer.ok());
    check(backend.Upload(std::span<const float>(values), buffer->view()));
    return std::move(*buffer);
  };
  auto alloc = [&](size_t count, DType dtype) {
    Result<Buffer> buffer = backend.Allocate(count, dtype);
    EXPECT_TRUE(buffer.ok());
    return std::move(*buffer);
  };
  auto half_of = [&](const Buffer& f32) {
    Buffer h = alloc(f32.size(), DType::kF16);
    check(backend.Cast(f32.view(), h.view()));
    return h;
  };
  auto download = [&](const Buffer& b) {
    std::vector<uint8_t> bytes(b.size() * DTypeSize(b.dtype()));
    switch (b.dtype()) {
      case DType::kF32:
        check(backend.Download(b.view(), std::span<float>(reinterpret_cast<float*>(bytes.data()), b.size())));
        break;
      case DType::kF16:
        check(backend.Download(b.view(), std::span<Half>(reinterpret_cast<Half*>(bytes.data()), b.size())));
        break;
      default:
        ADD_FAILURE() << "unexpected type";
    }
    keep(bytes.data(), bytes.size());
  };

  Buffer x = half_of(upload(RandomFloats(batch * in, 30)));
  Buffer w1_master = upload(RandomFloats(in * hidden, 31, -0.1f, 0.1f));
  Buffer w1 = half_of(w1_master);
  Buffer b1 = half_of(upload(RandomFloats(hidden, 32, -0.1f, 0.1f)));
  Buffer gamma = half_of(upload(RandomFloats(hidden, 33, 0.9f, 1.1f)));
  Buffer beta = half_of(upload(RandomFloats(hidden, 34, -0.1f, 0.1f)));
  Buffer w2_master = upload(RandomFloats(hidden * classes, 35, -0.1f, 0.1f));
  Buffer w2 = half_of(w2_master);
  std::vector<int32_t> label_values(batch);
  for (int64_t r = 0; r < batch; ++r) label_values[r] = static_cast<int32_t>((r * 7) % classes);
  Buffer labels = alloc(batch, DType::kI32);
  check(backend.Upload(std::span<const int32_t>(label_values), labels.view()));

  // Forward.
  Buffer z = alloc(batch * hidden, DType::kF16);
  check(backend.Gemm(Transpose::kNo, Transpose::kNo, batch, hidden, in, 1.0, x.view(), w1.view(), 0.0,
                     z.view()));
  Buffer h = alloc(batch * hidden, DType::kF16);
  check(backend.BiasActivationForward(Activation::kGelu, batch, hidden, b1.view(), z.view(), h.view()));
  Buffer hd = alloc(batch * hidden, DType::kF16);
  check(backend.Dropout(0.2, 99, 1, h.view(), hd.view()));
  Buffer ln = alloc(batch * hidden, DType::kF16);
  Buffer mean = alloc(batch, DType::kF32);
  Buffer rstd = alloc(batch, DType::kF32);
  check(backend.LayerNormForward(batch, hidden, 1e-5, hd.view(), gamma.view(), beta.view(), ln.view(),
                                 mean.view(), rstd.view()));
  Buffer logits = alloc(batch * classes, DType::kF16);
  check(backend.Gemm(Transpose::kNo, Transpose::kNo, batch, classes, hidden, 1.0, ln.view(), w2.view(), 0.0,
                     logits.view()));
  Buffer loss = alloc(1, DType::kF32);
  Buffer dlogits = alloc(batch * classes, DType::kF16);
  check(backend.SoftmaxCrossEntropy(LossOptions{.label_smoothing = 0.1, .grad_scale = 1024.0}, batch, classes,
                                    logits.view(), labels.view(), loss.view(), dlogits.view()));
  // Backward.
  Buffer dw2 = alloc(hidden * classes, DType::kF32);
  check(backend.Gemm(Transpose::kYes, Transpose::kNo, hidden, classes, batch, 1.0, ln.view(), dlogits.view(),
                     0.0, dw2.view()));
  Buffer dln = alloc(batch * hidden, DType::kF16);
  check(backend.Gemm(Transpose::kNo, Transpose::kYes, batch, hidden, classes, 1.0, dlogits.view(), w2.view(),
                     0.0, dln.view()));
  Buffer dgamma = alloc(hidden, DType::kF32);
  Buffer dbeta = alloc(hidden, DType::kF32);
  check(backend.LayerNormBackward(batch, hidden, hd.view(), gamma.view(), mean.view(), rstd.view(),
                                  dln.view(), dln.view(), dgamma.view(), dbeta.view()));
  check(backend.Dropout(0.2, 99, 1, dln.view(), dln.view()));
  Buffer dbias = alloc(hidden, DType::kF32);
  check(backend.BiasActivationBackward(Activation::kGelu, batch, hidden, z.view(), dln.view(), dln.view(),
                                       dbias.view()));
  Buffer dw1 = alloc(in * hidden, DType::kF32);
  check(backend.Gemm(Transpose::kYes, Transpose::kNo, in, hidden, batch, 1.0, x.view(), dln.view(), 0.0,
                     dw1.view()));
  // Optimizer steps.
  Result<GradStats> stats = backend.GradientStats(dw1.view());
  EXPECT_TRUE(stats.ok());
  EXPECT_TRUE(stats->finite);
  keep(&stats->sum_squares, sizeof(double));
  Buffer m = alloc(in * hidden, DType::kF32);
  Buffer v = alloc(in * hidden, DType::kF32);
  check(backend.AdamWUpdate(AdamWHyper{.lr = 1e-3, .weight_decay = 0.01}, 1, 1.0 / 1024, w1_master.view(),
                            dw1.view(), m.view(), v.view(), w1.view()));
  Buffer velocity = alloc(hidden * classes, DType::kF32);
  check(backend.SgdMomentumUpdate(SgdHyper{.lr = 0.1, .momentum = 0.9, .nesterov = true}, 1.0 / 1024,
                                  w2_master.view(), dw2.view(), velocity.view(), w2.view()));
  Result<int64_t> correct = backend.CountCorrect(batch, classes, logits.view(), labels.view());
  EXPECT_TRUE(correct.ok());
  keep(&*correct, sizeof(int64_t));
  check(backend.Synchronize());
  for (const Buffer* b :
       {&loss, &logits, &dw2, &dgamma, &dbeta, &dbias, &dw1, &w1_master, &w1, &w2_master, &w2}) {
    download(*b);
  }
  return out;
}

TEST_F(CudaBackendTest, ATrainingStepRepeatsBitForBit) {
  const std::vector<uint8_t> first = RunStep(*backend_);
  ASSERT_FALSE(first.empty());
  EXPECT_EQ(RunStep(*backend_), first);  // the same backend, its arena warm
  Result<std::unique_ptr<Backend>> fresh = MakeBackend(BackendKind::kCuda, BackendOptions{});
  ASSERT_TRUE(fresh.ok());
  EXPECT_EQ(RunStep(**fresh), first);  // a new backend
}

// --- Convolution-network operations: the GPU against the CPU backend, every element type ---

// Expects |gpu - cpu| <= atol + |cpu| * rel elementwise; both backends are designed to sum in the same
// order (gathers over covering windows, the same column chunks), so differences beyond a last-place flip
// point at a bug.
void ExpectNearCpu(const std::vector<double>& gpu, const std::vector<double>& cpu, double atol, double rel,
                   const std::string& what) {
  ASSERT_EQ(gpu.size(), cpu.size()) << what;
  int failures = 0;
  for (size_t i = 0; i < gpu.size() && failures < 5; ++i) {
    const bool ok = std::fabs(gpu[i] - cpu[i]) <= atol + std::fabs(cpu[i]) * rel;
    EXPECT_TRUE(ok) << what << " [" << i << "]: gpu " << gpu[i] << ", cpu " << cpu[i];
    if (!ok) ++failures;
  }
}

// The geometries of the convolution parity tests: small and odd, then large enough for grid-stride loops
// and many column chunks.
const Conv2dShape kParityShapes[] = {Conv2dShape{.batch = 2,
                                                 .height = 7,
                                                 .width = 6,
                                                 .channels = 3,
                                                 .kernel_h = 3,
                                                 .kernel_w = 3,
                                                 .stride_h = 2,
                                                 .stride_w = 2,
                                                 .pad_h = 1,
                                                 .pad_w = 1},
                                     Conv2dShape{.batch = 8,
                                                 .height = 32,
                                                 .width = 32,
                                                 .channels = 16,
                                                 .kernel_h = 5,
                                                 .kernel_w = 5,
                                                 .stride_h = 1,
                                                 .stride_w = 1,
                                                 .pad_h = 2,
                                                 .pad_w = 2}};

// Runs every convolution-network operation of `backend` on fixed inputs of type dt and returns each
// output, in a fixed order, decoded into double.
std::vector<std::vector<double>> RunConvOps(Backend& backend, DType dt, const Conv2dShape& s,
                                            int64_t bn_rows) {
  std::vector<std::vector<double>> out;
  const DType acc = AccumulationType(dt);
  const size_t in = static_cast<size_t>(s.input_size());
  const size_t cols_size = static_cast<size_t>(s.out_pixels() * s.patch_size());
  const size_t pooled = static_cast<size_t>(s.out_pixels() * s.channels);
  const std::vector<double> x = ktest::RandomValues(dt, in, 40), c = ktest::RandomValues(dt, cols_size, 41),
                            dy = ktest::RandomValues(dt, pooled, 42);
  auto check = [](const Status& status) { EXPECT_TRUE(status.ok()) << status.ToString(); };
  Buffer xb = ktest::Make(backend, dt, x), cb = ktest::Make(backend, dt, c),
         dyb = ktest::Make(backend, dt, dy);
  Buffer im2col = ktest::Zeros(backend, dt, cols_size), col2im = ktest::Zeros(backend, dt, in),
         y = ktest::Zeros(backend, dt, pooled), argmax = ktest::Zeros(backend, DType::kI32, pooled),
         dx = ktest::Zeros(backend, dt, in);
  check(backend.Im2Col(s, xb.view(), im2col.view()));
  check(backend.Col2Im(s, cb.view(), col2im.view()));
  Conv2dShape pool = s;
  pool.pad_h = std::min(pool.pad_h, pool.kernel_h - 1);
  pool.pad_w = std::min(pool.pad_w, pool.kernel_w - 1);
  const size_t pool_out = static_cast<size_t>(pool.out_pixels() * pool.channels);
  Buffer pool_dy = ktest::Make(backend, dt, ktest::RandomValues(dt, pool_out, 43));
  y = ktest::Zeros(backend, dt, pool_out);
  argmax = ktest::Zeros(backend, DType::kI32, pool_out);
  check(backend.MaxPool2dForward(pool, xb.view(), y.view(), argmax.view()));
  check(backend.MaxPool2dBackward(pool, pool_dy.view(), argmax.view(), dx.view()));
  const int64_t pixels = s.height * s.width;
  Buffer avg = ktest::Zeros(backend, dt, static_cast<size_t>(s.batch * s.channels)),
         avg_dx = ktest::Zeros(backend, dt, in);
  check(backend.GlobalAvgPoolForward(s.batch, pixels, s.channels, xb.view(), avg.view()));
  check(backend.GlobalAvgPoolBackward(s.batch, pixels, s.channels, avg.view(), avg_dx.view()));
  for (const Buffer* b : {&im2col, &col2im, &y, &argmax, &dx, &avg, &avg_dx})
    out.push_back(ktest::Get(backend, b->view()));

  // Batch norm over bn_rows x channels (several column chunks when bn_rows > 32).
  const int64_t cols = s.channels;
  const size_t size = static_cast<size_t>(bn_rows * cols);
  std::vector<double> bx = ktest::RandomValues(dt, size, 44, 2.0);
  for (double& v : bx) v = ktest::RoundTo(dt, v + 0.5);
  Buffer bxb = ktest::Make(backend, dt, bx),
         gamma = ktest::Make(backend, dt, ktest::RandomValues(dt, cols, 45)),
         beta = ktest::Make(backend, dt, ktest::RandomValues(dt, cols, 46)),
         bdy = ktest::Make(backend, dt, ktest::RandomValues(dt, size, 47)),
         by = ktest::Zeros(backend, dt, size), mean = ktest::Zeros(backend, acc, cols),
         rstd = ktest::Zeros(backend, acc, cols),
         running_mean = ktest::Make(backend, acc, std::vector<double>(cols, 0.25)),
         running_var = ktest::Make(backend, acc, std::vector<double>(cols, 1.5)),
         bdx = ktest::Zeros(backend, dt, size), dgamma = ktest::Zeros(backend, acc, cols),
         dbeta = ktest::Zeros(backend, acc, cols), inference = ktest::Zeros(backend, dt, size);
  check(backend.BatchNormForward(bn_rows, cols, 1e-5, 0.1, bxb.view(), gamma.view(), beta.view(), by.view(),
                                 mean.view(), rstd.view(), running_mean.view(), running_var.view()));
  check(backend.BatchNormBackward(bn_rows, cols, bxb.view(), gamma.view(), mean.view(), rstd.view(),
                                  bdy.view(), bdx.view(), dgamma.view(), dbeta.view()));
  check(backend.BatchNormInference(bn_rows, cols, 1e-5, bxb.view(), gamma.view(), beta.view(),
                                   running_mean.view(), running_var.view(), inference.view()));
  // In place: dx = dy.
  check(backend.BatchNormBackward(bn_rows, cols, bxb.view(), gamma.view(), mean.view(), rstd.view(),
                                  bdy.view(), bdy.view(), dgamma.view(), dbeta.view()));
  check(backend.Synchronize());
  for (const Buffer* b :
       {&by, &mean, &rstd, &running_mean, &running_var, &bdx, &dgamma, &dbeta, &inference, &bdy}) {
    out.push_back(ktest::Get(backend, b->view()));
  }
  return out;
}

TEST_F(CudaBackendTest, ConvolutionNetworkOperationsMatchTheCpu) {
  Result<std::unique_ptr<Backend>> cpu_or = MakeBackend(BackendKind::kCpu, BackendOptions{});
  ASSERT_TRUE(cpu_or.ok());
  const char* names[] = {"im2col",          "col2im",         "max pool y", "max pool argmax", "max pool dx",
                         "avg pool y",      "avg pool dx",    "bn y",       "bn mean",         "bn rstd",
                         "bn running_mean", "bn running_var", "bn dx",      "bn dgamma",       "bn dbeta",
                         "bn inference",    "bn dx in place"};
  const int64_t bn_rows[] = {70, 8 * 32 * 32};
  for (DType dt : {DType::kF32, DType::kF64, DType::kF16, DType::kBF16}) {
    for (int i = 0; i < 2; ++i) {
      const std::vector<std::vector<double>> gpu = RunConvOps(*backend_, dt, kParityShapes[i], bn_rows[i]);
      const std::vector<std::vector<double>> cpu = RunConvOps(**cpu_or, dt, kParityShapes[i], bn_rows[i]);
      ASSERT_EQ(gpu.size(), cpu.size());
      const double atol = dt == DType::kF64 ? 1e-12 : 1e-5;
      const double rel = 2 * ktest::Eps(dt);
      for (size_t k = 0; k < gpu.size(); ++k) {
        const std::string what = std::string(DTypeName(dt)) + " shape " + std::to_string(i) + " " + names[k];
        if (k == 0 || k == 2 || k == 3) {
          EXPECT_EQ(gpu[k], cpu[k]) << what;  // copies and selections: exact
        } else {
          ExpectNearCpu(gpu[k], cpu[k], atol, rel, what);
        }
      }
    }
  }
}

// --- Transformer layers and depthwise convolution: the GPU against the CPU backend, every element type ---

// Tokens with repeats over [0, vocab).
std::vector<double> ParityTokens(int64_t rows, int64_t vocab) {
  std::vector<double> tokens(static_cast<size_t>(rows));
  for (int64_t r = 0; r < rows; ++r)
    tokens[static_cast<size_t>(r)] = static_cast<double>((r * r + 3 * r) % vocab);
  return tokens;
}

// Runs every transformer-layer operation of `backend` on fixed inputs of type dt (rows x cols activations,
// a vocab x cols table) and returns each output, in a fixed order, decoded into double. The backward pass of
// RMS norm takes a fixed rstd, so that both backends see the same inputs.
std::vector<std::vector<double>> RunTransformerOps(Backend& backend, DType dt, int64_t rows, int64_t cols,
                                                   int64_t vocab) {
  const DType acc = AccumulationType(dt);
  const size_t size = static_cast<size_t>(rows * cols), hidden = static_cast<size_t>(cols / 2);
  auto check = [](const Status& status) { EXPECT_TRUE(status.ok()) << status.ToString(); };
  std::vector<double> rstd_values(static_cast<size_t>(rows));
  for (size_t r = 0; r < rstd_values.size(); ++r)
    rstd_values[r] = ktest::RoundTo(acc, 0.5 + 0.01 * static_cast<double>(r % 97));
  Buffer x = ktest::Make(backend, dt, ktest::RandomValues(dt, size, 60, 2.0)),
         gamma = ktest::Make(backend, dt, ktest::RandomValues(dt, static_cast<size_t>(cols), 61)),
         dy = ktest::Make(backend, dt, ktest::RandomValues(dt, size, 62)),
         table = ktest::Make(backend, dt, ktest::RandomValues(dt, static_cast<size_t>(vocab * cols), 63)),
         tokens = ktest::Make(backend, DType::kI32, ParityTokens(rows, vocab)),
         fixed_rstd = ktest::Make(backend, acc, rstd_values), emb = ktest::Zeros(backend, dt, size),
         dtable = ktest::Make(backend, acc, std::vector<double>(static_cast<size_t>(vocab * cols), 5.0)),
         y = ktest::Zeros(backend, dt, size), rstd = ktest::Zeros(backend, acc, static_cast<size_t>(rows)),
         dx = ktest::Zeros(backend, dt, size), dgamma = ktest::Zeros(backend, acc, static_cast<size_t>(cols)),
         dy_in_place = ktest::Make(backend, dt, ktest::Get(backend, dy.view())),
         swiglu = ktest::Zeros(backend, dt, rows * hidden), dh = ktest::Zeros(backend, dt, size);
  check(backend.EmbeddingForward(rows, vocab, cols, tokens.view(), table.view(), emb.view()));
  check(backend.EmbeddingBackward(rows, vocab, cols, tokens.view(), dy.view(), dtable.view()));
  check(backend.RmsNormForward(rows, cols, 1e-5, x.view(), gamma.view(), y.view(), rstd.view()));
  check(backend.RmsNormBackward(rows, cols, x.view(), gamma.view(), fixed_rstd.view(), dy.view(), dx.view(),
                                dgamma.view()));
  check(backend.RmsNormBackward(rows, cols, x.view(), gamma.view(), fixed_rstd.view(), dy_in_place.view(),
                                dy_in_place.view(), dgamma.view()));
  check(backend.SwiGluForward(rows, static_cast<int64_t>(hidden), x.view(), swiglu.view()));
  check(backend.SwiGluBackward(rows, static_cast<int64_t>(hidden), x.view(), dy.Sub(0, rows * hidden),
                               dh.view()));
  check(backend.Synchronize());
  std::vector<std::vector<double>> out;
  for (const Buffer* b : {&emb, &dtable, &y, &rstd, &dx, &dgamma, &dy_in_place, &swiglu, &dh})
    out.push_back(ktest::Get(backend, b->view()));
  return out;
}

TEST_F(CudaBackendTest, TransformerLayersMatchTheCpu) {
  Result<std::unique_ptr<Backend>> cpu_or = MakeBackend(BackendKind::kCpu, BackendOptions{});
  ASSERT_TRUE(cpu_or.ok());
  const char* names[] = {"embedding",  "dtable",          "rms y",    "rms rstd", "rms dx",
                         "rms dgamma", "rms dx in place", "swiglu y", "swiglu dh"};
  // Small and odd (three chunks of rows), then large enough for many blocks and chunks.
  const int64_t shapes[][3] = {{70, 40, 7}, {4096, 512, 256}};
  for (DType dt : {DType::kF32, DType::kF64, DType::kF16, DType::kBF16}) {
    for (const auto& shape : shapes) {
      const auto gpu = RunTransformerOps(*backend_, dt, shape[0], shape[1], shape[2]);
      const auto cpu = RunTransformerOps(**cpu_or, dt, shape[0], shape[1], shape[2]);
      ASSERT_EQ(gpu.size(), cpu.size());
      for (size_t k = 0; k < gpu.size(); ++k) {
        const std::string what =
            std::string(DTypeName(dt)) + " rows " + std::to_string(shape[0]) + " " + names[k];
        if (k < 2) {
          EXPECT_EQ(gpu[k], cpu[k]) << what;  // a copy, and sums in the same order
        } else {
          // The row sums' trees differ (rstd, dx), and the GPU's expf does from glibc's (SwiGLU).
          const double atol = dt == DType::kF64 ? 1e-12 : 1e-5;
          const double rel = (dt == DType::kF32 || dt == DType::kF64 ? 16 : 2) * ktest::Eps(dt);
          ExpectNearCpu(gpu[k], cpu[k], atol, rel, what);
        }
      }
    }
  }
}

TEST_F(CudaBackendTest, ATokenOutOfRangeIsReportedBySynchronizeOnce) {
  const int64_t rows = 4, vocab = 3, dim = 5;
  Buffer tokens = Upload(*backend_, std::vector<int32_t>{0, 2, 3, 1});  // 3 is out of range
  Buffer table = Upload(*backend_, RandomFloats(vocab * dim, 2));
  Buffer out = Upload(*backend_, std::vector<float>(rows * dim, 7.0f));
  Buffer dtable = Alloc(*backend_, vocab * dim, DType::kF32);
  ASSERT_TRUE(backend_->EmbeddingForward(rows, vocab, dim, tokens.view(), table.view(), out.view()).ok());
  Status s = backend_->Synchronize();
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.ToString();
  EXPECT_NE(s.message().find("token"), std::string::npos) << s.message();
  EXPECT_TRUE(backend_->Synchronize().ok());  // reported once, then cleared
  const std::vector<float> values = Download<float>(*backend_, out);
  for (int64_t c = 0; c < dim; ++c) EXPECT_EQ(values[2 * dim + c], 0.0f);  // the bad row
  ASSERT_TRUE(backend_->EmbeddingBackward(rows, vocab, dim, tokens.view(), out.view(), dtable.view()).ok());
  s = backend_->Synchronize();
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.ToString();
  EXPECT_TRUE(backend_->Synchronize().ok());
}

// Runs the depthwise convolution of `backend` forward and backward (with and without dx) on fixed inputs.
std::vector<std::vector<double>> RunDepthwiseOps(Backend& backend, DType dt, const Conv2dShape& s) {
  const size_t in = static_cast<size_t>(s.input_size()), taps = static_cast<size_t>(s.patch_size()),
               out_size = static_cast<size_t>(s.out_pixels() * s.channels);
  const DType acc = AccumulationType(dt);
  auto check = [](const Status& status) { EXPECT_TRUE(status.ok()) << status.ToString(); };
  Buffer x = ktest::Make(backend, dt, ktest::RandomValues(dt, in, 70)),
         w = ktest::Make(backend, dt, ktest::RandomValues(dt, taps, 71)),
         dy = ktest::Make(backend, dt, ktest::RandomValues(dt, out_size, 72)),
         y = ktest::Zeros(backend, dt, out_size), dx = ktest::Zeros(backend, dt, in),
         dw = ktest::Zeros(backend, acc, taps), dw_only = ktest::Zeros(backend, acc, taps);
  check(backend.DepthwiseConv2dForward(s, x.view(), w.view(), y.view()));
  check(backend.DepthwiseConv2dBackward(s, x.view(), w.view(), dy.view(), dx.view(), dw.view()));
  check(backend.DepthwiseConv2dBackward(s, x.view(), w.view(), dy.view(), View{}, dw_only.view()));
  check(backend.Synchronize());
  std::vector<std::vector<double>> out;
  for (const Buffer* b : {&y, &dx, &dw, &dw_only}) out.push_back(ktest::Get(backend, b->view()));
  return out;
}

TEST_F(CudaBackendTest, DepthwiseConvolutionMatchesTheCpu) {
  Result<std::unique_ptr<Backend>> cpu_or = MakeBackend(BackendKind::kCpu, BackendOptions{});
  ASSERT_TRUE(cpu_or.ok());
  const char* names[] = {"y", "dx", "dw", "dw without dx"};
  for (DType dt : {DType::kF32, DType::kF64, DType::kF16, DType::kBF16}) {
    for (int i = 0; i < 2; ++i) {
      const auto gpu = RunDepthwiseOps(*backend_, dt, kParityShapes[i]);
      const auto cpu = RunDepthwiseOps(**cpu_or, dt, kParityShapes[i]);
      ASSERT_EQ(gpu.size(), cpu.size());
      // Both backends sum in the same order (taps, covering windows, chunks of pixels).
      const double atol = dt == DType::kF64 ? 1e-12 : 1e-5;
      const double rel = 2 * ktest::Eps(dt);
      for (size_t k = 0; k < gpu.size(); ++k) {
        ExpectNearCpu(gpu[k], cpu[k], atol, rel,
                      std::string(DTypeName(dt)) + " shape " + std::to_string(i) + " " + names[k]);
      }
    }
  }
}

}  // namespace
}  // namespace hpo::kernels
