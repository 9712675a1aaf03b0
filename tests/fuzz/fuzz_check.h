// HPO_FUZZ_REQUIRE: the fuzz targets' assertion. A property that does not hold is a finding: print what
// failed and abort, so that libFuzzer records the input as a crash (asserts vanish under NDEBUG; this
// does not).
#ifndef HPO_TESTS_FUZZ_FUZZ_CHECK_H_
#define HPO_TESTS_FUZZ_FUZZ_CHECK_H_

#include <cstdio>
#include <cstdlib>
#include <string>

#define HPO_FUZZ_REQUIRE(condition, what)                                                   \
  do {                                                                                      \
    if (!(condition)) {                                                                     \
      std::fprintf(stderr, "%s:%d: %s does not hold: %s\n", __FILE__, __LINE__, #condition, \
                   std::string(what).c_str());                                              \
      std::abort();                                                                         \
    }                                                                                       \
  } while (false)

#endif  // HPO_TESTS_FUZZ_FUZZ_CHECK_H_
