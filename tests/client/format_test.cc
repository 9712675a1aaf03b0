#include "client/format.h"

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "base/strings.h"
#include "tests/testing/spec_builders.h"

namespace hpo::client {
namespace {

v1::StudySpec MakeSpec() {
  v1::StudySpec spec;
  spec.set_name("fmnist-quick");
  testing::AddAccuracyAndLatency(&spec);
  auto* lr = spec.add_parameters();
  lr->set_name("lr");
  lr->mutable_float_()->set_low(1e-4);
  lr->mutable_float_()->set_high(0.1);
  lr->mutable_float_()->set_log(true);
  auto* layers = spec.add_parameters();
  layers->set_name("layers");
  layers->mutable_int_()->set_low(1);
  layers->mutable_int_()->set_high(4);
  auto* activation = spec.add_parameters();
  activation->set_name("activation");
  activation->mutable_categorical()->add_choices("relu");
  activation->mutable_categorical()->add_choices("gelu, tanh");
  return spec;
}

v1::Trial MakeTrial(uint32_t number, double accuracy, double latency_ms, double lr, int64_t layers,
                    const std::string& activation) {
  v1::Trial trial;
  trial.set_number(number);
  trial.set_state(v1::TRIAL_COMPLETED);
  trial.set_attempt(1);
  (*trial.mutable_metrics())["accuracy"] = accuracy;
  (*trial.mutable_metrics())["latency_ms"] = latency_ms;
  (*trial.mutable_metrics())["train_loss"] = 0.25;  // not an objective: no column
  (*trial.mutable_params())["lr"].set_double_value(lr);
  (*trial.mutable_params())["layers"].set_int_value(layers);
  (*trial.mutable_params())["activation"].set_string_value(activation);
  return trial;
}

// Two trials; the second's categorical value holds a comma.
v1::GetParetoFrontResponse MakeFront() {
  v1::GetParetoFrontResponse front;
  *front.add_trials() = MakeTrial(3, 0.91, 1.25, 0.001, 2, "relu");
  *front.add_trials() = MakeTrial(7, 0.875, 0.5, 0.0003, 1, "gelu, tanh");
  *front.mutable_objectives() = MakeSpec().objectives();
  return front;
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::vector<std::string> Words(const std::string& line) {
  std::vector<std::string> words;
  std::istringstream in(line);
  for (std::string word; in >> word;) words.push_back(word);
  return words;
}

google::protobuf::ListValue ParseJsonList(const std::string& json) {
  google::protobuf::ListValue list;
  const auto status = google::protobuf::util::JsonStringToMessage(json, &list);
  EXPECT_TRUE(status.ok()) << status.ToString() << "\n" << json;
  return list;
}

// ---- CSV ----

TEST(FormatCsvTest, HeaderAndRowsOfAHandMadeFront) {
  EXPECT_EQ(FormatCsv(MakeFront(), MakeSpec()),
            "trial,accuracy,latency_ms,lr,layers,activation\n"
            "3,0.91,1.25,0.001,2,relu\n"
            "7,0.875,0.5,0.0003,1,\"gelu, tanh\"\n");
}

TEST(FormatCsvTest, EmptyFrontIsTheHeaderAlone) {
  EXPECT_EQ(FormatCsv(v1::GetParetoFrontResponse(), MakeSpec()),
            "trial,accuracy,latency_ms,lr,layers,activation\n");
}

TEST(FormatCsvTest, QuotesCommasQuotesAndLineBreaks) {
  v1::GetParetoFrontResponse front;
  *front.add_trials() = MakeTrial(0, 0.5, 1, 0.01, 3, "say \"hi\"");
  *front.add_trials() = MakeTrial(1, 0.5, 1, 0.01, 3, "two\nlines");
  *front.add_trials() = MakeTrial(2, 0.5, 1, 0.01, 3, "a,b");
  const std::vector<std::string> expected = {
      "trial,accuracy,latency_ms,lr,layers,activation",
      "0,0.5,1,0.01,3,\"say \"\"hi\"\"\"",
      "1,0.5,1,0.01,3,\"two",
      "lines\"",
      "2,0.5,1,0.01,3,\"a,b\"",
  };
  EXPECT_EQ(Lines(FormatCsv(front, MakeSpec())), expected);
}

TEST(FormatCsvTest, QuotesAHeaderNameWithAComma) {
  v1::StudySpec spec;
  spec.add_objectives()->set_name("loss,val");
  v1::GetParetoFrontResponse front;
  v1::Trial trial;
  trial.set_number(4);
  (*trial.mutable_metrics())["loss,val"] = 2.5;
  *front.add_trials() = trial;
  EXPECT_EQ(FormatCsv(front, spec), "trial,\"loss,val\"\n4,2.5\n");
}

TEST(FormatCsvTest, DoublesRoundTripAndIntsStayInts) {
  const std::vector<double> values = {0.1 + 0.2,
                                      1.0 / 3.0,
                                      2.0 / 3.0 * 1e-7,
                                      123456789.123456789,
                                      5e-324,
                                      1.7976931348623157e308,
                                      -0.0,
                                      std::nextafter(1.0, 2.0),
                                      std::nextafter(1e-4, 0.0),
                                      std::nextafter(1e16, 0.0),
                                      -9.87654321e-5};
  v1::StudySpec spec;
  spec.add_objectives()->set_name("f");
  spec.add_parameters()->set_name("n");
  v1::GetParetoFrontResponse front;
  for (size_t k = 0; k < values.size(); ++k) {
    v1::Trial trial;
    trial.set_number(static_cast<uint32_t>(k));
    (*trial.mutable_metrics())["f"] = values[k];
    (*trial.mutable_params())["n"].set_int_value(int64_t{9007199254740993});  // 2^53 + 1: not a double
    *front.add_trials() = trial;
  }
  const std::vector<std::string> lines = Lines(FormatCsv(front, spec));
  ASSERT_EQ(lines.size(), values.size() + 1);
  EXPECT_EQ(lines[1], "0,0.30000000000000004,9007199254740993");
  for (size_t k = 0; k < values.size(); ++k) {
    const std::string& line = lines[k + 1];
    const size_t first = line.find(','), second = line.rfind(',');
    const std::string field = line.substr(first + 1, second - first - 1);
    const double parsed = std::strtod(field.c_str(), nullptr);
    EXPECT_EQ(std::memcmp(&parsed, &values[k], sizeof(double)), 0) << field;
    EXPECT_LE(field.size(), 24u) << field;
    EXPECT_EQ(line.substr(second + 1), "9007199254740993");
  }
}

TEST(FormatCsvTest, NumbersReadLikePythonRepr) {
  v1::StudySpec spec;
  spec.add_objectives()->set_name("f");
  const std::vector<std::pair<double, std::string>> cases = {
      {0.0003, "0.0003"},
      {1e-4, "0.0001"},
      {1e-5, "1e-05"},
      {-2.5e-7, "-2.5e-07"},
      {0.0, "0"},
      {-0.0, "-0"},
      {1.0, "1"},
      {-42.0, "-42"},
      {123.5, "123.5"},
      {123456789.123456789, "123456789.12345679"},
      {1e15, "1000000000000000"},
      {1e16, "1e+16"},
      {1.5e300, "1.5e+300"},
      {std::numeric_limits<double>::infinity(), "inf"},
      {-std::numeric_limits<double>::infinity(), "-inf"},
      {std::numeric_limits<double>::quiet_NaN(), "nan"},
  };
  for (const auto& [value, text] : cases) {
    v1::GetParetoFrontResponse front;
    v1::Trial* trial = front.add_trials();
    (*trial->mutable_metrics())["f"] = value;
    EXPECT_EQ(FormatCsv(front, spec), "trial,f\n0," + text + "\n");
  }
}

TEST(FormatCsvTest, MissingValuesAreEmptyFields) {
  v1::GetParetoFrontResponse front;
  v1::Trial trial = MakeTrial(5, 0.8, 2, 0.01, 2, "relu");
  trial.mutable_params()->erase("layers");  // an inactive conditional parameter
  trial.mutable_metrics()->erase("latency_ms");
  *front.add_trials() = trial;
  EXPECT_EQ(Lines(FormatCsv(front, MakeSpec()))[1], "5,0.8,,0.01,,relu");
}

TEST(FormatCsvTest, ParametersTheSpecLeavesOutFollowInNaturalOrder) {
  // A synthetic study whose spec lists no parameters: x1..x10 come from the trials.
  v1::StudySpec spec;
  spec.add_objectives()->set_name("f1");
  spec.add_objectives()->set_name("f2");
  spec.mutable_task()->mutable_synthetic()->set_function("zdt1");
  v1::GetParetoFrontResponse front;
  v1::Trial trial;
  trial.set_number(0);
  (*trial.mutable_metrics())["f1"] = 0.5;
  (*trial.mutable_metrics())["f2"] = 0.25;
  for (int k = 1; k <= 10; ++k) {
    std::string name = "x";
    name += std::to_string(k);
    (*trial.mutable_params())[name].set_double_value(k / 10.0);
  }
  *front.add_trials() = trial;
  EXPECT_EQ(FormatCsv(front, spec),
            "trial,f1,f2,x1,x2,x3,x4,x5,x6,x7,x8,x9,x10\n"
            "0,0.5,0.25,0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9,1\n");
}

TEST(FormatCsvTest, ObjectivesFallBackToTheResponse) {
  v1::StudySpec spec;  // e.g. a spec with no objectives listed
  v1::GetParetoFrontResponse front = MakeFront();
  const std::string header = Lines(FormatCsv(front, spec))[0];
  EXPECT_EQ(header, "trial,accuracy,latency_ms,activation,layers,lr");
}

// ---- JSON ----

TEST(FormatJsonTest, ParsesBackWithTheValues) {
  const std::string json = FormatJson(MakeFront(), MakeSpec());
  const google::protobuf::ListValue list = ParseJsonList(json);
  ASSERT_EQ(list.values_size(), 2);
  const auto& first = list.values(0).struct_value().fields();
  EXPECT_EQ(first.at("trial").number_value(), 3);
  const auto& objectives = first.at("objectives").struct_value().fields();
  EXPECT_EQ(objectives.size(), 2u);
  EXPECT_EQ(objectives.at("accuracy").number_value(), 0.91);
  EXPECT_EQ(objectives.at("latency_ms").number_value(), 1.25);
  const auto& params = first.at("params").struct_value().fields();
  EXPECT_EQ(params.size(), 3u);
  EXPECT_EQ(params.at("lr").number_value(), 0.001);
  EXPECT_EQ(params.at("layers").number_value(), 2);
  EXPECT_EQ(params.at("activation").string_value(), "relu");
  const auto& second = list.values(1).struct_value().fields();
  EXPECT_EQ(second.at("trial").number_value(), 7);
  EXPECT_EQ(second.at("params").struct_value().fields().at("activation").string_value(), "gelu, tanh");
  EXPECT_EQ(second.at("objectives").struct_value().fields().at("accuracy").number_value(), 0.875);
}

TEST(FormatJsonTest, KeysAreInColumnOrder) {
  const std::string json = FormatJson(MakeFront(), MakeSpec());
  const std::string first_line = Lines(json)[1];
  EXPECT_EQ(first_line,
            "  {\"trial\": 3, \"objectives\": {\"accuracy\": 0.91, \"latency_ms\": 1.25}, "
            "\"params\": {\"lr\": 0.001, \"layers\": 2, \"activation\": \"relu\"}},");
}

TEST(FormatJsonTest, EscapesStringsAndNullsWhatIsMissingOrNotFinite) {
  const std::string nasty = "quote\" backslash\\ newline\n tab\t bell\x01 caf\xc3\xa9";
  v1::GetParetoFrontResponse front;
  v1::Trial trial = MakeTrial(1, std::numeric_limits<double>::quiet_NaN(), 1, 0.01, 2, nasty);
  trial.mutable_params()->erase("layers");
  *front.add_trials() = trial;
  const google::protobuf::ListValue list = ParseJsonList(FormatJson(front, MakeSpec()));
  ASSERT_EQ(list.values_size(), 1);
  const auto& fields = list.values(0).struct_value().fields();
  const auto& params = fields.at("params").struct_value().fields();
  EXPECT_EQ(params.at("activation").string_value(), nasty);
  EXPECT_TRUE(params.at("layers").has_null_value());
  EXPECT_TRUE(fields.at("objectives").struct_value().fields().at("accuracy").has_null_value());
}

TEST(FormatJsonTest, EmptyFrontIsAnEmptyArray) {
  const std::string json = FormatJson(v1::GetParetoFrontResponse(), MakeSpec());
  EXPECT_EQ(json, "[]\n");
  EXPECT_EQ(ParseJsonList(json).values_size(), 0);
}

// ---- tables ----

TEST(FormatTableTest, AlignedColumnsOneLinePerTrialPlusHeader) {
  // Metrics that are not objectives (train_loss) follow the parameters.
  EXPECT_EQ(FormatTable(MakeFront(), MakeSpec()),
            "trial  accuracy  latency_ms      lr  layers  activation  train_loss\n"
            "    3      0.91        1.25   0.001       2  relu              0.25\n"
            "    7     0.875         0.5  0.0003       1  gelu, tanh        0.25\n");
}

TEST(FormatTableTest, FourSignificantDigitsAndDashForMissing) {
  v1::GetParetoFrontResponse front;
  v1::Trial trial = MakeTrial(12, 0.912345678, 1234.5678, 0.000123456, 2, "relu");
  trial.mutable_params()->erase("activation");
  *front.add_trials() = trial;
  const std::vector<std::string> lines = Lines(FormatTable(front, MakeSpec()));
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(Words(lines[1]),
            (std::vector<std::string>{"12", "0.9123", "1235", "0.0001235", "2", "-", "0.25"}));
}

TEST(FormatTableTest, WholeNumbersPrintWhole) {
  v1::GetParetoFrontResponse front;
  *front.add_trials() = MakeTrial(1, 0.5, 203530.0, 0.001, 2, "relu");
  const std::vector<std::string> lines = Lines(FormatTable(front, MakeSpec()));
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(Words(lines[1])[2], "203530");  // not 2.035e+05
}

TEST(FormatTableTest, EmptyFrontIsTheHeaderAlone) {
  EXPECT_EQ(FormatTable(v1::GetParetoFrontResponse(), MakeSpec()),
            "trial  accuracy  latency_ms  lr  layers  activation\n");
}

TEST(FormatParetoFrontTest, DispatchesOnTheFormat) {
  const auto front = MakeFront();
  const auto spec = MakeSpec();
  EXPECT_EQ(FormatParetoFront(front, spec, OutputFormat::kCsv), FormatCsv(front, spec));
  EXPECT_EQ(FormatParetoFront(front, spec, OutputFormat::kJson), FormatJson(front, spec));
  EXPECT_EQ(FormatParetoFront(front, spec, OutputFormat::kTable), FormatTable(front, spec));
}

TEST(ParseOutputFormatTest, KnowsThreeNames) {
  EXPECT_EQ(*ParseOutputFormat("table"), OutputFormat::kTable);
  EXPECT_EQ(*ParseOutputFormat("csv"), OutputFormat::kCsv);
  EXPECT_EQ(*ParseOutputFormat("json"), OutputFormat::kJson);
  auto bad = ParseOutputFormat("xml");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
}

TEST(FormatTrialsTableTest, StateAttemptObjectivesParamsAndAFlattenedError) {
  v1::ListTrialsResponse trials;
  *trials.add_trials() = MakeTrial(0, 0.9, 1.5, 0.01, 2, "relu");
  v1::Trial failed;
  failed.set_number(1);
  failed.set_state(v1::TRIAL_FAILED);
  failed.set_attempt(3);
  (*failed.mutable_params())["lr"].set_double_value(0.05);
  failed.set_error("hpo-train exited with status 137\nstderr:\n" + std::string(200, 'x'));
  *trials.add_trials() = failed;
  v1::Trial running;
  running.set_number(2);
  running.set_state(v1::TRIAL_RUNNING);
  running.set_attempt(1);
  running.mutable_progress()->set_step(7);
  *trials.add_trials() = running;

  const std::vector<std::string> lines = Lines(FormatTrialsTable(trials, MakeSpec()));
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(Words(lines[0]), (std::vector<std::string>{"trial", "state", "attempt", "step", "accuracy",
                                                       "latency_ms", "lr", "layers", "activation", "error"}));
  EXPECT_EQ(Words(lines[1]),
            (std::vector<std::string>{"0", "completed", "1", "-", "0.9", "1.5", "0.01", "2", "relu"}));
  EXPECT_EQ(Words(lines[3]), (std::vector<std::string>{"2", "running", "1", "7", "-", "-", "-", "-", "-"}));
  const std::vector<std::string> failed_words = Words(lines[2]);
  ASSERT_GE(failed_words.size(), 10u);
  EXPECT_EQ(std::vector<std::string>(failed_words.begin(), failed_words.begin() + 10),
            (std::vector<std::string>{"1", "failed", "3", "-", "-", "-", "0.05", "-", "-", "hpo-train"}));
  const size_t error_at = lines[2].find("hpo-train exited with status 137 stderr: xxx");
  ASSERT_NE(error_at, std::string::npos) << lines[2];
  const std::string error = lines[2].substr(error_at);
  EXPECT_EQ(error.size(), 80u);
  EXPECT_EQ(error.substr(77), "...");
}

TEST(FormatTrialsTableTest, APrunedTrialShowsItsLastStepMetricsAndReason) {
  v1::ListTrialsResponse trials;
  v1::Trial pruned = MakeTrial(4, 0.5, 0.25, 0.01, 2, "relu");
  pruned.set_state(v1::TRIAL_PRUNED);
  pruned.mutable_progress()->set_step(3);
  pruned.set_error("pruned at step 3: asha: below the best 1/3 at rung 0");
  *trials.add_trials() = pruned;
  const std::vector<std::string> lines = Lines(FormatTrialsTable(trials, MakeSpec()));
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(Words(lines[1]),
            (std::vector<std::string>{
                "4",    "pruned", "1",     "3",     "0.5", "0.25", "0.01", "2",  "relu", "pruned", "at",
                "step", "3:",     "asha:", "below", "the", "best", "1/3",  "at", "rung", "0"}));
}

// Three trials: completed (with the non-objective metric train_loss), failed with a two-line error, running.
v1::ListTrialsResponse MakeTrialList() {
  v1::ListTrialsResponse trials;
  v1::Trial completed = MakeTrial(0, 0.9, 1.5, 0.01, 2, "relu");
  completed.set_id(21);
  completed.set_device("cpu: Xeon, \"2\" threads");
  completed.set_worker_id(4);
  completed.set_started_ms(1'700'000'000'000);
  completed.set_finished_ms(1'700'000'001'500);
  *trials.add_trials() = completed;
  v1::Trial failed;
  failed.set_id(22);
  failed.set_number(1);
  failed.set_state(v1::TRIAL_FAILED);
  failed.set_attempt(3);
  (*failed.mutable_params())["lr"].set_double_value(0.05);
  failed.set_error("exit status 1\nout of memory");
  *trials.add_trials() = failed;
  v1::Trial running;
  running.set_id(23);
  running.set_number(2);
  running.set_state(v1::TRIAL_RUNNING);
  running.set_attempt(1);
  running.mutable_progress()->set_step(3);
  (*running.mutable_progress()->mutable_metrics())["val_loss"] = 0.5;
  (*running.mutable_progress()->mutable_metrics())["loss"] = 0.75;
  *trials.add_trials() = running;
  return trials;
}

TEST(FormatTrialsCsvTest, EveryFieldOfEveryTrial) {
  EXPECT_EQ(
      FormatTrialsCsv(MakeTrialList(), MakeSpec()),
      "trial,id,state,attempt,step,accuracy,latency_ms,lr,layers,activation,train_loss,device,worker_id,"
      "started_ms,finished_ms,error\n"
      "0,21,completed,1,,0.9,1.5,0.01,2,relu,0.25,\"cpu: Xeon, \"\"2\"\" threads\",4,1700000000000,"
      "1700000001500,\n"
      "1,22,failed,3,,,,0.05,,,,,,,,\"exit status 1\nout of memory\"\n"
      "2,23,running,1,3,,,,,,,,,,,\n");
}

// A trial list whose text a hostile trial or worker chose: a metric name that clears the screen, a device
// that retitles the terminal, an error that returns the carriage to overwrite its line, and a value and a
// study name with a right-to-left override (U+202E).
constexpr char kRlo[] = "\xe2\x80\xae";

v1::ListTrialsResponse MakeHostileTrialList() {
  v1::ListTrialsResponse trials;
  v1::Trial trial = MakeTrial(0, 0.9, 1.5, 0.01, 2, std::string("ul") + kRlo + "er");
  trial.set_id(21);
  (*trial.mutable_metrics())["acc\x1b[2J"] = 1;
  trial.set_device("cpu\x1b]0;owned\x07");
  trial.set_error("ok\r\x1b[1Afake, \"done\"\nsecond line");
  *trials.add_trials() = trial;
  return trials;
}

// True when every line of `out` prints as it reads: no control character but the line ends, no
// bidirectional control, nothing that is not UTF-8.
::testing::AssertionResult PrintsAsItReads(const std::string& out) {
  for (const std::string& line : Lines(out)) {
    if (const std::string problem = DisplayTextProblem(line); !problem.empty()) {
      return ::testing::AssertionFailure() << "line " << problem << ": " << EscapeForTerminal(line);
    }
  }
  return ::testing::AssertionSuccess();
}

TEST(FormatTrialsCsvTest, ControlAndBidirectionalCharactersAreEscapedAndFieldsQuoted) {
  const std::string csv = FormatTrialsCsv(MakeHostileTrialList(), MakeSpec());
  EXPECT_TRUE(PrintsAsItReads(csv));
  const std::vector<std::string> expected = {
      "trial,id,state,attempt,step,accuracy,latency_ms,lr,layers,activation,acc\\x1b[2J,train_loss,device,"
      "worker_id,started_ms,finished_ms,error",
      // The line break of the error stays inside its quotes (RFC 4180); the carriage return does not.
      "0,21,completed,1,,0.9,1.5,0.01,2,ul\\u202eer,1,0.25,cpu\\x1b]0;owned\\x07,,,,\"ok\\r\\x1b[1Afake, "
      "\"\"done\"\"",
      "second line\"",
  };
  EXPECT_EQ(Lines(csv), expected);
  v1::GetParetoFrontResponse front;
  *front.add_trials() = MakeHostileTrialList().trials(0);
  EXPECT_TRUE(PrintsAsItReads(FormatCsv(front, MakeSpec())));
  EXPECT_EQ(Lines(FormatCsv(front, MakeSpec()))[1], "0,0.9,1.5,0.01,2,ul\\u202eer");
  // A field with a blank at either end is quoted, so that a reader that trims keeps it.
  EXPECT_EQ(Lines(FormatCsv(
                [] {
                  v1::GetParetoFrontResponse f;
                  *f.add_trials() = MakeTrial(1, 0.5, 1, 0.01, 3, " relu");
                  return f;
                }(),
                MakeSpec()))[1],
            "1,0.5,1,0.01,3,\" relu\"");
}

TEST(FormatTrialsTableTest, ControlAndBidirectionalCharactersAreEscaped) {
  const std::string table = FormatTrialsTable(MakeHostileTrialList(), MakeSpec());
  EXPECT_TRUE(PrintsAsItReads(table));
  const std::vector<std::string> lines = Lines(table);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_NE(lines[1].find("ul\\u202eer"), std::string::npos) << lines[1];
  EXPECT_NE(lines[1].find("ok \\x1b[1Afake, \"done\" second line"), std::string::npos) << lines[1];
  v1::GetParetoFrontResponse front;
  *front.add_trials() = MakeHostileTrialList().trials(0);
  const std::string front_table = FormatTable(front, MakeSpec());
  EXPECT_TRUE(PrintsAsItReads(front_table));
  EXPECT_NE(Lines(front_table)[0].find("acc\\x1b[2J"), std::string::npos) << front_table;
  // Columns stay aligned on the escaped text.
  EXPECT_EQ(Lines(front_table)[0].find("activation"), Lines(front_table)[1].find("ul\\u202eer"));
}

TEST(FormatTrialsJsonTest, ControlAndBidirectionalCharactersAreEscapedAndReadBack) {
  const v1::ListTrialsResponse trials = MakeHostileTrialList();
  const std::string json = FormatTrialsJson(trials, MakeSpec());
  EXPECT_TRUE(PrintsAsItReads(json));
  const google::protobuf::ListValue list = ParseJsonList(json);
  ASSERT_EQ(list.values_size(), 1);
  const auto& fields = list.values(0).struct_value().fields();
  EXPECT_EQ(fields.at("device").string_value(), trials.trials(0).device());
  EXPECT_EQ(fields.at("error").string_value(), trials.trials(0).error());
  EXPECT_EQ(fields.at("params").struct_value().fields().at("activation").string_value(),
            std::string("ul") + kRlo + "er");
  EXPECT_EQ(fields.at("metrics").struct_value().fields().at("acc\x1b[2J").number_value(), 1);
}

TEST(FormatStudySummaryTest, NamesAreEscaped) {
  v1::Study study;
  study.set_id(1);
  study.mutable_spec()->set_name(std::string("fast") + kRlo + "wols");
  study.mutable_spec()->add_objectives()->set_name("acc\x1b[2J");
  v1::Parameter* p = study.mutable_spec()->add_parameters();
  p->set_name("act\n");
  p->mutable_categorical()->add_choices(std::string("ul") + kRlo + "er");
  (*study.mutable_spec()->mutable_worker_selector())["gpu"] = "H100\x1b[0m";
  const std::string summary = FormatStudySummary(study, nullptr);
  EXPECT_TRUE(PrintsAsItReads(summary)) << summary;
  EXPECT_NE(summary.find(" fast\\u202ewols\n"), std::string::npos) << summary;
  EXPECT_NE(summary.find("\n  act\\n "), std::string::npos) << summary;
  EXPECT_NE(summary.find(" categorical ul\\u202eer\n"), std::string::npos) << summary;
  EXPECT_NE(summary.find(" gpu=H100\\x1b[0m\n"), std::string::npos) << summary;
  v1::ListStudiesResponse studies;
  *studies.add_studies() = study;
  const std::string table = FormatStudiesTable(studies);
  EXPECT_TRUE(PrintsAsItReads(table));
  EXPECT_NE(table.find("fast\\u202ewols"), std::string::npos) << table;
}

TEST(FormatTrialsJsonTest, ParsesBackWithEveryField) {
  const std::string json = FormatTrialsJson(MakeTrialList(), MakeSpec());
  google::protobuf::Struct wrapper;
  const auto status = google::protobuf::util::JsonStringToMessage("{\"values\": " + json + "}", &wrapper);
  ASSERT_TRUE(status.ok()) << status.ToString() << "\n" << json;
  const google::protobuf::ListValue& list = wrapper.fields().at("values").list_value();
  ASSERT_EQ(list.values_size(), 3);
  const auto& first = list.values(0).struct_value().fields();
  EXPECT_EQ(first.at("trial").number_value(), 0);
  EXPECT_EQ(first.at("id").number_value(), 21);
  EXPECT_EQ(first.at("state").string_value(), "completed");
  EXPECT_EQ(first.at("attempt").number_value(), 1);
  const auto& metrics = first.at("metrics").struct_value().fields();
  EXPECT_EQ(metrics.at("accuracy").number_value(), 0.9);
  EXPECT_EQ(metrics.at("latency_ms").number_value(), 1.5);
  EXPECT_EQ(metrics.at("train_loss").number_value(), 0.25);
  const auto& params = first.at("params").struct_value().fields();
  EXPECT_EQ(params.at("lr").number_value(), 0.01);
  EXPECT_EQ(params.at("layers").number_value(), 2);
  EXPECT_EQ(params.at("activation").string_value(), "relu");
  EXPECT_EQ(first.at("device").string_value(), "cpu: Xeon, \"2\" threads");
  EXPECT_EQ(first.at("finished_ms").number_value(), 1'700'000'001'500.0);
  const auto& second = list.values(1).struct_value().fields();
  EXPECT_EQ(second.at("state").string_value(), "failed");
  EXPECT_EQ(second.at("error").string_value(), "exit status 1\nout of memory");
  EXPECT_EQ(second.at("metrics").struct_value().fields().at("accuracy").kind_case(),
            google::protobuf::Value::kNullValue);
  EXPECT_EQ(second.at("metrics").struct_value().fields().count("train_loss"), 0u);  // only what it has
  EXPECT_EQ(first.at("progress").kind_case(), google::protobuf::Value::kNullValue);
  const auto& progress = list.values(2).struct_value().fields().at("progress").struct_value().fields();
  EXPECT_EQ(progress.at("step").number_value(), 3);
  EXPECT_EQ(progress.at("metrics").struct_value().fields().at("loss").number_value(), 0.75);
  EXPECT_EQ(progress.at("metrics").struct_value().fields().at("val_loss").number_value(), 0.5);
  EXPECT_LT(json.find("\"loss\": 0.75"), json.find("\"val_loss\": 0.5"));  // by name
  EXPECT_EQ(FormatTrialsJson({}, MakeSpec()), "[]\n");
}

TEST(FormatTrialsTest, DispatchesOnTheFormat) {
  const v1::ListTrialsResponse trials = MakeTrialList();
  EXPECT_EQ(FormatTrials(trials, MakeSpec(), OutputFormat::kTable), FormatTrialsTable(trials, MakeSpec()));
  EXPECT_EQ(FormatTrials(trials, MakeSpec(), OutputFormat::kCsv), FormatTrialsCsv(trials, MakeSpec()));
  EXPECT_EQ(FormatTrials(trials, MakeSpec(), OutputFormat::kJson), FormatTrialsJson(trials, MakeSpec()));
}

TEST(ParseTrialStatesTest, KnownNamesAndAClearErrorForOthers) {
  EXPECT_EQ(*ParseTrialStates("running,completed"),
            (std::vector<v1::TrialState>{v1::TRIAL_RUNNING, v1::TRIAL_COMPLETED}));
  EXPECT_EQ(*ParseTrialStates(" failed , failed,pending,cancelled"),
            (std::vector<v1::TrialState>{v1::TRIAL_FAILED, v1::TRIAL_PENDING, v1::TRIAL_CANCELLED}));
  EXPECT_EQ(*ParseTrialStates("pruned,completed"),
            (std::vector<v1::TrialState>{v1::TRIAL_PRUNED, v1::TRIAL_COMPLETED}));
  for (const char* text : {"done", "running,", "RUNNING", ""}) {
    auto states = ParseTrialStates(text);
    ASSERT_FALSE(states.ok()) << text;
    EXPECT_EQ(states.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(states.status().message().find("--state: unknown state '"), std::string::npos);
    EXPECT_NE(
        states.status().message().find("expected pending, running, completed, pruned, failed or cancelled"),
        std::string::npos);
  }
  EXPECT_NE(ParseTrialStates("done").status().message().find("'done'"), std::string::npos);
}

TEST(FilterTrialsTest, KeepsTheNamedStatesInOrder) {
  const v1::ListTrialsResponse trials = MakeTrialList();
  EXPECT_EQ(FilterTrials(trials, {}).trials_size(), 3);
  const v1::ListTrialsResponse kept = FilterTrials(trials, {v1::TRIAL_RUNNING, v1::TRIAL_COMPLETED});
  ASSERT_EQ(kept.trials_size(), 2);
  EXPECT_EQ(kept.trials(0).number(), 0u);
  EXPECT_EQ(kept.trials(1).number(), 2u);
  EXPECT_EQ(FilterTrials(trials, {v1::TRIAL_PENDING}).trials_size(), 0);
}

TEST(FormatStudySummaryTest, OneLinePerFactAndOnePerParameter) {
  v1::Study study;
  study.set_id(3);
  *study.mutable_spec() = MakeSpec();
  study.mutable_spec()->mutable_budget()->set_max_trials(12);
  study.mutable_spec()->mutable_task()->mutable_synthetic()->set_function("zdt1");
  study.mutable_spec()->set_seed(7);
  (*study.mutable_spec()->mutable_worker_selector())["gpu"] = "H100";
  auto* condition = study.mutable_spec()->mutable_parameters(1)->mutable_condition();
  condition->set_parent("activation");
  condition->add_values("relu");
  study.set_state(v1::STUDY_COMPLETED);
  study.set_created_ms(1'700'000'000'000);
  study.set_finished_ms(1'700'000'065'000);
  study.mutable_counts()->set_completed(10);
  study.mutable_counts()->set_failed(2);
  v1::GetParetoFrontResponse front = MakeFront();
  const std::vector<std::string> lines = Lines(FormatStudySummary(study, &front));
  auto line_of = [&](const std::string& key) {
    for (const std::string& line : lines) {
      if (line.rfind(key + " ", 0) == 0) return Words(line.substr(key.size()));
    }
    return std::vector<std::string>{"(missing)"};
  };
  EXPECT_EQ(line_of("study"), (std::vector<std::string>{"3"}));
  EXPECT_EQ(line_of("name"), (std::vector<std::string>{"fmnist-quick"}));
  EXPECT_EQ(line_of("state"), (std::vector<std::string>{"completed"}));
  EXPECT_EQ(line_of("created"), (std::vector<std::string>{"2023-11-14", "22:13:20", "UTC"}));
  EXPECT_EQ(line_of("finished"), (std::vector<std::string>{"2023-11-14", "22:14:25", "UTC"}));
  EXPECT_EQ(line_of("took"), (std::vector<std::string>{"1m05s", "wall,", "0s", "compute"}));
  EXPECT_EQ(line_of("elapsed"), (std::vector<std::string>{"(missing)"}));  // an ended study took, once
  EXPECT_EQ(line_of("trials"),
            (std::vector<std::string>{"12/12", "finished:", "10", "completed,", "0", "pruned,", "2",
                                      "failed;", "0", "running,", "0", "pending,", "0", "cancelled"}));
  EXPECT_EQ(line_of("task"), (std::vector<std::string>{"{\"synthetic\":{\"function\":\"zdt1\"}}"}));
  EXPECT_EQ(line_of("algorithm"), (std::vector<std::string>{"random"}));
  EXPECT_EQ(line_of("seed"), (std::vector<std::string>{"7"}));
  EXPECT_EQ(line_of("objectives"),
            (std::vector<std::string>{"accuracy", "(maximize),", "latency_ms", "(minimize)"}));
  EXPECT_EQ(line_of("pareto front"), (std::vector<std::string>{"2", "trials"}));
  EXPECT_EQ(line_of("worker selector"), (std::vector<std::string>{"gpu=H100"}));
  EXPECT_EQ(line_of("  lr"), (std::vector<std::string>{"float", "[0.0001,", "0.1]", "log"}));
  EXPECT_EQ(line_of("  layers"),
            (std::vector<std::string>{"int", "[1,", "4]", "(when", "activation", "is", "relu)"}));
  EXPECT_EQ(line_of("  activation"), (std::vector<std::string>{"categorical", "relu,", "gelu,", "tanh"}));
  // Without a front, no line for it; without a pruner, none for that.
  for (const std::string& line : Lines(FormatStudySummary(study, nullptr))) {
    EXPECT_NE(line.rfind("pareto front", 0), 0u) << line;
    EXPECT_NE(line.rfind("pruner", 0), 0u) << line;
  }
}

TEST(FormatStudySummaryTest, PrunedTrialsAreFinishedAndThePrunerIsShown) {
  v1::Study study;
  study.set_id(4);
  *study.mutable_spec() = MakeSpec();
  study.mutable_spec()->mutable_budget()->set_max_trials(40);
  v1::AshaPruner* asha = study.mutable_spec()->mutable_pruner()->mutable_asha();
  asha->set_max_resource(9);
  asha->set_reduction_factor(3);
  study.set_state(v1::STUDY_RUNNING);
  study.mutable_counts()->set_completed(8);
  study.mutable_counts()->set_pruned(3);
  study.mutable_counts()->set_failed(1);
  study.mutable_counts()->set_running(2);
  const std::vector<std::string> lines = Lines(FormatStudySummary(study, nullptr));
  auto line_of = [&](const std::string& key) {
    for (const std::string& line : lines) {
      if (line.rfind(key + " ", 0) == 0) return Words(line.substr(key.size()));
    }
    return std::vector<std::string>{"(missing)"};
  };
  EXPECT_EQ(line_of("trials"),
            (std::vector<std::string>{"12/40", "finished:", "8", "completed,", "3", "pruned,", "1", "failed;",
                                      "2", "running,", "0", "pending,", "0", "cancelled"}));
  EXPECT_EQ(line_of("pruner"),
            (std::vector<std::string>{"{\"asha\":{\"reduction_factor\":3,\"max_resource\":9}}"}));
}

TEST(FormatStudiesTableTest, OneLinePerStudy) {
  v1::ListStudiesResponse studies;
  v1::Study* first = studies.add_studies();
  first->set_id(3);
  first->mutable_spec()->set_name("fmnist-quick");
  first->mutable_spec()->mutable_budget()->set_max_trials(12);
  first->set_state(v1::STUDY_RUNNING);
  first->mutable_counts()->set_completed(4);
  first->mutable_counts()->set_pruned(3);
  first->mutable_counts()->set_failed(1);
  first->mutable_counts()->set_running(2);
  first->mutable_counts()->set_pending(1);
  v1::Study* second = studies.add_studies();
  second->set_id(12);
  second->mutable_spec()->mutable_budget()->set_max_trials(100);
  second->set_state(v1::STUDY_COMPLETED);
  second->mutable_counts()->set_completed(100);

  const std::vector<std::string> lines = Lines(FormatStudiesTable(studies));
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(Words(lines[0]), (std::vector<std::string>{"id", "name", "state", "completed", "pruned", "failed",
                                                       "running", "pending", "max_trials"}));
  EXPECT_EQ(Words(lines[1]),
            (std::vector<std::string>{"3", "fmnist-quick", "running", "4", "3", "1", "2", "1", "12"}));
  EXPECT_EQ(Words(lines[2]),
            (std::vector<std::string>{"12", "-", "completed", "100", "0", "0", "0", "0", "100"}));
  EXPECT_EQ(lines[1].size(), lines[2].size());  // right-aligned numbers end in the same column
}

TEST(StateNameTest, NamesEveryState) {
  EXPECT_EQ(StudyStateName(v1::STUDY_RUNNING), "running");
  EXPECT_EQ(StudyStateName(v1::STUDY_COMPLETED), "completed");
  EXPECT_EQ(StudyStateName(v1::STUDY_FAILED), "failed");
  EXPECT_EQ(StudyStateName(v1::STUDY_CANCELLED), "cancelled");
  EXPECT_EQ(TrialStateName(v1::TRIAL_PENDING), "pending");
  EXPECT_EQ(TrialStateName(v1::TRIAL_CANCELLED), "cancelled");
  EXPECT_EQ(TrialStateName(v1::TRIAL_PRUNED), "pruned");
  EXPECT_EQ(TrialStateName(v1::TRIAL_STATE_UNSPECIFIED), "unknown");
}

}  // namespace
}  // namespace hpo::client
