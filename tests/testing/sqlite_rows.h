// CountRows: the number of rows of a table in an hpo database, read through a read-only connection of its
// own, for tests that check what a refused request left in the file.
#ifndef HPO_TESTS_TESTING_SQLITE_ROWS_H_
#define HPO_TESTS_TESTING_SQLITE_ROWS_H_

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <cstdint>
#include <string>

namespace hpo::testing {

inline int64_t CountRows(const std::string& db_path, const std::string& table) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db, ("SELECT COUNT(*) FROM " + table).c_str(), -1, &stmt, nullptr), SQLITE_OK);
  EXPECT_EQ(sqlite3_step(stmt), SQLITE_ROW);
  const int64_t n = sqlite3_column_int64(stmt, 0);
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return n;
}

}  // namespace hpo::testing

#endif  // HPO_TESTS_TESTING_SQLITE_ROWS_H_
