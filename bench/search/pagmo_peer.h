// pagmo2, the peer the figures were measured with (Debian's libpagmo-dev 2.18; the settings of
// ../shared/peers/pagmo_bench.cpp). Compiled only when CMake found pagmo when it configured the build
// (HPO_BENCH_HAVE_PAGMO); without it kHavePagmo is false, every function answers UNIMPLEMENTED, and the
// sections print a row with kPagmoMissing in pagmo's place, so callers test kHavePagmo and need no #if of
// their own. pagmo's exceptions are caught here and become a Status.
//
// Plain std types in and out, so that no pagmo header leaks into the rest of the bench.
#ifndef HPO_BENCH_SEARCH_PAGMO_PEER_H_
#define HPO_BENCH_SEARCH_PAGMO_PEER_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"

namespace hpo::bench {

using Points = std::vector<std::vector<double>>;

struct PagmoNsga2Run {
  Points objectives;    // the final population's objectives
  uint64_t fevals = 0;  // fitness evaluations pagmo counted
  double wall_s = 0;    // population init + evolve (as pagmo_bench times it)
  double cpu_s = 0;
};

struct PagmoSortRun {
  std::vector<size_t> rank;  // the front of each point, 0 first
  size_t fronts = 0;
  double wall_s = 0;
  double cpu_s = 0;
};

struct PagmoHvRun {
  double value = 0;
  std::string algorithm;  // the algorithm pagmo's get_best_compute picked
  double wall_s = 0;      // compute() only; the hypervolume object is built (and checked) before
  double cpu_s = 0;
};

// What a row says in pagmo2's place when it was not compiled in. CMake looks for pagmo2 when it configures
// the build only: installing libpagmo-dev afterwards changes nothing until cmake runs again.
inline constexpr char kPagmoMissing[] =
    "pagmo2: not found at configure time; re-run cmake after installing libpagmo-dev";

#ifdef HPO_BENCH_HAVE_PAGMO

inline constexpr bool kHavePagmo = true;

// "2.18.0".
std::string PagmoVersion();

// pagmo::nsga2(gen, cr 0.9, eta_c 20, m 1/n, eta_m 20, seed) on pagmo's own problem `name` (zdt1, zdt2,
// zdt3 with 30 variables; zdt4, zdt6 with 10; dtlz2 with 12 and 3 objectives), population `population`
// (a multiple of 4) seeded with `seed`. INVALID_ARGUMENT for another name.
Result<PagmoNsga2Run> RunPagmoNsga2(const std::string& name, unsigned seed, unsigned generations,
                                    unsigned population);

// pagmo::fast_non_dominated_sorting(points).
Result<PagmoSortRun> RunPagmoSort(const Points& points);

// pagmo::hypervolume(points).compute(reference). REQUIRES: every point strictly inside the reference box.
Result<PagmoHvRun> RunPagmoHypervolume(const Points& points, const std::vector<double>& reference);

#else

inline constexpr bool kHavePagmo = false;

inline std::string PagmoVersion() { return ""; }
inline Result<PagmoNsga2Run> RunPagmoNsga2(const std::string&, unsigned, unsigned, unsigned) {
  return UnimplementedError(kPagmoMissing);
}
inline Result<PagmoSortRun> RunPagmoSort(const Points&) { return UnimplementedError(kPagmoMissing); }
inline Result<PagmoHvRun> RunPagmoHypervolume(const Points&, const std::vector<double>&) {
  return UnimplementedError(kPagmoMissing);
}

#endif

}  // namespace hpo::bench

#endif  // HPO_BENCH_SEARCH_PAGMO_PEER_H_
