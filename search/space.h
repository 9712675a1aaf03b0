// SearchSpace: the parameters of a study and their map to and from the unit cube, the genotype every
// search algorithm works on (one gene in [0,1] per parameter; algorithms never see names).
//
// A SearchSpace is an immutable value once created: copy it freely and call its const methods from any
// number of threads at once. Create validates everything, so Decode cannot fail.
//
// Mapping of a gene x in [0,1] (clamped first; NaN reads as 0):
//   float            lerp(low, high, x); exactly low at 0 and high at 1.
//   float, log       exp(lerp(ln low, ln high, x)), clamped to [low, high]; exactly low at 0, high at 1.
//   float with step  the grid low, low + step, ..., clipped at high: its values are low + k*step while
//                    below high, then high itself (so high is always a value, even off the grid).
//   int (step 0 = 1) the same grid on the integers.
//   int, log         exp(lerp(ln(low - 0.5), ln(high + 0.5), x)) rounded, clamped to [low, high]:
//                    each integer gets the share of [0,1] its log-width deserves.
//   categorical      choice floor(x * n).
// Every grid (stepped float, int, categorical) gives each of its n values an equal share 1/n of [0,1],
// and Encode puts a value at the centre of its share. Float encodings are searched so that
// Decode(Encode(v)) == v exactly for every value Decode can produce.
//
// Conditional parameters: a parameter with a `parent` exists only when that categorical parameter,
// which comes earlier in the list, takes one of its `parent_values` (and is itself active, so chains
// work: a parameter under an inactive parent is inactive). The genotype stays fixed-length: every
// parameter keeps its gene whether active or not, Decode returns a value for every gene, and Active
// says which of those values the point really has; the caller drops the rest.
#ifndef HPO_SEARCH_SPACE_H_
#define HPO_SEARCH_SPACE_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "base/status.h"

namespace hpo::search {

enum class ParamKind { kFloat, kInt, kCategorical };

struct ParamSpec {
  std::string name;  // unique, non-empty
  ParamKind kind = ParamKind::kFloat;
  double low = 0;    // kFloat, kInt: bounds, both included; integers for kInt, |bound| <= 2^40
  double high = 0;   // kFloat, kInt
  bool log = false;  // kFloat, kInt: uniform in log space; REQUIRES low > 0 and no step (kInt: 0 or 1)
  double step = 0;   // kFloat: 0 = continuous; kInt: 0 means 1, else a positive integer
  std::vector<std::string> choices = {};  // kCategorical: non-empty, no duplicates (ignored for other kinds)
  // Conditional: the parameter exists only when the categorical parameter `parent` (which must come
  // earlier in the list) takes one of `parent_values`. Empty parent: always exists.
  std::string parent = {};                      // "" = unconditional
  std::vector<std::string> parent_values = {};  // with a parent: non-empty, no duplicates, parent's choices
};

// kFloat -> double, kInt -> int64_t, kCategorical -> std::string.
using Value = std::variant<double, int64_t, std::string>;

// A value as text: doubles in the shortest form that reads back to the same double ("0.1", "1e-05"),
// integers in decimal, strings as they are.
std::string FormatValue(const Value& value);

class SearchSpace {
 public:
  // Validates every parameter, then builds. On failure INVALID_ARGUMENT whose message starts with
  // "parameters[i] (name): " and says what is wrong, e.g. "parameters[1] (lr): low 0.1 > high 0.01".
  // Refused: empty or duplicate names, non-finite bounds, low > high, log with low <= 0, log with a
  // step, a negative or non-finite step, a step larger than high - low, a float grid of more than 2^52
  // points, int bounds or step that are not integers, an empty or duplicated choice list; a parent
  // that is not the name of an earlier parameter (a later one, the parameter itself, or none), a parent
  // that is not categorical, parent_values that are empty, duplicated, or not among the parent's
  // choices, and parent_values without a parent.
  static Result<SearchSpace> Create(std::vector<ParamSpec> params);

  size_t dims() const { return params_.size(); }  // one gene per parameter
  const std::vector<ParamSpec>& params() const { return params_; }

  // The point that x stands for, one value per parameter, always valid (see the table above). Total
  // over conditional parameters too: inactive ones get a value like any other (see Active).
  // REQUIRES: x.size() == dims() (in release builds missing genes read as 0, extra ones are ignored).
  std::vector<Value> Decode(std::span<const double> x) const;

  // The inverse of Decode: Decode(Encode(v)) == v for every valid v (a value Decode can produce; a
  // stepped float within 1e-9 steps of a grid point counts as that point). On failure
  // INVALID_ARGUMENT naming the parameter: a value count other than dims(), a value of the wrong kind,
  // a non-finite value, a value outside [low, high], off the int grid, or not among the choices.
  // An inactive parameter still needs a value, and any valid one is accepted (e.g. what Decode gave
  // it), so the round trip stays exact whatever Active says.
  Result<std::vector<double>> Encode(const std::vector<Value>& values) const;

  // Which parameters exist at this point: entry i is true iff parameter i has no parent, or its parent
  // is active and the parent's value (a std::string) is one of parent_values. dims() entries.
  // REQUIRES: values.size() == dims() (in release builds a missing or non-string parent value makes
  // its children inactive).
  std::vector<bool> Active(const std::vector<Value>& values) const;

 private:
  SearchSpace(std::vector<ParamSpec> params, std::vector<size_t> parents)
      : params_(std::move(params)), parents_(std::move(parents)) {}

  std::vector<ParamSpec> params_;
  std::vector<size_t> parents_;  // parents_[i]: index of params_[i]'s parent, or i when it has none
};

}  // namespace hpo::search

#endif  // HPO_SEARCH_SPACE_H_
