#include "trainer/precision.h"

namespace hpo::trainer {

std::string_view PrecisionName(Precision precision) {
  switch (precision) {
    case Precision::kFp32:
      return "fp32";
    case Precision::kFp16:
      return "fp16";
    case Precision::kBf16:
      return "bf16";
  }
  return "?";
}

kernels::DType ComputeType(Precision precision) {
  switch (precision) {
    case Precision::kFp16:
      return kernels::DType::kF16;
    case Precision::kBf16:
      return kernels::DType::kBF16;
    case Precision::kFp32:
      break;
  }
  return kernels::DType::kF32;
}

}  // namespace hpo::trainer
