#include "search/importance.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "base/rng.h"

namespace hpo::search {
namespace {

// A feature as the trees see it. Numeric: values on [low, 1], "inactive" being the cell [low, 0) (low =
// -m / (1 - m) for inactive mass m, so that the cell's share of the width is m); categorical: values
// 0..cells-1, the last one "inactive" when there is an inactive mass, with the cells' measures in
// `weights` (summing to 1).
struct Domain {
  bool numeric = true;
  double low = 0.0;             // numeric
  std::vector<double> weights;  // categorical: the measure of each cell
};

struct Node {
  int feature = -1;                 // -1: a leaf
  double threshold = 0.0;           // numeric split: x < threshold goes left
  std::vector<uint8_t> left_cells;  // categorical split: 1 for the cells that go left
  int left = -1;
  int right = -1;
  double value = 0.0;  // the mean target of the node's samples
};

// A leaf's box: per feature, an interval (numeric) or a set of cells (categorical).
struct Box {
  std::vector<double> low, high;            // numeric features
  std::vector<std::vector<uint8_t>> cells;  // categorical features
};

struct Leaf {
  Box box;
  double value = 0.0;
};

struct Split {
  double gain = 0.0;  // the drop in squared error
  int feature = -1;
  double threshold = 0.0;
  std::vector<uint8_t> left_cells;
};

class TreeBuilder {
 public:
  TreeBuilder(const std::vector<Domain>& domains, const std::vector<std::vector<double>>& x,
              const std::vector<double>& y, const ImportanceOptions& options)
      : domains_(domains), x_(x), y_(y), options_(options) {}

  std::vector<Node> Build(std::vector<size_t> samples) {
    nodes_.clear();
    Grow(std::move(samples), 0);
    return std::move(nodes_);
  }

 private:
  int Grow(std::vector<size_t> samples, uint32_t depth) {
    const int id = static_cast<int>(nodes_.size());
    nodes_.emplace_back();
    double sum = 0.0;
    for (size_t i : samples) sum += y_[i];
    nodes_[id].value = sum / static_cast<double>(samples.size());
    const bool pure =
        std::all_of(samples.begin(), samples.end(), [&](size_t i) { return y_[i] == y_[samples[0]]; });
    if (pure || depth >= options_.max_depth || samples.size() < 2 * size_t{options_.min_samples_leaf})
      return id;
    Split best;
    for (size_t d = 0; d < domains_.size(); ++d) {
      if (domains_[d].numeric) {
        BestNumericSplit(samples, d, sum, best);
      } else {
        BestCategoricalSplit(samples, d, sum, best);
      }
    }
    if (best.feature < 0) return id;
    std::vector<size_t> left, right;
    const auto d = static_cast<size_t>(best.feature);
    for (size_t i : samples) {
      const bool go_left = domains_[d].numeric ? x_[i][d] < best.threshold
                                               : best.left_cells[static_cast<size_t>(x_[i][d])] != 0;
      (go_left ? left : right).push_back(i);
    }
    samples = {};
    nodes_[id].feature = best.feature;
    nodes_[id].threshold = best.threshold;
    nodes_[id].left_cells = std::move(best.left_cells);
    const int l = Grow(std::move(left), depth + 1);
    const int r = Grow(std::move(right), depth + 1);
    nodes_[id].left = l;
    nodes_[id].right = r;
    return id;
  }

  // Squared error drop of splitting n samples of sum `sum` into (n_left, sum_left) and the rest.
  static double Gain(double sum, size_t n, double sum_left, size_t n_left) {
    const double n_right = static_cast<double>(n - n_left);
    const double sum_right = sum - sum_left;
    return sum_left * sum_left / static_cast<double>(n_left) + sum_right * sum_right / n_right -
           sum * sum / static_cast<double>(n);
  }

  bool Better(double gain, const Split& best) const { return gain > best.gain && gain > kMinGain; }

  void BestNumericSplit(const std::vector<size_t>& samples, size_t d, double sum, Split& best) const {
    std::vector<std::pair<double, double>> points;  // (value, target)
    points.reserve(samples.size());
    for (size_t i : samples) points.emplace_back(x_[i][d], y_[i]);
    std::sort(points.begin(), points.end());
    const size_t n = points.size();
    const size_t min_leaf = options_.min_samples_leaf;
    double sum_left = 0.0;
    for (size_t k = 0; k + 1 < n; ++k) {
      sum_left += points[k].second;
      const size_t n_left = k + 1;
      if (points[k].first == points[k + 1].first || n_left < min_leaf || n - n_left < min_leaf) continue;
      const double gain = Gain(sum, n, sum_left, n_left);
      if (!Better(gain, best)) continue;
      const double a = points[k].first;
      const double b = points[k + 1].first;
      // Between the two values; at 0 between "inactive" (below 0) and an active value, so that the
      // inactive cell is never cut.
      double threshold = a < 0.0 && b >= 0.0 ? 0.0 : 0.5 * (a + b);
      if (!(threshold > a)) threshold = b;
      best.gain = gain;
      best.feature = static_cast<int>(d);
      best.threshold = threshold;
      best.left_cells.clear();
    }
  }

  void BestCategoricalSplit(const std::vector<size_t>& samples, size_t d, double sum, Split& best) const {
    const size_t cells = domains_[d].weights.size();
    std::vector<double> sums(cells, 0.0);
    std::vector<size_t> counts(cells, 0);
    for (size_t i : samples) {
      const auto c = static_cast<size_t>(x_[i][d]);
      sums[c] += y_[i];
      ++counts[c];
    }
    std::vector<size_t> present;
    for (size_t c = 0; c < cells; ++c) {
      if (counts[c] > 0) present.push_back(c);
    }
    if (present.size() < 2) return;
    // Ordered by mean target, the best subset split is a prefix (Breiman et al. 1984, for squared error).
    std::stable_sort(present.begin(), present.end(), [&](size_t a, size_t b) {
      return sums[a] / static_cast<double>(counts[a]) < sums[b] / static_cast<double>(counts[b]);
    });
    const size_t n = samples.size();
    const size_t min_leaf = options_.min_samples_leaf;
    double sum_left = 0.0;
    size_t n_left = 0;
    for (size_t k = 0; k + 1 < present.size(); ++k) {
      sum_left += sums[present[k]];
      n_left += counts[present[k]];
      if (n_left < min_leaf || n - n_left < min_leaf) continue;
      const double gain = Gain(sum, n, sum_left, n_left);
      if (!Better(gain, best)) continue;
      best.gain = gain;
      best.feature = static_cast<int>(d);
      best.threshold = 0.0;
      best.left_cells.assign(cells, 0);
      for (size_t j = 0; j <= k; ++j) best.left_cells[present[j]] = 1;
      // Cells no sample here takes go with the larger side.
      if (2 * n_left >= n) {
        for (size_t c = 0; c < cells; ++c) {
          if (counts[c] == 0) best.left_cells[c] = 1;
        }
      }
    }
  }

  static constexpr double kMinGain = 1e-300;
  const std::vector<Domain>& domains_;
  const std::vector<std::vector<double>>& x_;
  const std::vector<double>& y_;
  const ImportanceOptions& options_;
  std::vector<Node> nodes_;
};

void CollectLeaves(const std::vector<Node>& nodes, int id, const std::vector<Domain>& domains, Box& box,
                   std::vector<Leaf>& leaves) {
  const Node& node = nodes[static_cast<size_t>(id)];
  if (node.feature < 0) {
    leaves.push_back({box, node.value});
    return;
  }
  const auto d = static_cast<size_t>(node.feature);
  if (domains[d].numeric) {
    const double high = box.high[d];
    box.high[d] = std::min(high, node.threshold);
    CollectLeaves(nodes, node.left, domains, box, leaves);
    box.high[d] = high;
    const double low = box.low[d];
    box.low[d] = std::max(low, node.threshold);
    CollectLeaves(nodes, node.right, domains, box, leaves);
    box.low[d] = low;
  } else {
    const std::vector<uint8_t> cells = box.cells[d];
    for (size_t c = 0; c < cells.size(); ++c) box.cells[d][c] = cells[c] && node.left_cells[c];
    CollectLeaves(nodes, node.left, domains, box, leaves);
    for (size_t c = 0; c < cells.size(); ++c) box.cells[d][c] = cells[c] && !node.left_cells[c];
    CollectLeaves(nodes, node.right, domains, box, leaves);
    box.cells[d] = cells;
  }
}

// The measure of a leaf's box in feature d (a fraction of d's domain).
double Measure(const Domain& domain, const Box& box, size_t d) {
  if (domain.numeric) return (box.high[d] - box.low[d]) / (1.0 - domain.low);
  double m = 0.0;
  for (size_t c = 0; c < domain.weights.size(); ++c) {
    if (box.cells[d][c]) m += domain.weights[c];
  }
  return m;
}

// Each feature's main-effect variance as a fraction of the tree's variance; empty when the tree is
// constant over the space.
std::vector<double> TreeFractions(const std::vector<Node>& nodes, const std::vector<Domain>& domains) {
  const size_t p = domains.size();
  Box root;
  root.low.assign(p, 0.0);
  root.high.assign(p, 1.0);
  root.cells.resize(p);
  for (size_t d = 0; d < p; ++d) {
    root.low[d] = domains[d].low;
    if (!domains[d].numeric) root.cells[d].assign(domains[d].weights.size(), 1);
  }
  std::vector<Leaf> leaves;
  CollectLeaves(nodes, 0, domains, root, leaves);
  const size_t n_leaves = leaves.size();
  std::vector<std::vector<double>> measure(n_leaves, std::vector<double>(p));
  std::vector<double> mass(n_leaves, 1.0);
  double mean = 0.0;
  for (size_t l = 0; l < n_leaves; ++l) {
    for (size_t d = 0; d < p; ++d) {
      measure[l][d] = Measure(domains[d], leaves[l].box, d);
      mass[l] *= measure[l][d];
    }
    mean += mass[l] * leaves[l].value;
  }
  double variance = 0.0;
  for (size_t l = 0; l < n_leaves; ++l)
    variance += mass[l] * (leaves[l].value - mean) * (leaves[l].value - mean);
  // Relative to the values' size: below it the tree is constant up to rounding.
  if (!(variance > 1e-24 * (mean * mean + 1e-300))) return {};

  // others[l]: the leaf's measure in every feature but d, from prefix and suffix products.
  std::vector<std::vector<double>> prefix(n_leaves, std::vector<double>(p + 1, 1.0));
  std::vector<std::vector<double>> suffix(n_leaves, std::vector<double>(p + 1, 1.0));
  for (size_t l = 0; l < n_leaves; ++l) {
    for (size_t d = 0; d < p; ++d) prefix[l][d + 1] = prefix[l][d] * measure[l][d];
    for (size_t d = p; d-- > 0;) suffix[l][d] = suffix[l][d + 1] * measure[l][d];
  }
  std::vector<double> fractions(p, 0.0);
  for (size_t d = 0; d < p; ++d) {
    const Domain& domain = domains[d];
    double main_effect = 0.0;
    if (domain.numeric) {
      std::vector<double> edges;
      for (const Leaf& leaf : leaves) {
        edges.push_back(leaf.box.low[d]);
        edges.push_back(leaf.box.high[d]);
      }
      std::sort(edges.begin(), edges.end());
      edges.erase(std::unique(edges.begin(), edges.end()), edges.end());
      // E[f | x_d in cell s] for the cells between consecutive edges, by a difference array.
      std::vector<double> delta(edges.size(), 0.0);
      for (size_t l = 0; l < n_leaves; ++l) {
        const double contribution = leaves[l].value * prefix[l][d] * suffix[l][d + 1];
        const auto a = static_cast<size_t>(
            std::lower_bound(edges.begin(), edges.end(), leaves[l].box.low[d]) - edges.begin());
        const auto b = static_cast<size_t>(
            std::lower_bound(edges.begin(), edges.end(), leaves[l].box.high[d]) - edges.begin());
        delta[a] += contribution;
        delta[b] -= contribution;
      }
      double conditional = 0.0;
      const double width = 1.0 - domain.low;
      for (size_t s = 0; s + 1 < edges.size(); ++s) {
        conditional += delta[s];
        const double share = (edges[s + 1] - edges[s]) / width;
        main_effect += share * (conditional - mean) * (conditional - mean);
      }
    } else {
      for (size_t c = 0; c < domain.weights.size(); ++c) {
        if (domain.weights[c] <= 0.0) continue;
        double conditional = 0.0;
        for (size_t l = 0; l < n_leaves; ++l) {
          if (leaves[l].box.cells[d][c]) conditional += leaves[l].value * prefix[l][d] * suffix[l][d + 1];
        }
        main_effect += domain.weights[c] * (conditional - mean) * (conditional - mean);
      }
    }
    fractions[d] = main_effect / variance;
  }
  return fractions;
}

Status Check(const std::vector<ImportanceFeature>& features, const std::vector<std::vector<double>>& x,
             const std::vector<double>& y, const ImportanceOptions& options) {
  if (options.trees < 1 || options.trees > 1024) {
    return InvalidArgumentError("trees: " + std::to_string(options.trees) + " is not in 1..1024");
  }
  if (options.max_depth < 1) return InvalidArgumentError("max_depth: must be at least 1");
  if (options.min_samples_leaf < 1) return InvalidArgumentError("min_samples_leaf: must be at least 1");
  if (features.empty()) return InvalidArgumentError("features: none given");
  if (x.size() != y.size()) {
    return InvalidArgumentError("x has " + std::to_string(x.size()) + " rows but y " +
                                std::to_string(y.size()) + " values");
  }
  if (x.size() < 2)
    return InvalidArgumentError("at least 2 samples are needed, got " + std::to_string(x.size()));
  for (const ImportanceFeature& f : features) {
    if (f.categories < 0) return InvalidArgumentError("feature " + f.name + ": negative category count");
    if (!(f.inactive_mass >= 0.0 && f.inactive_mass < 1.0)) {
      return InvalidArgumentError("feature " + f.name + ": inactive_mass " + std::to_string(f.inactive_mass) +
                                  " is not in [0, 1)");
    }
  }
  for (size_t i = 0; i < x.size(); ++i) {
    if (!std::isfinite(y[i])) return InvalidArgumentError("y[" + std::to_string(i) + "] is not finite");
    if (x[i].size() != features.size()) {
      return InvalidArgumentError("x[" + std::to_string(i) + "] has " + std::to_string(x[i].size()) +
                                  " values for " + std::to_string(features.size()) + " features");
    }
    for (size_t d = 0; d < features.size(); ++d) {
      const ImportanceFeature& f = features[d];
      const double v = x[i][d];
      const std::string where = "x[" + std::to_string(i) + "] feature " + f.name;
      if (std::isnan(v)) {
        if (f.inactive_mass <= 0.0)
          return InvalidArgumentError(where + ": inactive, but it has no inactive mass");
        continue;
      }
      if (f.categories == 0 ? !(v >= 0.0 && v <= 1.0)
                            : !(v >= 0.0 && v < f.categories && v == std::floor(v))) {
        return InvalidArgumentError(
            where + ": " + std::to_string(v) + " is outside its domain " +
            (f.categories == 0 ? std::string("[0, 1]") : "0.." + std::to_string(f.categories - 1)));
      }
    }
  }
  return Status::Ok();
}

}  // namespace

Result<ImportanceResult> FanovaImportance(const std::vector<ImportanceFeature>& features,
                                          const std::vector<std::vector<double>>& x,
                                          const std::vector<double>& y, uint64_t seed,
                                          const ImportanceOptions& options) {
  HPO_RETURN_IF_ERROR(Check(features, x, y, options));
  const size_t p = features.size();
  const size_t n = x.size();
  // The features as the trees see them (see Domain), and the samples in those terms.
  std::vector<Domain> domains(p);
  for (size_t d = 0; d < p; ++d) {
    const ImportanceFeature& f = features[d];
    const double m = f.inactive_mass;
    if (f.categories == 0) {
      domains[d].low = m > 0.0 ? -m / (1.0 - m) : 0.0;
    } else {
      const auto k = static_cast<size_t>(f.categories);
      domains[d].numeric = false;
      domains[d].weights.assign(k, (1.0 - m) / static_cast<double>(k));
      if (m > 0.0) domains[d].weights.push_back(m);
    }
  }
  std::vector<std::vector<double>> internal = x;
  for (auto& row : internal) {
    for (size_t d = 0; d < p; ++d) {
      if (!std::isnan(row[d])) continue;
      row[d] = domains[d].numeric ? 0.5 * domains[d].low : static_cast<double>(features[d].categories);
    }
  }

  TreeBuilder builder(domains, internal, y, options);
  std::vector<std::vector<double>> per_tree;  // fractions of the trees that vary
  for (uint32_t t = 0; t < options.trees; ++t) {
    Rng rng(DeriveSeed(seed, t));
    std::vector<size_t> sample(n);
    for (size_t& i : sample) i = static_cast<size_t>(rng.UniformInt(n));
    std::vector<double> fractions = TreeFractions(builder.Build(std::move(sample)), domains);
    if (!fractions.empty()) per_tree.push_back(std::move(fractions));
  }
  ImportanceResult result;
  result.features.resize(p);
  result.trees_used = static_cast<uint32_t>(per_tree.size());
  if (per_tree.empty()) return result;
  const auto trees = static_cast<double>(per_tree.size());
  double total = 0.0;
  for (size_t d = 0; d < p; ++d) {
    double sum = 0.0;
    for (const auto& f : per_tree) sum += f[d];
    const double mean = sum / trees;
    double squares = 0.0;
    for (const auto& f : per_tree) squares += (f[d] - mean) * (f[d] - mean);
    result.features[d] = {mean, std::sqrt(squares / trees)};
    total += mean;
  }
  if (total > 0.0) {
    for (FeatureImportance& f : result.features) {
      f.importance /= total;
      f.stddev /= total;
    }
  }
  return result;
}

}  // namespace hpo::search
