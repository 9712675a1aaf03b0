// Tests trainer/main.cc, the hpo-train binary: on the installed Fashion-MNIST (skipped without it), a
// short run prints one progress line per epoch, with a rising "step" and the validation metrics, the
// latency and size on the first only, then the metrics line without a "step", which comes last; on a
// user's own .npy or IDX arrays, told apart by their first bytes; and the text file's flag.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "tests/trainer/test_util.h"
#include "trainer/dataset.h"

namespace hpo::trainer {
namespace {

struct Ran {
  int status = -1;
  std::vector<std::string> lines;  // stdout, one entry per line
};

// Runs hpo-train with `args`; its stderr is dropped, or kept among the lines with `with_stderr`.
Ran RunTrainer(const std::string& args, bool with_stderr = false) {
  Ran ran;
  const std::string command =
      std::string(HPO_BIN_DIR) + "/hpo-train " + args + (with_stderr ? " 2>&1" : " 2>/dev/null");
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

TEST(TrainerMainTest, TrainsOnUsersOwnNpyArrays) {
  // Two classes of 4 x 4 one-channel images, bright or dark; uint8 images, int64 labels.
  testing::TempDir dir;
  std::string pixels, labels;
  for (int e = 0; e < 120; ++e) {
    const bool bright = e % 2 == 1;
    for (int p = 0; p < 16; ++p) pixels += static_cast<char>(bright ? 200 + (e + p) % 50 : (e + p) % 50);
    const int64_t label = bright ? 1 : 0;
    labels.append(reinterpret_cast<const char*>(&label), sizeof label);
  }
  const auto write = [&](const std::string& name, const std::string& dict, const std::string& payload) {
    const std::string bytes = testing::NpyBytes(dict, payload);
    EXPECT_TRUE(testing::WriteFile(dir.File(name), std::vector<uint8_t>(bytes.begin(), bytes.end())));
    return dir.File(name);
  };
  const std::string x =
      write("x.npy", "{'descr': '|u1', 'fortran_order': False, 'shape': (120, 4, 4), }", pixels);
  const std::string y = write("y.npy", "{'descr': '<i8', 'fortran_order': False, 'shape': (120,), }", labels);
  const Ran ran = RunTrainer("--backend=cpu --train-images=" + x + " --train-labels=" + y +
                             " --epochs=5 --hidden_layers=1 --width=32 --batch_size=16 --lr=0.01");
  ASSERT_TRUE(WIFEXITED(ran.status) && WEXITSTATUS(ran.status) == 0) << ran.status;
  ASSERT_EQ(ran.lines.size(), 6u);
  const std::string& result = ran.lines.back();
  SCOPED_TRACE(result);
  EXPECT_EQ(Field(result, "accuracy"), 1.0);
  EXPECT_EQ(Field(result, "test_accuracy"), 1.0);
  EXPECT_EQ(Field(result, "params"), 16 * 32 + 32 + 32 * 2 + 2);  // 16 features in, 2 classes out

  // A missing file fails the run (exit 1); bad data options are bad arguments (exit 2).
  const Ran missing =
      RunTrainer("--backend=cpu --train-images=" + dir.File("none.npy") + " --train-labels=" + y);
  EXPECT_TRUE(WIFEXITED(missing.status) && WEXITSTATUS(missing.status) == 1) << missing.status;
  const Ran fractions =
      RunTrainer("--backend=cpu --train-images=" + x + " --train-labels=" + y + " --validation-fraction=1.5");
  EXPECT_TRUE(WIFEXITED(fractions.status) && WEXITSTATUS(fractions.status) == 2) << fractions.status;
}

int ExitCode(const Ran& ran) { return WIFEXITED(ran.status) ? WEXITSTATUS(ran.status) : -1; }

// The first line that holds `text`, or "" when none does.
std::string LineWith(const Ran& ran, const std::string& text) {
  for (const std::string& line : ran.lines) {
    if (line.find(text) != std::string::npos) return line;
  }
  return "";
}

TEST(TrainerMainTest, TrainsOnUsersOwnIdxFilesAndTellsFormatsApart) {
  // Three classes of 3 x 3 images, dark, middle or bright: gzipped images, raw labels.
  testing::TempDir dir;
  std::vector<uint8_t> pixels, labels;
  for (int e = 0; e < 150; ++e) {
    const int label = e % 3;
    for (int p = 0; p < 9; ++p) pixels.push_back(static_cast<uint8_t>(label * 100 + (e + p) % 40));
    labels.push_back(static_cast<uint8_t>(label));
  }
  const std::string x = dir.File("images.idx3.gz"), y = dir.File("labels.idx1");
  ASSERT_TRUE(testing::WriteGzFile(x, testing::IdxBytes({150, 3, 3}, pixels)));
  ASSERT_TRUE(testing::WriteFile(y, testing::IdxBytes({150}, labels)));
  const std::string data = " --train-images=" + x + " --train-labels=" + y;
  const Ran ran = RunTrainer("--backend=cpu" + data +
                             " --epochs=5 --hidden_layers=1 --width=32 --batch_size=16 --lr=0.01");
  ASSERT_EQ(ExitCode(ran), 0) << ran.status;
  ASSERT_EQ(ran.lines.size(), 6u);
  const std::string& result = ran.lines.back();
  SCOPED_TRACE(result);
  EXPECT_EQ(Field(result, "accuracy"), 1.0);
  EXPECT_EQ(Field(result, "params"), 9 * 32 + 32 + 32 * 3 + 3);  // 9 features in, 3 classes out

  // A file of neither format fails the run, naming it.
  const std::string notes = dir.File("notes.txt");
  ASSERT_TRUE(testing::WriteFile(notes, {'h', 'i', '\n'}));
  Ran bad = RunTrainer("--backend=cpu --train-images=" + x + " --train-labels=" + notes, true);
  EXPECT_EQ(ExitCode(bad), 1);
  EXPECT_NE(LineWith(bad, "hpo-train: " + notes + ": neither a NumPy .npy file nor an IDX file"), "");
  // An .npy file beside an IDX file: not one format.
  const std::string npy = testing::NpyBytes("{'descr': '|u1', 'fortran_order': False, 'shape': (150,), }",
                                            std::string(labels.begin(), labels.end()));
  const std::string y_npy = dir.File("labels.npy");
  ASSERT_TRUE(testing::WriteFile(y_npy, std::vector<uint8_t>(npy.begin(), npy.end())));
  bad = RunTrainer("--backend=cpu --train-images=" + x + " --train-labels=" + y_npy, true);
  EXPECT_EQ(ExitCode(bad), 2);
  EXPECT_NE(LineWith(bad, "hpo-train: data: " + x + " is an IDX file but " + y_npy + " is a NumPy .npy file"),
            "");
  // A missing file.
  bad = RunTrainer("--backend=cpu --train-images=" + dir.File("none.gz") + " --train-labels=" + y, true);
  EXPECT_EQ(ExitCode(bad), 1);
  EXPECT_NE(LineWith(bad, "hpo-train: " + dir.File("none.gz") + ": no such file"), "");
}

TEST(TrainerMainTest, TheTextFileIsLoadedAloneAndChecked) {
  testing::TempDir dir;
  const std::string text = dir.File("corpus.txt");
  ASSERT_TRUE(testing::WriteFile(text, std::vector<uint8_t>(100, 'a')));
  // Exclusive with the image flags: a bad argument naming both.
  Ran ran = RunTrainer("--backend=cpu --text-file=" + text + " --train-images=" + text, true);
  EXPECT_EQ(ExitCode(ran), 2);
  EXPECT_NE(LineWith(ran, "--text-file"), "");
  EXPECT_NE(LineWith(ran, "--train-images"), "");
  ran = RunTrainer("--backend=cpu --test-labels=" + text + " --text-file=" + text, true);
  EXPECT_EQ(ExitCode(ran), 2);
  EXPECT_NE(LineWith(ran, "excludes"), "");
  // A missing file fails the run, naming it; fractions and limits out of range are bad arguments.
  ran = RunTrainer("--backend=cpu --text-file=" + dir.File("none.txt"), true);
  EXPECT_EQ(ExitCode(ran), 1);
  EXPECT_NE(LineWith(ran, "hpo-train: " + dir.File("none.txt") + ": no such file"), "");
  ran = RunTrainer("--backend=cpu --text-file=" + text + " --validation-fraction=0.5 --test-fraction=0.5",
                   true);
  EXPECT_EQ(ExitCode(ran), 2);
  EXPECT_NE(LineWith(ran, "hpo-train: text data: validation_fraction 0.5 and test_fraction 0.5 must each be"),
            "");
  ran = RunTrainer("--backend=cpu --text-file=" + text + " --train-limit=81", true);
  EXPECT_EQ(ExitCode(ran), 2);
  EXPECT_NE(LineWith(ran, "hpo-train: train_limit: 81 is out of range [0, 80]"), "");
  // Too small a file is the data's fault, not the arguments'.
  ASSERT_TRUE(testing::WriteFile(text, std::vector<uint8_t>(10, 'a')));
  ran = RunTrainer("--backend=cpu --text-file=" + text, true);
  EXPECT_EQ(ExitCode(ran), 1);
  EXPECT_NE(LineWith(ran, "hpo-train: " + text + ": 10 bytes are too few to split"), "");
}

}  // namespace
}  // namespace hpo::trainer
