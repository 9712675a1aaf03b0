#include "search/woa.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <numbers>
#include <sstream>
#include <string_view>
#include <utility>
#include <vector>

#include "base/rng.h"
#include "search/pareto.h"

namespace hpo::search {
namespace {

using std::numbers::pi;
using Variant = WoaOptions::Variant;

// Adaptive shrink: the diversity ratio the swarm should have decayed to by t = T (README).
constexpr double kFinalDiversity = 1e-4;

// ---------------------------------------------------------------------------------------------------------
// Comparisons (Deb's rules: feasible beats infeasible, less violation beats more, then the objectives).

struct Eval {
  bool valid = false;  // false: never evaluated (a whale whose every evaluation failed): worse than all
  double violation = 0.0;
  std::vector<double> objectives;
};

struct Point {
  std::vector<double> x;
  Eval eval;
  uint64_t id = 0;  // the candidate it was asked as
};

// True when a is better than b: constrained domination for several objectives, less for one.
bool Better(const Eval& a, const Eval& b) {
  if (!a.valid) return false;
  if (!b.valid) return true;
  if (a.violation > 0 || b.violation > 0) return a.violation < b.violation;
  if (a.objectives.size() == 1) return a.objectives[0] < b.objectives[0];
  return Dominates(a.objectives, b.objectives);
}

double Clamp01(double v) { return std::clamp(v, 0.0, 1.0); }

// A gene v that left [0, 1] (improved variant): onto the bound it crossed with probability 4/5, unless the
// leader's gene is already there; otherwise halfway from where its whale was (`from`, inside) to that
// bound. Plain clamping piles whales onto one bound value, where their differences, and so every
// translation-invariant step in that gene, become 0 for good (a shifted sphere stalls with 13% of its
// genes on a bound; Schwefel 2.22 with whole genes at ±10); never reaching the bound would make an
// optimum there (ZDT's, or a hyperparameter's best value at its limit) slow to find.
double Repair(double v, double from, double leader, Rng& rng) {
  if (v >= 0.0 && v <= 1.0) return v;
  const double bound = v < 0.0 ? 0.0 : 1.0;
  const bool snap = rng.Uniform01() < 0.8;
  return snap && leader != bound ? bound : 0.5 * (from + bound);
}

// ---------------------------------------------------------------------------------------------------------
// State.

enum class Phase { kInit = 0, kMove = 1, kHybrid = 2 };
enum class SlotState { kUnasked = 0, kOutstanding = 1, kTold = 2, kFailed = 3 };

// One candidate of the current phase; slot i belongs to whale i.
struct Slot {
  std::vector<double> x;
  SlotState state = SlotState::kUnasked;
  Eval result;  // when kTold
};

struct State {
  State() : rng(0) {}

  uint64_t next_id = 0;
  uint64_t phase_first_id = 0;  // slot k of the current phase has id phase_first_id + k once asked
  uint64_t iteration = 0;       // t: iterations completed since the initial population
  Phase phase = Phase::kInit;
  double start_diversity = 0.0;  // δ(0): the initial population's mean distance to its centroid
  size_t next_unasked = 0;
  size_t closed = 0;           // slots told or told failed
  std::vector<Point> whales;   // N
  Point best;                  // single-objective leader
  std::vector<Point> archive;  // multi-objective leaders
  std::vector<Slot> slots;     // N
  Rng rng;
};

// ---------------------------------------------------------------------------------------------------------
// Serialisation: whitespace-separated words, doubles in hexadecimal (exact), the generator last.

constexpr char kMagic[] = "hpo.woa";
constexpr char kVersion[] = "v1";

class Writer {
 public:
  void Word(std::string_view w) {
    out_.append(w);
    out_ += ' ';
  }
  void Uint(uint64_t v) { Word(std::to_string(v)); }
  void Double(double v) {
    char buffer[64];
    const auto result = std::to_chars(buffer, buffer + sizeof buffer, v, std::chars_format::hex);
    Word(std::string_view(buffer, result.ptr));
  }
  void Doubles(const std::vector<double>& v) {
    for (double d : v) Double(d);
  }
  void EndLine() { out_.back() = '\n'; }
  std::string Take() { return std::move(out_); }

 private:
  std::string out_;
};

class Reader {
 public:
  explicit Reader(const std::string& text) : in_(text) {}

  bool ok() const { return ok_; }
  std::string Word() {
    std::string w;
    if (!(in_ >> w)) ok_ = false;
    return w;
  }
  void Expect(std::string_view w) {
    if (Word() != w) ok_ = false;
  }
  uint64_t Uint() {
    const std::string w = Word();
    uint64_t v = 0;
    const auto [end, ec] = std::from_chars(w.data(), w.data() + w.size(), v);
    if (ec != std::errc() || end != w.data() + w.size()) ok_ = false;
    return v;
  }
  bool Bool() {
    const uint64_t v = Uint();
    if (v > 1) ok_ = false;
    return v == 1;
  }
  double Double() {
    const std::string w = Word();
    double v = 0;
    const auto [end, ec] = std::from_chars(w.data(), w.data() + w.size(), v, std::chars_format::hex);
    if (ec != std::errc() || end != w.data() + w.size() || !std::isfinite(v)) ok_ = false;
    return v;
  }
  std::vector<double> Doubles(size_t n) {
    std::vector<double> v;
    for (size_t i = 0; i < n && ok_; ++i) v.push_back(Double());
    return v;
  }
  // Everything after the next single space.
  std::string Rest() {
    std::string rest;
    if (in_.get() != ' ' || !std::getline(in_, rest, '\0')) ok_ = false;
    return rest;
  }

 private:
  std::istringstream in_;
  bool ok_ = true;
};

// ---------------------------------------------------------------------------------------------------------

class Woa final : public Optimizer {
 public:
  explicit Woa(const WoaOptions& options)
      : options_(options),
        dims_(options.base.dims),
        m_(options.base.num_objectives),
        n_(options.population),
        levy_sigma_(MantegnaSigma(options.levy_beta)) {
    state_.rng = Rng(options.base.seed);
    state_.whales.assign(n_, Point{std::vector<double>(dims_, 0.0), Eval(), 0});
    state_.best.x.assign(dims_, 0.0);
    StartInit(state_);
  }

  std::vector<Candidate> Ask(size_t n) override {
    std::vector<Candidate> out;
    State& s = state_;
    while (out.size() < n && s.next_unasked < n_) {
      Slot& slot = s.slots[s.next_unasked];
      slot.state = SlotState::kOutstanding;
      out.push_back({.id = s.phase_first_id + s.next_unasked, .x = slot.x});
      ++s.next_unasked;
      ++s.next_id;
    }
    return out;
  }

  Status Tell(const Candidate& c, std::span<const double> objectives, double constraint_violation) override {
    HPO_RETURN_IF_ERROR(ValidateResult(m_, objectives, constraint_violation));
    HPO_ASSIGN_OR_RETURN(Slot * slot, Outstanding(c.id));
    slot->state = SlotState::kTold;
    slot->result = {.valid = true,
                    .violation = constraint_violation,
                    .objectives = std::vector<double>(objectives.begin(), objectives.end())};
    Close();
    return Status::Ok();
  }

  Status TellFailed(const Candidate& c) override {
    HPO_ASSIGN_OR_RETURN(Slot * slot, Outstanding(c.id));
    slot->state = SlotState::kFailed;
    Close();
    return Status::Ok();
  }

  std::string Save() const override;
  Status Load(const std::string& text) override;

  // The archive (several objectives), or the best point so far (one objective); empty before any result.
  std::vector<Evaluation> Elite() const override {
    std::vector<Evaluation> elite;
    auto add = [&](const Point& p) {
      elite.push_back({.candidate = {.id = p.id, .x = p.x},
                       .objectives = p.eval.objectives,
                       .constraint_violation = p.eval.violation});
    };
    if (m_ == 1) {
      if (state_.best.eval.valid) add(state_.best);
    } else {
      for (const Point& p : state_.archive) add(p);
    }
    return elite;
  }

 private:
  // ---- phases ---------------------------------------------------------------------------------------

  // A fresh set of slots for `phase`, whose candidates are `xs` (one per whale).
  void BeginPhase(State& s, Phase phase, std::vector<std::vector<double>> xs) const {
    s.phase = phase;
    s.phase_first_id = s.next_id;
    s.next_unasked = 0;
    s.closed = 0;
    s.slots.assign(n_, Slot());
    for (size_t i = 0; i < n_; ++i) s.slots[i].x = std::move(xs[i]);
  }

  // The initial population: a Latin hypercube (each gene's N strata in a random order, uniform within).
  void StartInit(State& s) const {
    std::vector<std::vector<double>> xs(n_, std::vector<double>(dims_));
    std::vector<size_t> strata(n_);
    for (size_t j = 0; j < dims_; ++j) {
      for (size_t i = 0; i < n_; ++i) strata[i] = i;
      for (size_t i = n_; i > 1; --i) std::swap(strata[i - 1], strata[s.rng.UniformInt(i)]);
      for (size_t i = 0; i < n_; ++i) {
        xs[i][j] = (static_cast<double>(strata[i]) + s.rng.Uniform01()) / static_cast<double>(n_);
      }
    }
    BeginPhase(s, Phase::kInit, std::move(xs));
  }

  void Close() {
    State& s = state_;
    if (++s.closed < n_ || s.next_unasked < n_) return;
    switch (s.phase) {
      case Phase::kInit:
        FinishInit(s);
        break;
      case Phase::kMove:
        FinishMove(s);
        break;
      case Phase::kHybrid:
        FinishHybrid(s);
        break;
    }
  }

  void FinishInit(State& s) const {
    for (size_t i = 0; i < n_; ++i) {
      s.whales[i] = {s.slots[i].x, s.slots[i].state == SlotState::kTold ? s.slots[i].result : Eval(),
                     s.phase_first_id + i};
    }
    Record(s);
    if (!HasLeader(s)) {  // every initial whale failed: draw another population
      StartInit(s);
      return;
    }
    s.start_diversity = Diversity(s);
    s.iteration = 0;
    StartMove(s);
  }

  // Every whale takes its move (a failed one stays where it was), as in the paper.
  void FinishMove(State& s) const {
    for (size_t i = 0; i < n_; ++i) {
      if (s.slots[i].state == SlotState::kTold) s.whales[i] = SlotPoint(s, i);
    }
    Record(s);
    if (options_.hybrid_search) {
      StartHybrid(s);
    } else {
      EndIteration(s);
    }
  }

  // One objective: a trial replaces its whale when better (Deb's rules). Several: trials only go to the
  // archive (kept there when no member is Pareto-better); replacing whales by the trials that dominate
  // them collapses the swarm onto the first archive members (ZDT2: onto f1 = 0 in 2 of 8 runs).
  void FinishHybrid(State& s) const {
    if (m_ == 1) {
      for (size_t i = 0; i < n_; ++i) {
        if (s.slots[i].state == SlotState::kTold && Better(s.slots[i].result, s.whales[i].eval)) {
          s.whales[i] = SlotPoint(s, i);
        }
      }
    }
    Record(s);
    EndIteration(s);
  }

  // The told candidate of slot i as a point.
  static Point SlotPoint(const State& s, size_t i) {
    return {s.slots[i].x, s.slots[i].result, s.phase_first_id + i};
  }

  void EndIteration(State& s) const {
    ++s.iteration;
    StartMove(s);
  }

  // ---- leaders ---------------------------------------------------------------------------------------

  bool HasLeader(const State& s) const { return m_ == 1 ? s.best.eval.valid : !s.archive.empty(); }

  // Offers every told result of the current phase to the leader (one objective) or the archive.
  void Record(State& s) const {
    for (size_t i = 0; i < n_; ++i) {
      if (s.slots[i].state != SlotState::kTold) continue;
      if (m_ == 1) {
        if (Better(s.slots[i].result, s.best.eval)) s.best = SlotPoint(s, i);
      } else {
        OfferToArchive(s.archive, SlotPoint(s, i));
      }
    }
    if (m_ > 1) TruncateArchive(s.archive);
  }

  // Adds p unless a member is better (constrained domination) or has the same objectives and violation;
  // drops the members p is better than.
  static void OfferToArchive(std::vector<Point>& archive, Point p) {
    for (const Point& a : archive) {
      if (Better(a.eval, p.eval)) return;
      if (a.eval.violation == p.eval.violation && a.eval.objectives == p.eval.objectives) return;
    }
    std::erase_if(archive, [&](const Point& a) { return Better(p.eval, a.eval); });
    archive.push_back(std::move(p));
  }

  // Drops the most crowded member (the newest among equals), recomputing the crowding distance after each
  // drop, until archive_size remain.
  void TruncateArchive(std::vector<Point>& archive) const {
    while (archive.size() > options_.archive_size) {
      const std::vector<double> crowding = ArchiveCrowding(archive);
      size_t worst = 0;
      for (size_t k = 1; k < archive.size(); ++k) {
        if (crowding[k] <= crowding[worst]) worst = k;
      }
      archive.erase(archive.begin() + static_cast<std::ptrdiff_t>(worst));
    }
  }

  static std::vector<double> ArchiveCrowding(const std::vector<Point>& archive) {
    std::vector<std::vector<double>> points;
    points.reserve(archive.size());
    for (const Point& a : archive) points.push_back(a.eval.objectives);
    std::vector<size_t> all(archive.size());
    for (size_t k = 0; k < all.size(); ++k) all[k] = k;
    return CrowdingDistance(points, all);
  }

  // The leaders of the next phase, one per whale: the best point (one objective), or a binary tournament
  // on crowding distance in the archive (the less crowded wins, the first drawn on a tie).
  std::vector<const std::vector<double>*> DrawLeaders(State& s) const {
    std::vector<const std::vector<double>*> leaders(n_, &s.best.x);
    if (m_ == 1) return leaders;
    const std::vector<double> crowding = ArchiveCrowding(s.archive);
    for (size_t i = 0; i < n_; ++i) {
      const size_t a = s.rng.UniformInt(s.archive.size());
      const size_t b = s.rng.UniformInt(s.archive.size());
      leaders[i] = &s.archive[crowding[b] > crowding[a] ? b : a].x;
    }
    return leaders;
  }

  // ---- the moves -------------------------------------------------------------------------------------

  // Mean Euclidean distance of the whales to their centroid.
  double Diversity(const State& s) const {
    std::vector<double> centroid(dims_, 0.0);
    for (const Point& w : s.whales) {
      for (size_t j = 0; j < dims_; ++j) centroid[j] += w.x[j];
    }
    for (double& c : centroid) c /= static_cast<double>(n_);
    double sum = 0.0;
    for (const Point& w : s.whales) {
      double d2 = 0.0;
      for (size_t j = 0; j < dims_; ++j) d2 += (w.x[j] - centroid[j]) * (w.x[j] - centroid[j]);
      sum += std::sqrt(d2);
    }
    return sum / static_cast<double>(n_);
  }

  // τ(t) = 1 - t/T, 0 from t = T on.
  double Tau(const State& s) const {
    const double t = static_cast<double>(std::min<uint64_t>(s.iteration, options_.max_iterations));
    return 1.0 - t / static_cast<double>(options_.max_iterations);
  }

  // a(t) = 2τ(t); with adaptive shrink 2·min(1, τ(t)·sqrt(ρ*(t) / ρ(t))), where ρ(t) = δ(t) / δ(0) is the
  // swarm's diversity relative to the start and ρ*(t) = kFinalDiversity^(t/T) the geometric decay it
  // should follow: a swarm more spread than ρ* shrinks faster, one more collapsed gets a larger a (up to
  // 2, where half of the p < 0.5 moves have |A| >= 1 and expand it around random whales) and re-expands.
  double ComputeA(const State& s) const {
    const double tau = Tau(s);
    if (!options_.adaptive_shrink) return 2.0 * tau;
    if (!(s.start_diversity > 0)) return 2.0 * tau;  // all initial whales identical: nothing to follow
    const double rho = Diversity(s) / s.start_diversity;
    const double target = std::pow(kFinalDiversity, 1.0 - tau);
    if (rho <= 0) return tau > 0 ? 2.0 : 0.0;
    double factor = std::sqrt(target / rho);
    // Several objectives: the swarm must stay as wide as the front it covers, so a is only ever raised
    // (re-expansion), never pushed below 2τ (pushing it collapsed ZDT2 onto its f1 = 0 end in 1 of 30 runs).
    if (m_ > 1) factor = std::max(factor, 1.0);
    return 2.0 * std::min(1.0, tau * factor);
  }

  // w(t) = 0.9 - 0.8·t/T (0.1 from t = T on).
  double InertiaWeight(const State& s) const { return 0.9 - 0.8 * (1.0 - Tau(s)); }

  void StartMove(State& s) const {
    const double a = ComputeA(s);
    const double w = InertiaWeight(s);
    const std::vector<const std::vector<double>*> leaders = DrawLeaders(s);
    std::vector<std::vector<double>> xs(n_);
    for (size_t i = 0; i < n_; ++i) {
      xs[i] = options_.variant == Variant::kOriginal ? MoveOriginal(s, i, *leaders[i], a, w)
                                                     : MoveImproved(s, i, *leaders[i], a, w);
    }
    BeginPhase(s, Phase::kMove, std::move(xs));
  }

  // The paper's update (README, "original"). The inertia weight, when on, multiplies the leader as in the
  // published inertia-weight WOAs (w·X*): the biased form, for reference.
  std::vector<double> MoveOriginal(State& s, size_t i, const std::vector<double>& leader, double a,
                                   double w) const {
    const std::vector<double>& x = s.whales[i].x;
    const double lead = options_.inertia_weight ? w : 1.0;
    const double A = 2.0 * a * s.rng.Uniform01() - a;
    const double C = 2.0 * s.rng.Uniform01();
    const double p = s.rng.Uniform01();
    const double l = s.rng.Uniform(-1.0, 1.0);
    std::vector<double> next(dims_);
    if (p < 0.5) {
      if (std::fabs(A) < 1.0) {  // encircling the prey
        for (size_t j = 0; j < dims_; ++j) next[j] = lead * leader[j] - A * std::fabs(C * leader[j] - x[j]);
      } else {  // search for prey, toward a random whale
        const std::vector<double>& r = s.whales[s.rng.UniformInt(n_)].x;
        for (size_t j = 0; j < dims_; ++j) next[j] = r[j] - A * std::fabs(C * r[j] - x[j]);
      }
    } else {  // bubble-net spiral
      const double spiral = std::exp(options_.spiral_b * l) * std::cos(2.0 * pi * l);
      for (size_t j = 0; j < dims_; ++j) next[j] = std::fabs(leader[j] - x[j]) * spiral + lead * leader[j];
    }
    for (double& v : next) v = Clamp01(v);
    return next;
  }

  // The translation-invariant update (README, "improved"): every coefficient multiplies a difference.
  // The original's D = |C·Y - X| = |(Y - X) + (C - 1)·Y| measures its perturbation (C - 1)·Y from the
  // origin; here it is measured from a random whale R: D = (Y - X) + (C - 1)⊙(Y - R), C drawn per gene.
  // The leader term Y = X* becomes X* + w·(X - X*) with the inertia weight on (the whale keeps a share w
  // of its own offset from the leader: much early, little late), X* with it off.
  std::vector<double> MoveImproved(State& s, size_t i, const std::vector<double>& leader, double a,
                                   double w) const {
    const std::vector<double>& x = s.whales[i].x;
    const double keep = options_.inertia_weight ? w : 0.0;
    const double A = 2.0 * a * s.rng.Uniform01() - a;
    const double p = s.rng.Uniform01();
    const double l = s.rng.Uniform(-1.0, 1.0);
    std::vector<double> next(dims_);
    if (p < 0.5) {
      const std::vector<double>& r = s.whales[s.rng.UniformInt(n_)].x;
      if (std::fabs(A) < 1.0) {  // encircling the prey
        for (size_t j = 0; j < dims_; ++j) {
          const double C = 2.0 * s.rng.Uniform01();
          const double D = (leader[j] - x[j]) + (C - 1.0) * (leader[j] - r[j]);
          next[j] = leader[j] + keep * (x[j] - leader[j]) - A * D;
        }
      } else {  // search for prey around another random whale Q
        const std::vector<double>& q = s.whales[s.rng.UniformInt(n_)].x;
        for (size_t j = 0; j < dims_; ++j) {
          const double C = 2.0 * s.rng.Uniform01();
          const double D = (q[j] - x[j]) + (C - 1.0) * (q[j] - r[j]);
          next[j] = q[j] - A * D;
        }
      }
    } else {  // bubble-net spiral around the leader term
      const double spiral = std::exp(options_.spiral_b * l) * std::cos(2.0 * pi * l);
      for (size_t j = 0; j < dims_; ++j) {
        const double offset = x[j] - leader[j];
        next[j] = leader[j] + keep * offset + spiral * offset;
      }
    }
    for (size_t j = 0; j < dims_; ++j) next[j] = Repair(next[j], x[j], leader[j], s.rng);
    return next;
  }

  // Mantegna's σ_u for index β: [Γ(1+β)·sin(πβ/2) / (Γ((1+β)/2)·β·2^((β-1)/2))]^(1/β).
  static double MantegnaSigma(double beta) {
    const double num = std::tgamma(1.0 + beta) * std::sin(pi * beta / 2.0);
    const double den = std::tgamma((1.0 + beta) / 2.0) * beta * std::pow(2.0, (beta - 1.0) / 2.0);
    return std::pow(num / den, 1.0 / beta);
  }

  // One Lévy-stable step by Mantegna's method: u / |v|^(1/β), u ~ N(0, σ_u²), v ~ N(0, 1).
  double LevyStep(State& s) const {
    const double u = s.rng.Normal() * levy_sigma_;
    double v = s.rng.Normal();
    while (v == 0.0) v = s.rng.Normal();
    return u / std::pow(std::fabs(v), 1.0 / options_.levy_beta);
  }

  // One trial per whale: with probability levy_share a Lévy flight from the whale's leader,
  // X* + α·L ⊙ (X_r1 - X_r2) (r1 != r2), else DE/rand/1/bin, V = X_r1 + F·(X_r2 - X_r3) (r1, r2, r3
  // distinct and not i) crossed with the whale gene by gene with rate CR (one gene, j_rand, always).
  void StartHybrid(State& s) const {
    const std::vector<const std::vector<double>*> leaders = DrawLeaders(s);
    std::vector<std::vector<double>> xs(n_, std::vector<double>(dims_));
    for (size_t i = 0; i < n_; ++i) {
      const std::vector<double>& x = s.whales[i].x;
      std::vector<double>& trial = xs[i];
      if (s.rng.Uniform01() < options_.levy_share) {
        const size_t r1 = s.rng.UniformInt(n_);
        size_t r2 = s.rng.UniformInt(n_ - 1);
        if (r2 >= r1) ++r2;
        const std::vector<double>& leader = *leaders[i];
        const std::vector<double>& x1 = s.whales[r1].x;
        const std::vector<double>& x2 = s.whales[r2].x;
        for (size_t j = 0; j < dims_; ++j) {
          trial[j] = leader[j] + options_.levy_scale * LevyStep(s) * (x1[j] - x2[j]);
        }
      } else {
        size_t r[3];
        for (size_t k = 0; k < 3; ++k) {
          do {
            r[k] = s.rng.UniformInt(n_);
          } while (r[k] == i || (k > 0 && r[k] == r[0]) || (k > 1 && r[k] == r[1]));
        }
        const std::vector<double>& x1 = s.whales[r[0]].x;
        const std::vector<double>& x2 = s.whales[r[1]].x;
        const std::vector<double>& x3 = s.whales[r[2]].x;
        const size_t j_rand = s.rng.UniformInt(dims_);
        for (size_t j = 0; j < dims_; ++j) {
          const bool cross = j == j_rand || s.rng.Uniform01() < options_.de_cr;
          trial[j] = cross ? x1[j] + options_.de_f * (x2[j] - x3[j]) : x[j];
        }
      }
      for (size_t j = 0; j < dims_; ++j) {
        trial[j] = options_.variant == Variant::kOriginal ? Clamp01(trial[j])
                                                          : Repair(trial[j], x[j], (*leaders[i])[j], s.rng);
      }
    }
    BeginPhase(s, Phase::kHybrid, std::move(xs));
  }

  // ---- tells -----------------------------------------------------------------------------------------

  Result<Slot*> Outstanding(uint64_t id) {
    State& s = state_;
    if (id >= s.phase_first_id && id - s.phase_first_id < s.next_unasked) {
      Slot& slot = s.slots[id - s.phase_first_id];
      if (slot.state == SlotState::kOutstanding) return &slot;
    }
    return NotFoundError("candidate " + std::to_string(id) +
                         " is not outstanding (never asked, already told, or from a finished iteration)");
  }

  // ---- state I/O -------------------------------------------------------------------------------------

  void WriteOptions(Writer& w) const;
  Status CheckOptions(Reader& r) const;
  void WriteEval(Writer& w, const Eval& e) const;
  Eval ReadEval(Reader& r) const;

  const WoaOptions options_;
  const size_t dims_;
  const size_t m_;
  const size_t n_;
  const double levy_sigma_;
  State state_;
};

// State format, text (words separated by spaces, one record per line, doubles as hexadecimal floats):
//   hpo.woa v1
//   options dims D objectives M variant original|improved inertia 0|1 hybrid 0|1 adaptive 0|1
//     population N max_iterations T archive_size K spiral_b b de_f F de_cr CR levy_beta β
//     levy_scale α levy_share s                                           (one line)
//   counters next_id I phase_first_id P iteration t phase 0|1|2 start_diversity δ0 next_unasked u
//     closed c                                                            (one line)
//   whale <x: D> <eval> <id>                                              (N lines)
//   best <x: D> <eval> <id>
//   archive <count>, then per member: member <x: D> <eval> <id>
//   slot <state 0..3> <x: D> <eval>                                       (N lines)
//   rng <Rng::Save text to the end>
// where <eval> is: valid 0|1, violation, the M objectives.
void Woa::WriteOptions(Writer& w) const {
  const WoaOptions& o = options_;
  w.Word("options");
  w.Word("dims"), w.Uint(o.base.dims), w.Word("objectives"), w.Uint(o.base.num_objectives);
  w.Word("variant"), w.Word(o.variant == Variant::kOriginal ? "original" : "improved");
  w.Word("inertia"), w.Uint(o.inertia_weight), w.Word("hybrid"), w.Uint(o.hybrid_search);
  w.Word("adaptive"), w.Uint(o.adaptive_shrink), w.Word("population"), w.Uint(o.population);
  w.Word("max_iterations"), w.Uint(o.max_iterations), w.Word("archive_size"), w.Uint(o.archive_size);
  w.Word("spiral_b"), w.Double(o.spiral_b), w.Word("de_f"), w.Double(o.de_f);
  w.Word("de_cr"), w.Double(o.de_cr), w.Word("levy_beta"), w.Double(o.levy_beta);
  w.Word("levy_scale"), w.Double(o.levy_scale), w.Word("levy_share"), w.Double(o.levy_share);
  w.EndLine();
}

// Reads the options line. DATA_LOSS (as !r.ok()) for a malformed line; INVALID_ARGUMENT naming the first
// option that differs from this optimizer's.
Status Woa::CheckOptions(Reader& r) const {
  const WoaOptions& o = options_;
  std::string differs;
  auto check_uint = [&](const char* name, uint64_t mine) {
    r.Expect(name);
    const uint64_t theirs = r.Uint();
    if (r.ok() && theirs != mine && differs.empty()) {
      differs = std::string("woa.") + name + ": the state has " + std::to_string(theirs) +
                ", this optimizer " + std::to_string(mine);
    }
  };
  auto check_double = [&](const char* name, double mine) {
    r.Expect(name);
    const double theirs = r.Double();
    if (r.ok() && theirs != mine && differs.empty()) {
      differs = std::string("woa.") + name + ": the state has another value than this optimizer";
    }
  };
  r.Expect("options");
  check_uint("dims", o.base.dims);
  check_uint("objectives", o.base.num_objectives);
  r.Expect("variant");
  const std::string variant = r.Word();
  if (variant != "original" && variant != "improved") r.Expect("");  // marks the reader failed
  if (r.ok() && (variant == "original") != (o.variant == Variant::kOriginal) && differs.empty()) {
    differs = "woa.variant: the state has " + variant;
  }
  check_uint("inertia", o.inertia_weight);
  check_uint("hybrid", o.hybrid_search);
  check_uint("adaptive", o.adaptive_shrink);
  check_uint("population", o.population);
  check_uint("max_iterations", o.max_iterations);
  check_uint("archive_size", o.archive_size);
  check_double("spiral_b", o.spiral_b);
  check_double("de_f", o.de_f);
  check_double("de_cr", o.de_cr);
  check_double("levy_beta", o.levy_beta);
  check_double("levy_scale", o.levy_scale);
  check_double("levy_share", o.levy_share);
  if (!differs.empty()) return InvalidArgumentError("whale optimizer state is for other options: " + differs);
  return Status::Ok();
}

void Woa::WriteEval(Writer& w, const Eval& e) const {
  w.Uint(e.valid);
  w.Double(e.violation);
  if (e.valid) {
    w.Doubles(e.objectives);
  } else {
    for (size_t k = 0; k < m_; ++k) w.Double(0.0);
  }
}

Eval Woa::ReadEval(Reader& r) const {
  Eval e;
  e.valid = r.Bool();
  e.violation = r.Double();
  e.objectives = r.Doubles(m_);
  if (e.violation < 0) r.Expect("");  // marks the reader failed
  if (!e.valid) e = Eval();
  return e;
}

std::string Woa::Save() const {
  const State& s = state_;
  Writer w;
  w.Word(kMagic), w.Word(kVersion), w.EndLine();
  WriteOptions(w);
  w.Word("counters");
  w.Word("next_id"), w.Uint(s.next_id), w.Word("phase_first_id"), w.Uint(s.phase_first_id);
  w.Word("iteration"), w.Uint(s.iteration), w.Word("phase"), w.Uint(static_cast<uint64_t>(s.phase));
  w.Word("start_diversity"), w.Double(s.start_diversity);
  w.Word("next_unasked"), w.Uint(s.next_unasked), w.Word("closed"), w.Uint(s.closed);
  w.EndLine();
  auto write_point = [&](const char* tag, const Point& p) {
    w.Word(tag);
    w.Doubles(p.x);
    WriteEval(w, p.eval);
    w.Uint(p.id);
    w.EndLine();
  };
  for (const Point& whale : s.whales) write_point("whale", whale);
  write_point("best", s.best);
  w.Word("archive"), w.Uint(s.archive.size()), w.EndLine();
  for (const Point& member : s.archive) write_point("member", member);
  for (const Slot& slot : s.slots) {
    w.Word("slot"), w.Uint(static_cast<uint64_t>(slot.state));
    w.Doubles(slot.x);
    WriteEval(w, slot.result);
    w.EndLine();
  }
  w.Word("rng");
  std::string out = w.Take();
  out += s.rng.Save();
  return out;
}

Status Woa::Load(const std::string& text) {
  const Status bad = DataLossError("whale optimizer state is not one a whale optimizer saved");
  Reader r(text);
  r.Expect(kMagic);
  r.Expect(kVersion);
  if (!r.ok()) return bad;
  const Status options_differ = CheckOptions(r);
  if (!r.ok()) return bad;
  if (!options_differ.ok()) return options_differ;

  State s;
  r.Expect("counters");
  r.Expect("next_id"), s.next_id = r.Uint();
  r.Expect("phase_first_id"), s.phase_first_id = r.Uint();
  r.Expect("iteration"), s.iteration = r.Uint();
  r.Expect("phase");
  const uint64_t phase = r.Uint();
  r.Expect("start_diversity"), s.start_diversity = r.Double();
  r.Expect("next_unasked"), s.next_unasked = r.Uint();
  r.Expect("closed"), s.closed = r.Uint();
  if (!r.ok() || phase > 2 || s.next_unasked > n_ || s.closed > s.next_unasked ||
      s.phase_first_id + s.next_unasked != s.next_id || s.phase_first_id > s.next_id) {
    return bad;
  }
  s.phase = static_cast<Phase>(phase);
  auto read_point = [&](const char* tag) {
    Point p;
    r.Expect(tag);
    p.x = r.Doubles(dims_);
    p.eval = ReadEval(r);
    p.id = r.Uint();
    if (p.eval.valid && p.id >= s.next_id) r.Expect("");  // a result for a candidate never asked
    for (double v : p.x) {
      if (v < 0.0 || v > 1.0) r.Expect("");
    }
    return p;
  };
  s.whales.resize(n_);
  for (size_t i = 0; i < n_ && r.ok(); ++i) s.whales[i] = read_point("whale");
  s.best = read_point("best");
  r.Expect("archive");
  const uint64_t archive_count = r.Uint();
  if (!r.ok() || archive_count > options_.archive_size) return bad;
  for (uint64_t k = 0; k < archive_count && r.ok(); ++k) {
    s.archive.push_back(read_point("member"));
    if (!s.archive.back().eval.valid) return bad;
  }
  s.slots.resize(n_);
  size_t outstanding = 0, closed = 0;
  for (size_t i = 0; i < n_ && r.ok(); ++i) {
    Slot& slot = s.slots[i];
    r.Expect("slot");
    const uint64_t state = r.Uint();
    slot.x = r.Doubles(dims_);
    slot.result = ReadEval(r);
    if (state > 3) return bad;
    slot.state = static_cast<SlotState>(state);
    // Slots below next_unasked were asked (outstanding or closed), the others not; results only if told.
    if ((i < s.next_unasked) == (slot.state == SlotState::kUnasked)) return bad;
    if ((slot.state == SlotState::kTold) != slot.result.valid) return bad;
    outstanding += slot.state == SlotState::kOutstanding;
    closed += slot.state == SlotState::kTold || slot.state == SlotState::kFailed;
    for (double v : slot.x) {
      if (v < 0.0 || v > 1.0) return bad;
    }
  }
  r.Expect("rng");
  const std::string rng_state = r.Rest();
  if (!r.ok() || closed != s.closed || outstanding + closed != s.next_unasked) return bad;
  if (!s.rng.Load(rng_state).ok()) return bad;
  // The iteration phases need a leader; only the initial phase may be without one.
  const bool has_leader = m_ == 1 ? s.best.eval.valid : !s.archive.empty();
  if (s.phase != Phase::kInit && !has_leader) return bad;
  state_ = std::move(s);
  return Status::Ok();
}

}  // namespace

WoaOptions WoaOptions::Original(const OptimizerOptions& base) {
  WoaOptions options;
  options.base = base;
  options.variant = Variant::kOriginal;
  options.inertia_weight = false;
  options.hybrid_search = false;
  options.adaptive_shrink = false;
  return options;
}

Result<std::unique_ptr<Optimizer>> MakeWoa(const WoaOptions& options) {
  auto invalid = [](const char* field, const std::string& why) {
    return InvalidArgumentError(std::string("woa.") + field + ": " + why);
  };
  auto in_range = [](double v, double low, double high) { return std::isfinite(v) && v >= low && v <= high; };
  constexpr size_t kMaxDims = size_t{1} << 24, kMaxPopulation = size_t{1} << 20;
  if (options.base.dims == 0 || options.base.dims > kMaxDims) {
    return invalid(
        "dims", "must be in [1, " + std::to_string(kMaxDims) + "], got " + std::to_string(options.base.dims));
  }
  if (options.base.num_objectives == 0 || options.base.num_objectives > 64) {
    return invalid("num_objectives",
                   "must be in [1, 64], got " + std::to_string(options.base.num_objectives));
  }
  if (options.variant != Variant::kOriginal && options.variant != Variant::kImproved) {
    return invalid("variant", "must be original or improved");
  }
  const size_t min_population = options.hybrid_search ? 4 : 2;
  if (options.population < min_population || options.population > kMaxPopulation) {
    return invalid("population", "must be in [" + std::to_string(min_population) + ", " +
                                     std::to_string(kMaxPopulation) + "]" +
                                     (options.hybrid_search ? " (DE/rand/1 needs three other whales)" : "") +
                                     ", got " + std::to_string(options.population));
  }
  if (options.max_iterations == 0) return invalid("max_iterations", "must be >= 1");
  if (options.archive_size == 0 || options.archive_size > kMaxPopulation) {
    return invalid("archive_size", "must be in [1, " + std::to_string(kMaxPopulation) + "], got " +
                                       std::to_string(options.archive_size));
  }
  if (!std::isfinite(options.spiral_b) || options.spiral_b <= 0 || options.spiral_b > 100) {
    return invalid("spiral_b", "must be in (0, 100]");
  }
  if (!in_range(options.de_f, 0.0, 2.0) || options.de_f == 0) return invalid("de_f", "must be in (0, 2]");
  if (!in_range(options.de_cr, 0.0, 1.0)) return invalid("de_cr", "must be in [0, 1]");
  if (!in_range(options.levy_beta, 0.3, 1.99)) return invalid("levy_beta", "must be in [0.3, 1.99]");
  if (!in_range(options.levy_scale, 0.0, 1e6) || options.levy_scale == 0) {
    return invalid("levy_scale", "must be in (0, 1e6]");
  }
  if (!in_range(options.levy_share, 0.0, 1.0)) return invalid("levy_share", "must be in [0, 1]");
  return std::unique_ptr<Optimizer>(std::make_unique<Woa>(options));
}

size_t WoaIterationsForBudget(size_t budget, size_t population, bool hybrid_search) {
  const size_t per_iteration = population * (hybrid_search ? 2 : 1);
  if (per_iteration == 0 || budget <= population) return 1;
  return std::max<size_t>(1, (budget - population) / per_iteration);
}

}  // namespace hpo::search
