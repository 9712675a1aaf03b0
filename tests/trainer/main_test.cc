// Tests trainer/main.cc, the hpo-train binary, on the installed Fashion-MNIST (skipped without it): a
// short run prints one progress line per epoch, with a rising "step" and the validation metrics, the
// latency and size on the first only, then the metrics line without a "step", which comes last.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "trainer/dataset.h"

namespace hpo::trainer {
namespace {

struct Ran {
  int status = -1;
  std::vector<std::string> lines;  // stdout, one entry per line
};

Ran RunTrainer(const std::string& args) {
  Ran ran;
  const std::string command = std::string(HPO_BIN_DIR) + "/hpo-train " + args + " 2>/dev/null";
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return ran;
  std::string line;
  int c;
  while ((c = std::fgetc(pipe)) != EOF) {
    if (c == '\n') {
      ran.lines.push_back(line);
      line.clear();
    } else {
      line += static_cast<char>(c);
    }
  }
  if (!line.empty()) ran.lines.push_back(line);
  ran.status = pclose(pipe);
  return ran;
}

bool HasField(const std::string& line, const std::string& name) {
  return line.find("\"" + name + "\":") != std::string::npos;
}

// The number after "name": in `line`, or -1 when it is missing.
double Field(const std::string& line, const std::string& name) {
  const size_t at = line.find("\"" + name + "\":");
  if (at == std::string::npos) return -1;
  return std::stod(line.substr(at + name.size() + 3));
}

TEST(TrainerMainTest, PrintsAProgressLinePerEpochThenTheMetricsLine) {
  if (!std::filesystem::exists(std::string(kDefaultFashionMnistDir) + "/train-images-idx3-ubyte.gz")) {
    GTEST_SKIP() << "Fashion-MNIST is not installed";
  }
  const Ran ran = RunTrainer(
      "--backend=cpu --train-limit=300 --epochs=3 --hidden_layers=1 --width=16 --batch_size=50 --seed=7");
  ASSERT_TRUE(WIFEXITED(ran.status) && WEXITSTATUS(ran.status) == 0) << ran.status;
  ASSERT_EQ(ran.lines.size(), 4u);
  for (int epoch = 1; epoch <= 3; ++epoch) {
    const std::string& line = ran.lines[epoch - 1];
    SCOPED_TRACE(line);
    ASSERT_EQ(line.rfind("{\"step\":" + std::to_string(epoch) + ",", 0), 0u);
    EXPECT_EQ(line.back(), '}');
    EXPECT_GT(Field(line, "accuracy"), 0.1);  // 10 classes: better than chance after 300 images
    EXPECT_LE(Field(line, "accuracy"), 1.0);
    EXPECT_GT(Field(line, "loss"), 0.0);
    EXPECT_GT(Field(line, "train_time_s"), 0.0);
    EXPECT_FALSE(HasField(line, "test_accuracy"));
    // Latency and size once, on the first step: training does not change them.
    EXPECT_EQ(HasField(line, "latency_ms"), epoch == 1);
    EXPECT_EQ(HasField(line, "params"), epoch == 1);
  }
  EXPECT_GT(Field(ran.lines[0], "latency_ms"), 0.0);
  EXPECT_EQ(Field(ran.lines[0], "params"), 784 * 16 + 16 + 16 * 10 + 10);
  EXPECT_GT(Field(ran.lines[2], "train_time_s"), Field(ran.lines[1], "train_time_s"));

  const std::string& result = ran.lines[3];
  SCOPED_TRACE(result);
  EXPECT_FALSE(HasField(result, "step"));
  EXPECT_EQ(Field(result, "accuracy"), Field(ran.lines[2], "accuracy"));  // the last epoch's validation
  EXPECT_EQ(Field(result, "loss"), Field(ran.lines[2], "loss"));
  EXPECT_EQ(Field(result, "latency_ms"), Field(ran.lines[0], "latency_ms"));  // the one measurement
  EXPECT_EQ(Field(result, "params"), Field(ran.lines[0], "params"));
  EXPECT_TRUE(HasField(result, "test_accuracy"));
}

}  // namespace
}  // namespace hpo::trainer
