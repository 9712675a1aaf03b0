// The dashboard's static files (coordinator/dashboard/), built into the binary: CMake turns each into a
// byte array at build time (coordinator/embed_assets.cmake), so the coordinator serves every asset itself
// and needs no file at run time.
//
// Immutable data; safe from any thread.
#ifndef HPO_COORDINATOR_DASHBOARD_ASSETS_H_
#define HPO_COORDINATOR_DASHBOARD_ASSETS_H_

#include <string_view>

namespace hpo::coordinator {

struct DashboardAsset {
  std::string_view path;          // as served, e.g. "/app.js"
  std::string_view content_type;  // e.g. "text/javascript; charset=utf-8"
  std::string_view body;
};

// The asset served at `path`, or nullptr.
const DashboardAsset* FindDashboardAsset(std::string_view path);

}  // namespace hpo::coordinator

#endif  // HPO_COORDINATOR_DASHBOARD_ASSETS_H_
