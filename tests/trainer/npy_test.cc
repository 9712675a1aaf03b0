// Tests trainer/npy.cc: files written by NumPy itself (the fuzz corpus) read back exactly, hand-built
// headers of every version and spelling, and a clean DATA_LOSS naming the file for every kind of damage.
#include "trainer/npy.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "tests/trainer/test_util.h"

namespace hpo::trainer {
namespace {

using testing::NpyBytes;
using testing::TempDir;
using testing::WriteFile;

const std::string kCorpus = std::string(HPO_SOURCE_DIR) + "/tests/fuzz/corpus/npy/";

std::string Floats(const std::vector<float>& values) {
  std::string out(values.size() * 4, '\0');
  std::memcpy(out.data(), values.data(), out.size());
  return out;
}

void ExpectDataLoss(const std::string& bytes, const std::string& mention) {
  const Status s = ParseNpy(bytes, "x.npy").status();
  EXPECT_EQ(s.code(), StatusCode::kDataLoss) << s.ToString();
  EXPECT_EQ(s.message().rfind("x.npy: not a readable .npy file: ", 0), 0u) << s.message();
  EXPECT_NE(s.message().find(mention), std::string::npos) << s.message();
}

TEST(NpyTest, ReadsWhatNumPyWrote) {
  auto images = ReadNpy(kCorpus + "images-u8-2x3x2.npy");
  ASSERT_TRUE(images.ok()) << images.status().ToString();
  EXPECT_EQ(images->type, NpyType::kU8);
  EXPECT_EQ(images->shape, (std::vector<int64_t>{2, 3, 2}));
  ASSERT_EQ(images->data.size(), 12u);
  for (size_t i = 0; i < 12; ++i) EXPECT_EQ(images->data[i], i);

  auto floats = ReadNpy(kCorpus + "images-f4-2x2x2x1.npy");
  ASSERT_TRUE(floats.ok()) << floats.status().ToString();
  EXPECT_EQ(floats->type, NpyType::kF32);
  EXPECT_EQ(floats->shape, (std::vector<int64_t>{2, 2, 2, 1}));
  ASSERT_EQ(floats->data.size(), 32u);
  float third = 0;
  std::memcpy(&third, floats->data.data() + 8, 4);
  EXPECT_EQ(third, 2.0f / 8);

  auto wide = ReadNpy(kCorpus + "labels-i8.npy");
  ASSERT_TRUE(wide.ok());
  EXPECT_EQ(wide->type, NpyType::kI64);
  EXPECT_EQ(wide->shape, (std::vector<int64_t>{3}));
  EXPECT_EQ(wide->data.size(), 24u);
  EXPECT_EQ(ReadNpy(kCorpus + "labels-i4.npy")->type, NpyType::kI32);

  auto v2 = ReadNpy(kCorpus + "v2-labels-u1.npy");
  ASSERT_TRUE(v2.ok()) << v2.status().ToString();
  EXPECT_EQ(v2->data, (std::vector<uint8_t>{1, 0}));

  const Status fortran = ReadNpy(kCorpus + "fortran.npy").status();
  EXPECT_EQ(fortran.code(), StatusCode::kDataLoss);
  EXPECT_NE(fortran.message().find("Fortran order is not supported"), std::string::npos) << fortran.message();
}

TEST(NpyTest, HeaderSpellingsAndVersions) {
  const std::string payload = Floats({1.5f, -2});
  for (const std::string dict : {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }",
                                 "{\"shape\": (2,), \"descr\": \"<f4\", \"fortran_order\": False}",
                                 "{'fortran_order':False,'shape':(2 ,),'descr':'<f4'}"}) {
    for (const int major : {1, 2, 3}) {
      auto array = ParseNpy(NpyBytes(dict, payload, major), "x.npy");
      ASSERT_TRUE(array.ok()) << dict << " " << array.status().ToString();
      EXPECT_EQ(array->shape, (std::vector<int64_t>{2}));
      EXPECT_EQ(array->count(), 2);
    }
  }
  auto scalar =
      ParseNpy(NpyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (), }", Floats({3})), "x.npy");
  ASSERT_TRUE(scalar.ok());
  EXPECT_TRUE(scalar->shape.empty());
  EXPECT_EQ(scalar->count(), 1);
  auto empty =
      ParseNpy(NpyBytes("{'descr': '|u1', 'fortran_order': False, 'shape': (0, 28), }", ""), "x.npy");
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->count(), 0);
}

TEST(NpyTest, EveryKindOfDamageIsDataLossNamingTheFile) {
  const std::string good = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }";
  const std::string payload = Floats({1, 2});
  ASSERT_TRUE(ParseNpy(NpyBytes(good, payload), "x.npy").ok());
  ExpectDataLoss("", "no NumPy magic");
  ExpectDataLoss("\x93NUMPZ\x01\x00\x00\x00", "no NumPy magic");
  std::string version4 = NpyBytes(good, payload);
  version4[6] = '\x04';
  ExpectDataLoss(version4, "version 4.0 is not 1.0, 2.0 or 3.0");
  ExpectDataLoss(NpyBytes(good, payload).substr(0, 40), "truncated header");
  ExpectDataLoss(NpyBytes(good, payload.substr(0, 7)),
                 "the header says 8 bytes of elements, the file holds 7 bytes");
  ExpectDataLoss(NpyBytes(good, payload + "x"), "the file holds 9 bytes");
  ExpectDataLoss(NpyBytes("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }", payload),
                 "element type '<f8' is not one of |u1 <i4 <i8 <f4");
  ExpectDataLoss(NpyBytes("{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", payload),
                 "element type '>f4'");
  ExpectDataLoss(NpyBytes("{'descr': '<f4', 'fortran_order': True, 'shape': (2,), }", payload),
                 "Fortran order is not supported");
  ExpectDataLoss(NpyBytes("{'descr': '<f4', 'shape': (2,), }", payload), "lacks");
  ExpectDataLoss(NpyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': [2], }", payload),
                 "'shape' is not a tuple");
  ExpectDataLoss(NpyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (-2,), }", payload),
                 "whole numbers");
  ExpectDataLoss(NpyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}", payload),
                 "unknown header key 'x'");
  ExpectDataLoss(NpyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (65536, 65536, 2), }", payload),
                 "more than 4294967296 elements");
  ExpectDataLoss(
      NpyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1,1), }", payload),
      "too many dimensions");
  // A header length past the limit is refused before anything else is read.
  std::string huge = NpyBytes(good, payload, 2);
  huge[10] = '\x01';  // 2^16 + the real length
  ExpectDataLoss(huge, "a header of");
  // Every truncation of a good file is refused, never read short.
  const std::string bytes = NpyBytes(good, payload);
  for (size_t n = 0; n < bytes.size(); ++n) {
    EXPECT_EQ(ParseNpy(bytes.substr(0, n), "x.npy").status().code(), StatusCode::kDataLoss) << n;
  }
}

TEST(NpyTest, ReadNpyChecksTheFileBeforeReadingIt) {
  TempDir dir;
  EXPECT_EQ(ReadNpy(dir.File("missing.npy")).status().code(), StatusCode::kNotFound);
  EXPECT_NE(ReadNpy(dir.File("missing.npy")).status().message().find("missing.npy"), std::string::npos);
  const std::string dict = "{'descr': '|u1', 'fortran_order': False, 'shape': (3, 2), }";
  const std::string bytes = NpyBytes(dict, "abcdef");
  ASSERT_TRUE(WriteFile(dir.File("ok.npy"), std::vector<uint8_t>(bytes.begin(), bytes.end())));
  auto ok = ReadNpy(dir.File("ok.npy"));
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(std::string(ok->data.begin(), ok->data.end()), "abcdef");
  // A header claiming 4 GiB of elements over a file of a few bytes: refused by size, nothing allocated.
  const std::string claims =
      NpyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (1073741824,), }", "ab");
  ASSERT_TRUE(WriteFile(dir.File("claims.npy"), std::vector<uint8_t>(claims.begin(), claims.end())));
  const Status s = ReadNpy(dir.File("claims.npy")).status();
  EXPECT_EQ(s.code(), StatusCode::kDataLoss);
  EXPECT_NE(s.message().find("the header says 4294967296 bytes of elements, the file holds 2 bytes"),
            std::string::npos)
      << s.message();
}

}  // namespace
}  // namespace hpo::trainer
