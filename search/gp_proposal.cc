#include "search/gp_proposal.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <numbers>
#include <optional>
#include <string>
#include <utility>

#include "base/rng.h"
#include "search/ehvi.h"
#include "search/nsga2.h"
#include "search/pareto.h"

namespace hpo::search {
namespace {

// Acquisition settings: the NSGA-II run over the models, the other candidates, the refinement.
constexpr size_t kInnerPopulation = 40;
constexpr size_t kInnerGenerations = 15;
constexpr size_t kFrontParents = 32;
constexpr size_t kMutantsPerParent = 8;
constexpr size_t kUniformCandidates = 200;
constexpr double kOptimism = 2.0;  // the inner NSGA-II minimises mu - kOptimism sigma

std::vector<std::vector<double>> Rows(const Eigen::MatrixXd& m) {
  std::vector<std::vector<double>> rows(static_cast<size_t>(m.rows()));
  for (Eigen::Index i = 0; i < m.rows(); ++i) {
    rows[static_cast<size_t>(i)].resize(static_cast<size_t>(m.cols()));
    for (Eigen::Index j = 0; j < m.cols(); ++j)
      rows[static_cast<size_t>(i)][static_cast<size_t>(j)] = m(i, j);
  }
  return rows;
}

double NormalCdf(double u) { return 0.5 * std::erfc(-u / std::numbers::sqrt2); }

// The results a fit uses: all of them up to max_observations; beyond, the feasible front, then the most
// recent, then a random sample of the rest (in their original order).
std::vector<size_t> Subsample(const std::vector<GpObservation>& observations, size_t max, Rng& rng) {
  const size_t n = observations.size();
  std::vector<size_t> chosen;
  if (n <= max) {
    chosen.resize(n);
    for (size_t i = 0; i < n; ++i) chosen[i] = i;
    return chosen;
  }
  std::vector<bool> take(n, false);
  size_t taken = 0;
  std::vector<std::vector<double>> feasible;
  std::vector<size_t> feasible_index;
  for (size_t i = 0; i < n; ++i) {
    if (OnFront(observations[i])) {
      feasible.push_back(observations[i].objectives);
      feasible_index.push_back(i);
    }
  }
  for (size_t k : ParetoFrontIndices(feasible)) {
    if (taken >= max / 2) break;
    take[feasible_index[k]] = true;
    ++taken;
  }
  for (size_t i = n; i-- > 0 && taken < (3 * max) / 4;) {
    if (!take[i]) {
      take[i] = true;
      ++taken;
    }
  }
  std::vector<size_t> rest;
  for (size_t i = 0; i < n; ++i) {
    if (!take[i]) rest.push_back(i);
  }
  for (size_t k = 0; k < rest.size() && taken < max; ++k) {
    std::swap(rest[k], rest[k + rng.UniformInt(rest.size() - k)]);
    take[rest[k]] = true;
    ++taken;
  }
  for (size_t i = 0; i < n; ++i) {
    if (take[i]) chosen.push_back(i);
  }
  return chosen;
}

// The models of one proposal round and the acquisition over them.
class Acquisition {
 public:
  Acquisition(const GpSnapshot& s, std::vector<GaussianProcess> models,
              std::vector<std::vector<double>> front, std::vector<double> reference)
      : s_(s),
        m_(s.options.base.num_objectives),
        models_(std::move(models)),
        has_front_(!front.empty()),
        ehvi_(has_front_ ? EhviFront::Create(front, reference) : Result<EhviFront>(InternalError("none"))) {}

  struct Scored {
    double value = 0.0;
    std::vector<double> mean, sd;  // objectives then constraints
  };

  // The acquisition at each point.
  std::vector<Scored> Score(const std::vector<std::vector<double>>& points) const {
    const Eigen::MatrixXd f = s_.features->Matrix(points);
    std::vector<std::vector<GpPrediction>> predictions;
    for (const GaussianProcess& model : models_) predictions.push_back(model.PredictMany(f));
    std::vector<Scored> out(points.size());
    for (size_t i = 0; i < points.size(); ++i) {
      Scored& scored = out[i];
      double pof = 1.0, spread = 0.0;
      for (size_t k = 0; k < models_.size(); ++k) {
        const GpPrediction& p = predictions[k][i];
        scored.mean.push_back(p.mean);
        scored.sd.push_back(std::sqrt(p.variance));
        if (k >= m_) pof *= NormalCdf(-p.mean / scored.sd.back());
        if (k < m_) spread += scored.sd.back();
      }
      if (has_front_ && ehvi_.ok()) {
        scored.value =
            ehvi_->Evaluate(std::span(scored.mean).first(m_), std::span(scored.sd).first(m_)) * pof;
      } else {
        scored.value = pof;
      }
      // Among points of no expected gain, the most uncertain first.
      scored.value += 1e-12 * spread;
    }
    return out;
  }

 private:
  const GpSnapshot& s_;
  size_t m_;
  std::vector<GaussianProcess> models_;
  bool has_front_;
  Result<EhviFront> ehvi_;
};

void Clamp01(std::vector<double>& x) {
  for (double& g : x) g = std::clamp(g, 0.0, 1.0);
}

// One proposal from fitted (and believer-conditioned) models.
std::vector<double> ProposeOne(const GpSnapshot& s, const Acquisition& acquisition,
                               const std::vector<std::vector<double>>& front_genes, Rng& rng) {
  const size_t dims = s.options.base.dims;
  const size_t m = s.options.base.num_objectives;
  std::vector<std::vector<double>> pool;
  // NSGA-II over the optimistic objectives under the predicted constraints.
  Nsga2Options inner;
  inner.base = {.dims = dims, .num_objectives = m, .seed = rng.Next()};
  inner.population = kInnerPopulation;
  inner.mode = Nsga2Options::Mode::kGenerational;
  if (Result<std::unique_ptr<Optimizer>> nsga2 = MakeNsga2(inner); nsga2.ok()) {
    Optimizer& opt = **nsga2;
    for (size_t g = 0; g <= kInnerGenerations; ++g) {
      const std::vector<Candidate> asked = opt.Ask(kInnerPopulation);
      if (asked.empty()) break;
      std::vector<std::vector<double>> points;
      for (const Candidate& c : asked) points.push_back(c.x);
      const std::vector<Acquisition::Scored> scored = acquisition.Score(points);
      for (size_t i = 0; i < asked.size(); ++i) {
        std::vector<double> objectives(m);
        for (size_t d = 0; d < m; ++d) objectives[d] = scored[i].mean[d] - kOptimism * scored[i].sd[d];
        double violation = 0.0;
        for (size_t j = m; j < scored[i].mean.size(); ++j) violation += std::max(0.0, scored[i].mean[j]);
        bool finite = std::isfinite(violation);
        for (double v : objectives) finite = finite && std::isfinite(v);
        if (!finite || !opt.Tell(asked[i], objectives, violation).ok()) (void)opt.TellFailed(asked[i]);
      }
    }
    for (const Evaluation& e : opt.Elite()) pool.push_back(e.candidate.x);
  }
  // Mutations of the front.
  for (size_t p = 0; p < std::min(front_genes.size(), kFrontParents); ++p) {
    const std::vector<double>& parent = front_genes.size() <= kFrontParents
                                            ? front_genes[p]
                                            : front_genes[rng.UniformInt(front_genes.size())];
    for (size_t k = 0; k < kMutantsPerParent; ++k) {
      std::vector<double> child = parent;
      const double scale = 0.02 * std::pow(2.0, static_cast<double>(rng.UniformInt(4)));  // 0.02 .. 0.16
      const double prob = std::min(1.0, std::max(0.2, 3.0 / static_cast<double>(dims)));
      bool moved = false;
      for (double& g : child) {
        if (rng.Uniform01() < prob) {
          g += scale * rng.Normal();
          moved = true;
        }
      }
      if (!moved) child[rng.UniformInt(dims)] += scale * rng.Normal();
      Clamp01(child);
      pool.push_back(std::move(child));
    }
  }
  for (size_t k = 0; k < kUniformCandidates; ++k) {
    std::vector<double> x(dims);
    for (double& g : x) g = rng.Uniform01();
    pool.push_back(std::move(x));
  }
  const std::vector<Acquisition::Scored> scored = acquisition.Score(pool);
  size_t best = 0;
  for (size_t i = 1; i < pool.size(); ++i) {
    if (scored[i].value > scored[best].value) best = i;
  }
  std::vector<double> x = pool[best];
  double value = scored[best].value;
  // Refinement: shrinking random steps around the best.
  for (double step : {0.05, 0.02, 0.01, 0.005}) {
    std::vector<std::vector<double>> around;
    for (size_t k = 0; k < 16; ++k) {
      std::vector<double> y = x;
      for (double& g : y) g += step * rng.Normal();
      Clamp01(y);
      around.push_back(std::move(y));
    }
    const std::vector<Acquisition::Scored> refined = acquisition.Score(around);
    for (size_t k = 0; k < around.size(); ++k) {
      if (refined[k].value > value) {
        value = refined[k].value;
        x = around[k];
      }
    }
  }
  return s.features->Snap(x);
}

}  // namespace

std::vector<std::vector<double>> ModelledObjectives(const std::vector<GpObservation>& observations) {
  std::vector<std::vector<double>> out;
  out.reserve(observations.size());
  for (const GpObservation& o : observations) out.push_back(o.objectives);
  // The gains after step s, per objective, computed once per step that some pruned result stopped at.
  std::map<uint64_t, std::vector<std::optional<double>>> gains;
  for (size_t i = 0; i < observations.size(); ++i) {
    const GpObservation& p = observations[i];
    if (!p.pruned || p.curve.empty()) continue;
    const uint64_t step = p.curve.back().step;
    const size_t m = p.objectives.size();
    auto [it, fresh] = gains.try_emplace(step);
    if (fresh) {
      it->second.resize(m);
      for (size_t d = 0; d < m; ++d) {
        std::vector<double> gain;
        for (const GpObservation& c : observations) {
          if (c.pruned) continue;
          auto at = std::lower_bound(c.curve.begin(), c.curve.end(), step,
                                     [](const CurvePoint& point, uint64_t s) { return point.step < s; });
          if (at == c.curve.end() || at->step != step || at->objectives.size() != m) continue;
          gain.push_back(c.objectives[d] - at->objectives[d]);
        }
        if (gain.size() < kGpMinCurves) continue;
        const auto mid = gain.begin() + static_cast<std::ptrdiff_t>(gain.size() / 2);
        std::nth_element(gain.begin(), mid, gain.end());
        // The mean of the two middle ones for an even count.
        it->second[d] = gain.size() % 2 == 1 ? *mid : 0.5 * (*mid + *std::max_element(gain.begin(), mid));
      }
    }
    for (size_t d = 0; d < m; ++d) {
      if (it->second[d]) out[i][d] += *it->second[d];
    }
  }
  return out;
}

GpProposals ProposeFromSnapshot(const GpSnapshot& s) {
  GpProposals out;
  Rng rng(s.seed);
  const size_t m = s.options.base.num_objectives;
  const size_t models = m + s.options.num_constraints;
  const std::vector<size_t> used = Subsample(s.observations, s.options.max_observations, rng);
  std::vector<std::vector<double>> genes;
  for (size_t i : used) genes.push_back(s.observations[i].x);
  const std::vector<std::vector<double>> features = Rows(s.features->Matrix(genes));

  std::vector<GaussianProcess> fitted;
  for (size_t k = 0; k < models; ++k) {
    std::vector<double> y;
    for (size_t i : used) {
      const GpObservation& o = s.observations[i];
      y.push_back(k < m ? o.objectives[k] : o.constraints[k - m]);
    }
    GpFitOptions fit;
    fit.seed = rng.Next();
    fit.restarts = s.restart && s.observations.size() <= kGpAlwaysRestart ? 2 : 0;
    fit.default_start = s.restart;
    if (s.warm.size() == models) fit.warm_start = &s.warm[k];
    Result<GaussianProcess> model = GaussianProcess::Fit(features, y, fit);
    if (!model.ok()) return out;  // finite data always fits; nothing proposed otherwise
    out.hyper.push_back(model->hyperparameters());
    fitted.push_back(std::move(*model));
  }

  // The feasible front (genes and objectives) of the results.
  std::vector<std::vector<double>> feasible, feasible_genes;
  for (const GpObservation& o : s.observations) {
    if (OnFront(o)) {
      feasible.push_back(o.objectives);
      feasible_genes.push_back(o.x);
    }
  }
  std::vector<std::vector<double>> front_genes, front;
  for (size_t k : ParetoFrontIndices(feasible)) {
    front.push_back(feasible[k]);
    front_genes.push_back(feasible_genes[k]);
  }

  std::vector<std::vector<double>> pending = s.pending;
  for (size_t round = 0; round < s.count; ++round) {
    // The kriging believer: each pending point observed at its predicted mean.
    std::vector<GaussianProcess> models_now;
    std::vector<std::vector<double>> believed_front = front;
    if (pending.empty()) {
      models_now = fitted;
    } else {
      const Eigen::MatrixXd pf = s.features->Matrix(pending);
      const std::vector<std::vector<double>> pending_features = Rows(pf);
      std::vector<std::vector<GpPrediction>> predicted;
      for (const GaussianProcess& model : fitted) predicted.push_back(model.PredictMany(pf));
      for (size_t k = 0; k < fitted.size(); ++k) {
        std::vector<double> means;
        for (const GpPrediction& p : predicted[k]) means.push_back(p.mean);
        models_now.push_back(fitted[k].Condition(pending_features, means));
      }
      for (size_t i = 0; i < pending.size(); ++i) {
        bool feasible_belief = true;
        std::vector<double> objectives(m);
        for (size_t k = 0; k < fitted.size(); ++k) {
          if (k < m)
            objectives[k] = predicted[k][i].mean;
          else
            feasible_belief = feasible_belief && predicted[k][i].mean <= 0.0;
        }
        if (feasible_belief) believed_front.push_back(std::move(objectives));
      }
    }
    // The reference point: the user's is unknown, so each proposal draws one of two. Tight: the front's
    // worst value plus 10% of the span of every result run to its end, to fill the front in. Wide: the
    // worst of all those results plus the same margin, so that extending the front (toward a corner of
    // the feasible region, or to a piece of a disconnected front) counts too.
    std::vector<double> reference(m, 0.0);
    const bool wide = rng.Uniform01() < 0.5;
    if (!front.empty()) {
      for (size_t d = 0; d < m; ++d) {
        double lo = front[0][d], hi = front[0][d], nadir = front[0][d];
        for (const auto& p : front) nadir = std::max(nadir, p[d]);
        for (const GpObservation& o : s.observations) {
          if (!o.pruned) lo = std::min(lo, o.objectives[d]), hi = std::max(hi, o.objectives[d]);
        }
        const double span = hi > lo ? hi - lo : std::max(1.0, std::abs(hi));
        reference[d] = (wide ? hi : nadir) + 0.1 * span;
      }
    }
    const Acquisition acquisition(s, std::move(models_now), front.empty() ? front : believed_front,
                                  reference);
    std::vector<double> x = ProposeOne(s, acquisition, front_genes, rng);
    pending.push_back(x);
    out.x.push_back(std::move(x));
  }
  return out;
}

}  // namespace hpo::search
