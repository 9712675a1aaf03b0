// Optimizer: the ask/tell interface every search algorithm implements (random search, NSGA-II, the
// improved whale optimizer). An optimizer proposes candidates on the unit cube (see space.h for the map
// to parameters), is told their objectives in any order, and can save and restore its whole state.
//
// Not thread-safe: one owner calls it (the coordinator's study strand). An optimizer owns its state and
// nothing else; candidates are plain values the caller keeps.
//
// Determinism: given the same options (seed included) and the same sequence of calls with the same
// arguments, an optimizer returns the same candidates. Load(Save()) continues exactly as if never
// stopped. Candidates asked after the last Save are forgotten by a Load: a caller that must survive a
// restart saves after Ask as well as after Tell.
#ifndef HPO_SEARCH_OPTIMIZER_H_
#define HPO_SEARCH_OPTIMIZER_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "base/status.h"

namespace hpo::search {

struct Candidate {
  uint64_t id = 0;        // assigned by the optimizer: 0, 1, 2, ... in the order asked
  std::vector<double> x;  // the genes, each in [0, 1]; size dims
};

// One intermediate result of a candidate: its objectives (minimised) as reported at `step` (1-based: an
// epoch, say). A learning curve is a list of them by ascending step.
struct CurvePoint {
  uint64_t step = 0;
  std::vector<double> objectives;
};

// A told candidate with its result, as an optimizer keeps it.
struct Evaluation {
  Candidate candidate;
  std::vector<double> objectives;  // minimised
  double constraint_violation = 0.0;
  std::vector<double> constraints = {};  // each constraint's value g_j (<= 0 holds) where known
  bool pruned = false;                   // stopped early: objectives are intermediate values
  std::vector<CurvePoint> curve = {};    // its learning curve where known (Optimizer::TellCurve)
};

struct OptimizerOptions {
  size_t dims = 0;            // genes per candidate; >= 1
  size_t num_objectives = 0;  // objectives per Tell, all minimised; >= 1
  uint64_t seed = 0;          // every random choice derives from it; no random default
};

// Work an optimizer wants done away from its owner's lock (a model fit). Run touches only the job's own
// data, so it may run on any thread while the owner goes on calling the optimizer.
class OptimizerJob {
 public:
  virtual ~OptimizerJob() = default;
  virtual void Run() = 0;
};

class Optimizer {
 public:
  virtual ~Optimizer() = default;

  // Up to n new candidates, ids continuing from the last ask. May return fewer (e.g. an algorithm at a
  // generation barrier waiting for tells), never more; Ask(0) returns none and changes nothing.
  virtual std::vector<Candidate> Ask(size_t n) = 0;

  // The result of a candidate: its objectives (minimised) and its constraint violation (0 = feasible,
  // larger = worse; Deb's constrained domination). REQUIRES: c is a candidate this optimizer returned,
  // with its x unchanged.
  // OK, or: INVALID_ARGUMENT for objectives of a size other than num_objectives or not finite, or a
  // constraint_violation that is negative or not finite; NOT_FOUND when c.id is not outstanding (never
  // asked, or already told or told failed). On error the state does not change.
  virtual Status Tell(const Candidate& c, std::span<const double> objectives,
                      double constraint_violation = 0.0) = 0;

  // The result of a candidate with the values of its constraints, g_j(x) <= 0 meaning constraint j holds
  // (e.g. latency_ms - 2 for latency_ms <= 2). An optimizer that models constraints (the model-based
  // sampler) overrides this; the others take the total violation sum_j max(0, g_j) through Tell.
  // As Tell, and INVALID_ARGUMENT for a constraint value that is not finite.
  virtual Status TellConstrained(const Candidate& c, std::span<const double> objectives,
                                 std::span<const double> constraints);

  // The candidate was stopped early (pruned): `objectives` are its last intermediate values, not a result
  // at full fidelity, and `constraints` its constraint values when known (else empty). An optimizer that
  // can learn from that (the model-based sampler: it models the point as observed, but never counts it on
  // its front) overrides this; the others drop the candidate as TellFailed does.
  virtual Status TellPruned(const Candidate& c, std::span<const double> objectives,
                            std::span<const double> constraints);

  // The intermediate results outstanding candidate `id` reported on its way (its learning curve, by
  // ascending step). The caller tells it just before the candidate's Tell, TellConstrained or TellPruned,
  // which keep it with the result. An optimizer that learns from curves overrides this (the model-based
  // sampler: it projects a pruned result to its full budget by how the completed results' curves went on
  // from the step it stopped at); the others ignore it (the default). OK, or NOT_FOUND when `id` is not
  // outstanding, INVALID_ARGUMENT for steps that are not positive and strictly ascending or objectives
  // that are not num_objectives finite values (then nothing changes). A later TellCurve for the same
  // candidate replaces the earlier.
  virtual Status TellCurve(uint64_t id, std::vector<CurvePoint> curve) {
    (void)id;
    (void)curve;
    return Status::Ok();
  }

  // The candidate could not be evaluated: the optimizer drops it. OK, or NOT_FOUND as for Tell.
  virtual Status TellFailed(const Candidate& c) = 0;

  // The whole state (options, counters, outstanding candidates, population or archive, random
  // generator) as bytes, in a versioned format.
  virtual std::string Save() const = 0;

  // Replaces the state by one Save wrote. DATA_LOSS for bytes that are not such a state (garbage,
  // truncated, another algorithm's); INVALID_ARGUMENT for a state saved with other dims or objectives.
  // On error the state does not change.
  virtual Status Load(const std::string& state) = 0;

  // The caller evaluates `x` instead of the genes asked for outstanding candidate `id` (a configuration a
  // user enqueued). True when the optimizer takes x as that candidate's (its Tell then learns x); false
  // when it cannot, and then the caller must TellFailed the candidate whatever its result, so that the
  // search never learns a point it did not ask for as if it had. The default cannot.
  // REQUIRES: x.size() == dims, genes in [0, 1].
  virtual bool Substitute(uint64_t id, std::span<const double> x) {
    (void)id;
    (void)x;
    return false;
  }

  // Results of another study, on this optimizer's cube, to learn from before the first Ask (a warm
  // start). OK, or INVALID_ARGUMENT for a result of the wrong size or not finite (then nothing changes).
  // The model-based sampler takes them as observations; the default ignores them.
  virtual Status Warm(const std::vector<Evaluation>& results) {
    (void)results;
    return Status::Ok();
  }

  // After Load: this study's told results that the saved state left out, from where the owner keeps them
  // (the coordinator's trials), in the order they were told. The model-based sampler in the service keeps
  // its saved state small and rebuilds its observations so; every other optimizer's state holds all it
  // needs and ignores this (the default), as does a sampler whose loaded state left nothing out.
  // INVALID_ARGUMENT as Warm.
  virtual Status Restore(const std::vector<Evaluation>& results) {
    (void)results;
    return Status::Ok();
  }

  // The next piece of work to run off the owner's lock, or nullptr when none is due. The default, for
  // optimizers that do all their work in Ask and Tell, is none. At most one job is out at a time: none
  // is returned until the last one comes back through FinishJob.
  virtual std::unique_ptr<OptimizerJob> TakeJob() { return nullptr; }

  // Takes back a job TakeJob returned, after its Run returned (or without running it, to drop it: a job
  // that was not run changes nothing but lets the next one be taken). Its results join the state.
  virtual void FinishJob(std::unique_ptr<OptimizerJob> job) { (void)job; }

  // The solutions the search currently keeps, best first where there is an order: NSGA-II's parent
  // population, the whale optimizer's archive (or its best whale for one objective). Random search keeps
  // none and returns an empty list.
  virtual std::vector<Evaluation> Elite() const { return {}; }
};

// The total violation of constraint values g_j (feasible iff g_j <= 0): sum_j max(0, g_j). Non-finite
// values give INVALID_ARGUMENT naming the constraint's index.
Result<double> ConstraintViolation(std::span<const double> constraints);

// The checks every Tell makes of a result, shared by the optimizers: OK, or INVALID_ARGUMENT for
// objectives of a size other than num_objectives or not finite, or a violation negative or not finite.
Status ValidateResult(size_t num_objectives, std::span<const double> objectives, double violation);

}  // namespace hpo::search

#endif  // HPO_SEARCH_OPTIMIZER_H_
