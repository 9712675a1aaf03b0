#include "search/pareto.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>

#include "base/rng.h"

namespace hpo::search {
namespace {

using Points = std::vector<std::vector<double>>;
using Indices = std::vector<size_t>;
constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNan = std::numeric_limits<double>::quiet_NaN();

// The definition, O(N^2): points nothing dominates.
Indices BruteFront(const Points& points) {
  Indices front;
  for (size_t i = 0; i < points.size(); ++i) {
    bool dominated = false;
    for (size_t j = 0; j < points.size() && !dominated; ++j) dominated = Dominates(points[j], points[i]);
    if (!dominated) front.push_back(i);
  }
  return front;
}

// The definition of the sorting: peel off the front of what remains, again and again.
std::vector<Indices> BruteFronts(const Points& points) {
  std::vector<Indices> fronts;
  std::vector<bool> taken(points.size(), false);
  for (size_t left = points.size(); left > 0;) {
    Indices front;
    for (size_t i = 0; i < points.size(); ++i) {
      if (taken[i]) continue;
      bool dominated = false;
      for (size_t j = 0; j < points.size() && !dominated; ++j) {
        dominated = !taken[j] && Dominates(points[j], points[i]);
      }
      if (!dominated) front.push_back(i);
    }
    for (size_t i : front) taken[i] = true;
    left -= front.size();
    fronts.push_back(front);
  }
  return fronts;
}

// The definition of crowding distance over the distinct points, written plainly: the distance of each of
// `front` (in its order); copies after the one of least index get 0. REQUIRES: no NaN.
std::vector<double> BruteCrowding(const Points& points, const Indices& front) {
  std::map<std::vector<double>, size_t> first;  // distinct point -> least index
  for (size_t i : front) {
    auto [it, added] = first.emplace(points[i], i);
    if (!added) it->second = std::min(it->second, i);
  }
  std::vector<std::vector<double>> distinct;
  for (const auto& [point, index] : first) distinct.push_back(point);  // lexicographic order
  std::map<std::vector<double>, double> distance;
  for (const auto& point : distinct) distance[point] = distinct.size() == 1 ? kInf : 0.0;
  const size_t m = distinct.empty() ? 0 : distinct[0].size();
  for (size_t j = 0; j < m && distinct.size() > 1; ++j) {
    std::vector<std::vector<double>> order = distinct;
    std::stable_sort(order.begin(), order.end(), [&](const auto& a, const auto& b) { return a[j] < b[j]; });
    const double range = order.back()[j] - order.front()[j];
    if (!(range > 0)) continue;
    distance[order.front()] = kInf;
    distance[order.back()] = kInf;
    for (size_t k = 1; k + 1 < order.size(); ++k) {
      const double increment = (order[k + 1][j] - order[k - 1][j]) / range;
      if (std::isfinite(increment)) distance[order[k]] += increment;
    }
  }
  std::vector<double> out;
  for (size_t i : front) out.push_back(first[points[i]] == i ? distance[points[i]] : 0.0);
  return out;
}

// n points with m objectives, each from {0, ..., levels - 1}: many copies and ties.
Points GridPoints(Rng& rng, size_t n, size_t m, uint64_t levels) {
  Points points(n, std::vector<double>(m));
  for (auto& p : points) {
    for (double& v : p) v = static_cast<double>(rng.UniformInt(levels));
  }
  return points;
}

TEST(ParetoTest, Dominates) {
  using V = std::vector<double>;
  EXPECT_TRUE(Dominates(V{1, 2}, V{2, 3}));
  EXPECT_TRUE(Dominates(V{1, 2}, V{1, 3}));
  EXPECT_FALSE(Dominates(V{1, 2}, V{1, 2}));  // identical: neither
  EXPECT_FALSE(Dominates(V{1, 3}, V{2, 2}));
  EXPECT_FALSE(Dominates(V{2, 3}, V{1, 2}));
  EXPECT_TRUE(Dominates(V{0, 0, 0}, V{0, 0, 1}));
  EXPECT_TRUE(Dominates(V{1e300, 1}, V{kInf, 1}));
  EXPECT_TRUE(Dominates(V{kInf, kInf}, V{kNan, 0}));  // NaN is dominated by anything without NaN
  EXPECT_FALSE(Dominates(V{kNan, 0}, V{kInf, kInf}));
  EXPECT_FALSE(Dominates(V{kNan, 0}, V{kNan, 1}));
}

TEST(ParetoTest, HandMadeFronts) {
  // (1,5) (2,3) (4,1) are a front; (3,4) is dominated by (2,3); (5,5) by all; (2,3) twice: both kept.
  const Points points = {{3, 4}, {1, 5}, {2, 3}, {5, 5}, {4, 1}, {2, 3}};
  EXPECT_EQ(ParetoFrontIndices(points), (Indices{1, 2, 4, 5}));
  const NondominatedSorting sorting = NondominatedSort(points);
  EXPECT_EQ(sorting.fronts, (std::vector<Indices>{{1, 2, 4, 5}, {0}, {3}}));
  EXPECT_EQ(sorting.rank, (Indices{1, 0, 0, 2, 0, 0}));

  // Ties in one objective: (1,2) dominates (1,3) and (2,2); (0,9) stays.
  const Points ties = {{1, 3}, {2, 2}, {1, 2}, {0, 9}, {2, 2}};
  EXPECT_EQ(ParetoFrontIndices(ties), (Indices{2, 3}));
  EXPECT_EQ(NondominatedSort(ties).fronts, (std::vector<Indices>{{2, 3}, {0, 1, 4}}));

  // A constant objective: only the least of the other one survives (both copies of it).
  const Points constant = {{3, 7}, {1, 7}, {2, 7}, {1, 7}};
  EXPECT_EQ(ParetoFrontIndices(constant), (Indices{1, 3}));
  EXPECT_EQ(NondominatedSort(constant).fronts, (std::vector<Indices>{{1, 3}, {2}, {0}}));

  // Three objectives.
  const Points three = {{1, 2, 3}, {3, 2, 1}, {2, 2, 2}, {2, 3, 3}, {1, 2, 3}, {4, 4, 4}};
  EXPECT_EQ(ParetoFrontIndices(three), (Indices{0, 1, 2, 4}));
  EXPECT_EQ(NondominatedSort(three).fronts, (std::vector<Indices>{{0, 1, 2, 4}, {3}, {5}}));
}

TEST(ParetoTest, EmptyAndSingle) {
  EXPECT_TRUE(ParetoFrontIndices({}).empty());
  EXPECT_TRUE(NondominatedSort({}).fronts.empty());
  EXPECT_EQ(ParetoFrontIndices({{1, 1}}), (Indices{0}));
  EXPECT_EQ(NondominatedSort({{1, 1, 1}}).rank, (Indices{0}));
}

TEST(ParetoTest, NanPointsComeLast) {
  for (const Points& points : {Points{{kNan, 0}, {1, 1}, {0, kNan}, {2, 0}, {3, 3}},
                               Points{{kNan, 0, 0}, {1, 1, 1}, {0, kNan, 0}, {2, 0, 1}, {3, 3, 3}}}) {
    EXPECT_EQ(ParetoFrontIndices(points), (Indices{1, 3}));
    EXPECT_EQ(NondominatedSort(points).fronts, (std::vector<Indices>{{1, 3}, {4}, {0, 2}}));
  }
  const Points all_nan = {{kNan, 0}, {0, kNan}};
  EXPECT_EQ(ParetoFrontIndices(all_nan), (Indices{0, 1}));
  EXPECT_EQ(NondominatedSort(all_nan).fronts, (std::vector<Indices>{{0, 1}}));
}

TEST(ParetoTest, InfinitiesCompareAsNumbers) {
  const Points points = {{kInf, 0}, {0, kInf}, {kInf, kInf}, {1, 1}};
  EXPECT_EQ(ParetoFrontIndices(points), (Indices{0, 1, 3}));
  EXPECT_EQ(NondominatedSort(points).fronts, (std::vector<Indices>{{0, 1, 3}, {2}}));
}

// A random set of n points in `num_objectives` objectives, of one of several kinds: continuous, on a
// small integer grid (many ties), with many exact duplicates, with one objective constant, or with a few
// NaN points.
Points RandomSet(Rng& rng, size_t n, size_t num_objectives, int kind) {
  Points points(n, std::vector<double>(num_objectives));
  for (auto& p : points) {
    for (double& v : p) v = kind == 1 ? static_cast<double>(rng.UniformInt(4)) : rng.Uniform01();
  }
  if (kind == 2) {  // duplicates: each point a copy of an earlier one with probability 1/2
    for (size_t i = 1; i < n; ++i) {
      if (rng.UniformInt(2) == 0) points[i] = points[rng.UniformInt(i)];
    }
  }
  if (kind == 3) {  // one objective constant
    const size_t m = rng.UniformInt(num_objectives);
    for (auto& p : points) p[m] = 0.5;
  }
  if (kind == 4) {
    for (auto& p : points) {
      if (rng.UniformInt(8) == 0) p[rng.UniformInt(num_objectives)] = kNan;
    }
  }
  return points;
}

void ExpectMatchesBruteForce(const Points& points) {
  ASSERT_EQ(ParetoFrontIndices(points), BruteFront(points));
  const NondominatedSorting sorting = NondominatedSort(points);
  const std::vector<Indices> expected = BruteFronts(points);
  ASSERT_EQ(sorting.fronts, expected);
  ASSERT_EQ(sorting.rank.size(), points.size());
  for (size_t f = 0; f < expected.size(); ++f) {
    for (size_t i : expected[f]) ASSERT_EQ(sorting.rank[i], f);
  }
}

// Random sets against the definitions in 1 to 5 objectives (each algorithm: 2-D sweep, 3-D staircases,
// ENS-BS for 1, 4 and 5), of every kind RandomSet makes.
TEST(ParetoTest, MatchesBruteForceOnRandomSets) {
  Rng rng(2024);
  for (int set = 0; set < 5000; ++set) {
    const size_t num_objectives = 1 + set % 5;
    const int kind = (set / 5) % 5;
    const size_t n = 1 + rng.UniformInt(set % 97 == 0 ? 400 : 60);
    SCOPED_TRACE("set " + std::to_string(set) + ", " + std::to_string(num_objectives) + " objectives, kind " +
                 std::to_string(kind) + ", n " + std::to_string(n));
    ExpectMatchesBruteForce(RandomSet(rng, n, num_objectives, kind));
  }
}

// Points on or near a common front put many points into few fronts; points on a line put each into its
// own front. Both extremes of the number of fronts, in 2, 3 and 5 objectives.
TEST(ParetoTest, MatchesBruteForceOnFrontsAndChains) {
  Rng rng(77);
  for (size_t num_objectives : {2, 3, 5}) {
    for (int set = 0; set < 40; ++set) {
      const size_t n = 50 + rng.UniformInt(150);
      Points points(n, std::vector<double>(num_objectives));
      for (auto& p : points) {
        if (set % 2 == 0) {  // near the simplex: sum of objectives about 1
          double sum = 0;
          for (double& v : p) sum += (v = rng.Uniform01());
          const double level = 1.0 + 0.05 * static_cast<double>(rng.UniformInt(3));
          for (double& v : p) v *= level / sum;
        } else {  // a chain with a few ties
          const double t = static_cast<double>(rng.UniformInt(n));
          for (double& v : p) v = t;
          p[rng.UniformInt(num_objectives)] += static_cast<double>(rng.UniformInt(2));
        }
      }
      SCOPED_TRACE(std::to_string(num_objectives) + " objectives, set " + std::to_string(set));
      ExpectMatchesBruteForce(points);
    }
  }
}

TEST(ParetoTest, NoObjectivesMeansOneFront) {
  const Points points(3);
  EXPECT_EQ(ParetoFrontIndices(points), (Indices{0, 1, 2}));
  EXPECT_EQ(NondominatedSort(points).fronts, (std::vector<Indices>{{0, 1, 2}}));
}

TEST(ParetoTest, HandMadeFrontsInFiveObjectives) {
  const Points points = {{1, 1, 1, 1, 2}, {1, 1, 1, 2, 1}, {1, 1, 1, 2, 2}, {1, 1, 1, 2, 2},
                         {0, 5, 5, 5, 5}, {2, 2, 2, 2, 2}, {3, 3, 3, 3, 3}};
  EXPECT_EQ(ParetoFrontIndices(points), (Indices{0, 1, 4}));
  EXPECT_EQ(NondominatedSort(points).fronts, (std::vector<Indices>{{0, 1, 4}, {2, 3}, {5}, {6}}));
}

TEST(ParetoTest, CrowdingDistanceHandWorked) {
  // Ranges 6 and 6. (1,3): (4-0)/6 + (6-1)/6 = 1.5. (4,1): (6-1)/6 + (3-0)/6 = 4/3.
  const Points points = {{4, 1}, {0, 6}, {9, 9}, {1, 3}, {6, 0}};
  const std::vector<double> d = CrowdingDistance(points, Indices{0, 1, 3, 4});
  ASSERT_EQ(d.size(), 4u);
  EXPECT_DOUBLE_EQ(d[0], 4.0 / 3.0);
  EXPECT_EQ(d[1], kInf);
  EXPECT_DOUBLE_EQ(d[2], 1.5);
  EXPECT_EQ(d[3], kInf);
}

TEST(ParetoTest, CrowdingDistanceConstantObjectiveHasNoNan) {
  // f2 constant: only f1 counts; ranges 4.
  const Points points = {{0, 5}, {1, 5}, {4, 5}, {2, 5}};
  const std::vector<double> d = CrowdingDistance(points, Indices{0, 1, 2, 3});
  EXPECT_EQ(d[0], kInf);
  EXPECT_DOUBLE_EQ(d[1], 0.5);  // (2 - 0) / 4
  EXPECT_EQ(d[2], kInf);
  EXPECT_DOUBLE_EQ(d[3], 0.75);  // (4 - 1) / 4
  // All identical: one distinct point, an extreme; its copies 0.
  const Points same = {{1, 1, 1}, {1, 1, 1}, {1, 1, 1}};
  EXPECT_EQ(CrowdingDistance(same, Indices{0, 1, 2}), (std::vector<double>{kInf, 0, 0}));
  // One point alone is an extreme; two distinct points are both extremes.
  EXPECT_EQ(CrowdingDistance(points, Indices{2}), (std::vector<double>{kInf}));
  EXPECT_EQ(CrowdingDistance(points, Indices{0, 2}), (std::vector<double>{kInf, kInf}));
  EXPECT_TRUE(CrowdingDistance(points, Indices{}).empty());
}

TEST(ParetoTest, CrowdingDistanceWithInfinitiesAndNan) {
  const Points points = {{0, kInf}, {1, 2}, {2, 1}, {kInf, 0}, {kNan, 0}};
  const std::vector<double> d = CrowdingDistance(points, Indices{0, 1, 2, 3, 4});
  for (double v : d) EXPECT_FALSE(std::isnan(v));
  EXPECT_EQ(d[0], kInf);
  EXPECT_EQ(d[3], kInf);
  EXPECT_EQ(d[4], 0.0);
  // (1,2): f1 neighbours 0 and 2 over an infinite range, f2 neighbours 1 and inf: both skipped or 0.
  EXPECT_EQ(d[1], 0.0);
  EXPECT_EQ(d[2], 0.0);
}

TEST(ParetoTest, CrowdingDistanceNeverNanOnRandomGrids) {
  Rng rng(5);
  for (int set = 0; set < 500; ++set) {
    Points points(1 + rng.UniformInt(20), std::vector<double>(3));
    for (auto& p : points) {
      for (double& v : p) v = static_cast<double>(rng.UniformInt(3));
    }
    for (const Indices& front : NondominatedSort(points).fronts) {
      for (double v : CrowdingDistance(points, front)) ASSERT_GE(v, 0.0);  // false for NaN
    }
  }
}

// Copies are crowded as one point: the copy of least index holds the distance the point has without its
// copies, the others get 0, so only one copy of an extreme holds its infinity.
TEST(ParetoTest, CrowdingDistanceCrowdsCopiesAsOne) {
  // Without the copy, (0.5,0.5) has (1-0)/1 + (1-0)/1 = 2.
  const Points points = {{0, 1}, {0, 1}, {1, 0}, {0.5, 0.5}};
  EXPECT_EQ(CrowdingDistance(points, Indices{0, 1, 2, 3}), (std::vector<double>{kInf, 0, kInf, 2}));
  // The least index holds, whatever the order of the front.
  EXPECT_EQ(CrowdingDistance(points, Indices{3, 1, 2, 0}), (std::vector<double>{2, 0, kInf, kInf}));
  EXPECT_EQ(CrowdingDistance(points, Indices{1, 2, 3}), (std::vector<double>{kInf, kInf, 2}));
  // Interior copies: (1,2) three times. Ranges 3: (1,2) has (2-0)/3 + (3-1)/3, (2,1) (3-1)/3 + (2-0)/3.
  const Points line = {{0, 3}, {1, 2}, {1, 2}, {1, 2}, {2, 1}, {3, 0}};
  const std::vector<double> d = CrowdingDistance(line, Indices{0, 1, 2, 3, 4, 5});
  EXPECT_EQ(d[0], kInf);
  EXPECT_DOUBLE_EQ(d[1], 4.0 / 3.0);
  EXPECT_EQ(d[2], 0.0);
  EXPECT_EQ(d[3], 0.0);
  EXPECT_DOUBLE_EQ(d[4], 4.0 / 3.0);
  EXPECT_EQ(d[5], kInf);
  // Ties between distinct points in one objective are ordered by the whole point: (0,1,2) before (0,2,1)
  // in f1, so (0,1,2) is f1's low extreme whatever the order of the front.
  const Points tied = {{0, 2, 1}, {0, 1, 2}, {2, 0, 0}, {1, 1, 1}};
  const std::vector<double> t = CrowdingDistance(tied, Indices{0, 1, 2, 3});
  const std::vector<double> reversed = CrowdingDistance(tied, Indices{3, 2, 1, 0});
  EXPECT_EQ(t, (std::vector<double>{reversed[3], reversed[2], reversed[1], reversed[0]}));
  EXPECT_EQ(t[1], kInf);
}

// On random grids (copies and ties everywhere), for every front and for arbitrary subsets: the distance
// of each distinct point's first copy equals its distance in the set without copies, the other copies
// get 0, the order of the front changes nothing, and all agree with the plain definition.
TEST(ParetoTest, CrowdingOfCopiesEqualsCrowdingOfTheDistinctSet) {
  Rng rng(17);
  size_t copies_seen = 0;
  for (int set = 0; set < 400; ++set) {
    const size_t m = 2 + rng.UniformInt(2);
    const Points points = GridPoints(rng, 2 + rng.UniformInt(30), m, 2 + rng.UniformInt(4));
    std::vector<Indices> sets = NondominatedSort(points).fronts;
    Indices all(points.size());
    std::iota(all.begin(), all.end(), size_t{0});
    sets.push_back(all);
    for (const Indices& front : sets) {
      const std::vector<double> d = CrowdingDistance(points, front);
      ASSERT_EQ(d, BruteCrowding(points, front));
      Indices distinct;  // the first copy of each point
      std::map<std::vector<double>, size_t> seen;
      for (size_t k = 0; k < front.size(); ++k) {
        if (seen.emplace(points[front[k]], k).second) {
          distinct.push_back(front[k]);
        } else {
          EXPECT_EQ(d[k], 0.0);
          ++copies_seen;
        }
      }
      const std::vector<double> alone = CrowdingDistance(points, distinct);
      for (size_t k = 0, j = 0; k < front.size(); ++k) {
        if (j < distinct.size() && front[k] == distinct[j]) {
          ASSERT_EQ(d[k], alone[j++]);
        }
      }
      Indices shuffled = front;
      for (size_t i = shuffled.size(); i > 1; --i) std::swap(shuffled[i - 1], shuffled[rng.UniformInt(i)]);
      const std::vector<double> ds = CrowdingDistance(points, shuffled);
      for (size_t k = 0; k < shuffled.size(); ++k) {
        const size_t at = std::find(front.begin(), front.end(), shuffled[k]) - front.begin();
        ASSERT_EQ(ds[k], d[at]);
      }
    }
  }
  EXPECT_GT(copies_seen, 1000u);
}

// CrowdedFront after any sequence of inserts and erases has exactly the distances CrowdingDistance gives
// for its members; MostCrowded is the least distance, the greatest key on a tie.
TEST(ParetoTest, CrowdedFrontKeepsExactDistancesThroughChanges) {
  Rng rng(23);
  for (int run = 0; run < 60; ++run) {
    const size_t m = 1 + rng.UniformInt(3);
    const Points points = GridPoints(rng, 40, m, 3 + rng.UniformInt(5));
    CrowdedFront front(m);
    std::vector<bool> member(points.size(), false);
    for (int change = 0; change < 300; ++change) {
      const size_t i = rng.UniformInt(points.size());
      if (member[i]) {
        front.Erase(i);
      } else {
        front.Insert(i, points[i]);
      }
      member[i] = !member[i];
      Indices keys;
      for (size_t k = 0; k < points.size(); ++k) {
        if (member[k]) keys.push_back(k);
      }
      ASSERT_EQ(front.size(), keys.size());
      if (keys.empty()) continue;
      const std::vector<double> expected = CrowdingDistance(points, keys);
      ASSERT_EQ(front.Distances(keys), expected) << "run " << run << " change " << change;
      std::map<size_t, double> visited;
      front.ForEach([&](size_t key, double distance) { visited[key] = distance; });
      ASSERT_EQ(visited.size(), keys.size());
      size_t worst = 0;
      for (size_t k = 0; k < keys.size(); ++k) {
        ASSERT_EQ(visited[keys[k]], expected[k]);
        if (expected[k] <= expected[worst]) worst = k;
      }
      ASSERT_EQ(front.MostCrowded(), keys[worst]);
    }
  }
  // Keys shift down past a removed entry, distances unchanged.
  const Points points = {{0, 3}, {1, 2}, {2, 1}, {3, 0}};
  CrowdedFront front(points, Indices{0, 1, 3});
  front.ShiftKeysAbove(2);
  EXPECT_EQ(front.Distances(Indices{0, 1, 2}), (std::vector<double>{kInf, 2, kInf}));
}

// Iterative pruning is "drop the point of least crowding distance (the greatest index on a tie), crowd
// what is left afresh, repeat"; pruning once is "keep the largest distances of the start".
TEST(ParetoTest, PruneByCrowdingMatchesTheDefinitions) {
  Rng rng(29);
  for (int run = 0; run < 300; ++run) {
    const size_t m = 2 + rng.UniformInt(2);
    const Points points = GridPoints(rng, 2 + rng.UniformInt(40), m, 2 + rng.UniformInt(8));
    Indices front;
    for (size_t i = 0; i < points.size(); ++i) {
      if (rng.Uniform01() < 0.8) front.push_back(i);
    }
    const size_t keep = rng.UniformInt(front.size() + 2);
    Indices iterative = front;
    while (iterative.size() > keep) {
      const std::vector<double> d = CrowdingDistance(points, iterative);
      size_t worst = 0;
      for (size_t k = 1; k < d.size(); ++k) {
        if (d[k] <= d[worst]) worst = k;
      }
      iterative.erase(iterative.begin() + static_cast<std::ptrdiff_t>(worst));
    }
    EXPECT_EQ(PruneByCrowding(points, front, keep, CrowdingPruning::kIterative), iterative) << run;
    const std::vector<double> d = CrowdingDistance(points, front);
    Indices order(front.size());
    std::iota(order.begin(), order.end(), size_t{0});
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return d[a] > d[b]; });
    Indices once;
    for (size_t k = 0; k < std::min(keep, front.size()); ++k) once.push_back(front[order[k]]);
    std::sort(once.begin(), once.end());
    EXPECT_EQ(PruneByCrowding(points, front, keep, CrowdingPruning::kOnce), once) << run;
  }
  // Of (0,1) twice, (1,0) and (0.5,0.5), keeping three keeps (0,1) once, and (0.5,0.5).
  const Points copies = {{0, 1}, {0, 1}, {1, 0}, {0.5, 0.5}};
  for (CrowdingPruning pruning : {CrowdingPruning::kIterative, CrowdingPruning::kOnce}) {
    EXPECT_EQ(PruneByCrowding(copies, Indices{0, 1, 2, 3}, 3, pruning), (Indices{0, 2, 3}));
  }
}

}  // namespace
}  // namespace hpo::search
