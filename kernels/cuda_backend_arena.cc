#include "kernels/cuda_backend_arena.h"

#include <algorithm>
#include <cassert>
#include <limits>
#include <string>
#include <utility>

namespace hpo::kernels {

DeviceArena::DeviceArena(ChunkSource source, size_t min_chunk_bytes)
    : source_(std::move(source)),
      min_chunk_bytes_((std::max<size_t>(1, min_chunk_bytes) + kAlignment - 1) / kAlignment * kAlignment) {
  assert(source_.allocate && source_.release);
}

DeviceArena::~DeviceArena() {
  for (const auto& [base, bytes] : chunks_) source_.release(reinterpret_cast<void*>(base));
}

size_t DeviceArena::largest_free_block() const { return free_.empty() ? 0 : free_.rbegin()->first; }

Result<void*> DeviceArena::Allocate(size_t bytes) {
  if (bytes > std::numeric_limits<size_t>::max() - kAlignment) {
    return ResourceExhaustedError("CUDA backend: " + std::to_string(bytes) +
                                  " bytes of device memory is too many");
  }
  const size_t rounded = std::max<size_t>(1, (bytes + kAlignment - 1) / kAlignment) * kAlignment;
  auto fit = free_.lower_bound({rounded, 0});
  if (fit == free_.end()) {
    HPO_RETURN_IF_ERROR(Grow(rounded));
    fit = free_.lower_bound({rounded, 0});
    assert(fit != free_.end());
    if (fit == free_.end()) return InternalError("CUDA backend: device arena lost a new chunk");
  }
  const auto [size, address] = *fit;
  free_.erase(fit);
  Block& block = blocks_.at(address);
  block.free = false;
  if (size > rounded) {  // split: the tail stays free (sizes are multiples of kAlignment)
    block.size = rounded;
    blocks_.emplace(address + rounded, Block{size - rounded, block.chunk, true});
    InsertFree(address + rounded, size - rounded);
  }
  allocated_bytes_ += rounded;
  return reinterpret_cast<void*>(address);
}

void DeviceArena::Free(void* pointer) {
  const auto address = reinterpret_cast<uintptr_t>(pointer);
  auto it = blocks_.find(address);
  assert(it != blocks_.end() && !it->second.free);
  if (it == blocks_.end() || it->second.free) return;
  allocated_bytes_ -= it->second.size;
  it->second.free = true;
  // Merge with the next block, then with the previous one, when free and in the same chunk.
  auto next = std::next(it);
  if (next != blocks_.end() && next->second.free && next->second.chunk == it->second.chunk) {
    EraseFree(next->first, next->second.size);
    it->second.size += next->second.size;
    blocks_.erase(next);
  }
  if (it != blocks_.begin()) {
    auto prev = std::prev(it);
    if (prev->second.free && prev->second.chunk == it->second.chunk) {
      EraseFree(prev->first, prev->second.size);
      prev->second.size += it->second.size;
      blocks_.erase(it);
      it = prev;
    }
  }
  InsertFree(it->first, it->second.size);
}

Status DeviceArena::Grow(size_t bytes) {
  const size_t chunk_bytes = std::max(bytes, min_chunk_bytes_);
  Result<void*> chunk = source_.allocate(chunk_bytes);
  size_t got = chunk_bytes;
  if (!chunk.ok()) {
    // Give back what is wholly unused and try again, then with no headroom beyond the request.
    ReleaseFreeChunks();
    chunk = source_.allocate(chunk_bytes);
    if (!chunk.ok() && chunk_bytes > bytes) {
      chunk = source_.allocate(bytes);
      got = bytes;
    }
  }
  if (!chunk.ok()) {
    if (chunk.status().code() != StatusCode::kResourceExhausted) return chunk.status();
    return ResourceExhaustedError("CUDA backend: cannot reserve " + std::to_string(bytes) +
                                  " bytes of device memory (" + std::to_string(reserved_bytes_) +
                                  " bytes held in " + std::to_string(chunks_.size()) + " chunk(s), " +
                                  std::to_string(allocated_bytes_) + " in use): " + chunk.status().message());
  }
  const auto base = reinterpret_cast<uintptr_t>(*chunk);
  assert(base % kAlignment == 0);
  chunks_.emplace(base, got);
  blocks_.emplace(base, Block{got, base, true});
  InsertFree(base, got);
  reserved_bytes_ += got;
  return Status::Ok();
}

void DeviceArena::ReleaseFreeChunks() {
  for (auto it = chunks_.begin(); it != chunks_.end();) {
    const auto [base, bytes] = *it;
    const auto block = blocks_.find(base);
    if (block != blocks_.end() && block->second.free && block->second.size == bytes) {
      EraseFree(base, bytes);
      blocks_.erase(block);
      source_.release(reinterpret_cast<void*>(base));
      reserved_bytes_ -= bytes;
      it = chunks_.erase(it);
    } else {
      ++it;
    }
  }
}

}  // namespace hpo::kernels
