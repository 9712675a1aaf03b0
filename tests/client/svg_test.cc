#include "client/svg.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <regex>
#include <string>
#include <vector>

#include "tests/testing/spec_builders.h"

namespace hpo::client {
namespace {

v1::StudySpec MakeSpec() {
  v1::StudySpec spec;
  testing::AddAccuracyAndLatency(&spec);
  auto* lr = spec.add_parameters();
  lr->set_name("lr");
  lr->mutable_float_()->set_low(1e-4);
  lr->mutable_float_()->set_high(0.1);
  auto* activation = spec.add_parameters();
  activation->set_name("activation");
  activation->mutable_categorical()->add_choices("relu");
  activation->mutable_categorical()->add_choices("<gelu>");
  return spec;
}

v1::Trial MakeTrial(uint32_t number, double accuracy, double latency_ms) {
  v1::Trial trial;
  trial.set_id(100 + number);
  trial.set_number(number);
  trial.set_state(v1::TRIAL_COMPLETED);
  (*trial.mutable_metrics())["accuracy"] = accuracy;
  (*trial.mutable_metrics())["latency_ms"] = latency_ms;
  (*trial.mutable_params())["lr"].set_double_value(0.001 * (number + 1));
  (*trial.mutable_params())["activation"].set_string_value(number % 2 == 0 ? "relu" : "<gelu>");
  return trial;
}

// The front of ComputeFrontTest: 3, 0, 1 on the front; 2 and 4 dominated.
std::vector<v1::Trial> MakeTrials() {
  return {MakeTrial(0, 0.90, 1.0), MakeTrial(1, 0.85, 0.5), MakeTrial(2, 0.80, 0.7), MakeTrial(3, 0.95, 3.0),
          MakeTrial(4, 0.95, 3.5)};
}

struct Circle {
  std::string kind;
  uint32_t trial;
  double x, y, cx, cy;
};

std::vector<Circle> Circles(const std::string& svg) {
  static const std::regex kCircle(
      "<circle class=\"(\\w+)\" data-trial=\"(\\d+)\" data-x=\"([^\"]+)\" data-y=\"([^\"]+)\" "
      "cx=\"([^\"]+)\" "
      "cy=\"([^\"]+)\"");
  std::vector<Circle> circles;
  for (auto it = std::sregex_iterator(svg.begin(), svg.end(), kCircle); it != std::sregex_iterator(); ++it) {
    const std::smatch& m = *it;
    circles.push_back({m[1], static_cast<uint32_t>(std::stoul(m[2])), std::stod(m[3]), std::stod(m[4]),
                       std::stod(m[5]), std::stod(m[6])});
  }
  return circles;
}

std::vector<uint32_t> TrialsOfKind(const std::vector<Circle>& circles, const std::string& kind) {
  std::vector<uint32_t> numbers;
  for (const Circle& c : circles) {
    if (c.kind == kind) numbers.push_back(c.trial);
  }
  std::sort(numbers.begin(), numbers.end());
  return numbers;
}

size_t Count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

TEST(FormatParetoSvgTest, EveryCompletedTrialOnceTheFrontHighlighted) {
  const v1::StudySpec spec = MakeSpec();
  const LocalFront front = ComputeFront(MakeTrials(), SpecObjectives(spec), {});
  SvgOptions options;
  options.title = "study 3 fmnist: Pareto front";
  const std::string svg = FormatParetoSvg(front, spec, options);
  EXPECT_EQ(
      svg.rfind("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\"", 0),
      0u);
  EXPECT_EQ(svg.substr(svg.size() - 7), "</svg>\n");
  EXPECT_EQ(Count(svg, "<circle class="), Count(svg, "</circle>"));
  EXPECT_EQ(svg.find("<script"), std::string::npos);  // no scripts
  EXPECT_EQ(svg.find("href"), std::string::npos);     // no external references

  const std::vector<Circle> circles = Circles(svg);
  ASSERT_EQ(circles.size(), 5u) << svg;
  EXPECT_EQ(TrialsOfKind(circles, "front"), (std::vector<uint32_t>{0, 1, 3}));
  EXPECT_EQ(TrialsOfKind(circles, "trial"), (std::vector<uint32_t>{2, 4}));
  EXPECT_TRUE(TrialsOfKind(circles, "infeasible").empty());

  // x is accuracy and y latency, as reported; inside the plot area; the mapping keeps the order of
  // values (x grows rightwards, y upwards).
  const std::map<uint32_t, std::pair<double, double>> values = {
      {0, {0.90, 1.0}}, {1, {0.85, 0.5}}, {2, {0.80, 0.7}}, {3, {0.95, 3.0}}, {4, {0.95, 3.5}}};
  for (const Circle& c : circles) {
    EXPECT_EQ(c.x, values.at(c.trial).first) << c.trial;
    EXPECT_EQ(c.y, values.at(c.trial).second) << c.trial;
    EXPECT_GE(c.cx, 90.0);
    EXPECT_LE(c.cx, 800.0 - 30.0);
    EXPECT_GE(c.cy, 64.0);
    EXPECT_LE(c.cy, 560.0 - 64.0);
    for (const Circle& d : circles) {
      if (c.x < d.x) {
        EXPECT_LT(c.cx, d.cx);
      }
      if (c.y < d.y) {
        EXPECT_GT(c.cy, d.cy);
      }
    }
  }
  // The line joins the front's points in order of x.
  const std::regex kLine("<polyline class=\"front-line\"[^>]* points=\"([^\"]+)\"");
  std::smatch line;
  ASSERT_TRUE(std::regex_search(svg, line, kLine)) << svg;
  std::vector<std::pair<double, double>> joined;
  std::string points = line[1];
  const std::regex pair("([0-9.]+),([0-9.]+)");
  for (auto it = std::sregex_iterator(points.begin(), points.end(), pair); it != std::sregex_iterator();
       ++it) {
    joined.emplace_back(std::stod((*it)[1]), std::stod((*it)[2]));
  }
  ASSERT_EQ(joined.size(), 3u);
  EXPECT_TRUE(std::is_sorted(joined.begin(), joined.end()));

  EXPECT_NE(svg.find("accuracy (maximize)"), std::string::npos);
  EXPECT_NE(svg.find("latency_ms (minimize)"), std::string::npos);
  EXPECT_NE(svg.find(">study 3 fmnist: Pareto front</text>"), std::string::npos);
  EXPECT_NE(svg.find("3 on the front, 5 completed trials plotted"), std::string::npos);
}

TEST(FormatParetoSvgTest, TooltipsNameTheTrialObjectivesAndParametersEscaped) {
  const v1::StudySpec spec = MakeSpec();
  const LocalFront front = ComputeFront(MakeTrials(), SpecObjectives(spec), {});
  SvgOptions options;
  options.title = "a<b & \"c\"";
  const std::string svg = FormatParetoSvg(front, spec, options);
  EXPECT_NE(svg.find("<title>a&lt;b &amp; &quot;c&quot;</title>"), std::string::npos);
  EXPECT_NE(svg.find("<title>trial 3 (Pareto front)\naccuracy = 0.95\nlatency_ms = 3\nlr = 0.004\n"
                     "activation = &lt;gelu&gt;</title>"),
            std::string::npos)
      << svg;
  EXPECT_NE(
      svg.find("<title>trial 2\naccuracy = 0.8\nlatency_ms = 0.7\nlr = 0.003\nactivation = relu</title>"),
      std::string::npos);
  EXPECT_EQ(svg.find("<gelu>"), std::string::npos);
}

TEST(FormatParetoSvgTest, TrialsMissingAConstraintAreHollow) {
  const v1::StudySpec spec = MakeSpec();
  const LocalFront front =
      ComputeFront(MakeTrials(), SpecObjectives(spec), {*ParseConstraint("latency_ms<=2")});
  const std::string svg = FormatParetoSvg(front, spec, {});
  const std::vector<Circle> circles = Circles(svg);
  EXPECT_EQ(TrialsOfKind(circles, "front"), (std::vector<uint32_t>{0, 1}));
  EXPECT_EQ(TrialsOfKind(circles, "trial"), (std::vector<uint32_t>{2}));
  EXPECT_EQ(TrialsOfKind(circles, "infeasible"), (std::vector<uint32_t>{3, 4}));
  EXPECT_NE(svg.find("missing a constraint"), std::string::npos);
  EXPECT_NE(svg.find("fill=\"none\""), std::string::npos);
}

TEST(FormatParetoSvgTest, OneObjectiveAgainstTheTrialNumberAndThreeShowTheFirstTwo) {
  const v1::StudySpec spec = MakeSpec();
  const std::vector<v1::Objective> latency = {spec.objectives(1)};
  const std::string one = FormatParetoSvg(ComputeFront(MakeTrials(), latency, {}), spec, {});
  EXPECT_NE(one.find(">trial number</text>"), std::string::npos);
  const std::vector<Circle> circles = Circles(one);
  ASSERT_EQ(circles.size(), 5u);
  EXPECT_EQ(TrialsOfKind(circles, "front"), (std::vector<uint32_t>{1}));
  for (const Circle& c : circles) EXPECT_EQ(c.x, c.trial);

  std::vector<v1::Trial> trials = MakeTrials();
  for (v1::Trial& trial : trials) (*trial.mutable_metrics())["params"] = 1000 + trial.number();
  std::vector<v1::Objective> three = SpecObjectives(spec);
  three.push_back(three[1]);
  three[2].set_name("params");
  const std::string svg = FormatParetoSvg(ComputeFront(trials, three, {}), spec, {});
  EXPECT_NE(svg.find("showing the first 2 of 3 objectives"), std::string::npos);
}

TEST(FormatParetoSvgTest, NoTrialsIsStillADocument) {
  const v1::StudySpec spec = MakeSpec();
  const std::string svg = FormatParetoSvg(ComputeFront({}, SpecObjectives(spec), {}), spec, {});
  EXPECT_NE(svg.find("no completed trials to plot"), std::string::npos);
  EXPECT_TRUE(Circles(svg).empty());
  EXPECT_EQ(svg.find("<polyline"), std::string::npos);
  EXPECT_EQ(svg.substr(svg.size() - 7), "</svg>\n");
}

TEST(NiceTicksTest, RoundStepsInsideTheRange) {
  const std::vector<double> unit = NiceTicks(0, 1, 6);
  ASSERT_EQ(unit.size(), 6u);
  for (size_t i = 0; i < unit.size(); ++i) EXPECT_NEAR(unit[i], 0.2 * static_cast<double>(i), 1e-12);
  EXPECT_EQ(NiceTicks(-3, 7, 5), (std::vector<double>{-2, 0, 2, 4, 6}));
  const std::vector<double> ticks = NiceTicks(0.865, 0.955, 6);
  ASSERT_EQ(ticks.size(), 4u);
  EXPECT_NEAR(ticks.front(), 0.88, 1e-12);
  EXPECT_NEAR(ticks.back(), 0.94, 1e-12);
  EXPECT_EQ(NiceTicks(100, 1000, 6).front(), 200);
}

TEST(XmlEscapeTest, EscapesTheFiveAndDropsControlCharacters) {
  EXPECT_EQ(XmlEscape("a<b>&\"c\"'d'"), "a&lt;b&gt;&amp;&quot;c&quot;&apos;d&apos;");
  EXPECT_EQ(XmlEscape(std::string("x\x01y\nz", 5)), "x y\nz");
  EXPECT_EQ(XmlEscape("ünï"), "ünï");
}

}  // namespace
}  // namespace hpo::client
