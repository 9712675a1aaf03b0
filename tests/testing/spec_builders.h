// Small builders of hpo.v1 messages that tests in several folders write alike: parameter values and the
// accuracy-up / latency-down objectives most test studies use.
#ifndef HPO_TESTS_TESTING_SPEC_BUILDERS_H_
#define HPO_TESTS_TESTING_SPEC_BUILDERS_H_

#include <cstdint>
#include <string>

#include "hpo/v1/study.pb.h"

namespace hpo::testing {

inline v1::ParamValue DoubleValue(double v) {
  v1::ParamValue p;
  p.set_double_value(v);
  return p;
}
inline v1::ParamValue IntValue(int64_t v) {
  v1::ParamValue p;
  p.set_int_value(v);
  return p;
}
inline v1::ParamValue StringValue(const std::string& v) {
  v1::ParamValue p;
  p.set_string_value(v);
  return p;
}

// Appends the objectives "accuracy" (MAXIMIZE) and "latency_ms" (MINIMIZE), in that order.
inline void AddAccuracyAndLatency(v1::StudySpec* spec) {
  auto* accuracy = spec->add_objectives();
  accuracy->set_name("accuracy");
  accuracy->set_direction(v1::MAXIMIZE);
  auto* latency = spec->add_objectives();
  latency->set_name("latency_ms");
  latency->set_direction(v1::MINIMIZE);
}

}  // namespace hpo::testing

#endif  // HPO_TESTS_TESTING_SPEC_BUILDERS_H_
