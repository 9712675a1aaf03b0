// Text for the byte-level language model (trainer/dataset.h: LoadTextDataset, SplitText).
#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <new>
#include <string>

#include "trainer/data_split.h"
#include "trainer/dataset.h"

namespace hpo::trainer {

Result<Datasets> SplitText(std::string_view bytes, const TextDataOptions& options) {
  const std::string name = options.path.empty() ? std::string("text") : options.path;
  HPO_RETURN_IF_ERROR(CheckFractions("text data", options.validation_fraction, options.test_fraction, true));
  if (bytes.empty()) return InvalidArgumentError(name + ": the file is empty; a language model needs text");
  const auto total = static_cast<int64_t>(bytes.size());
  if (total > kTextMaxBytes) {
    return InvalidArgumentError(name + ": " + std::to_string(total) + " bytes, above the limit of " +
                                std::to_string(kTextMaxBytes) + " bytes (1 GiB) for a text file");
  }
  HPO_ASSIGN_OR_RETURN(const SplitSizes sizes,
                       SizeSplits(name, total, "bytes", kTextMinSplit, options.validation_fraction,
                                  options.test_fraction, true, options.train_limit));
  try {
    const auto* data = reinterpret_cast<const uint8_t*>(bytes.data());
    Datasets out;
    out.classes = kTextClasses;
    out.text.train.assign(data, data + sizes.train);
    out.text.test.assign(data + sizes.available, data + sizes.available + sizes.test);
    out.text.validation.assign(data + total - sizes.validation, data + total);
    return out;
  } catch (const std::bad_alloc&) {
    return ResourceExhaustedError(name + ": out of memory while splitting " + std::to_string(total) +
                                  " bytes");
  }
}

Result<Datasets> LoadTextDataset(const TextDataOptions& options) {
  const std::string& path = options.path;
  if (path.empty()) return InvalidArgumentError("text data: path is required");
  // The options first, so that a bad fraction is refused as such whatever the file.
  HPO_RETURN_IF_ERROR(CheckFractions("text data", options.validation_fraction, options.test_fraction, true));
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT || errno == ENOTDIR) return NotFoundError(path + ": no such file");
    return DataLossError(path + ": cannot stat: " + std::strerror(errno));
  }
  if (!S_ISREG(st.st_mode)) {
    return InvalidArgumentError(path + ": not a regular file" +
                                (S_ISDIR(st.st_mode) ? " (a directory)" : "") + "; the text must be a file");
  }
  if (st.st_size > kTextMaxBytes) {
    return InvalidArgumentError(path + ": " + std::to_string(st.st_size) + " bytes, above the limit of " +
                                std::to_string(kTextMaxBytes) + " bytes (1 GiB) for a text file");
  }
  try {
    FILE* file = std::fopen(path.c_str(), "rb");
    if (file == nullptr) return DataLossError(path + ": cannot open: " + std::strerror(errno));
    // One byte more than the size said, to notice a file that grew since.
    std::string bytes(static_cast<size_t>(st.st_size) + 1, '\0');
    const size_t got = std::fread(bytes.data(), 1, bytes.size(), file);
    const bool failed = std::ferror(file) != 0;
    std::fclose(file);
    if (failed) return DataLossError(path + ": read error after " + std::to_string(got) + " bytes");
    if (got != static_cast<size_t>(st.st_size)) {
      return DataLossError(path + ": changed while being read (" + std::to_string(st.st_size) +
                           " bytes, then " + std::to_string(got) +
                           (got > static_cast<size_t>(st.st_size) ? " or more)" : ")"));
    }
    bytes.resize(got);
    return SplitText(bytes, options);
  } catch (const std::bad_alloc&) {
    return ResourceExhaustedError(path + ": out of memory while reading " + std::to_string(st.st_size) +
                                  " bytes");
  }
}

}  // namespace hpo::trainer
