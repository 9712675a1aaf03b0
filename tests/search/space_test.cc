#include "search/space.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "base/rng.h"

namespace hpo::search {
namespace {

constexpr double kNan = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

ParamSpec Float(std::string name, double low, double high, bool log = false, double step = 0) {
  return {.name = std::move(name),
          .kind = ParamKind::kFloat,
          .low = low,
          .high = high,
          .log = log,
          .step = step,
          .choices = {}};
}
ParamSpec Int(std::string name, double low, double high, bool log = false, double step = 0) {
  return {.name = std::move(name),
          .kind = ParamKind::kInt,
          .low = low,
          .high = high,
          .log = log,
          .step = step,
          .choices = {}};
}
ParamSpec Cat(std::string name, std::vector<std::string> choices) {
  return {.name = std::move(name), .kind = ParamKind::kCategorical, .choices = std::move(choices)};
}

// p, present only when the categorical `parent` takes one of `values`.
ParamSpec Under(ParamSpec p, std::string parent, std::vector<std::string> values) {
  p.parent = std::move(parent);
  p.parent_values = std::move(values);
  return p;
}

SearchSpace Space(std::vector<ParamSpec> params) {
  Result<SearchSpace> space = SearchSpace::Create(std::move(params));
  EXPECT_TRUE(space.ok()) << space.status().ToString();
  return std::move(space).value();
}

Value Decode1(const SearchSpace& space, double x) { return space.Decode(std::vector<double>{x})[0]; }

// One space with every kind of parameter.
SearchSpace EveryKind() {
  return Space({Float("lr", 1e-4, 1e-1, /*log=*/true), Float("dropout", 0.0, 0.5),
                Float("momentum", 0.1, 0.9), Float("wd", 0.0, 1.0, false, 0.3),
                Float("frac", 0.0, 0.3, false, 0.1), Int("layers", 1, 8), Int("width", 16, 100, false, 16),
                Int("batch", 1, 4096, /*log=*/true), Int("neg", -5, 5), Cat("act", {"relu", "gelu", "tanh"}),
                Float("point", 2.5, 2.5), Int("one", 7, 7), Cat("only", {"x"}), Float("big", -1e6, 1e6),
                Int("huge", -0x1p40, 0x1p40)});
}

TEST(SpaceTest, RoundTripsEveryKindOnRandomPoints) {
  const SearchSpace space = EveryKind();
  Rng rng(42);
  for (int trial = 0; trial < 5000; ++trial) {
    std::vector<double> x(space.dims());
    for (double& gene : x) gene = rng.Uniform01();
    if (trial % 10 == 0) x[trial / 10 % x.size()] = trial % 20 == 0 ? 0.0 : 1.0;
    const std::vector<Value> values = space.Decode(x);
    Result<std::vector<double>> encoded = space.Encode(values);
    ASSERT_TRUE(encoded.ok()) << encoded.status().ToString();
    for (double gene : *encoded) {
      ASSERT_GE(gene, 0.0);
      ASSERT_LE(gene, 1.0);
    }
    ASSERT_EQ(space.Decode(*encoded), values) << "trial " << trial;
  }
}

TEST(SpaceTest, EveryGridValueRoundTripsAndSitsAtItsBinCentre) {
  const SearchSpace space = Space({Int("n", -3, 4), Int("w", 16, 100, false, 16), Cat("c", {"a", "b", "c"})});
  for (int64_t v = -3; v <= 4; ++v) {
    Result<std::vector<double>> x = space.Encode({v, int64_t{16}, std::string("b")});
    ASSERT_TRUE(x.ok()) << x.status().ToString();
    EXPECT_DOUBLE_EQ((*x)[0], (static_cast<double>(v + 3) + 0.5) / 8.0);
    EXPECT_DOUBLE_EQ((*x)[1], 0.5 / 7.0);  // 16 32 48 64 80 96 100
    EXPECT_DOUBLE_EQ((*x)[2], 0.5);
    EXPECT_EQ(std::get<int64_t>(space.Decode(*x)[0]), v);
  }
}

TEST(SpaceTest, BoundsAreExact) {
  const SearchSpace space = EveryKind();
  const std::vector<Value> low = space.Decode(std::vector<double>(space.dims(), 0.0));
  const std::vector<Value> high = space.Decode(std::vector<double>(space.dims(), 1.0));
  for (size_t i = 0; i < space.dims(); ++i) {
    const ParamSpec& p = space.params()[i];
    SCOPED_TRACE(p.name);
    switch (p.kind) {
      case ParamKind::kFloat:
        EXPECT_EQ(std::get<double>(low[i]), p.low);
        EXPECT_EQ(std::get<double>(high[i]), p.high);
        break;
      case ParamKind::kInt:
        EXPECT_EQ(std::get<int64_t>(low[i]), static_cast<int64_t>(p.low));
        EXPECT_EQ(std::get<int64_t>(high[i]), static_cast<int64_t>(p.high));
        break;
      case ParamKind::kCategorical:
        EXPECT_EQ(std::get<std::string>(low[i]), p.choices.front());
        EXPECT_EQ(std::get<std::string>(high[i]), p.choices.back());
        break;
    }
  }
}

TEST(SpaceTest, DecodeIsTotal) {
  const SearchSpace space = EveryKind();
  const std::vector<Value> low = space.Decode(std::vector<double>(space.dims(), 0.0));
  const std::vector<Value> high = space.Decode(std::vector<double>(space.dims(), 1.0));
  EXPECT_EQ(space.Decode(std::vector<double>(space.dims(), -3.0)), low);
  EXPECT_EQ(space.Decode(std::vector<double>(space.dims(), -kInf)), low);
  EXPECT_EQ(space.Decode(std::vector<double>(space.dims(), kNan)), low);
  EXPECT_EQ(space.Decode(std::vector<double>(space.dims(), 1.5)), high);
  EXPECT_EQ(space.Decode(std::vector<double>(space.dims(), kInf)), high);
  // Just below 1 is still the top value of every grid.
  const std::vector<Value> below = space.Decode(std::vector<double>(space.dims(), std::nextafter(1.0, 0.0)));
  for (size_t i = 0; i < space.dims(); ++i) {
    const ParamSpec& p = space.params()[i];
    if (p.kind != ParamKind::kFloat || p.step > 0) {
      EXPECT_EQ(below[i], high[i]) << p.name;
    }
  }
}

TEST(SpaceTest, LogFloatIsUniformInLogSpace) {
  const SearchSpace space = Space({Float("lr", 1e-4, 1e-1, /*log=*/true)});
  Rng rng(7);
  std::vector<double> samples;
  for (int i = 0; i < 20001; ++i) samples.push_back(std::get<double>(Decode1(space, rng.Uniform01())));
  std::nth_element(samples.begin(), samples.begin() + 10000, samples.end());
  EXPECT_NEAR(std::log10(samples[10000]), -2.5, 0.05);
  // And exactly: the middle gene is the geometric mean.
  EXPECT_NEAR(std::get<double>(Decode1(space, 0.5)), std::pow(10.0, -2.5), 1e-15);
  EXPECT_NEAR(std::get<double>(Decode1(space, 1.0 / 3.0)), 1e-3, 1e-15);
}

TEST(SpaceTest, LinearFloat) {
  const SearchSpace space = Space({Float("m", 0.1, 0.9)});
  EXPECT_DOUBLE_EQ(std::get<double>(Decode1(space, 0.5)), 0.5);
  EXPECT_DOUBLE_EQ(std::get<double>(Decode1(space, 0.25)), 0.3);
}

TEST(SpaceTest, SteppedFloatIsAGridClippedAtHigh) {
  // 0, 0.3, 0.6, 0.9 and then high = 1: five values, each a fifth of [0, 1].
  const SearchSpace space = Space({Float("wd", 0.0, 1.0, false, 0.3)});
  const double expected[] = {0.0, 0.3, 0.6, 0.9, 1.0};
  for (int k = 0; k < 5; ++k) {
    EXPECT_NEAR(std::get<double>(Decode1(space, (k + 0.5) / 5.0)), expected[k], 1e-15);
    EXPECT_NEAR(std::get<double>(Decode1(space, k / 5.0 + 1e-9)), expected[k], 1e-15);
  }
  // A grid that ends on high has no extra value: 0, 0.1, 0.2, 0.3.
  const SearchSpace exact = Space({Float("f", 0.0, 0.3, false, 0.1)});
  EXPECT_EQ(std::get<double>(Decode1(exact, 0.74)), std::get<double>(Decode1(exact, 0.51)));
  EXPECT_EQ(std::get<double>(Decode1(exact, 0.76)), 0.3);
  // Values a user types (0.3, not 0.1 * 3) encode.
  Result<std::vector<double>> x = space.Encode({0.3});
  ASSERT_TRUE(x.ok()) << x.status().ToString();
  EXPECT_DOUBLE_EQ((*x)[0], 0.3);
  EXPECT_FALSE(space.Encode({0.45}).ok());
}

TEST(SpaceTest, IntSharesAreEqual) {
  const SearchSpace space = Space({Int("layers", 1, 4)});
  for (int k = 0; k < 4; ++k) {
    EXPECT_EQ(std::get<int64_t>(Decode1(space, k / 4.0)), k + 1);
    EXPECT_EQ(std::get<int64_t>(Decode1(space, (k + 1) / 4.0 - 1e-12)), k + 1);
  }
  // Int with a step that does not reach high: 16, 32, ..., 96, then 100.
  const SearchSpace width = Space({Int("w", 16, 100, false, 16)});
  EXPECT_EQ(std::get<int64_t>(Decode1(width, 0.8)), 96);
  EXPECT_EQ(std::get<int64_t>(Decode1(width, 0.9)), 100);
  EXPECT_FALSE(width.Encode({int64_t{20}}).ok());
  EXPECT_TRUE(width.Encode({int64_t{100}}).ok());
}

TEST(SpaceTest, LogIntFollowsLogWidths) {
  // On [1, 1000] with bins [k - 0.5, k + 0.5] in log space, 1 holds ln(1.5/0.5) / ln(1000.5/0.5) of [0, 1].
  const SearchSpace space = Space({Int("batch", 1, 1000, /*log=*/true)});
  const double share_of_1 = std::log(3.0) / std::log(2001.0);
  EXPECT_EQ(std::get<int64_t>(Decode1(space, share_of_1 - 1e-9)), 1);
  EXPECT_EQ(std::get<int64_t>(Decode1(space, share_of_1 + 1e-9)), 2);
  Rng rng(3);
  int small = 0;  // decoded <= 31: ln(31.5/0.5)/ln(2001) of the mass, about 0.546
  for (int i = 0; i < 20000; ++i) small += std::get<int64_t>(Decode1(space, rng.Uniform01())) <= 31;
  EXPECT_NEAR(small / 20000.0, std::log(63.0) / std::log(2001.0), 0.015);
  for (int64_t v = 1; v <= 1000; ++v) {
    Result<std::vector<double>> x = space.Encode({v});
    ASSERT_TRUE(x.ok());
    ASSERT_EQ(std::get<int64_t>(space.Decode(*x)[0]), v);
  }
}

TEST(SpaceTest, LargeIntsRoundTrip) {
  const SearchSpace space = Space({Int("lin", -0x1p40, 0x1p40), Int("log", 1, 0x1p40, /*log=*/true)});
  std::vector<int64_t> values = {1, 2, 3, int64_t{1} << 20, (int64_t{1} << 30) + 3};
  for (int64_t v = (int64_t{1} << 40) - 20000; v <= int64_t{1} << 40; ++v) values.push_back(v);
  for (int64_t v : values) {
    SCOPED_TRACE(v);
    Result<std::vector<double>> x = space.Encode({-v, v});
    ASSERT_TRUE(x.ok()) << x.status().ToString();
    const std::vector<Value> back = space.Decode(*x);
    EXPECT_EQ(std::get<int64_t>(back[0]), -v);
    EXPECT_EQ(std::get<int64_t>(back[1]), v);
  }
}

TEST(SpaceTest, EncodeRefusesBadValues) {
  const SearchSpace space =
      Space({Float("lr", 1e-4, 1e-1, true), Int("layers", 1, 8), Cat("act", {"relu", "gelu"})});
  const struct {
    std::vector<Value> values;
    const char* expected;
  } kCases[] = {
      {{0.01, int64_t{2}}, "expected 3 values, got 2"},
      {{int64_t{1}, int64_t{2}, std::string("relu")}, "parameters[0] (lr): float needs a double value"},
      {{0.5, int64_t{2}, std::string("relu")}, "parameters[0] (lr): value 0.5 outside [1e-04, 0.1]"},
      {{kNan, int64_t{2}, std::string("relu")}, "parameters[0] (lr): value nan is not finite"},
      {{0.01, 2.0, std::string("relu")}, "parameters[1] (layers): int needs an integer value"},
      {{0.01, int64_t{9}, std::string("relu")}, "parameters[1] (layers): value 9 outside [1, 8]"},
      {{0.01, int64_t{2}, int64_t{0}}, "parameters[2] (act): categorical needs a string value"},
      {{0.01, int64_t{2}, std::string("tanh")},
       "parameters[2] (act): value \"tanh\" is not one of the choices"},
  };
  for (const auto& c : kCases) {
    const Result<std::vector<double>> x = space.Encode(c.values);
    ASSERT_FALSE(x.ok()) << c.expected;
    EXPECT_EQ(x.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(x.status().message(), c.expected);
  }
}

TEST(SpaceTest, CreateRefusesBadParametersNamingThem) {
  const ParamSpec ok = Float("ok", 0, 1);
  const struct {
    ParamSpec bad;
    const char* expected;  // the whole message, after the parameter at index 1
  } kCases[] = {
      {Float("", 0, 1), "parameters[1] (): name is empty"},
      {Float("ok", 0, 1), "parameters[1] (ok): duplicate name (also parameters[0])"},
      {Float("lr", 0.1, 0.01), "parameters[1] (lr): low 0.1 > high 0.01"},
      {Int("n", 5, 2), "parameters[1] (n): low 5 > high 2"},
      {Float("f", kNan, 1), "parameters[1] (f): bounds must be finite, got low nan, high 1"},
      {Float("f", 0, kInf), "parameters[1] (f): bounds must be finite, got low 0, high inf"},
      {Float("lr", 0, 1, true), "parameters[1] (lr): log scale needs low > 0, got low 0"},
      {Float("lr", -1, 1, true), "parameters[1] (lr): log scale needs low > 0, got low -1"},
      {Float("lr", 0.1, 1, true, 0.1), "parameters[1] (lr): log scale cannot have a step, got step 0.1"},
      {Int("b", 1, 64, true, 2), "parameters[1] (b): log scale cannot have a step, got step 2"},
      {Float("f", 0, 1, false, -0.1), "parameters[1] (f): step must be finite and >= 0, got -0.1"},
      {Float("f", 0, 1, false, kNan), "parameters[1] (f): step must be finite and >= 0, got nan"},
      {Float("f", 0, 1, false, 2), "parameters[1] (f): step 2 larger than high - low 1"},
      {Int("n", 0, 3, false, 4), "parameters[1] (n): step 4 larger than high - low 3"},
      {Float("f", 0, 1, false, 1e-300),
       "parameters[1] (f): step 1e-300 too small: more than 2^52 grid points"},
      {Int("n", 0.5, 3), "parameters[1] (n): int bound 0.5 is not an integer"},
      {Int("n", 0, 3.25), "parameters[1] (n): int bound 3.25 is not an integer"},
      {Int("n", 0, 1e13), "parameters[1] (n): int bound 1e+13 outside [-2^40, 2^40]"},
      {Int("n", 0, 10, false, 1.5), "parameters[1] (n): int step 1.5 is not an integer"},
      {Cat("act", {}), "parameters[1] (act): choices are empty"},
      {Cat("act", {"relu", "gelu", "relu"}), "parameters[1] (act): duplicate choice \"relu\""},
  };
  for (const auto& c : kCases) {
    const Result<SearchSpace> space = SearchSpace::Create({ok, c.bad});
    ASSERT_FALSE(space.ok()) << c.expected;
    EXPECT_EQ(space.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(space.status().message(), c.expected);
  }
}

TEST(SpaceTest, CreateRefusesBadParentsNamingThem) {
  const ParamSpec opt = Cat("opt", {"sgd", "adamw"});
  const struct {
    std::vector<ParamSpec> params;
    const char* expected;
  } kCases[] = {
      {{opt, Under(Float("m", 0, 1), "nope", {"sgd"})},
       "parameters[1] (m): parent \"nope\" is not a parameter"},
      {{opt, Under(Float("m", 0, 1), "late", {"a"}), Cat("late", {"a", "b"})},
       "parameters[1] (m): parent \"late\" must come before it (it is parameters[2])"},
      {{opt, Under(Cat("c", {"a", "b"}), "c", {"a"})},
       "parameters[1] (c): parent \"c\" is the parameter itself"},
      {{opt, Float("lr", 0, 1), Under(Float("m", 0, 1), "lr", {"sgd"})},
       "parameters[2] (m): parent \"lr\" is not categorical"},
      {{opt, Int("n", 1, 3), Under(Float("m", 0, 1), "n", {"1"})},
       "parameters[2] (m): parent \"n\" is not categorical"},
      {{opt, Under(Float("m", 0, 1), "opt", {})}, "parameters[1] (m): parent_values are empty"},
      {{opt, Under(Float("m", 0, 1), "opt", {"sgd", "adamw", "sgd"})},
       "parameters[1] (m): duplicate parent value \"sgd\""},
      {{opt, Under(Float("m", 0, 1), "opt", {"sgd", "adam"})},
       "parameters[1] (m): parent value \"adam\" is not one of the choices of parent \"opt\""},
      {{opt, Under(Float("m", 0, 1), "", {"sgd"})},
       "parameters[1] (m): parent_values given without a parent"},
      // A parent's own problems are reported at the parent, before any child's.
      {{Cat("opt", {}), Under(Float("m", 0, 1), "opt", {"sgd"})}, "parameters[0] (opt): choices are empty"},
  };
  for (const auto& c : kCases) {
    const Result<SearchSpace> space = SearchSpace::Create(c.params);
    ASSERT_FALSE(space.ok()) << c.expected;
    EXPECT_EQ(space.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(space.status().message(), c.expected);
  }
}

// optimizer {sgd, adamw}; lr always; schedule {const, cosine} only under sgd; beta2 only under adamw;
// warmup only under schedule = cosine (so only under sgd too).
SearchSpace Chain() {
  return Space({Cat("optimizer", {"sgd", "adamw"}), Float("lr", 1e-4, 1e-1, /*log=*/true),
                Under(Cat("schedule", {"const", "cosine"}), "optimizer", {"sgd"}),
                Under(Float("beta2", 0.9, 0.999), "optimizer", {"adamw"}),
                Under(Int("warmup", 0, 100), "schedule", {"cosine"})});
}

TEST(SpaceTest, ActiveFollowsTheParentChain) {
  const SearchSpace space = Chain();
  Rng rng(11);
  int adamw = 0, sgd_const = 0, sgd_cosine = 0, adamw_cosine = 0;
  for (int trial = 0; trial < 5000; ++trial) {
    std::vector<double> x(space.dims());
    for (double& gene : x) gene = rng.Uniform01();
    const std::vector<Value> values = space.Decode(x);
    ASSERT_EQ(values.size(), space.dims());  // a value for every gene, active or not
    const bool sgd = std::get<std::string>(values[0]) == "sgd";
    const bool cosine = std::get<std::string>(values[2]) == "cosine";
    const std::vector<bool> expected = {true, true, sgd, !sgd, sgd && cosine};
    ASSERT_EQ(space.Active(values), expected) << "trial " << trial;
    adamw += !sgd;
    sgd_const += sgd && !cosine;
    sgd_cosine += sgd && cosine;
    adamw_cosine += !sgd && cosine;  // schedule inactive, so warmup is too despite "cosine"
    Result<std::vector<double>> encoded = space.Encode(values);
    ASSERT_TRUE(encoded.ok()) << encoded.status().ToString();
    ASSERT_EQ(space.Decode(*encoded), values) << "trial " << trial;
  }
  EXPECT_GT(adamw, 2000);
  EXPECT_GT(sgd_const, 1000);
  EXPECT_GT(sgd_cosine, 1000);
  EXPECT_GT(adamw_cosine, 1000);
}

TEST(SpaceTest, ActiveOnHandPickedPoints) {
  const SearchSpace space = Chain();
  // lr at its high and beta2 at its low, values that Decode produces, so the round trip is exact.
  const auto point = [](const char* optimizer, const char* schedule) {
    return std::vector<Value>{std::string(optimizer), 0.1, std::string(schedule), 0.9, int64_t{7}};
  };
  EXPECT_EQ(space.Active(point("sgd", "cosine")), (std::vector<bool>{true, true, true, false, true}));
  EXPECT_EQ(space.Active(point("sgd", "const")), (std::vector<bool>{true, true, true, false, false}));
  EXPECT_EQ(space.Active(point("adamw", "cosine")), (std::vector<bool>{true, true, false, true, false}));
  EXPECT_EQ(space.Active(point("adamw", "const")), (std::vector<bool>{true, true, false, true, false}));
  // Inactive parameters still encode, any valid value, and round-trip; invalid ones are still refused.
  for (const char* schedule : {"const", "cosine"}) {
    const std::vector<Value> values = point("adamw", schedule);
    Result<std::vector<double>> x = space.Encode(values);
    ASSERT_TRUE(x.ok()) << x.status().ToString();
    EXPECT_EQ(space.Decode(*x), values);
  }
  std::vector<Value> bad = point("adamw", "const");
  bad[4] = int64_t{101};
  EXPECT_FALSE(space.Encode(bad).ok());

  // Several parent values; no conditions at all means everything is active.
  const SearchSpace multi = Space({Cat("x", {"a", "b", "c"}), Under(Float("y", 0, 1), "x", {"c", "a"})});
  EXPECT_EQ(multi.Active({std::string("a"), 0.5}), (std::vector<bool>{true, true}));
  EXPECT_EQ(multi.Active({std::string("b"), 0.5}), (std::vector<bool>{true, false}));
  EXPECT_EQ(multi.Active({std::string("c"), 0.5}), (std::vector<bool>{true, true}));
  const SearchSpace plain = EveryKind();
  EXPECT_EQ(plain.Active(plain.Decode(std::vector<double>(plain.dims(), 0.3))),
            std::vector<bool>(plain.dims(), true));
  EXPECT_TRUE(Space({}).Active({}).empty());
}

TEST(SpaceTest, CreateAcceptsEdgeCases) {
  EXPECT_TRUE(SearchSpace::Create({}).ok());
  EXPECT_TRUE(SearchSpace::Create({Float("f", 1, 1), Int("n", 3, 3), Int("m", 3, 3, false, 1)}).ok());
  EXPECT_TRUE(SearchSpace::Create({Int("b", 1, 64, true, 1), Float("s", 0, 1, false, 1)}).ok());
  // A step equal to the span up to rounding (0.4 - 0.1 is 0.30000000000000004).
  EXPECT_TRUE(SearchSpace::Create({Float("f", 0.1, 0.4, false, 0.3), Float("g", 0.7, 1.0, false, 0.3)}).ok());
}

TEST(SpaceTest, FormatValue) {
  EXPECT_EQ(FormatValue(0.1), "0.1");
  EXPECT_EQ(FormatValue(1e-5), "1e-05");
  EXPECT_EQ(FormatValue(0.1 + 0.2), "0.30000000000000004");
  EXPECT_EQ(FormatValue(int64_t{-42}), "-42");
  EXPECT_EQ(FormatValue(std::string("relu")), "relu");
  Rng rng(9);
  for (int i = 0; i < 1000; ++i) {
    const double v = std::ldexp(rng.Uniform01(), static_cast<int>(rng.UniformInt(200)) - 100);
    EXPECT_EQ(std::stod(FormatValue(v)), v);
  }
}

}  // namespace
}  // namespace hpo::search
