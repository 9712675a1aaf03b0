#include "base/credentials.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <fstream>
#include <set>
#include <string>

#include "tests/testing/temp_dir.h"

namespace hpo {
namespace {

class CredentialsTest : public ::testing::Test {
 protected:
  std::string Write(const std::string& name, const std::string& text) {
    const std::string path = dir_.File(name);
    std::ofstream(path, std::ios::binary) << text;
    return path;
  }

  hpo::testing::TempDir dir_;
};

TEST_F(CredentialsTest, TokenFileIsTrimmed) {
  auto token = ReadTokenFile(Write("token", "  s3cret-Token_1.~\n"));
  ASSERT_TRUE(token.ok()) << token.status().ToString();
  EXPECT_EQ(*token, "s3cret-Token_1.~");
}

TEST_F(CredentialsTest, MissingEmptyOrDirectoryTokenFileIsAnErrorNamingTheFile) {
  const std::string missing = dir_.File("missing");
  auto absent = ReadTokenFile(missing);
  ASSERT_FALSE(absent.ok());
  EXPECT_EQ(absent.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(absent.status().message().find(missing), std::string::npos);
  EXPECT_NE(absent.status().message().find("cannot read"), std::string::npos);

  const std::string blank = Write("blank", " \n\t\n");
  auto empty = ReadTokenFile(blank);
  ASSERT_FALSE(empty.ok());
  EXPECT_NE(empty.status().message().find(blank), std::string::npos);
  EXPECT_NE(empty.status().message().find("empty"), std::string::npos);

  auto directory = ReadTokenFile(dir_.path());
  ASSERT_FALSE(directory.ok());
  EXPECT_NE(directory.status().message().find("cannot read"), std::string::npos);
}

TEST_F(CredentialsTest, UnreadableTokenFileIsAnError) {
  if (geteuid() == 0) GTEST_SKIP() << "root reads files whatever their mode";
  const std::string path = Write("locked", "token\n");
  ASSERT_EQ(chmod(path.c_str(), 0), 0);
  auto token = ReadTokenFile(path);
  ASSERT_FALSE(token.ok());
  EXPECT_NE(token.status().message().find("Permission denied"), std::string::npos)
      << token.status().message();
}

TEST_F(CredentialsTest, TokenWithBlanksOrControlCharactersInsideIsRefused) {
  EXPECT_FALSE(ReadTokenFile(Write("two-words", "two words\n")).ok());
  EXPECT_FALSE(ReadTokenFile(Write("control", std::string("abc") + '\x01' + "def")).ok());
  EXPECT_FALSE(ReadTokenFile(Write("utf8", "caf\xc3\xa9")).ok());
  EXPECT_TRUE(ValidateToken("abc", "x").ok());
  const Status empty = ValidateToken("", "$HPO_TOKEN");
  EXPECT_EQ(empty.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(empty.message().rfind("$HPO_TOKEN", 0), 0u) << empty.message();
}

TEST_F(CredentialsTest, WeakTokensAreRefusedNamingTheRule) {
  // 16 characters with 8 different ones is the least that passes.
  EXPECT_TRUE(CheckTokenStrength("abcdefghabcdefgh", "x").ok());
  const Status short_token = CheckTokenStrength("abcdefghabcdefg", "token file t");
  EXPECT_EQ(short_token.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(
      short_token.message().rfind("token file t: the token is too weak (15 characters, 8 different)", 0), 0u)
      << short_token.message();
  EXPECT_NE(short_token.message().find("at least 16 characters with at least 8 different ones"),
            std::string::npos);
  EXPECT_NE(short_token.message().find("hpoctl token"), std::string::npos);
  EXPECT_FALSE(CheckTokenStrength(std::string(64, 'a'), "x").ok());
  EXPECT_FALSE(CheckTokenStrength("abcdefgabcdefgabcdefg", "x").ok());  // 7 different
  EXPECT_FALSE(CheckTokenStrength("", "x").ok());
}

TEST_F(CredentialsTest, NewTokensAreStrongBase64UrlAndDifferent) {
  std::set<std::string> seen;
  for (int i = 0; i < 50; ++i) {
    Result<std::string> token = NewToken();
    ASSERT_TRUE(token.ok()) << token.status().ToString();
    EXPECT_EQ(token->size(), 43u);
    for (const char c : *token)
      EXPECT_TRUE(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_');
    EXPECT_TRUE(ValidateToken(*token, "new").ok());
    EXPECT_TRUE(CheckTokenStrength(*token, "new").ok()) << *token;
    seen.insert(*token);
  }
  EXPECT_EQ(seen.size(), 50u);
}

TEST_F(CredentialsTest, TransportHintNamesTlsForTheMessagesOfAMismatch) {
  EXPECT_NE(TransportHint("failed to connect to all addresses; last error: UNAVAILABLE: ipv4:127.0.0.1:1: "
                          "Socket closed")
                .find("may require TLS: connect with --tls-ca"),
            std::string::npos);
  EXPECT_NE(TransportHint("last error: UNKNOWN: ipv4:127.0.0.1:1: Ssl handshake failed: SSL_ERROR_SSL: "
                          "error:0A00010B:SSL routines::wrong version number")
                .find("does not serve TLS"),
            std::string::npos);
  EXPECT_NE(
      TransportHint("Ssl handshake failed: SSL_ERROR_SSL: certificate verify failed").find("--tls-ca must"),
      std::string::npos);
  EXPECT_EQ(TransportHint("failed to connect to all addresses; last error: Connection refused"), "");
}

TEST_F(CredentialsTest, LoadTokenPrefersTheFileThenTheEnvironment) {
  const std::string file = Write("token", "from-file\n");
  auto from_file = LoadToken(file, "from-env");
  ASSERT_TRUE(from_file.ok());
  EXPECT_EQ(*from_file, "from-file");

  auto from_env = LoadToken("", " from-env \n");
  ASSERT_TRUE(from_env.ok());
  EXPECT_EQ(*from_env, "from-env");

  auto none = LoadToken("", nullptr);
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(*none, "");

  // A set but empty $HPO_TOKEN is a mistake, not "no token".
  auto blank_env = LoadToken("", "  ");
  ASSERT_FALSE(blank_env.ok());
  EXPECT_NE(blank_env.status().message().find("HPO_TOKEN"), std::string::npos);

  // A named file that cannot be read is an error even when the environment has a token.
  EXPECT_FALSE(LoadToken(dir_.File("missing"), "from-env").ok());
}

TEST_F(CredentialsTest, PemFileMustHoldABeginLine) {
  const std::string pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
  auto good = ReadPemFile(Write("cert.pem", pem), "TLS certificate");
  ASSERT_TRUE(good.ok());
  EXPECT_EQ(*good, pem);

  auto not_pem = ReadPemFile(Write("cert.der", "\x30\x82\x01"), "TLS certificate");
  ASSERT_FALSE(not_pem.ok());
  EXPECT_EQ(not_pem.status().message().rfind("TLS certificate ", 0), 0u);
  EXPECT_NE(not_pem.status().message().find("not a PEM file"), std::string::npos);

  auto missing = ReadPemFile(dir_.File("none.pem"), "TLS key");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("cannot read"), std::string::npos);
}

TEST(ConstantTimeEqualsTest, EqualOnlyWhenEveryByteAndTheLengthMatch) {
  EXPECT_TRUE(ConstantTimeEquals("", ""));
  EXPECT_TRUE(ConstantTimeEquals("token", "token"));
  EXPECT_FALSE(ConstantTimeEquals("token", "tokem"));
  EXPECT_FALSE(ConstantTimeEquals("token", "Token"));
  EXPECT_FALSE(ConstantTimeEquals("token", "token2"));
  EXPECT_FALSE(ConstantTimeEquals("token", "toke"));
  EXPECT_FALSE(ConstantTimeEquals("", "t"));
  // A shorter string padded with NULs is still not equal.
  EXPECT_FALSE(ConstantTimeEquals(std::string_view("ab\0", 3), "ab"));
}

}  // namespace
}  // namespace hpo
