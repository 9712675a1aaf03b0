#include "search/gp_sampler.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <deque>
#include <map>
#include <sstream>
#include <string>
#include <utility>

#include "base/rng.h"
#include "search/gp_proposal.h"
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
//   curves <count> then per outstanding candidate told a curve: <id> <curve>
//   observations <count> <omitted> then per result: <dims genes> <objectives> <constraints> <violation>
//     <pruned 0|1> <warm 0|1> <curve>; <omitted> of this study's results are left out (results_in_state
//     false) and come back through Restore
// where <curve> is <points> then per point <step> <objectives>. Version 1, without the flags and the
// omitted count, version 2, without the warm flag and the omitted count, and version 3, without the
// curves, still load.
//   hyper <count> then per model: <features> <log lengthscales> <log signal> <log noise>
//   queue <count> then per proposal: <dims genes>
//   rng <Rng::Save text to the end>
constexpr char kMagic[] = "hpo.gp_sampler";
constexpr char kVersion1[] = "v1";  // results without the pruned flag (none pruned)
constexpr char kVersion2[] = "v2";  // results without the warm flag, never omitted
constexpr char kVersion3[] = "v3";  // no curves
constexpr char kVersion[] = "v4";

// The most points a curve in a state may hold.
constexpr uint64_t kMaxCurvePoints = uint64_t{1} << 24;

// The stream of the seed the initial design draws from.
constexpr uint64_t kInitialDesignStream = 0x4750'4931;  // "GPI1"

class ProposalJob final : public OptimizerJob {
 public:
  explicit ProposalJob(GpSnapshot snapshot) : snapshot_(std::move(snapshot)) {}
  void Run() override {
    proposals_ = ProposeFromSnapshot(snapshot_);
    ran_ = true;
  }
  const GpSnapshot& snapshot() const { return snapshot_; }
  GpProposals& proposals() { return proposals_; }
  bool ran() const { return ran_; }

 private:
  GpSnapshot snapshot_;
  GpProposals proposals_;
  bool ran_ = false;
};

// ---- the state's text ----

void WriteDoubles(std::ostream& out, std::span<const double> values) {
  for (double v : values) out << ' ' << v;
}

void WriteCurve(std::ostream& out, const std::vector<CurvePoint>& curve) {
  out << ' ' << curve.size();
  for (const CurvePoint& point : curve) {
    out << ' ' << point.step;
    WriteDoubles(out, point.objectives);
  }
}

// OK, or INVALID_ARGUMENT naming the first point whose step is not positive and above the last one's or
// whose objectives are not `objectives` finite values.
Status ValidateCurve(const std::vector<CurvePoint>& curve, size_t objectives) {
  uint64_t last = 0;
  for (size_t i = 0; i < curve.size(); ++i) {
    const CurvePoint& point = curve[i];
    bool good = point.step > last && point.objectives.size() == objectives;
    for (double v : point.objectives) good = good && std::isfinite(v);
    if (!good) {
      return InvalidArgumentError("curve point " + std::to_string(i) + " (step " +
                                  std::to_string(point.step) + "): expected a step above " +
                                  std::to_string(last) + " and " + std::to_string(objectives) +
                                  " finite objective values");
    }
    last = point.step;
  }
  return Status::Ok();
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
  bool Curve(std::vector<CurvePoint>& curve, size_t objectives) {
    uint64_t points = 0;
    if (!Count(points, kMaxCurvePoints)) return false;
    curve.clear();  // grown as points are read: a corrupt count fails before it allocates
    uint64_t last = 0;
    for (uint64_t i = 0; i < points; ++i) {
      CurvePoint point;
      if (!Count(point.step, ~uint64_t{0}) || point.step <= last || !Doubles(point.objectives, objectives)) {
        return false;
      }
      last = point.step;
      curve.push_back(std::move(point));
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
        features_(std::make_shared<GpFeatureMap>(options.space, options.base.dims)),
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

  Status TellCurve(uint64_t id, std::vector<CurvePoint> curve) override {
    if (!outstanding_.contains(id)) return NotOutstanding(id);
    HPO_RETURN_IF_ERROR(ValidateCurve(curve, options_.base.num_objectives));
    curves_[id] = std::move(curve);
    return Status::Ok();
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
    std::vector<GpObservation> warm;
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
      HPO_RETURN_IF_ERROR(ValidateCurve(e.curve, options_.base.num_objectives).WithPrefix(which));
      warm.push_back({e.candidate.x, e.objectives, e.constraints, violation, e.pruned, true, e.curve});
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
    std::vector<GpObservation> restored;
    for (size_t i = 0; i < results.size(); ++i) {
      const Evaluation& e = results[i];
      const std::string which = "restored result " + std::to_string(i) + ": ";
      if (e.candidate.x.size() != options_.base.dims || e.constraints.size() != options_.num_constraints) {
        return InvalidArgumentError(which + "wrong number of genes or constraint values");
      }
      HPO_ASSIGN_OR_RETURN(const double violation, ConstraintViolation(e.constraints));
      HPO_RETURN_IF_ERROR(
          ValidateResult(options_.base.num_objectives, e.objectives, violation).WithPrefix(which));
      HPO_RETURN_IF_ERROR(ValidateCurve(e.curve, options_.base.num_objectives).WithPrefix(which));
      restored.push_back({e.candidate.x, e.objectives, e.constraints, violation, e.pruned, false, e.curve});
    }
    for (GpObservation& o : restored) observations_.push_back(std::move(o));
    awaiting_restore_ = false;
    front_.reset();
    return Status::Ok();
  }

  Status TellFailed(const Candidate& c) override {
    if (outstanding_.erase(c.id) == 0) return NotOutstanding(c.id);
    curves_.erase(c.id);
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
      const GpObservation& o = observations_[i];
      elite.push_back({Candidate{0, o.x}, o.objectives, 0.0, o.constraints, false, o.curve});
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
    out << "curves " << curves_.size() << '\n';
    for (const auto& [id, curve] : curves_) {
      out << id;
      WriteCurve(out, curve);
      out << '\n';
    }
    size_t omitted = 0;
    for (const GpObservation& o : observations_) omitted += !o.warm && !options_.results_in_state;
    out << "observations " << observations_.size() - omitted << ' ' << omitted << '\n';
    for (const GpObservation& o : observations_) {
      if (!o.warm && !options_.results_in_state) continue;
      WriteDoubles(out, o.x);
      WriteDoubles(out, o.objectives);
      WriteDoubles(out, o.constraints);
      out << ' ' << o.violation << ' ' << (o.pruned ? 1 : 0) << ' ' << (o.warm ? 1 : 0);
      WriteCurve(out, o.curve);
      out << '\n';
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
        (version != kVersion && version != kVersion3 && version != kVersion2 && version != kVersion1) ||
        !r.Word("options") || !r.Count(dims) || !r.Count(objectives) || !r.Count(constraints) ||
        !r.Count(initial) || !r.Count(max_obs) || !r.Count(background, 1) || !r.Count(queue)) {
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
    const bool has_curves = version == kVersion;
    const bool has_warm = version == kVersion || version == kVersion3;
    std::map<uint64_t, std::vector<CurvePoint>> curves;
    if (has_curves) {
      if (!r.Word("curves") || !r.Count(count, outstanding.size())) return bad;
      for (uint64_t i = 0; i < count; ++i) {
        uint64_t id = 0;
        std::vector<CurvePoint> curve;
        if (!r.Count(id, ~uint64_t{0}) || !outstanding.contains(id) || !r.Curve(curve, objectives))
          return bad;
        curves[id] = std::move(curve);
      }
    }
    std::vector<GpObservation> observations;
    uint64_t omitted = 0;
    if (!r.Word("observations") || !r.Count(count)) return bad;
    if (has_warm && !r.Count(omitted, ~uint64_t{0})) return bad;
    for (uint64_t i = 0; i < count; ++i) {
      GpObservation o;
      if (!r.Doubles(o.x, dims) || !r.Doubles(o.objectives, objectives) ||
          !r.Doubles(o.constraints, constraints) || !r.Double(o.violation) || o.violation < 0) {
        return bad;
      }
      uint64_t pruned = 0, warm = 0;
      if (version != kVersion1 && !r.Count(pruned, 1)) return bad;
      if (has_warm && !r.Count(warm, 1)) return bad;
      if (has_curves && !r.Curve(o.curve, objectives)) return bad;
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
    curves_ = std::move(curves);
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
    GpObservation o;
    o.x = std::move(it->second);
    o.objectives.assign(objectives.begin(), objectives.end());
    o.constraints.assign(constraints.begin(), constraints.end());
    o.violation = violation;
    o.pruned = pruned;
    outstanding_.erase(it);
    if (auto curve = curves_.find(c.id); curve != curves_.end()) {
      o.curve = std::move(curve->second);
      curves_.erase(curve);
    }
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

  GpSnapshot MakeSnapshot(size_t count) {
    GpSnapshot s;
    s.options = options_;
    s.features = features_;
    const std::vector<std::vector<double>> modelled = ModelledObjectives(observations_);
    s.observations.reserve(observations_.size());
    for (size_t i = 0; i < observations_.size(); ++i) {
      const GpObservation& o = observations_[i];
      s.observations.push_back({o.x, modelled[i], o.constraints, o.violation, o.pruned, o.warm});
    }
    for (const auto& [id, x] : outstanding_) s.pending.push_back(x);
    s.warm = hyper_;
    s.seed = rng_.Next();
    s.count = count;
    s.restart = observations_.size() <= kGpAlwaysRestart || fits_ % kGpRestartEvery == 0;
    s.told = told_;
    ++fits_;
    return s;
  }

  std::vector<double> ProposeInline() {
    if (observations_.size() < 2) return Fallback();
    GpProposals p = ProposeFromSnapshot(MakeSnapshot(1));
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
      for (const GpObservation& o : observations_) parents.push_back(&o.x);
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
  std::shared_ptr<const GpFeatureMap> features_;
  Rng rng_;
  size_t initial_design_ = 0;
  std::unique_ptr<Optimizer> initial_;  // the Latin hypercube of the first initial_design_ asks
  uint64_t initial_asked_ = 0;
  uint64_t next_id_ = 0;
  uint64_t told_ = 0;           // tells, failed ones included
  uint64_t last_job_told_ = 0;  // told_ when the queue's job was taken
  uint64_t fits_ = 0;
  std::map<uint64_t, std::vector<double>> outstanding_;
  std::map<uint64_t, std::vector<CurvePoint>> curves_;  // told curves of outstanding candidates
  std::vector<GpObservation> observations_;
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
