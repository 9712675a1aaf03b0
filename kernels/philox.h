// Philox4x32-10, the counter-based generator of Salmon et al. 2011 ("Parallel Random Numbers: As Easy as
// 1, 2, 3", SC'11): 4 x 32 random bits as a pure function of a 128-bit counter and a 64-bit key. Dropout
// draws its masks from it, so that the CPU backend and the CUDA kernels drop exactly the same elements for
// the same seed without sharing any generator state, and the backward pass regenerates the mask instead of
// storing it.
//
// Each function is `HPO_HD inline` (kernels/host_device.h): pure, thread-safe, callable from host code and
// from CUDA kernels alike.
#ifndef HPO_KERNELS_PHILOX_H_
#define HPO_KERNELS_PHILOX_H_

#include <stdint.h>

#include "kernels/host_device.h"

namespace hpo::kernels {

struct Philox4x32 {
  uint32_t v[4];
};

// Ten rounds of Philox4x32 on `counter` under key (key0, key1), with the constants of the paper
// (multipliers 0xD2511F53 and 0xCD9E8D57, Weyl key increments 0x9E3779B9 and 0xBB67AE85).
HPO_HD inline Philox4x32 Philox4x32Rounds10(Philox4x32 counter, uint32_t key0, uint32_t key1) {
  constexpr uint32_t kM0 = 0xD2511F53u, kM1 = 0xCD9E8D57u;
  constexpr uint32_t kW0 = 0x9E3779B9u, kW1 = 0xBB67AE85u;
  uint32_t* c = counter.v;
  for (int round = 0; round < 10; ++round) {
    if (round > 0) {
      key0 += kW0;
      key1 += kW1;
    }
    const uint64_t p0 = static_cast<uint64_t>(kM0) * c[0];
    const uint64_t p1 = static_cast<uint64_t>(kM1) * c[2];
    const uint32_t hi0 = static_cast<uint32_t>(p0 >> 32), lo0 = static_cast<uint32_t>(p0);
    const uint32_t hi1 = static_cast<uint32_t>(p1 >> 32), lo1 = static_cast<uint32_t>(p1);
    const uint32_t n0 = hi1 ^ c[1] ^ key0;
    const uint32_t n2 = hi0 ^ c[3] ^ key1;
    c[0] = n0;
    c[1] = lo1;
    c[2] = n2;
    c[3] = lo0;
  }
  return counter;
}

// The four random words of block `block` (elements 4 * block .. 4 * block + 3) of stream `stream` under
// `seed`: counter (block lo, block hi, stream lo, stream hi), key (seed lo, seed hi).
HPO_HD inline Philox4x32 DropoutBlock(uint64_t seed, uint64_t stream, uint64_t block) {
  const Philox4x32 counter{{static_cast<uint32_t>(block), static_cast<uint32_t>(block >> 32),
                            static_cast<uint32_t>(stream), static_cast<uint32_t>(stream >> 32)}};
  return Philox4x32Rounds10(counter, static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32));
}

// The integer threshold of drop probability p in [0, 1): an element whose 24-bit draw u = word >> 8 is at
// least the threshold is kept, so that P(drop) = threshold / 2^24 = p rounded up to a multiple of 2^-24.
// Computed once per call on the host, in double, and passed to the kernels as is.
inline uint32_t DropoutThreshold(double p) {
  if (!(p > 0)) return 0;
  const double t = p * 16777216.0;  // 2^24
  const auto floor_t = static_cast<uint32_t>(t);
  return static_cast<double>(floor_t) == t ? floor_t : floor_t + 1;
}

// Whether element `index` of stream `stream` survives dropout: word index % 4 of block index / 4.
HPO_HD inline bool DropoutKeepWord(uint32_t word, uint32_t threshold) { return (word >> 8) >= threshold; }

HPO_HD inline bool DropoutKeep(uint64_t seed, uint64_t stream, uint64_t index, uint32_t threshold) {
  return DropoutKeepWord(DropoutBlock(seed, stream, index / 4).v[index % 4], threshold);
}

}  // namespace hpo::kernels

#endif  // HPO_KERNELS_PHILOX_H_
