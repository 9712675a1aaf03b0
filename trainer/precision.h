// Precision: the number format a trial trains and infers in (the `precision` knob). fp32 trains in single
// precision throughout; fp16 and bf16 keep fp32 master weights and gradients, run the forward and backward
// GEMMs and activations in the 16-bit format with fp32 accumulation, and (fp16 only) scale the loss
// dynamically (trainer/loss_scaler.h). DESIGN.md, "Precision semantics".
//
// Plain enum and pure functions: thread-safe.
#ifndef HPO_TRAINER_PRECISION_H_
#define HPO_TRAINER_PRECISION_H_

#include <string_view>

#include "kernels/backend.h"

namespace hpo::trainer {

enum class Precision { kFp32, kFp16, kBf16 };

// "fp32", "fp16", "bf16" (the values of the precision knob).
std::string_view PrecisionName(Precision precision);

// The element type of activations and of the weights' compute copy: kF32, kF16, kBF16.
kernels::DType ComputeType(Precision precision);

// Whether the precision needs dynamic loss scaling (fp16: its 5-bit exponent loses small gradients).
inline bool NeedsLossScaling(Precision precision) { return precision == Precision::kFp16; }

}  // namespace hpo::trainer

#endif  // HPO_TRAINER_PRECISION_H_
