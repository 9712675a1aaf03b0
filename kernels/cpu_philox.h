// The Philox4x32-10 words of dropout (kernels/philox.h) for a run of consecutive blocks, eight blocks at a
// time with AVX2 when the CPU has it, one at a time with the scalar function otherwise. Both give exactly
// DropoutBlock's words. Private to the CPU backend.
//
// Pure functions: thread-safe, no allocation.
#ifndef HPO_KERNELS_CPU_PHILOX_H_
#define HPO_KERNELS_CPU_PHILOX_H_

#include <cstdint>

namespace hpo::kernels {

// words[4 * j + w] = DropoutBlock(seed, stream, first_block + j).v[w] for j < blocks.
void DropoutWords(uint64_t seed, uint64_t stream, uint64_t first_block, int64_t blocks, uint32_t* words);

// The two paths, exposed for the tests that compare them.
namespace philox_internal {

bool HaveAvx2();
void DropoutWordsScalar(uint64_t seed, uint64_t stream, uint64_t first_block, int64_t blocks,
                        uint32_t* words);
// REQUIRES: HaveAvx2().
void DropoutWordsAvx2(uint64_t seed, uint64_t stream, uint64_t first_block, int64_t blocks, uint32_t* words);

}  // namespace philox_internal
}  // namespace hpo::kernels

#endif  // HPO_KERNELS_CPU_PHILOX_H_
