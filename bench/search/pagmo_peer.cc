// Compiled only when CMake finds pagmo (see pagmo_peer.h).
#include "bench/search/pagmo_peer.h"

#include <exception>
#include <pagmo/algorithm.hpp>
#include <pagmo/algorithms/nsga2.hpp>
#include <pagmo/config.hpp>
#include <pagmo/population.hpp>
#include <pagmo/problem.hpp>
#include <pagmo/problems/dtlz.hpp>
#include <pagmo/problems/zdt.hpp>
#include <pagmo/utils/hypervolume.hpp>
#include <pagmo/utils/multi_objective.hpp>

#include "bench/common/report.h"

namespace hpo::bench {
namespace {

Result<pagmo::problem> PagmoProblem(const std::string& name) {
  if (name == "zdt1") return pagmo::problem{pagmo::zdt(1u, 30u)};
  if (name == "zdt2") return pagmo::problem{pagmo::zdt(2u, 30u)};
  if (name == "zdt3") return pagmo::problem{pagmo::zdt(3u, 30u)};
  if (name == "zdt4") return pagmo::problem{pagmo::zdt(4u, 10u)};
  if (name == "zdt6") return pagmo::problem{pagmo::zdt(6u, 10u)};
  if (name == "dtlz2") return pagmo::problem{pagmo::dtlz(2u, 12u, 3u)};
  return InvalidArgumentError("pagmo peer: no problem '" + name + "'");
}

}  // namespace

std::string PagmoVersion() { return PAGMO_VERSION; }

Result<PagmoNsga2Run> RunPagmoNsga2(const std::string& name, unsigned seed, unsigned generations,
                                    unsigned population) {
  try {
    PagmoNsga2Run run;
    const Stopwatch watch;
    HPO_ASSIGN_OR_RETURN(pagmo::problem problem, PagmoProblem(name));
    const double n = static_cast<double>(problem.get_nx());
    pagmo::algorithm algorithm{pagmo::nsga2(generations, 0.9, 20., 1.0 / n, 20., seed)};
    pagmo::population pop{problem, population, seed};
    pop = algorithm.evolve(pop);
    run.wall_s = watch.WallSeconds();
    run.cpu_s = watch.CpuSeconds();
    run.fevals = pop.get_problem().get_fevals();
    run.objectives = pop.get_f();
    return run;
  } catch (const std::exception& e) {
    return InternalError(std::string("pagmo nsga2: ") + e.what());
  }
}

Result<PagmoSortRun> RunPagmoSort(const Points& points) {
  try {
    PagmoSortRun run;
    const Stopwatch watch;
    pagmo::fnds_return_type sorted = pagmo::fast_non_dominated_sorting(points);
    run.wall_s = watch.WallSeconds();
    run.cpu_s = watch.CpuSeconds();
    run.fronts = std::get<0>(sorted).size();
    const auto& rank = std::get<3>(sorted);
    run.rank.assign(rank.begin(), rank.end());
    return run;
  } catch (const std::exception& e) {
    return InternalError(std::string("pagmo fast_non_dominated_sorting: ") + e.what());
  }
}

Result<PagmoHvRun> RunPagmoHypervolume(const Points& points, const std::vector<double>& reference) {
  try {
    PagmoHvRun run;
    const pagmo::hypervolume hv(points, true);
    run.algorithm = hv.get_best_compute(reference)->get_name();
    const Stopwatch watch;
    run.value = hv.compute(reference);
    run.wall_s = watch.WallSeconds();
    run.cpu_s = watch.CpuSeconds();
    return run;
  } catch (const std::exception& e) {
    return InternalError(std::string("pagmo hypervolume: ") + e.what());
  }
}

}  // namespace hpo::bench
