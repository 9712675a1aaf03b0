// DeviceArena: the CUDA backend's sub-allocator of device memory. It takes memory from a ChunkSource in
// large chunks (at least min_chunk_bytes each; cudaMalloc in the backend) and hands out 256-byte aligned
// blocks from them by best fit, splitting blocks on allocation and merging free neighbours on release, so
// that a training run which allocates and frees the same sizes step after step never calls the source
// again once its working set is reserved. Chunks go back to the source only at destruction, or when a
// chunk is wholly free and the source has refused a new one (then every wholly free chunk is returned and
// the request tried once more).
//
// The arena never touches the memory it manages (it only does arithmetic on addresses), so it is plain
// C++, compiled in every build and tested on the host with a fake source. Reuse is safe on the device
// because the CUDA backend issues every access to its memory on one stream, in order: a block freed while
// kernels that use it are still queued is handed out again only to work queued after them.
//
// Not thread-safe: one owner (the backend) at a time. Blocks must not be used after the arena is gone.
#ifndef HPO_KERNELS_CUDA_BACKEND_ARENA_H_
#define HPO_KERNELS_CUDA_BACKEND_ARENA_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <utility>

#include "base/status.h"

namespace hpo::kernels {

class DeviceArena {
 public:
  // Where chunks come from. `allocate` returns memory aligned to at least kAlignment, or a status
  // (RESOURCE_EXHAUSTED when the memory is not there); `release` returns a chunk that `allocate` gave.
  struct ChunkSource {
    std::function<Result<void*>(size_t bytes)> allocate;
    std::function<void(void* chunk)> release;
  };

  static constexpr size_t kAlignment = 256;
  static constexpr size_t kDefaultMinChunkBytes = size_t{64} << 20;  // 64 MiB

  // REQUIRES: source.allocate and source.release are set; min_chunk_bytes > 0.
  explicit DeviceArena(ChunkSource source, size_t min_chunk_bytes = kDefaultMinChunkBytes);
  DeviceArena(const DeviceArena&) = delete;
  DeviceArena& operator=(const DeviceArena&) = delete;
  // Returns every chunk to the source (blocks still handed out included).
  ~DeviceArena();

  // A block of at least `bytes` bytes (a multiple of kAlignment; 0 counts as 1), aligned to kAlignment.
  // The contents are whatever the memory held. RESOURCE_EXHAUSTED (with the source's message) when no free
  // block fits and the source cannot give a chunk large enough.
  Result<void*> Allocate(size_t bytes);

  // Gives back a block from Allocate. A pointer that is not a live block of this arena is ignored
  // (asserts in debug builds).
  void Free(void* block);

  // Bytes of blocks handed out now (rounded up to kAlignment), bytes held from the source, and chunks.
  size_t allocated_bytes() const { return allocated_bytes_; }
  size_t reserved_bytes() const { return reserved_bytes_; }
  size_t chunk_count() const { return chunks_.size(); }
  // The largest block that Allocate could hand out now without asking the source.
  size_t largest_free_block() const;

 private:
  struct Block {
    size_t size = 0;
    uintptr_t chunk = 0;  // base address of the chunk holding the block; blocks never span two chunks
    bool free = true;
  };

  // Asks the source for a chunk that holds `bytes` and adds it as one free block.
  Status Grow(size_t bytes);
  // Returns every wholly free chunk to the source.
  void ReleaseFreeChunks();
  void InsertFree(uintptr_t address, size_t size) { free_.emplace(size, address); }
  void EraseFree(uintptr_t address, size_t size) { free_.erase({size, address}); }

  ChunkSource source_;
  size_t min_chunk_bytes_;
  std::map<uintptr_t, size_t> chunks_;           // base address -> bytes
  std::map<uintptr_t, Block> blocks_;            // every block of every chunk, by address
  std::set<std::pair<size_t, uintptr_t>> free_;  // free blocks by (size, address): best fit, lowest address
  size_t allocated_bytes_ = 0;
  size_t reserved_bytes_ = 0;
};

}  // namespace hpo::kernels

#endif  // HPO_KERNELS_CUDA_BACKEND_ARENA_H_
