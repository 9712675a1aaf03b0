// The schema of the hpo database and its forward migrations.
//
// Migration i takes user_version i to i + 1; a new database runs all of them. Migrations are appended,
// never edited, once released.
#ifndef HPO_STORAGE_SCHEMA_H_
#define HPO_STORAGE_SCHEMA_H_

#include <span>
#include <string_view>

namespace hpo::storage {

std::span<const std::string_view> Migrations();

}  // namespace hpo::storage

#endif  // HPO_STORAGE_SCHEMA_H_
