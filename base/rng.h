// Rng: the one random number generator of hpo, with the few distributions the project needs written
// out here so that a seed gives the same numbers with every standard library.
//
// Not thread-safe: one Rng per owner. Every Rng is built from an explicit seed; there is no default.
#ifndef HPO_BASE_RNG_H_
#define HPO_BASE_RNG_H_

#include <cstdint>
#include <random>
#include <string>

#include "base/status.h"

namespace hpo {

// SplitMix64 finaliser: a well-mixed 64-bit function of `x`.
uint64_t Mix64(uint64_t x);

// Seed of stream `stream` derived from `seed` (e.g. a trial's seed from the study seed and the trial
// number). Different streams of one seed are independent for all practical purposes.
uint64_t DeriveSeed(uint64_t seed, uint64_t stream);

class Rng {
 public:
  explicit Rng(uint64_t seed) : engine_(seed) {}

  // 64 random bits.
  uint64_t Next() { return engine_(); }

  // Uniform on [0, 1) with 53 random bits.
  double Uniform01() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }

  // Uniform on [low, high).
  double Uniform(double low, double high) { return low + (high - low) * Uniform01(); }

  // Uniform integer in [0, n). REQUIRES: n > 0. Unbiased (Lemire's method).
  uint64_t UniformInt(uint64_t n);

  // Standard normal (Marsaglia's polar method).
  double Normal();

  // The whole state as text, and back. Load fails on text that Save did not write.
  std::string Save() const;
  Status Load(const std::string& state);

 private:
  std::mt19937_64 engine_;
  bool has_spare_normal_ = false;
  double spare_normal_ = 0.0;
};

}  // namespace hpo

#endif  // HPO_BASE_RNG_H_
