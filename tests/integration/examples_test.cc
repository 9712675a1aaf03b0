// Every study file under examples/ parses (client/study_file.h), passes the coordinator's validation
// (coordinator/spec.h) and builds its search space and optimizer, so that the README's examples never rot.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "client/study_file.h"
#include "coordinator/spec.h"

namespace hpo {
namespace {

TEST(ExamplesTest, EveryStudyFileIsAValidStudy) {
  const std::filesystem::path dir = std::filesystem::path(HPO_SOURCE_DIR) / "examples";
  std::vector<std::string> seen;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() != ".json") continue;
    SCOPED_TRACE(entry.path().string());
    seen.push_back(entry.path().filename().string());
    auto spec = client::LoadStudySpec(entry.path().string());
    ASSERT_TRUE(spec.ok()) << spec.status().ToString();
    auto normal = coordinator::NormalizeSpec(*spec);
    ASSERT_TRUE(normal.ok()) << normal.status().ToString();
    auto space = coordinator::MakeSearchSpace(*normal);
    ASSERT_TRUE(space.ok()) << space.status().ToString();
    EXPECT_TRUE(coordinator::MakeOptimizer(*normal, space->dims()).ok());
  }
  EXPECT_GE(seen.size(), 4u);  // fmnist-quick, fmnist-precision, zdt1, shifted-rastrigin-woa
}

}  // namespace
}  // namespace hpo
