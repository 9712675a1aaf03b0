// Fuzz target: the .npy reader (trainer/npy.h) on untrusted bytes, parsed in memory (ParseNpy) and read
// from a file (ReadNpy, through an in-memory file opened by its /proc path).
//
// Properties: nothing crashes or allocates what the header merely claims; a refusal is DATA_LOSS; an array
// read holds exactly its shape's elements; and both ways of reading agree on the outcome and the bytes.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "tests/fuzz/fuzz_check.h"
#include "tests/fuzz/mem_file.h"
#include "trainer/npy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static hpo::fuzz::MemFile* file = new hpo::fuzz::MemFile("hpo-npy-fuzz");
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const hpo::Result<hpo::trainer::NpyArray> parsed = hpo::trainer::ParseNpy(bytes, "fuzz.npy");
  const hpo::Result<hpo::trainer::NpyArray> read = hpo::trainer::ReadNpy(file->Write(data, size));
  HPO_FUZZ_REQUIRE(parsed.status().code() == read.status().code(), read.status().ToString());
  if (!parsed.ok()) {
    HPO_FUZZ_REQUIRE(parsed.status().code() == hpo::StatusCode::kDataLoss, parsed.status().ToString());
    return 0;
  }
  HPO_FUZZ_REQUIRE(
      parsed->data.size() == static_cast<size_t>(parsed->count()) * hpo::trainer::NpyTypeSize(parsed->type),
      "size");
  HPO_FUZZ_REQUIRE(parsed->data.size() <= size, "more elements than bytes");
  HPO_FUZZ_REQUIRE(parsed->shape == read->shape && parsed->type == read->type && parsed->data == read->data,
                   "ParseNpy and ReadNpy differ");
  return 0;
}
