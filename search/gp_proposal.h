// The model-based sampler's proposal step (gp_sampler.h): the models' view of the unit cube, what a fit
// job copies from the sampler, and the fit-and-maximise that turns it into proposals. Internal to the
// search library: gp_sampler.cc is its one user; nothing outside search/ includes it but its test.
//
// ProposeFromSnapshot is a pure function of its snapshot (seed included): safe on any thread, and the same
// snapshot gives the same proposals. A GpFeatureMap is immutable once made.
#ifndef HPO_SEARCH_GP_PROPOSAL_H_
#define HPO_SEARCH_GP_PROPOSAL_H_

#include <Eigen/Dense>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "search/gp.h"
#include "search/gp_sampler.h"
#include "search/space.h"

namespace hpo::search {

// Fits start from the last fit's optimum; while there are at most kGpAlwaysRestart results, and on every
// kGpRestartEvery-th fit, also from the prior's mode (and, in the first case, from two random draws).
inline constexpr size_t kGpAlwaysRestart = 30;
inline constexpr size_t kGpRestartEvery = 5;

struct GpObservation {
  std::vector<double> x;
  std::vector<double> objectives;
  std::vector<double> constraints;  // num_constraints values, g_j <= 0 holds
  double violation = 0.0;
  bool pruned = false;                 // stopped early: modelled (see ModelledObjectives), never on the front
  bool warm = false;                   // from another study (Warm): always saved
  std::vector<CurvePoint> curve = {};  // the learning curve (Optimizer::TellCurve), ascending steps
};

// A pruned result's objectives are those of a shorter run, worse than its full run's would have been
// (accuracy after one epoch of four). Modelled as they are, they make the region the pruner stopped
// early look worse than the one it let finish, and the model steers away from it (on the Fashion-MNIST
// study with ASHA, to the smallest networks). So the models see a pruned result projected to its full
// budget: at the last step s of its curve, objective d becomes
//   value_d + median over the completed results with a report at step s of (final_d - their value_d at s),
// how much the completed runs still gained (or lost) after step s. The ranking of results pruned at the
// same step is kept. Left as reported: a pruned result without a curve, and every objective while fewer
// than kGpMinCurves completed results (run to their end: not pruned) reported at step s.
inline constexpr size_t kGpMinCurves = 2;

// The objectives the models see, one vector per observation, in order: as told, pruned results projected.
std::vector<std::vector<double>> ModelledObjectives(const std::vector<GpObservation>& observations);

// A result that may stand on the front: feasible, and run to its full budget.
inline bool OnFront(const GpObservation& o) { return o.violation == 0.0 && !o.pruned; }

// The models' view of a point of the unit cube (see gp_sampler.h: parameter kinds).
class GpFeatureMap {
 public:
  GpFeatureMap(const std::optional<SearchSpace>& space, size_t dims) : space_(space), dims_(dims) {
    if (!space_) {
      size_ = dims;
      return;
    }
    for (const ParamSpec& p : space_->params()) {
      Kind kind = Kind::kContinuous;
      size_t width = 1;
      if (p.kind == ParamKind::kCategorical) {
        kind = Kind::kCategorical;
        width = p.choices.size();
      } else if (p.kind == ParamKind::kInt || p.step > 0) {
        kind = Kind::kDiscrete;
      }
      kinds_.push_back(kind);
      widths_.push_back(width);
      size_ += width;
    }
  }

  size_t size() const { return size_; }

  // Discrete genes moved to the centre of their value's share; continuous ones clamped.
  std::vector<double> Snap(std::span<const double> x) const {
    std::vector<double> snapped(x.begin(), x.end());
    for (double& g : snapped) g = std::isfinite(g) ? std::clamp(g, 0.0, 1.0) : 0.0;
    if (!space_) return snapped;
    const std::vector<Value> values = space_->Decode(snapped);
    Result<std::vector<double>> encoded = space_->Encode(values);
    if (!encoded.ok()) return snapped;
    for (size_t i = 0; i < dims_; ++i) {
      if (kinds_[i] != Kind::kContinuous) snapped[i] = (*encoded)[i];
    }
    return snapped;
  }

  // The features of x into row `row` of `out`.
  void Apply(std::span<const double> x, Eigen::MatrixXd& out, Eigen::Index row) const {
    if (!space_) {
      for (size_t i = 0; i < dims_; ++i) out(row, static_cast<Eigen::Index>(i)) = std::clamp(x[i], 0.0, 1.0);
      return;
    }
    const std::vector<double> snapped = Snap(x);
    const std::vector<bool> active = space_->Active(space_->Decode(snapped));
    Eigen::Index column = 0;
    for (size_t i = 0; i < dims_; ++i) {
      if (kinds_[i] == Kind::kCategorical) {
        const size_t n = widths_[i];
        const size_t choice = std::min(static_cast<size_t>(snapped[i] * static_cast<double>(n)), n - 1);
        for (size_t c = 0; c < n; ++c)
          out(row, column + static_cast<Eigen::Index>(c)) = active[i] && c == choice ? 1.0 : 0.0;
        column += static_cast<Eigen::Index>(n);
      } else {
        out(row, column++) = active[i] ? snapped[i] : 0.5;
      }
    }
  }

  Eigen::MatrixXd Matrix(const std::vector<std::vector<double>>& points) const {
    Eigen::MatrixXd out(static_cast<Eigen::Index>(points.size()), static_cast<Eigen::Index>(size_));
    for (size_t i = 0; i < points.size(); ++i) Apply(points[i], out, static_cast<Eigen::Index>(i));
    return out;
  }

 private:
  enum class Kind { kContinuous, kDiscrete, kCategorical };
  std::optional<SearchSpace> space_;
  size_t dims_ = 0;
  size_t size_ = 0;
  std::vector<Kind> kinds_;
  std::vector<size_t> widths_;
};

// What a job needs, copied from the sampler, and what it gives back.
struct GpSnapshot {
  GpSamplerOptions options;
  std::shared_ptr<const GpFeatureMap> features;
  // The results as the models see them: pruned ones at their ModelledObjectives, no curves.
  std::vector<GpObservation> observations;
  std::vector<std::vector<double>> pending;  // genes of the outstanding candidates
  std::vector<GpHyperparameters> warm;       // per model (objectives, then constraints), or empty
  uint64_t seed = 0;
  size_t count = 1;     // proposals to make
  bool restart = true;  // random restarts in the fits
  uint64_t told = 0;    // the sampler's tell count when taken
};

struct GpProposals {
  std::vector<std::vector<double>> x;
  std::vector<GpHyperparameters> hyper;
};

// The proposals of one job: snapshot.count points, each from models fitted to the snapshot's results and
// conditioned on the points in flight (and the job's earlier proposals), with the fitted hyperparameters.
// None when a model cannot be fitted (not for finite results).
GpProposals ProposeFromSnapshot(const GpSnapshot& s);

}  // namespace hpo::search

#endif  // HPO_SEARCH_GP_PROPOSAL_H_
