// Parameter importance by functional ANOVA on a random forest (fANOVA: Hutter, Hoos, Leyton-Brown, "An
// Efficient Approach for Assessing Hyperparameter Importance", ICML 2014), as Optuna's default importance
// evaluator computes it: a forest of regression trees is fitted to (parameters -> objective), and for
// each tree the variance of the tree's prediction over the whole search space is split into the parts each
// parameter's main effect explains. A parameter's importance is the mean over the trees of its fraction
// of the tree's variance, normalised so that the importances sum to 1.
//
// The trees are CART regression trees (squared error) grown on bootstrap samples, every feature tried at
// every split (scikit-learn's RandomForestRegressor as Optuna configures it: 64 trees, depth at most 64,
// leaves of one sample). A tree is piecewise constant on boxes, so its marginals are exact sums over
// leaves: for feature d and each cell s between d's split points, E[f | x_d in s] is the sum, over the
// leaves whose box covers s, of the leaf value times the measure of the box in the other features; the
// variance of that function of x_d over d's domain is d's main effect. O(leaves * log(leaves)) per feature
// and tree; fitting is O(features * n log^2 n) per tree for n samples.
//
// Features are numeric on [0, 1] (e.g. a parameter's unit-cube encoding, log-scaled where the parameter
// is) or categorical (choices 0..k-1, each of equal measure, split as subsets ordered by their mean, as
// Breiman's CART does). A conditional parameter may be inactive in a sample (value kInactive): its domain
// then holds one more cell, "inactive", of measure `inactive_mass` (the probability that the parameter
// is inactive when the space is sampled uniformly), the rest sharing 1 - inactive_mass.
//
// Pure functions; thread-safe. Deterministic for a given seed.
#ifndef HPO_SEARCH_IMPORTANCE_H_
#define HPO_SEARCH_IMPORTANCE_H_

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "base/status.h"

namespace hpo::search {

// The value of a feature in a sample where its parameter is inactive.
inline constexpr double kInactive = std::numeric_limits<double>::quiet_NaN();

struct ImportanceFeature {
  std::string name;
  int categories = 0;          // 0: numeric on [0, 1]; k >= 1: categorical with values 0..k-1
  double inactive_mass = 0.0;  // in [0, 1): the measure of "inactive"; > 0 if any sample is inactive
};

struct ImportanceOptions {
  uint32_t trees = 64;      // 1..1024
  uint32_t max_depth = 64;  // >= 1
  uint32_t min_samples_leaf = 1;
};

struct FeatureImportance {
  double importance = 0.0;  // normalised mean over the trees; the features' importances sum to 1
  double stddev = 0.0;      // standard deviation over the trees, on the same scale
};

struct ImportanceResult {
  std::vector<FeatureImportance> features;  // in the order of the features given
  // Trees whose prediction varies over the space (only those count). 0 when y is constant: then every
  // importance is 0.
  uint32_t trees_used = 0;
};

// fANOVA importances of `features` for the targets `y`, from samples `x` (x[i][d]: sample i's value of
// feature d). InvalidArgument, naming what is wrong, for fewer than 2 samples, a row of the wrong length,
// a value outside its feature's domain or not finite (but kInactive), kInactive in a feature with no
// inactive mass, a target that is not finite, or bad options.
Result<ImportanceResult> FanovaImportance(const std::vector<ImportanceFeature>& features,
                                          const std::vector<std::vector<double>>& x,
                                          const std::vector<double>& y, uint64_t seed,
                                          const ImportanceOptions& options = {});

}  // namespace hpo::search

#endif  // HPO_SEARCH_IMPORTANCE_H_
