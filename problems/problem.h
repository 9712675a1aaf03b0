// Benchmark problems: the ZDT (Zitzler, Deb, Thiele 2000) and DTLZ (Deb, Thiele, Laumanns, Zitzler 2002)
// test functions, with their textbook boxes, for the synthetic task and for search-quality tests.
//
// A Problem is a plain value: copy it freely. Its `evaluate` is a pure function (no state, no
// randomness), safe to call from any number of threads at once. This library depends on hpo_base only,
// so that the worker can evaluate problems without linking the search engine.
#ifndef HPO_PROBLEMS_PROBLEM_H_
#define HPO_PROBLEMS_PROBLEM_H_

#include <cstddef>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "base/status.h"

namespace hpo::problems {

// The largest number of variables MakeProblem accepts.
inline constexpr size_t kMaxProblemDims = 10'000;

struct Problem {
  std::string name;
  size_t dims = 0;            // number of variables
  size_t num_objectives = 0;  // size of what `evaluate` returns
  std::vector<double> lower;  // box of each variable: lower[i] <= x[i] <= upper[i]; size dims
  std::vector<double> upper;
  // The objectives, all minimised. REQUIRES: x.size() == dims and x inside the box.
  std::function<std::vector<double>(std::span<const double> x)> evaluate;
};

// The problem called `name` with `dims` variables; dims 0 = the usual size.
//   zdt1, zdt2, zdt3: 2 objectives, x in [0,1]^n, usual n 30, n >= 2.
//   zdt4: 2 objectives, x1 in [0,1], x2..xn in [-5,5], usual n 10, n >= 2.
//   zdt6: 2 objectives, x in [0,1]^n, usual n 10, n >= 2.
//   dtlz1: 3 objectives, x in [0,1]^n, usual n 7 (k = 5), n >= 3.
//   dtlz2: 3 objectives, x in [0,1]^n, usual n 12 (k = 10), n >= 3.
// On failure INVALID_ARGUMENT naming the problem: an unknown name, or a dims below the minimum or
// above kMaxProblemDims.
Result<Problem> MakeProblem(const std::string& name, size_t dims);

// The names MakeProblem accepts, in the order above.
std::vector<std::string> ProblemNames();

}  // namespace hpo::problems

#endif  // HPO_PROBLEMS_PROBLEM_H_
