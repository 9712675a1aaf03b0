// One hypervolume: a study run through an in-process coordinator (gRPC and the HTTP dashboard API on
// loopback) and two in-process workers; hpoctl (RunHpoctl over a real StudyClient) and the dashboard's
// JSON must show the same hypervolume against the same reference point, and it must be the one a
// brute-force computation over the stored trials gives under the documented rule.
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <sstream>
#include <thread>

#include "client/hpoctl.h"
#include "coordinator/server.h"
#include "hpo/v1/service.grpc.pb.h"
#include "tests/testing/http_client.h"
#include "tests/testing/temp_dir.h"
#include "worker/worker.h"

namespace hpo {
namespace {

using namespace std::chrono_literals;

google::protobuf::Value ParseJson(const std::string& text) {
  google::protobuf::Value value;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(text, &value).ok()) << text;
  return value;
}

const google::protobuf::Value& Field(const google::protobuf::Value& object, const std::string& name) {
  static const google::protobuf::Value kNull;
  const auto& fields = object.struct_value().fields();
  const auto it = fields.find(name);
  EXPECT_NE(it, fields.end()) << "no field " << name;
  return it == fields.end() ? kNull : it->second;
}

std::string FourDigits(double value) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%.4g", value);
  return buffer;
}

// Runs hpoctl against `address`; returns (exit code, stdout).
std::pair<int, std::string> Hpoctl(const std::string& address, std::vector<std::string> args) {
  args.insert(args.begin(), {"hpoctl", "--coordinator", address});
  std::vector<const char*> argv;
  for (const std::string& arg : args) argv.push_back(arg.c_str());
  std::ostringstream out, err;
  client::HpoctlEnv env;
  env.getenv = [](const char*) -> const char* { return nullptr; };
  env.out = &out;
  env.err = &err;
  const int code = client::RunHpoctl(static_cast<int>(argv.size()), argv.data(), env);
  EXPECT_EQ(err.str(), "");
  return {code, out.str()};
}

TEST(HypervolumeAgreementTest, HpoctlAndTheDashboardShowTheCoordinatorsOneHypervolume) {
  hpo::testing::TempDir dir;
  coordinator::ServerOptions options;
  options.listen_address = "127.0.0.1:0";
  options.http_address = "127.0.0.1:0";
  options.db_path = dir.File("hpo.db");
  options.heartbeat_ms = 200;
  auto server = coordinator::Server::Start(options);
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  const std::string address = "127.0.0.1:" + std::to_string((*server)->port());
  // Stops the workers and the server however the test ends.
  struct Running {
    coordinator::Server* server;
    std::vector<std::unique_ptr<worker::Worker>> workers;
    std::vector<std::thread> threads;
    ~Running() {
      for (auto& w : workers) w->Stop();
      for (auto& t : threads) t.join();
      server->Shutdown();
    }
  } running{server->get(), {}, {}};
  auto& workers = running.workers;
  auto& threads = running.threads;
  for (int i = 0; i < 2; ++i) {
    worker::WorkerOptions worker_options;
    worker_options.name = "w" + std::to_string(i);
    worker_options.slots = 2;
    worker_options.wait_ms = 300;
    worker_options.log = [](const std::string&) {};
    workers.push_back(std::make_unique<worker::Worker>(
        worker::MakeWorkerChannel(address, grpc::InsecureChannelCredentials()), worker_options));
    threads.emplace_back([w = workers.back().get()] { EXPECT_TRUE(w->Run().ok()); });
  }

  // f2 maximised, so that one reference coordinate lies below the values seen.
  v1::CreateStudyRequest create;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(R"({"spec": {
      "name": "hv", "objectives": [{"name": "f1"}, {"name": "f2", "direction": "MAXIMIZE"}],
      "budget": {"max_trials": 16, "max_parallel": 4},
      "task": {"synthetic": {"function": "zdt1", "dims": 4}}, "seed": 8}})",
                                                          &create)
                  .ok());
  auto stub = v1::StudyService::NewStub(grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  v1::Study study;
  {
    grpc::ClientContext context;
    ASSERT_TRUE(stub->CreateStudy(&context, create, &study).ok());
  }
  const std::string id = std::to_string(study.id());
  ASSERT_EQ(Hpoctl(address, {"watch", id, "--interval-ms", "50"}).first, 0);

  // The dashboard's JSON.
  hpo::testing::HttpClient http((*server)->http_port());
  const auto summary = http.Get("/api/v1/studies/" + id);
  ASSERT_EQ(summary.status, 200) << summary.error;
  const google::protobuf::Value dashboard = ParseJson(summary.body);
  const auto& hv = Field(dashboard, "hypervolume");
  ASSERT_TRUE(hv.has_struct_value()) << summary.body;
  const double value = Field(hv, "value").number_value();
  const double r1 = Field(hv, "reference").list_value().values(0).number_value();
  const double r2 = Field(hv, "reference").list_value().values(1).number_value();
  EXPECT_EQ(Field(hv, "rule").string_value(), "worst + 10% of range");
  EXPECT_EQ(Field(hv, "completed").number_value(), 16);

  // hpoctl export: the same numbers, to the bit.
  const auto [export_code, exported] = Hpoctl(address, {"export", id});
  ASSERT_EQ(export_code, 0);
  const google::protobuf::Value document = ParseJson(exported);
  const auto& front = Field(document, "pareto_front");
  EXPECT_EQ(Field(front, "hypervolume").number_value(), value);
  EXPECT_EQ(Field(front, "reference_point").list_value().values(0).number_value(), r1);
  EXPECT_EQ(Field(front, "reference_point").list_value().values(1).number_value(), r2);
  EXPECT_EQ(Field(front, "reference_rule").string_value(), "worst + 10% of range");

  // hpoctl show: the same, as people read it.
  const auto [show_code, shown] = Hpoctl(address, {"show", id});
  ASSERT_EQ(show_code, 0);
  EXPECT_NE(shown.find("hypervolume   " + FourDigits(value) + " (reference point [f1 " + FourDigits(r1) +
                       ", f2 " + FourDigits(r2) + "], rule: worst + 10% of range)\n"),
            std::string::npos)
      << shown;

  // And it is the rule's: over the completed trials, worst + 10% of range, then the 2-D staircase.
  grpc::ClientContext context;
  v1::ListTrialsRequest list;
  list.set_study_id(study.id());
  v1::ListTrialsResponse trials;
  ASSERT_TRUE(stub->ListTrials(&context, list, &trials).ok());
  std::vector<std::pair<double, double>> points;  // (f1, -f2), both minimised
  for (const v1::Trial& t : trials.trials()) points.emplace_back(t.metrics().at("f1"), -t.metrics().at("f2"));
  ASSERT_EQ(points.size(), 16u);
  double lo1 = points[0].first, hi1 = lo1, lo2 = points[0].second, hi2 = lo2;
  for (const auto& [a, b] : points) {
    lo1 = std::min(lo1, a), hi1 = std::max(hi1, a), lo2 = std::min(lo2, b), hi2 = std::max(hi2, b);
  }
  const double ref1 = hi1 + 0.1 * (hi1 - lo1), ref2 = hi2 + 0.1 * (hi2 - lo2);
  EXPECT_DOUBLE_EQ(r1, ref1);
  EXPECT_DOUBLE_EQ(r2, -ref2);  // f2 is maximised: its reference in its own direction
  std::sort(points.begin(), points.end());
  double area = 0, ceiling = ref2;
  for (const auto& [a, b] : points) {
    if (b < ceiling) {
      area += (ref1 - a) * (ceiling - b);
      ceiling = b;
    }
  }
  EXPECT_NEAR(value, area, 1e-12 * std::max(1.0, area));
}

}  // namespace
}  // namespace hpo
