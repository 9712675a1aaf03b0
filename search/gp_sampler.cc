#include "search/gp_sampler.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <deque>
#include <map>
#include <numbers>
#include <sstream>
#include <string>
#include <utility>

#include "base/rng.h"
#include "search/ehvi.h"
#include "search/gp.h"
#include "search/nsga2.h"
#include "search/pareto.h"
#include "search/random_search.h"
#include "search/variation.h"

namespace hpo::search {
namespace {

// State format, text, every double in hexadecimal floating point:
//   hpo.gp_sampler v1
//   options <dims> <objectives> <constraints> <initial_design> <max_observations> <background> <queue>
//   counters <next_id> <initial_asked> <told> <last_job_told> <fits>
//   outstanding <count> then per candidate: <id> <dims genes>
//   observations <count> <omitted> then per result: <dims genes> <objectives> <constraints> <violation>
//     <pruned 0|1> <warm 0|1>; <omitted> of this study's results are left out (results_in_state false)
//     and come back through Restore
// (version 1, without the flags and the omitted count, and version 2, without the warm flag and the
// omitted count, still load)
//   hyper <count> then per model: <features> <log lengthscales> <log signal> <log noise>
//   queue <count> then per proposal: <dims genes>
//   rng <Rng::Save text to the end>
constexpr char kMagic[] = "hpo.gp_sampler";
constexpr char kVersion1[] = "v1";  // results without the pruned flag (none pruned)
constexpr char kVersion2[] = "v2";  // results without the warm flag, never omitted
constexpr char kVersion[] = "v3";

// The stream of the seed the initial design draws from.
constexpr uint64_t kInitialDesignStream = 0x4750'4931;  // "GPI1"

// Acquisition settings: the NSGA-II run over the models, the other candidates, the refinement.
constexpr size_t kInnerPopulation = 40;
constexpr size_t kInnerGenerations = 15;
constexpr size_t kFrontParents = 32;
constexpr size_t kMutantsPerParent = 8;
constexpr size_t kUniformCandidates = 200;
constexpr double kOptimism = 2.0;  // the inner NSGA-II minimises mu - kOptimism sigma
// Fits start from the last fit's optimum; while there are at most kAlwaysRestart results, and on every
// kRestartEvery-th fit, also from the prior's mode (and, in the first case, from two random draws).
constexpr size_t kAlwaysRestart = 30;
constexpr size_t kRestartEvery = 5;

struct Observation {
  std::vector<double> x;
  std::vector<double> objectives;
  std::vector<double> constraints;  // num_constraints values, g_j <= 0 holds
  double violation = 0.0;
  bool pruned = false;  // stopped early: modelled, never on the front
  bool warm = false;    // from another study (Warm): always saved
};

// A result that may stand on the front: feasible, and run to its full budget.
bool OnFront(const Observation& o) { return o.violation == 0.0 && !o.pruned; }

// The models' view of a point of the unit cube (see gp_sampler.h: parameter kinds).
class FeatureMap {
 public:
  FeatureMap(const std::optional<SearchSpace>& space, size_t dims) : space_(space), dims_(dims) {
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

// What a job needs, copied from the sampler, and what it gives back.
struct Snapshot {
  GpSamplerOptions options;
  std::shared_ptr<const FeatureMap> features;
  std::vector<Observation> observations;
  std::vector<std::vector<double>> pending;  // genes of the outstanding candidates
  std::vector<GpHyperparameters> warm;       // per model (objectives, then constraints), or empty
  uint64_t seed = 0;
  size_t count = 1;     // proposals to make
  bool restart = true;  // random restarts in the fits
  uint64_t told = 0;    // the sampler's tell count when taken
};

struct Proposals {
  std::vector<std::vector<double>> x;
  std::vector<GpHyperparameters> hyper;
};

// The results a fit uses: all of them up to max_observations; beyond, the feasible front, then the most
// recent, then a random sample of the rest (in their original order).
std::vector<size_t> Subsample(const std::vector<Observation>& observations, size_t max, Rng& rng) {
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
  Acquisition(const Snapshot& s, std::vector<GaussianProcess> models, std::vector<std::vector<double>> front,
              std::vector<double> reference)
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
  const Snapshot& s_;
  size_t m_;
  std::vector<GaussianProcess> models_;
  bool has_front_;
  Result<EhviFront> ehvi_;
};

void Clamp01(std::vector<double>& x) {
  for (double& g : x) g = std::clamp(g, 0.0, 1.0);
}

// One proposal from fitted (and believer-conditioned) models.
std::vector<double> ProposeOne(const Snapshot& s, const Acquisition& acquisition,
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

Proposals Propose(const Snapshot& s) {
  Proposals out;
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
      const Observation& o = s.observations[i];
      y.push_back(k < m ? o.objectives[k] : o.constraints[k - m]);
    }
    GpFitOptions fit;
    fit.seed = rng.Next();
    fit.restarts = s.restart && s.observations.size() <= kAlwaysRestart ? 2 : 0;
    fit.default_start = s.restart;
    if (s.warm.size() == models) fit.warm_start = &s.warm[k];
    Result<GaussianProcess> model = GaussianProcess::Fit(features, y, fit);
    if (!model.ok()) return out;  // finite data always fits; nothing proposed otherwise
    out.hyper.push_back(model->hyperparameters());
    fitted.push_back(std::move(*model));
  }

  // The feasible front (genes and objectives) of the results.
  std::vector<std::vector<double>> feasible, feasible_genes;
  for (const Observation& o : s.observations) {
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
        for (const Observation& o : s.observations) {
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

class ProposalJob final : public OptimizerJob {
 public:
  explicit ProposalJob(Snapshot snapshot) : snapshot_(std::move(snapshot)) {}
  void Run() override {
    proposals_ = Propose(snapshot_);
    ran_ = true;
  }
  const Snapshot& snapshot() const { return snapshot_; }
  Proposals& proposals() { return proposals_; }
  bool ran() const { return ran_; }

 private:
  Snapshot snapshot_;
  Proposals proposals_;
  bool ran_ = false;
};

// ---- the state's text ----

void WriteDoubles(std::ostream& out, std::span<const double> values) {
  for (double v : values) out << ' ' << v;
}

class Reader {
 public:
  explicit Reader(std::istream& in) : in_(in) {}
  bool Word(const char* expected) {
    std::string token;
    return static_cast<bool>(in_ >> token) && token == expected;
  }
  bool Count(uint64_t& value, uint64_t max = uint64_t{1} << 32) {
    std::string token;
    if (!(in_ >> token) || token.empty() || token[0] == '-') return false;
    char* end = nullptr;
    value = std::strtoull(token.c_str(), &end, 10);
    return end == token.c_str() + token.size() && value <= max;
  }
  bool Double(double& value) {
    std::string token;
    if (!(in_ >> token)) return false;
    char* end = nullptr;
    value = std::strtod(token.c_str(), &end);
    return end == token.c_str() + token.size() && std::isfinite(value);
  }
  bool Doubles(std::vector<double>& values, size_t n) {
    values.resize(n);
    for (double& v : values) {
      if (!Double(v)) return false;
    }
    return true;
  }

 private:
  std::istream& in_;
};

class GpSampler final : public Optimizer {
 public:
  explicit GpSampler(const GpSamplerOptions& options)
      : options_(options),
        features_(std::make_shared<FeatureMap>(options.space, options.base.dims)),
        rng_(options.base.seed) {
    initial_design_ = options.initial_design != 0 ? options.initial_design
                                                  : std::clamp<size_t>(options.base.dims + 1, 5, 20);
    ResetInitialDesign();
  }

  std::vector<Candidate> Ask(size_t n) override {
    std::vector<Candidate> out;
    for (size_t k = 0; k < n; ++k) {
      std::vector<double> x;
      if (initial_asked_ < initial_design_) {
        x = NextInitial();
      } else if (!options_.background) {
        x = ProposeInline();
      } else if (!queue_.empty()) {
        x = std::move(queue_.front());
        queue_.pop_front();
      } else if (options_.wait_for_fits && job_in_flight_ && outstanding_.empty()) {
        break;  // nothing runs: better to wait for the model than to guess
      } else {
        x = Fallback();
      }
      Candidate c{next_id_++, std::move(x)};
      outstanding_[c.id] = c.x;
      out.push_back(std::move(c));
    }
    return out;
  }

  Status Tell(const Candidate& c, std::span<const double> objectives, double constraint_violation) override {
    HPO_RETURN_IF_ERROR(ValidateResult(options_.base.num_objectives, objectives, constraint_violation));
    if (options_.num_constraints != 0) {
      return InvalidArgumentError("gp sampler: this study has " + std::to_string(options_.num_constraints) +
                                  " constraints; tell their values (TellConstrained)");
    }
    return Record(c, objectives, {}, constraint_violation);
  }

  Status TellConstrained(const Candidate& c, std::span<const double> objectives,
                         std::span<const double> constraints) override {
    if (constraints.size() != options_.num_constraints) {
      return InvalidArgumentError("expected " + std::to_string(options_.num_constraints) +
                                  " constraint values, got " + std::to_string(constraints.size()));
    }
    HPO_ASSIGN_OR_RETURN(const double violation, ConstraintViolation(constraints));
    HPO_RETURN_IF_ERROR(ValidateResult(options_.base.num_objectives, objectives, violation));
    return Record(c, objectives, constraints, violation);
  }

  Status TellPruned(const Candidate& c, std::span<const double> objectives,
                    std::span<const double> constraints) override {
    // Without every constraint value (or with a bad value) the point cannot be modelled: dropped.
    Result<double> violation = ConstraintViolation(constraints);
    if (constraints.size() != options_.num_constraints || !violation.ok() ||
        !ValidateResult(options_.base.num_objectives, objectives, 0.0).ok()) {
      return TellFailed(c);
    }
    return Record(c, objectives, constraints, *violation, /*pruned=*/true);
  }

  bool Substitute(uint64_t id, std::span<const double> x) override {
    auto it = outstanding_.find(id);
    if (it == outstanding_.end() || x.size() != options_.base.dims) return false;
    it->second.assign(x.begin(), x.end());
    return true;
  }

  Status Warm(const std::vector<Evaluation>& results) override {
    if (next_id_ != 0 || !observations_.empty()) {
      return FailedPreconditionError("gp sampler: a warm start comes before the first ask");
    }
    std::vector<Observation> warm;
    for (size_t i = 0; i < results.size(); ++i) {
      const Evaluation& e = results[i];
      const std::string which = "warm start result " + std::to_string(i) + ": ";
      if (e.candidate.x.size() != options_.base.dims)
        return InvalidArgumentError(which + "wrong number of genes");
      for (double g : e.candidate.x) {
        if (!(g >= 0.0 && g <= 1.0)) return InvalidArgumentError(which + "a gene outside [0, 1]");
      }
      if (e.constraints.size() != options_.num_constraints) {
        return InvalidArgumentError(which + "expected " + std::to_string(options_.num_constraints) +
                                    " constraint values");
      }
      HPO_ASSIGN_OR_RETURN(const double violation, ConstraintViolation(e.constraints));
      HPO_RETURN_IF_ERROR(
          ValidateResult(options_.base.num_objectives, e.objectives, violation).WithPrefix(which));
      warm.push_back({e.candidate.x, e.objectives, e.constraints, violation, false, true});
    }
    observations_ = std::move(warm);
    front_.reset();
    // The results stand in for the initial design, as far as they go.
    initial_design_ = observations_.size() >= initial_design_ ? 0 : initial_design_ - observations_.size();
    ResetInitialDesign();
    return Status::Ok();
  }

  Status Restore(const std::vector<Evaluation>& results) override {
    if (!awaiting_restore_) return Status::Ok();
    std::vector<Observation> restored;
    for (size_t i = 0; i < results.size(); ++i) {
      const Evaluation& e = results[i];
      const std::string which = "restored result " + std::to_string(i) + ": ";
      if (e.candidate.x.size() != options_.base.dims || e.constraints.size() != options_.num_constraints) {
        return InvalidArgumentError(which + "wrong number of genes or constraint values");
      }
      HPO_ASSIGN_OR_RETURN(const double violation, ConstraintViolation(e.constraints));
      HPO_RETURN_IF_ERROR(
          ValidateResult(options_.base.num_objectives, e.objectives, violation).WithPrefix(which));
      restored.push_back({e.candidate.x, e.objectives, e.constraints, violation, e.pruned, false});
    }
    for (Observation& o : restored) observations_.push_back(std::move(o));
    awaiting_restore_ = false;
    front_.reset();
    return Status::Ok();
  }

  Status TellFailed(const Candidate& c) override {
    if (outstanding_.erase(c.id) == 0) return NotOutstanding(c.id);
    ++told_;
    return Status::Ok();
  }

  std::unique_ptr<OptimizerJob> TakeJob() override {
    if (!options_.background || job_in_flight_ || observations_.size() < 2) return nullptr;
    if (initial_asked_ < initial_design_) return nullptr;
    if (told_ == last_job_told_ && queue_.size() >= options_.queue) return nullptr;
    job_in_flight_ = true;
    return std::make_unique<ProposalJob>(MakeSnapshot(options_.queue));
  }

  void FinishJob(std::unique_ptr<OptimizerJob> job) override {
    auto* proposal = dynamic_cast<ProposalJob*>(job.get());
    if (proposal == nullptr) return;
    job_in_flight_ = false;
    if (!proposal->ran() || proposal->proposals().x.empty()) return;
    hyper_ = std::move(proposal->proposals().hyper);
    queue_.assign(std::make_move_iterator(proposal->proposals().x.begin()),
                  std::make_move_iterator(proposal->proposals().x.end()));
    last_job_told_ = proposal->snapshot().told;
  }

  std::vector<Evaluation> Elite() const override {
    std::vector<Evaluation> elite;
    for (size_t i : FrontIndices()) {
      const Observation& o = observations_[i];
      elite.push_back({Candidate{0, o.x}, o.objectives, 0.0, o.constraints});
    }
    return elite;
  }

  std::string Save() const override {
    std::ostringstream out;
    out << std::hexfloat;
    out << kMagic << ' ' << kVersion << '\n'
        << "options " << options_.base.dims << ' ' << options_.base.num_objectives << ' '
        << options_.num_constraints << ' ' << initial_design_ << ' ' << options_.max_observations << ' '
        << (options_.background ? 1 : 0) << ' ' << options_.queue << '\n'
        << "counters " << next_id_ << ' ' << initial_asked_ << ' ' << told_ << ' ' << last_job_told_ << ' '
        << fits_ << '\n'
        << "outstanding " << outstanding_.size() << '\n';
    for (const auto& [id, x] : outstanding_) {
      out << id;
      WriteDoubles(out, x);
      out << '\n';
    }
    size_t omitted = 0;
    for (const Observation& o : observations_) omitted += !o.warm && !options_.results_in_state;
    out << "observations " << observations_.size() - omitted << ' ' << omitted << '\n';
    for (const Observation& o : observations_) {
      if (!o.warm && !options_.results_in_state) continue;
      WriteDoubles(out, o.x);
      WriteDoubles(out, o.objectives);
      WriteDoubles(out, o.constraints);
      out << ' ' << o.violation << ' ' << (o.pruned ? 1 : 0) << ' ' << (o.warm ? 1 : 0) << '\n';
    }
    out << "hyper " << hyper_.size() << '\n';
    for (const GpHyperparameters& h : hyper_) {
      out << h.log_lengthscales.size();
      WriteDoubles(out, h.log_lengthscales);
      out << ' ' << h.log_signal << ' ' << h.log_noise << '\n';
    }
    out << "queue " << queue_.size() << '\n';
    for (const std::vector<double>& x : queue_) {
      WriteDoubles(out, x);
      out << '\n';
    }
    out << "rng " << rng_.Save();
    return out.str();
  }

  Status Load(const std::string& state) override {
    const Status bad = DataLossError("gp sampler state is not one GpSampler::Save wrote");
    std::istringstream in(state);
    Reader r(in);
    uint64_t dims = 0, objectives = 0, constraints = 0, initial = 0, max_obs = 0, background = 0, queue = 0;
    std::string version;
    if (!r.Word(kMagic) || !(in >> version) ||
        (version != kVersion && version != kVersion2 && version != kVersion1) || !r.Word("options") ||
        !r.Count(dims) || !r.Count(objectives) || !r.Count(constraints) || !r.Count(initial) ||
        !r.Count(max_obs) || !r.Count(background, 1) || !r.Count(queue)) {
      return bad;
    }
    uint64_t next_id = 0, initial_asked = 0, told = 0, last_job_told = 0, fits = 0, count = 0;
    if (!r.Word("counters") || !r.Count(next_id, ~uint64_t{0}) || !r.Count(initial_asked, initial) ||
        !r.Count(told, ~uint64_t{0}) || !r.Count(last_job_told, ~uint64_t{0}) ||
        !r.Count(fits, ~uint64_t{0})) {
      return bad;
    }
    if (dims != options_.base.dims || objectives != options_.base.num_objectives ||
        constraints != options_.num_constraints) {
      return InvalidArgumentError("gp sampler state is for dims " + std::to_string(dims) + ", objectives " +
                                  std::to_string(objectives) + ", constraints " +
                                  std::to_string(constraints) + "; this sampler has dims " +
                                  std::to_string(options_.base.dims) + ", objectives " +
                                  std::to_string(options_.base.num_objectives) + ", constraints " +
                                  std::to_string(options_.num_constraints));
    }
    std::map<uint64_t, std::vector<double>> outstanding;
    if (!r.Word("outstanding") || !r.Count(count, next_id)) return bad;
    for (uint64_t i = 0; i < count; ++i) {
      uint64_t id = 0;
      std::vector<double> x;
      if (!r.Count(id, ~uint64_t{0}) || id >= next_id || !r.Doubles(x, dims)) return bad;
      outstanding[id] = std::move(x);
    }
    std::vector<Observation> observations;
    uint64_t omitted = 0;
    if (!r.Word("observations") || !r.Count(count)) return bad;
    if (version == kVersion && !r.Count(omitted, ~uint64_t{0})) return bad;
    for (uint64_t i = 0; i < count; ++i) {
      Observation o;
      if (!r.Doubles(o.x, dims) || !r.Doubles(o.objectives, objectives) ||
          !r.Doubles(o.constraints, constraints) || !r.Double(o.violation) || o.violation < 0) {
        return bad;
      }
      uint64_t pruned = 0, warm = 0;
      if (version != kVersion1 && !r.Count(pruned, 1)) return bad;
      if (version == kVersion && !r.Count(warm, 1)) return bad;
      o.pruned = pruned == 1;
      o.warm = warm == 1;
      observations.push_back(std::move(o));
    }
    std::vector<GpHyperparameters> hyper;
    if (!r.Word("hyper") || !r.Count(count, objectives + constraints)) return bad;
    for (uint64_t i = 0; i < count; ++i) {
      GpHyperparameters h;
      uint64_t n = 0;
      if (!r.Count(n, 100'000) || !r.Doubles(h.log_lengthscales, n) || !r.Double(h.log_signal) ||
          !r.Double(h.log_noise)) {
        return bad;
      }
      hyper.push_back(std::move(h));
    }
    std::deque<std::vector<double>> queued;
    if (!r.Word("queue") || !r.Count(count, 1024)) return bad;
    for (uint64_t i = 0; i < count; ++i) {
      std::vector<double> x;
      if (!r.Doubles(x, dims)) return bad;
      queued.push_back(std::move(x));
    }
    std::string word, rng_state;
    if (!(in >> word) || word != "rng" || in.get() != ' ' || !std::getline(in, rng_state, '\0')) return bad;
    Rng rng(0);
    if (!rng.Load(rng_state).ok()) return bad;
    initial_design_ = initial;
    next_id_ = next_id;
    told_ = told;
    last_job_told_ = last_job_told;
    fits_ = fits;
    outstanding_ = std::move(outstanding);
    observations_ = std::move(observations);
    awaiting_restore_ = omitted > 0;
    front_.reset();
    hyper_ = std::move(hyper);
    queue_ = std::move(queued);
    rng_ = rng;
    job_in_flight_ = false;
    ResetInitialDesign();
    while (initial_asked_ < initial_asked) NextInitial();
    return Status::Ok();
  }

 private:
  // The indices of the results on the feasible front, ascending; cached until the results change.
  const std::vector<size_t>& FrontIndices() const {
    if (!front_) {
      std::vector<std::vector<double>> feasible;
      std::vector<size_t> index;
      for (size_t i = 0; i < observations_.size(); ++i) {
        if (OnFront(observations_[i])) {
          feasible.push_back(observations_[i].objectives);
          index.push_back(i);
        }
      }
      front_.emplace();
      for (size_t k : ParetoFrontIndices(feasible)) front_->push_back(index[k]);
    }
    return *front_;
  }

  Status NotOutstanding(uint64_t id) const {
    return NotFoundError("candidate " + std::to_string(id) +
                         " is not outstanding (never asked, or already told)");
  }

  Status Record(const Candidate& c, std::span<const double> objectives, std::span<const double> constraints,
                double violation, bool pruned = false) {
    auto it = outstanding_.find(c.id);
    if (it == outstanding_.end()) return NotOutstanding(c.id);
    Observation o;
    o.x = std::move(it->second);
    o.objectives.assign(objectives.begin(), objectives.end());
    o.constraints.assign(constraints.begin(), constraints.end());
    o.violation = violation;
    o.pruned = pruned;
    outstanding_.erase(it);
    observations_.push_back(std::move(o));
    // The cached front, updated in O(front) rather than recomputed: the new result joins it unless a
    // member dominates it, and pushes out the members it dominates.
    if (front_ && OnFront(observations_.back())) {
      const std::vector<double>& y = observations_.back().objectives;
      bool dominated = false;
      for (size_t i : *front_) dominated = dominated || Dominates(observations_[i].objectives, y);
      if (!dominated) {
        std::erase_if(*front_, [&](size_t i) { return Dominates(y, observations_[i].objectives); });
        front_->push_back(observations_.size() - 1);
      }
    }
    ++told_;
    return Status::Ok();
  }

  void ResetInitialDesign() {
    RandomSearchOptions design;
    design.base = {.dims = options_.base.dims,
                   .num_objectives = options_.base.num_objectives,
                   .seed = DeriveSeed(options_.base.seed, kInitialDesignStream)};
    design.latin_hypercube = initial_design_;
    initial_ = std::move(MakeRandomSearch(design).value());
    initial_asked_ = 0;
  }

  std::vector<double> NextInitial() {
    const std::vector<Candidate> c = initial_->Ask(1);
    (void)initial_->TellFailed(c.front());
    ++initial_asked_;
    return features_->Snap(c.front().x);
  }

  Snapshot MakeSnapshot(size_t count) {
    Snapshot s;
    s.options = options_;
    s.features = features_;
    s.observations = observations_;
    for (const auto& [id, x] : outstanding_) s.pending.push_back(x);
    s.warm = hyper_;
    s.seed = rng_.Next();
    s.count = count;
    s.restart = observations_.size() <= kAlwaysRestart || fits_ % kRestartEvery == 0;
    s.told = told_;
    ++fits_;
    return s;
  }

  std::vector<double> ProposeInline() {
    if (observations_.size() < 2) return Fallback();
    Proposals p = Propose(MakeSnapshot(1));
    if (p.x.empty()) return Fallback();
    hyper_ = std::move(p.hyper);
    return std::move(p.x.front());
  }

  // Two parents from the feasible front (or from all results), SBX and polynomial mutation; uniform
  // when there are fewer than two results.
  std::vector<double> Fallback() {
    const size_t dims = options_.base.dims;
    std::vector<const std::vector<double>*> parents;
    for (size_t i : FrontIndices()) parents.push_back(&observations_[i].x);
    if (parents.size() < 2) {
      parents.clear();
      for (const Observation& o : observations_) parents.push_back(&o.x);
    }
    if (parents.size() < 2) {
      std::vector<double> x(dims);
      for (double& g : x) g = rng_.Uniform01();
      return features_->Snap(x);
    }
    const size_t a = rng_.UniformInt(parents.size());
    size_t b = rng_.UniformInt(parents.size() - 1);
    if (b >= a) ++b;
    SbxChildren children = SbxCrossover(*parents[a], *parents[b], 15.0, 0.9, rng_);
    PolynomialMutation(children.first, 20.0, 1.0 / static_cast<double>(dims), rng_);
    return features_->Snap(children.first);
  }

  const GpSamplerOptions options_;
  std::shared_ptr<const FeatureMap> features_;
  Rng rng_;
  size_t initial_design_ = 0;
  std::unique_ptr<Optimizer> initial_;  // the Latin hypercube of the first initial_design_ asks
  uint64_t initial_asked_ = 0;
  uint64_t next_id_ = 0;
  uint64_t told_ = 0;           // tells, failed ones included
  uint64_t last_job_told_ = 0;  // told_ when the queue's job was taken
  uint64_t fits_ = 0;
  std::map<uint64_t, std::vector<double>> outstanding_;
  std::vector<Observation> observations_;
  // FrontIndices' cache: kept up to date by each tell, reset when results are replaced wholesale.
  mutable std::optional<std::vector<size_t>> front_;
  bool awaiting_restore_ = false;         // Load left this study's results out: Restore brings them back
  std::vector<GpHyperparameters> hyper_;  // the last fit's, per model: the next fit's warm start
  std::deque<std::vector<double>> queue_;
  bool job_in_flight_ = false;
};

}  // namespace

Result<std::unique_ptr<Optimizer>> MakeGpSampler(const GpSamplerOptions& options) {
  const OptimizerOptions& base = options.base;
  if (base.dims == 0) return InvalidArgumentError("gp.dims: must be at least 1");
  if (base.num_objectives == 0 || base.num_objectives > 3) {
    return InvalidArgumentError("gp.num_objectives: " + std::to_string(base.num_objectives) +
                                "; the model-based sampler takes 1 to 3 objectives");
  }
  if (options.num_constraints > 16) {
    return InvalidArgumentError("gp.num_constraints: " + std::to_string(options.num_constraints) +
                                " is more than 16");
  }
  if (options.space && options.space->dims() != base.dims) {
    return InvalidArgumentError("gp.space: " + std::to_string(options.space->dims()) +
                                " parameters for dims " + std::to_string(base.dims));
  }
  if (options.max_observations < 10 || options.max_observations > 5000) {
    return InvalidArgumentError("gp.max_observations: must be in [10, 5000]");
  }
  if (options.queue < 1 || options.queue > 64) return InvalidArgumentError("gp.queue: must be in [1, 64]");
  if (options.initial_design > 10'000)
    return InvalidArgumentError("gp.initial_design: must be at most 10000");
  return std::unique_ptr<Optimizer>(std::make_unique<GpSampler>(options));
}

}  // namespace hpo::search
