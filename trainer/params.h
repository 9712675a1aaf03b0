// ParamInfo: where one parameter tensor of a model lives inside the model's flat parameter buffer (and,
// at the same offsets, its gradient buffer and an optimizer's state buffers). Plain value type.
#ifndef HPO_TRAINER_PARAMS_H_
#define HPO_TRAINER_PARAMS_H_

#include <cstddef>
#include <cstdint>
#include <string>

namespace hpo::trainer {

struct ParamInfo {
  std::string name;      // "w0", "b0", ..., the last layer's "wN", "bN"
  size_t offset = 0;     // in elements, into the flat buffers
  size_t count = 0;      // rows * cols
  int64_t rows = 0;      // weights: fan-in; biases: 1
  int64_t cols = 0;      // fan-out
  bool is_bias = false;  // weight decay applies to weights only
};

}  // namespace hpo::trainer

#endif  // HPO_TRAINER_PARAMS_H_
