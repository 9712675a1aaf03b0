#include "search/variation.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "base/rng.h"

namespace hpo::search {
namespace {

// Parents of many shapes: random, on the bounds, a hair from them, identical.
std::vector<double> RandomGenes(Rng& rng, size_t dims) {
  std::vector<double> x(dims);
  for (double& v : x) {
    const uint64_t kind = rng.UniformInt(6);
    const double u = rng.Uniform01();
    v = kind == 0 ? 0.0 : kind == 1 ? 1.0 : kind == 2 ? 1e-12 * u : kind == 3 ? 1.0 - 1e-12 * u : u;
  }
  return x;
}

void ExpectInCube(const std::vector<double>& x) {
  for (double v : x) {
    ASSERT_GE(v, 0.0);
    ASSERT_LE(v, 1.0);
  }
}

TEST(VariationTest, SbxChildrenStayInTheCube) {
  Rng rng(1);
  for (double eta : {0.0, 1.0, 5.0, 20.0, 100.0}) {
    for (int draw = 0; draw < 4000; ++draw) {
      const std::vector<double> a = RandomGenes(rng, 8);
      const std::vector<double> b = draw % 10 == 0 ? a : RandomGenes(rng, 8);
      const SbxChildren children = SbxCrossover(a, b, eta, 1.0, rng);
      ASSERT_EQ(children.first.size(), 8u);
      ASSERT_EQ(children.second.size(), 8u);
      ExpectInCube(children.first);
      ExpectInCube(children.second);
    }
  }
}

TEST(VariationTest, SbxRespectsItsProbabilities) {
  Rng rng(2);
  const std::vector<double> a(20, 0.3), b(20, 0.7);
  // Probability 0: copies, always.
  for (int draw = 0; draw < 1000; ++draw) {
    const SbxChildren children = SbxCrossover(a, b, 20, 0.0, rng);
    ASSERT_EQ(children.first, a);
    ASSERT_EQ(children.second, b);
  }
  // Probability 1: every pair recombined, each gene with probability kSbxGeneProb; a gene is either
  // copied or replaced by two children symmetric about 0.5.
  size_t changed = 0, total = 0;
  for (int draw = 0; draw < 2000; ++draw) {
    const SbxChildren children = SbxCrossover(a, b, 20, 1.0, rng);
    for (size_t i = 0; i < a.size(); ++i, ++total) {
      if (children.first[i] == a[i] && children.second[i] == b[i]) continue;
      ++changed;
      ASSERT_NEAR(children.first[i] + children.second[i], 1.0, 1e-12);
    }
  }
  EXPECT_NEAR(static_cast<double>(changed) / static_cast<double>(total), kSbxGeneProb, 0.01);
  // Probability 0.25: about a quarter of the pairs change at all (20 genes: almost surely one does).
  size_t recombined = 0;
  for (int draw = 0; draw < 4000; ++draw) {
    const SbxChildren children = SbxCrossover(a, b, 20, 0.25, rng);
    recombined += children.first != a;
  }
  EXPECT_NEAR(static_cast<double>(recombined) / 4000.0, 0.25, 0.02);
}

// Away from the bounds both spread factors agree, so each recombined gene pair keeps its mean exactly;
// the spread of the children, (c2 - c1) / (y2 - y1) = betaq, has the mean of SBX's distribution:
// E[betaq] = (1/2)(eta+1)/(eta+2) + (1/2)(eta+1)/eta.
TEST(VariationTest, SbxChildrenAreSymmetricAboutTheParents) {
  Rng rng(3);
  for (double eta : {20.0, 50.0}) {
    double spread_sum = 0;
    size_t count = 0;
    for (int draw = 0; draw < 50000; ++draw) {
      const double y1 = rng.Uniform(0.45, 0.5), y2 = rng.Uniform(0.5, 0.55);
      const std::vector<double> a = {y1}, b = {y2};
      const SbxChildren children = SbxCrossover(a, b, eta, 1.0, rng);
      const double c1 = children.first[0], c2 = children.second[0];
      if (c1 == y1 && c2 == y2) continue;  // not recombined (probability 1/2)
      ASSERT_NEAR((c1 + c2) / 2, (y1 + y2) / 2, 1e-12) << "eta " << eta << " draw " << draw;
      spread_sum += std::abs(c2 - c1) / (y2 - y1);
      ++count;
    }
    EXPECT_GT(count, 20000u);
    const double expected = 0.5 * (eta + 1) / (eta + 2) + 0.5 * (eta + 1) / eta;
    EXPECT_NEAR(spread_sum / static_cast<double>(count), expected, 0.003) << "eta " << eta;
  }
  // Near a bound the children stay inside but their mean is still the parents' on average within
  // the spread: over many draws the mean of all children is the mean of all parents within 1%.
  double parents = 0, children_sum = 0;
  for (int draw = 0; draw < 20000; ++draw) {
    const std::vector<double> a = {rng.Uniform01()}, b = {rng.Uniform01()};
    const SbxChildren children = SbxCrossover(a, b, 20, 1.0, rng);
    parents += a[0] + b[0];
    children_sum += children.first[0] + children.second[0];
  }
  EXPECT_NEAR(children_sum / parents, 1.0, 0.01);
}

TEST(VariationTest, PolynomialMutationStaysInTheCube) {
  Rng rng(4);
  for (double eta : {0.0, 1.0, 5.0, 20.0, 100.0}) {
    for (int draw = 0; draw < 4000; ++draw) {
      std::vector<double> x = RandomGenes(rng, 8);
      PolynomialMutation(x, eta, 1.0, rng);
      ASSERT_EQ(x.size(), 8u);
      ExpectInCube(x);
    }
  }
}

TEST(VariationTest, PolynomialMutationRespectsItsProbability) {
  Rng rng(5);
  const std::vector<double> parent(30, 0.5);
  for (int draw = 0; draw < 1000; ++draw) {
    std::vector<double> x = parent;
    PolynomialMutation(x, 20, 0.0, rng);
    ASSERT_EQ(x, parent);
  }
  for (int draw = 0; draw < 1000; ++draw) {
    std::vector<double> x = parent;
    PolynomialMutation(x, 20, 1.0, rng);
    for (double v : x) ASSERT_NE(v, 0.5);
  }
  size_t changed = 0;
  for (int draw = 0; draw < 1000; ++draw) {
    std::vector<double> x = parent;
    PolynomialMutation(x, 20, 0.1, rng);
    for (double v : x) changed += v != 0.5;
  }
  EXPECT_NEAR(static_cast<double>(changed) / 30000.0, 0.1, 0.01);
}

// At y = 1/2, with c = (1/2)^(eta+1) and a = 1/(eta+1), |deltaq| = 1 - (c + v (1 - c))^a for v uniform on
// [0, 1] on either side, so E|deltaq| = 1 - (1 - c^(a+1)) / ((a+1)(1-c)) (about 1/(eta+2)); the sign
// is a fair coin, and larger eta keeps the child nearer the parent.
TEST(VariationTest, PolynomialMutationConcentratesNearTheParentForLargeEta) {
  Rng rng(6);
  double previous_mean = 1.0;
  for (double eta : {5.0, 20.0, 100.0, 400.0}) {
    double sum = 0, abs_sum = 0, max_abs = 0;
    constexpr int kDraws = 100000;
    for (int draw = 0; draw < kDraws; ++draw) {
      std::vector<double> x = {0.5};
      PolynomialMutation(x, eta, 1.0, rng);
      sum += x[0] - 0.5;
      abs_sum += std::abs(x[0] - 0.5);
      max_abs = std::max(max_abs, std::abs(x[0] - 0.5));
    }
    const double mean_abs = abs_sum / kDraws;
    const double c = std::pow(0.5, eta + 1), a = 1 / (eta + 1);
    const double expected = 1 - (1 - std::pow(c, a + 1)) / ((a + 1) * (1 - c));
    EXPECT_NEAR(mean_abs, expected, 0.02 * expected) << "eta " << eta;
    EXPECT_NEAR(sum / kDraws, 0.0, 0.02 / (eta + 2)) << "eta " << eta;
    EXPECT_LT(mean_abs, previous_mean);
    previous_mean = mean_abs;
    if (eta >= 100) {
      EXPECT_LT(max_abs, 0.15) << "eta " << eta;
    }
  }
  // At a bound the child can only move inward.
  for (int draw = 0; draw < 1000; ++draw) {
    std::vector<double> x = {0.0, 1.0};
    PolynomialMutation(x, 20, 1.0, rng);
    ASSERT_GE(x[0], 0.0);
    ASSERT_LE(x[1], 1.0);
  }
}

TEST(VariationTest, SameSeedSameChildren) {
  Rng a(9), b(9);
  const std::vector<double> p1 = {0.1, 0.5, 0.9}, p2 = {0.4, 0.45, 0.2};
  for (int draw = 0; draw < 100; ++draw) {
    SbxChildren ca = SbxCrossover(p1, p2, 15, 0.9, a);
    SbxChildren cb = SbxCrossover(p1, p2, 15, 0.9, b);
    PolynomialMutation(ca.first, 20, 0.5, a);
    PolynomialMutation(cb.first, 20, 0.5, b);
    ASSERT_EQ(ca.first, cb.first);
    ASSERT_EQ(ca.second, cb.second);
  }
}

}  // namespace
}  // namespace hpo::search
