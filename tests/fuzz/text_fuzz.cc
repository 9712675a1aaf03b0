// Fuzz target: the text splitter of the language model's data (trainer/dataset.h: SplitText, and
// LoadTextDataset through an in-memory file opened by its /proc path). The first three bytes choose the
// options (validation_fraction = byte 0 / 128, test_fraction = byte 1 / 128, so that 0 and sums of 1 and
// more come up too; train_limit = byte 2, 255 meaning -1); the rest is the text.
//
// Properties: nothing crashes; a split succeeds exactly when the rules allow it (fractions in (0, 1) and
// together below 1, each split at least kTextMinSplit bytes, train_limit 0 or within [kTextMinSplit, the
// bytes left]), and a refusal is INVALID_ARGUMENT, or OUT_OF_RANGE for the train_limit; the splits are the
// text's bytes at exactly the boundaries the fractions give (train a prefix, test and validation its last
// shares), for 256 classes; and the file reader agrees with the in-memory splitter.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tests/fuzz/fuzz_check.h"
#include "tests/fuzz/mem_file.h"
#include "trainer/dataset.h"

namespace {

using hpo::trainer::kTextMinSplit;

bool Equal(const std::vector<uint8_t>& split, std::string_view bytes) {
  return std::string_view(reinterpret_cast<const char*>(split.data()), split.size()) == bytes;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static hpo::fuzz::MemFile* file = new hpo::fuzz::MemFile("hpo-text-fuzz");
  if (size < 3) return 0;
  hpo::trainer::TextDataOptions options;
  options.validation_fraction = data[0] / 128.0;
  options.test_fraction = data[1] / 128.0;
  options.train_limit = data[2] == 255 ? -1 : data[2];
  const std::string_view text(reinterpret_cast<const char*>(data) + 3, size - 3);
  const hpo::Result<hpo::trainer::Datasets> split = hpo::trainer::SplitText(text, options);

  // What the rules say, worked out here.
  const double vf = options.validation_fraction, tf = options.test_fraction;
  const auto total = static_cast<int64_t>(text.size());
  const auto validation = static_cast<int64_t>(vf * static_cast<double>(total));
  const auto test = static_cast<int64_t>(tf * static_cast<double>(total));
  const int64_t available = total - validation - test;
  const bool fractions_ok = vf > 0 && vf < 1 && tf > 0 && tf < 1 && vf + tf < 1;
  const bool sizes_ok =
      total > 0 && validation >= kTextMinSplit && test >= kTextMinSplit && available >= kTextMinSplit;
  const bool limit_ok =
      options.train_limit == 0 || (options.train_limit >= kTextMinSplit && options.train_limit <= available);
  if (!fractions_ok || !sizes_ok) {
    HPO_FUZZ_REQUIRE(split.status().code() == hpo::StatusCode::kInvalidArgument, split.status().ToString());
  } else if (!limit_ok) {
    HPO_FUZZ_REQUIRE(split.status().code() == hpo::StatusCode::kOutOfRange, split.status().ToString());
  } else {
    HPO_FUZZ_REQUIRE(split.ok(), split.status().ToString());
    const hpo::trainer::TextSplits& s = split->text;
    const int64_t train = options.train_limit > 0 ? options.train_limit : available;
    HPO_FUZZ_REQUIRE(split->classes == 256 && split->is_text(), "classes");
    HPO_FUZZ_REQUIRE(split->train.count == 0 && split->validation.count == 0 && split->test.count == 0,
                     "examples");
    HPO_FUZZ_REQUIRE(Equal(s.train, text.substr(0, static_cast<size_t>(train))), "train");
    HPO_FUZZ_REQUIRE(Equal(s.test, text.substr(static_cast<size_t>(available), static_cast<size_t>(test))),
                     "test");
    HPO_FUZZ_REQUIRE(Equal(s.validation, text.substr(static_cast<size_t>(total - validation))), "validation");
  }

  options.path = file->Write(data + 3, size - 3);
  const hpo::Result<hpo::trainer::Datasets> loaded = hpo::trainer::LoadTextDataset(options);
  HPO_FUZZ_REQUIRE(loaded.status().code() == split.status().code(), loaded.status().ToString());
  if (loaded.ok()) {
    HPO_FUZZ_REQUIRE(loaded->text.train == split->text.train && loaded->text.test == split->text.test &&
                         loaded->text.validation == split->text.validation,
                     "LoadTextDataset and SplitText differ");
  }
  return 0;
}
