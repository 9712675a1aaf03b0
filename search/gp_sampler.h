// The model-based sampler: multi-objective Bayesian optimisation for studies whose every trial is a
// training run (30-300 trials), behind the ask/tell Optimizer interface.
//
// The algorithm. After an initial Latin hypercube of `initial_design` points, every proposal:
//   1. fits one Gaussian process per objective and per constraint (gp.h: Matern 5/2 with a lengthscale
//      per feature, fitted noise, maximum a posteriori hyperparameters with restarts) to the told
//      results, on features of the unit cube that respect the parameters' kinds (below);
//   2. conditions the models on the candidates still outstanding (asked, not told), taking each one's
//      predicted mean as if observed (the kriging believer; Ginsbourger, Le Riche, Carraro 2010), so that
//      workers running at once are not handed near-duplicates;
//   3. maximises EHVI(x) * PoF(x): the expected hypervolume improvement (ehvi.h, exact for 2 and 3
//      objectives) over the front of the feasible results and the believed outstanding ones, times the
//      probability that every constraint holds, prod_j Phi(-mu_j(x) / sigma_j(x)). With no feasible
//      result yet, it maximises PoF alone. The user's reference point is unknown, so each proposal draws
//      one of two with equal odds: tight, the front's worst value plus 10% of the span of all results in
//      each objective (filling the front in), or wide, the worst of all results plus the same margin
//      (extending it: to a corner of the feasible region, or to another piece of a disconnected front);
//      on DTLZ2 the tight one alone does best, on ZDT3 and TNK the wide one (bench/search). The acquisition
//      is maximised over a pool of candidates: the final population of NSGA-II (nsga2.h) run on the models'
//      optimistic objectives mu_d - 2 sigma_d under the predicted constraints, mutations of the current
//      front, and uniform points; the best is then refined by shrinking random steps.
// Parameter kinds (with a SearchSpace): a continuous float is one feature, its gene; an int, a stepped
// float or a log int is one feature, the centre of its value's share of [0, 1] (the model sees the
// values a trial can take, not the gene inside the share); a categorical of n choices is n one-hot
// features; a conditional parameter that is inactive at a point takes a constant (0.5, or all-zero
// one-hot), so that two points that differ only in an inactive gene look the same to the model.
// Without a SearchSpace every gene is a continuous feature.
//
// Warm start and enqueued configurations: Warm takes another study's results as observations before the
// first ask (they count toward the initial design), and Substitute lets the caller evaluate a given
// configuration in place of an outstanding candidate, which the sampler then learns as asked. A pruned
// result (TellPruned) never stands on the front or sets the reference; the models see it projected to its
// full budget by the learning curves (TellCurve) of the completed results (gp_proposal.h:
// ModelledObjectives), as reported when too few completed results have a curve to go by.
//
// Large studies: past `max_observations` results the models are fitted to a subset: the results on
// the current front, then the most recent, then a random sample of the rest.
//
// Work off the owner's lock (`background` = true, as the coordinator runs it): Ask never fits. It hands
// out the proposals of the last finished job (a small queue), or, when there are none, a fallback: the
// initial design while it lasts, else SBX and polynomial mutation of two front members (variation.h),
// except that with wait_for_fits (a sequential study) and nothing outstanding it waits for a job in
// flight (Ask returns none; the owner asks again when the job finishes). TakeJob returns the next fit (a
// snapshot of the results and the outstanding candidates) when the results changed or the queue is short, and
// none while one is in flight; FinishJob makes its proposals the queue. With `background` = false (the
// default), Ask fits and proposes inline, deterministically.
//
// Costs: a fit is O(n^3) per likelihood evaluation (n <= max_observations); about 0.1-0.5 s per
// proposal at 200 results on one core (bench/search --section budget measures it).
//
// State and determinism: Save writes the options, counters, results (with their curves), outstanding
// candidates (and the curves told for them), the queue, the fitted hyperparameters (the next fit's warm
// start) and the random generators, every number exactly. Inline, Load(Save()) continues exactly as never
// stopped. Not thread-safe (optimizer.h); a job runs on
// any thread and shares nothing with the sampler.
#ifndef HPO_SEARCH_GP_SAMPLER_H_
#define HPO_SEARCH_GP_SAMPLER_H_

#include <cstddef>
#include <memory>
#include <optional>

#include "base/status.h"
#include "search/optimizer.h"
#include "search/space.h"

namespace hpo::search {

struct GpSamplerOptions {
  OptimizerOptions base;                  // dims >= 1, num_objectives 1..3, seed
  size_t num_constraints = 0;             // values per TellConstrained; <= 16
  std::optional<SearchSpace> space = {};  // the parameters' kinds; dims must match. None: all continuous
  size_t initial_design = 0;              // Latin hypercube points first; 0 = clamp(dims + 1, 5, 20)
  size_t max_observations = 300;          // results a fit uses at most; in [10, 5000]
  bool background = false;                // fits through TakeJob/FinishJob instead of in Ask
  size_t queue = 2;                       // background: proposals per job; in [1, 64]
  // background: with nothing outstanding and a fit in flight, Ask returns none (the owner asks again
  // when the fit is done) rather than a fallback. For a sequential study, whose one worker is better
  // served by a proposal from every result than by a guess; never for parallel ones.
  bool wait_for_fits = false;
  // Save writes this study's results too (so Load alone restores everything). false: it leaves them out
  // (warm-start results stay in), keeping the state small however many trials there are, and after
  // Load the owner passes them back through Restore (the coordinator does, from its trials).
  bool results_in_state = true;
};

// The sampler. INVALID_ARGUMENT naming the option ("gp.num_objectives: ...") when one is out of range.
Result<std::unique_ptr<Optimizer>> MakeGpSampler(const GpSamplerOptions& options);

}  // namespace hpo::search

#endif  // HPO_SEARCH_GP_SAMPLER_H_
