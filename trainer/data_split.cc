#include "trainer/data_split.h"

#include "base/strings.h"

namespace hpo::trainer {

Status CheckFractions(std::string_view source, double validation_fraction, double test_fraction,
                      bool test_held_out) {
  const double vf = validation_fraction;
  const double tf = test_held_out ? test_fraction : 0.0;
  if (!(vf > 0 && vf < 1) || (test_held_out && !(tf > 0 && tf < 1)) || !(vf + tf < 1)) {
    return InvalidArgumentError(std::string(source) + ": validation_fraction " + FormatDouble(vf) +
                                (test_held_out ? " and test_fraction " + FormatDouble(tf) : "") +
                                " must each be in (0, 1) and together below 1");
  }
  return Status::Ok();
}

Result<SplitSizes> SizeSplits(const std::string& path, int64_t total, std::string_view unit, int64_t minimum,
                              double validation_fraction, double test_fraction, bool test_held_out,
                              int64_t train_limit) {
  SplitSizes sizes;
  sizes.validation = static_cast<int64_t>(validation_fraction * static_cast<double>(total));
  sizes.test = test_held_out ? static_cast<int64_t>(test_fraction * static_cast<double>(total)) : 0;
  sizes.available = total - sizes.validation - sizes.test;
  if (sizes.validation < minimum || (test_held_out && sizes.test < minimum) || sizes.available < minimum) {
    const std::string u(unit);
    std::string message = path + ": " + std::to_string(total) + " " + u +
                          " are too few to split into training, validation" +
                          (test_held_out ? " and test" : "") + " " + u;
    if (minimum > 1) {
      message += ": each split needs at least " + std::to_string(minimum) + " " + u +
                 ", these fractions give " + std::to_string(sizes.available) + " training, " +
                 std::to_string(sizes.validation) + " validation" +
                 (test_held_out ? " and " + std::to_string(sizes.test) + " test" : "");
    }
    return InvalidArgumentError(message);
  }
  HPO_RETURN_IF_ERROR(CheckTrainLimit(train_limit, sizes.available, minimum));
  sizes.train = train_limit > 0 ? train_limit : sizes.available;
  return sizes;
}

Status CheckTrainLimit(int64_t train_limit, int64_t available, int64_t minimum) {
  if (train_limit == 0 || (train_limit >= minimum && train_limit <= available)) return Status::Ok();
  return Status(StatusCode::kOutOfRange,
                "train_limit: " + std::to_string(train_limit) + " is out of range [0, " +
                    std::to_string(available) + "] (0: all" +
                    (minimum > 1 ? "; else at least " + std::to_string(minimum) : "") + ")");
}

}  // namespace hpo::trainer
