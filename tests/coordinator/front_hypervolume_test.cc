// The one hypervolume every client shows: the reference point's rule, a given point in the objectives' own
// units and directions, and the errors for a bad one.
#include "coordinator/front_hypervolume.h"

#include <gtest/gtest.h>

#include <limits>
#include <vector>

namespace hpo::coordinator {
namespace {

// accuracy (maximised), latency_ms (minimised).
v1::StudySpec Spec() {
  v1::StudySpec spec;
  v1::Objective* accuracy = spec.add_objectives();
  accuracy->set_name("accuracy");
  accuracy->set_direction(v1::MAXIMIZE);
  v1::Objective* latency = spec.add_objectives();
  latency->set_name("latency_ms");
  latency->set_direction(v1::MINIMIZE);
  return spec;
}

// (accuracy, latency_ms) = (0.9, 3), (0.8, 1), (0.7, 2): minimised (-0.9, 3), (-0.8, 1), (-0.7, 2).
const std::vector<std::vector<double>> kPoints = {{-0.9, 3}, {-0.8, 1}, {-0.7, 2}};

TEST(FrontHypervolume, ByDefaultTheReferenceIsTheWorstPlusATenthOfTheRange) {
  v1::GetParetoFrontResponse response;
  SetFrontHypervolume(Spec(), kPoints, {}, &response);
  // accuracy: worst 0.7, range 0.2: 0.68 (below, as it is maximised); latency: worst 3, range 2: 3.2.
  ASSERT_EQ(response.reference_point_size(), 2);
  EXPECT_NEAR(response.reference_point(0), 0.68, 1e-12);
  EXPECT_NEAR(response.reference_point(1), 3.2, 1e-12);
  EXPECT_EQ(response.reference_rule(), "worst + 10% of range");
  EXPECT_EQ(response.considered_trials(), 3u);
  // Within (-0.68, 3.2), in vertical strips: (-0.9, 3) alone over [-0.9, -0.8], 0.1 * 0.2; (-0.8, 1)
  // over [-0.8, -0.68], 0.12 * 2.2; (-0.7, 2) is dominated.
  ASSERT_TRUE(response.has_hypervolume());
  EXPECT_NEAR(response.hypervolume(), 0.1 * 0.2 + 0.12 * 2.2, 1e-12);
}

TEST(FrontHypervolume, AGivenReferenceIsInTheObjectivesOwnUnitsAndDirections) {
  v1::GetParetoFrontResponse response;
  const std::vector<double> given = {0.5, 10};  // accuracy 0.5, latency 10 ms
  SetFrontHypervolume(Spec(), kPoints, given, &response);
  EXPECT_EQ(std::vector<double>(response.reference_point().begin(), response.reference_point().end()), given);
  EXPECT_EQ(response.reference_rule(), "given");
  // Within (-0.5, 10), in vertical strips: 0.1 * 7 over [-0.9, -0.8], 0.3 * 9 over [-0.8, -0.5].
  EXPECT_NEAR(response.hypervolume(), 0.1 * 7 + 0.3 * 9, 1e-12);
  // A point no trial beats gives 0, not an error.
  SetFrontHypervolume(Spec(), kPoints, std::vector<double>{0.95, 10}, &response);
  EXPECT_TRUE(response.has_hypervolume());
  EXPECT_EQ(response.hypervolume(), 0.0);
}

TEST(FrontHypervolume, AnEmptyFrontHasNone) {
  v1::GetParetoFrontResponse response;
  SetFrontHypervolume(Spec(), {}, {}, &response);
  EXPECT_FALSE(response.has_hypervolume());
  EXPECT_EQ(response.reference_point_size(), 0);
  EXPECT_EQ(response.reference_rule(), "");
  EXPECT_EQ(response.considered_trials(), 0u);
}

TEST(FrontHypervolume, ABadReferencePointIsRefusedNamingTheField) {
  EXPECT_TRUE(CheckReferencePoint(Spec(), {}).ok());
  EXPECT_TRUE(CheckReferencePoint(Spec(), std::vector<double>{0.5, 10}).ok());
  const Status size = CheckReferencePoint(Spec(), std::vector<double>{1, 2, 3});
  EXPECT_EQ(size.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(size.message(), "reference_point: 3 values for the study's 2 objectives");
  const Status nan =
      CheckReferencePoint(Spec(), std::vector<double>{1, std::numeric_limits<double>::infinity()});
  EXPECT_EQ(nan.message(), "reference_point[1]: not a finite number");
}

}  // namespace
}  // namespace hpo::coordinator
