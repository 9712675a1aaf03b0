#include "base/host.h"

#include <gtest/gtest.h>

namespace hpo {
namespace {

TEST(CpuModelNameTest, FirstModelNameLineTrimmed) {
  const std::string cpuinfo =
      "processor\t: 0\n"
      "vendor_id\t: GenuineIntel\n"
      "model\t\t: 143\n"
      "model name\t:  Intel(R) Xeon(R) Platinum 8480+ \n"
      "processor\t: 1\n"
      "model name\t: Other\n";
  EXPECT_EQ(CpuModelNameFrom(cpuinfo), "Intel(R) Xeon(R) Platinum 8480+");
}

TEST(CpuModelNameTest, UnknownWithoutAModelName) {
  EXPECT_EQ(CpuModelNameFrom(""), "unknown cpu");
  EXPECT_EQ(CpuModelNameFrom("processor\t: 0\nmodel\t\t: 143\n"), "unknown cpu");
  EXPECT_EQ(CpuModelNameFrom("model name\t:   \nmodel name : later\n"), "later");
  EXPECT_EQ(CpuModelNameFrom("model name without colon\n"), "unknown cpu");
}

TEST(CpuModelNameTest, ThisMachineHasAName) { EXPECT_FALSE(CpuModelName().empty()); }

}  // namespace
}  // namespace hpo
