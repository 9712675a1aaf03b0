// Helpers of the kernels tests: moving double-valued host vectors in and out of backend memory of any
// element type, rounding values the way a backend stores them, and the per-type epsilons of the tolerances.
// Independent of the CPU backend's own conversions (kernels/cpu_convert.h): halves are encoded with the
// scalar functions of kernels/half.h, and double -> half rounding is found by searching neighbours.
#ifndef HPO_TESTS_KERNELS_KERNELS_TEST_UTIL_H_
#define HPO_TESTS_KERNELS_KERNELS_TEST_UTIL_H_

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "base/rng.h"
#include "kernels/backend.h"
#include "kernels/half.h"

namespace hpo::kernels::ktest {

// The relative spacing of each type: 2^-23 (f32), 2^-52 (f64), 2^-10 (f16), 2^-7 (bf16).
inline double Eps(DType dtype) {
  switch (dtype) {
    case DType::kF32:
      return std::ldexp(1.0, -23);
    case DType::kF64:
      return std::ldexp(1.0, -52);
    case DType::kF16:
      return std::ldexp(1.0, -10);
    case DType::kBF16:
      return std::ldexp(1.0, -7);
    case DType::kI32:
      break;
  }
  return 0;
}

inline double DecodeBits(DType dtype, uint16_t bits) {
  return dtype == DType::kF16 ? HalfBitsToFloat(bits) : Bf16BitsToFloat(bits);
}

// The fp16 / bf16 bits nearest to d, ties to the even pattern, found among the neighbours of a first guess
// (no double rounding: independent of the code under test). Non-finite d: the float's encoding.
inline uint16_t NearestHalfBits(DType dtype, double d) {
  const auto encode = [&](float f) { return dtype == DType::kF16 ? FloatToHalfBits(f) : FloatToBf16Bits(f); };
  const uint16_t guess = encode(static_cast<float>(d));
  if (!std::isfinite(d) || std::isnan(DecodeBits(dtype, guess))) return guess;
  // At or past the midpoint between the largest finite value and the next power of two: infinity.
  const double overflow = dtype == DType::kF16 ? 65520.0 : std::ldexp(2.0 - std::ldexp(1.0, -8), 127);
  if (std::fabs(d) >= overflow) return encode(d < 0 ? -INFINITY : INFINITY);
  uint16_t best = guess;
  double best_err = std::isinf(DecodeBits(dtype, guess)) ? INFINITY : std::fabs(DecodeBits(dtype, guess) - d);
  for (int delta : {-1, 1}) {
    const auto candidate = static_cast<uint16_t>(guess + delta);
    const double value = DecodeBits(dtype, candidate);
    if (std::isnan(value) || std::signbit(value) != std::signbit(DecodeBits(dtype, guess))) continue;
    if (std::isinf(value)) continue;
    const double err = std::fabs(value - d);
    if (err < best_err || (err == best_err && (candidate & 1u) == 0)) {
      best = candidate;
      best_err = err;
    }
  }
  return best;
}

// v as `dtype` stores it (rounded to nearest even), back in double.
inline double RoundTo(DType dtype, double v) {
  switch (dtype) {
    case DType::kF32:
      return static_cast<float>(v);
    case DType::kF64:
      return v;
    case DType::kF16:
    case DType::kBF16:
      return DecodeBits(dtype, NearestHalfBits(dtype, v));
    case DType::kI32:
      return static_cast<int32_t>(v);
  }
  return v;
}

inline std::vector<double> RoundAll(DType dtype, std::vector<double> v) {
  for (double& x : v) x = RoundTo(dtype, x);
  return v;
}

// n normal values times scale, rounded to dtype.
inline std::vector<double> RandomValues(DType dtype, size_t n, uint64_t seed, double scale = 1.0) {
  Rng rng(seed);
  std::vector<double> v(n);
  for (double& x : v) x = RoundTo(dtype, scale * rng.Normal());
  return v;
}

// Writes values (rounded to the view's type) into `view`.
inline Status Put(Backend& backend, const std::vector<double>& values, View view) {
  switch (view.dtype) {
    case DType::kF64:
      return backend.Upload(std::span<const double>(values), view);
    case DType::kF32: {
      const std::vector<float> f(values.begin(), values.end());
      return backend.Upload(std::span<const float>(f), view);
    }
    case DType::kI32: {
      std::vector<int32_t> i(values.size());
      for (size_t j = 0; j < values.size(); ++j) i[j] = static_cast<int32_t>(values[j]);
      return backend.Upload(std::span<const int32_t>(i), view);
    }
    case DType::kF16: {
      std::vector<Half> h(values.size());
      for (size_t j = 0; j < values.size(); ++j) h[j].bits = NearestHalfBits(DType::kF16, values[j]);
      return backend.Upload(std::span<const Half>(h), view);
    }
    case DType::kBF16: {
      std::vector<BFloat16> h(values.size());
      for (size_t j = 0; j < values.size(); ++j) h[j].bits = NearestHalfBits(DType::kBF16, values[j]);
      return backend.Upload(std::span<const BFloat16>(h), view);
    }
  }
  return InvalidArgumentError("Put: bad type");
}

// A new buffer of `dtype` holding values (rounded).
inline Buffer Make(Backend& backend, DType dtype, const std::vector<double>& values) {
  Result<Buffer> buffer = backend.Allocate(values.size(), dtype);
  if (!buffer.ok()) {
    ADD_FAILURE() << buffer.status().ToString();
    return Buffer();
  }
  const Status s = Put(backend, values, buffer->view());
  if (!s.ok()) ADD_FAILURE() << s.ToString();
  return std::move(*buffer);
}

// A new zero-filled buffer.
inline Buffer Zeros(Backend& backend, DType dtype, size_t n) {
  Result<Buffer> buffer = backend.Allocate(n, dtype);
  if (!buffer.ok()) {
    ADD_FAILURE() << buffer.status().ToString();
    return Buffer();
  }
  return std::move(*buffer);
}

// The raw bytes of a view (for bit-for-bit comparisons).
inline std::vector<uint8_t> GetBytes(Backend& backend, ConstView view) {
  std::vector<uint8_t> bytes(view.size * DTypeSize(view.dtype));
  Status s = Status::Ok();
  switch (view.dtype) {
    case DType::kF64: {
      std::vector<double> v(view.size);
      s = backend.Download(view, std::span<double>(v));
      if (!v.empty()) std::memcpy(bytes.data(), v.data(), bytes.size());
      break;
    }
    case DType::kF32: {
      std::vector<float> v(view.size);
      s = backend.Download(view, std::span<float>(v));
      if (!v.empty()) std::memcpy(bytes.data(), v.data(), bytes.size());
      break;
    }
    case DType::kI32: {
      std::vector<int32_t> v(view.size);
      s = backend.Download(view, std::span<int32_t>(v));
      if (!v.empty()) std::memcpy(bytes.data(), v.data(), bytes.size());
      break;
    }
    case DType::kF16: {
      std::vector<Half> v(view.size);
      s = backend.Download(view, std::span<Half>(v));
      if (!v.empty()) std::memcpy(bytes.data(), v.data(), bytes.size());
      break;
    }
    case DType::kBF16: {
      std::vector<BFloat16> v(view.size);
      s = backend.Download(view, std::span<BFloat16>(v));
      if (!v.empty()) std::memcpy(bytes.data(), v.data(), bytes.size());
      break;
    }
  }
  if (!s.ok()) ADD_FAILURE() << s.ToString();
  return bytes;
}

// The values of a view, decoded exactly into double.
inline std::vector<double> Get(Backend& backend, ConstView view) {
  const std::vector<uint8_t> bytes = GetBytes(backend, view);
  std::vector<double> out(view.size);
  for (size_t i = 0; i < view.size; ++i) {
    const uint8_t* p = bytes.data() + i * DTypeSize(view.dtype);
    switch (view.dtype) {
      case DType::kF64: {
        std::memcpy(&out[i], p, 8);
        break;
      }
      case DType::kF32: {
        float f;
        std::memcpy(&f, p, 4);
        out[i] = f;
        break;
      }
      case DType::kI32: {
        int32_t v;
        std::memcpy(&v, p, 4);
        out[i] = v;
        break;
      }
      case DType::kF16:
      case DType::kBF16: {
        uint16_t bits;
        std::memcpy(&bits, p, 2);
        out[i] = DecodeBits(view.dtype, bits);
        break;
      }
    }
  }
  return out;
}

// Compares `analytic` with central differences (step 1e-5) of objective(x) over every element of x, in
// fp64: each relative error, against max(|analytic|, |numeric|, 0.01), below 1e-6.
inline void CheckAgainstFiniteDifferences(const std::string& what, std::vector<double> x,
                                          const std::function<double(const std::vector<double>&)>& objective,
                                          const std::vector<double>& analytic) {
  constexpr double kStep = 1e-5;
  constexpr double kMaxRelativeError = 1e-6;
  ASSERT_EQ(x.size(), analytic.size()) << what;
  for (size_t i = 0; i < x.size(); ++i) {
    const double saved = x[i];
    x[i] = saved + kStep;
    const double plus = objective(x);
    x[i] = saved - kStep;
    const double minus = objective(x);
    x[i] = saved;
    const double numeric = (plus - minus) / (2 * kStep);
    const double scale = std::max({std::fabs(analytic[i]), std::fabs(numeric), 1e-2});
    EXPECT_LT(std::fabs(analytic[i] - numeric) / scale, kMaxRelativeError)
        << what << " [" << i << "]: analytic " << analytic[i] << ", numeric " << numeric;
  }
}

// The dot product of two vectors of equal size.
inline double Dot(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

// The name of a test instance parameterised by element type: "f32", "f16", ...
inline std::string DTypeParamName(const ::testing::TestParamInfo<DType>& param_info) {
  return std::string(DTypeName(param_info.param));
}

// A fixture on a CPU backend of one thread, with shorthands for moving double values in and out.
class CpuTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Result<std::unique_ptr<Backend>> made = MakeBackend(BackendKind::kCpu, BackendOptions{});
    ASSERT_TRUE(made.ok()) << made.status().ToString();
    backend_ = std::move(*made);
  }

  Buffer Make(DType dtype, const std::vector<double>& v) { return ktest::Make(*backend_, dtype, v); }
  Buffer Make(const std::vector<double>& v) { return Make(DType::kF64, v); }
  Buffer Zeros(DType dtype, size_t n) { return ktest::Zeros(*backend_, dtype, n); }
  Buffer Zeros(size_t n) { return Zeros(DType::kF64, n); }
  std::vector<double> Get(ConstView v) { return ktest::Get(*backend_, v); }

  std::unique_ptr<Backend> backend_;
};

// A window geometry with the same stride and the same padding on both axes.
inline Conv2dShape MakeShape(int64_t batch, int64_t height, int64_t width, int64_t channels, int64_t kernel_h,
                             int64_t kernel_w, int64_t stride, int64_t pad) {
  return Conv2dShape{.batch = batch,
                     .height = height,
                     .width = width,
                     .channels = channels,
                     .kernel_h = kernel_h,
                     .kernel_w = kernel_w,
                     .stride_h = stride,
                     .stride_w = stride,
                     .pad_h = pad,
                     .pad_w = pad};
}

// "N2 H7 W6 C3 k3x3 s2 p1": a geometry in failure messages.
inline std::string Describe(const Conv2dShape& s) {
  std::string d = "N";
  for (const auto& [name, value] : {std::pair<const char*, int64_t>{"", s.batch},
                                    {" H", s.height},
                                    {" W", s.width},
                                    {" C", s.channels},
                                    {" k", s.kernel_h},
                                    {"x", s.kernel_w},
                                    {" s", s.stride_h},
                                    {" p", s.pad_h}}) {
    d += name;
    d += std::to_string(value);
  }
  return d;
}

// Expects Status `s` to be INVALID_ARGUMENT with a message that contains `text`. A macro, so that a failure
// names the caller's line.
#define EXPECT_INVALID(s, text)                                                    \
  do {                                                                             \
    const Status status_ = (s);                                                    \
    EXPECT_EQ(status_.code(), StatusCode::kInvalidArgument) << status_.ToString(); \
    EXPECT_NE(status_.message().find(text), std::string::npos)                     \
        << "message '" << status_.message() << "' lacks '" << (text) << "'";       \
  } while (false)

// Expects run(backend) to return the same bytes (one vector per output) on CPU backends of 1 and of 4
// threads: the CPU backend's splits must change no result.
inline void ExpectSameBytesOnOneAndFourThreads(
    const std::function<std::vector<std::vector<uint8_t>>(Backend&)>& run) {
  std::vector<std::vector<uint8_t>> results[2];
  for (int t = 0; t < 2; ++t) {
    Result<std::unique_ptr<Backend>> made =
        MakeBackend(BackendKind::kCpu, BackendOptions{.threads = t == 0 ? 1 : 4});
    ASSERT_TRUE(made.ok()) << made.status().ToString();
    results[t] = run(**made);
  }
  ASSERT_EQ(results[0].size(), results[1].size());
  for (size_t i = 0; i < results[0].size(); ++i) EXPECT_EQ(results[0][i], results[1][i]) << "output " << i;
}

}  // namespace hpo::kernels::ktest

#endif  // HPO_TESTS_KERNELS_KERNELS_TEST_UTIL_H_
