// Expected hypervolume improvement (Emmerich, Giannakoglou, Naujoks, "Single- and multiobjective
// evolutionary optimization assisted by Gaussian random field metamodels", IEEE TEVC 10(4), 2006), exact,
// for 2 and 3 objectives, all minimised, of a point whose objectives are independent normals; for one
// objective it is the expected improvement over min(best, r), Psi(min(best, r)) below.
//
// The improvement of a new point Y over a front P (reference r) is the volume of the cells z <= r that P
// does not dominate and Y does: HVI(Y) = vol{z : Y <= z <= r, z not dominated by P}. Its expectation is
//   EHVI = integral over the non-dominated region A of prod_d Phi((z_d - mu_d) / sigma_d) dz,
// since P(Y <= z) factorises. A is cut into cells: the grid of the front's sorted coordinates in the
// first M-1 objectives (with -infinity below and r above), and in each cell (i, j) the last objective
// runs from -infinity up to c_ij = min(r_M, min{p_M : p in P, p_1..p_{M-1} <= the cell's lower corner}).
// With Psi(t) = integral_{-inf}^{t} Phi((z - mu) / sigma) dz = (t - mu) Phi(u) + sigma phi(u),
// u = (t - mu) / sigma, every cell contributes a product of differences of Psi:
//   M = 2:  EHVI = sum_i [Psi_1(a_{i+1}) - Psi_1(a_i)] Psi_2(c_i),
//   M = 3:  EHVI = sum_{i,j} [Psi_1(a_{i+1}) - Psi_1(a_i)] [Psi_2(b_{j+1}) - Psi_2(b_j)] Psi_3(c_ij).
// Cost: O(K log K + K^(M-1) K) to build for a front of K points, O(K^(M-1)) per evaluation.
//
// An EhviFront is an immutable value: Evaluate may be called from any number of threads at once.
#ifndef HPO_SEARCH_EHVI_H_
#define HPO_SEARCH_EHVI_H_

#include <cstddef>
#include <span>
#include <vector>

#include "base/status.h"

namespace hpo::search {

class EhviFront {
 public:
  // The front `points` (any set: dominated points and points not strictly inside the reference are
  // dropped) against `reference`. INVALID_ARGUMENT for a reference of other than 1 to 3 objectives, a
  // point of another size, or a value that is not finite.
  static Result<EhviFront> Create(const std::vector<std::vector<double>>& points,
                                  std::span<const double> reference);

  // EHVI of a point with objectives ~ N(mean_d, sd_d^2), independent. sd_d may be 0 (then the
  // improvement of the point `mean` itself). REQUIRES: sizes equal to the reference's.
  double Evaluate(std::span<const double> mean, std::span<const double> sd) const;

  // The exact hypervolume improvement of the point y (Evaluate with sd 0).
  double Improvement(std::span<const double> y) const;

  size_t objectives() const { return reference_.size(); }
  size_t front_size() const { return front_size_; }

 private:
  EhviFront() = default;

  std::vector<double> reference_;
  size_t front_size_ = 0;
  // Cell edges of objectives 1 and (M = 3) 2: -infinity, the front's sorted distinct coordinates below
  // the reference, then the reference.
  std::vector<double> edges1_, edges2_;
  // c per cell: edges1_.size() - 1 cells for M = 2; (edges1_.size() - 1) x (edges2_.size() - 1) for M = 3,
  // row-major. The upper end of the last objective in that cell; -infinity for a cell the front dominates.
  std::vector<double> top_;
};

}  // namespace hpo::search

#endif  // HPO_SEARCH_EHVI_H_
