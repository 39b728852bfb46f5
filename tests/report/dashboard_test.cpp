// The dashboard over a real ledger on loopback: the API's figures are the
// ledger's, bad requests get 400/404/405 with a reason, nothing outside the
// ledger is served, and runs recorded while it serves appear.
#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "joule/http_server.hpp"
#include "joule/report.hpp"
#include "joule/util.hpp"

namespace joule {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::string ScratchLedger(const std::string& name) {
  std::string dir = std::string(JOULE_TEST_BINARY_DIR) + "/dashboard_" + name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir + "/ledger.db";
}

std::string Record(Ledger& ledger, const std::string& kind, double accuracy, int samples) {
  RunRecord header;
  header.kind = kind;
  header.name = kind + " fixture";
  header.start_unix_s = 1'700'000'000;
  header.host.cpu_model = "Test CPU";
  header.energy.method = "estimated:tdp-model";
  std::string id = ledger.BeginRun(header);
  for (int i = 1; i <= samples; ++i) {
    SampleRow s;
    s.t_unix_s = 1'700'000'000 + i;
    s.energy_j = s.machine_energy_j = 10.0 * i;
    s.component_j = {8.0 * i, 2.0 * i, 0, 0, 0};
    ledger.AppendSample(id, s);
  }
  if (kind == "train") ledger.AppendEpoch(id, {1, 2.5, 25, 0.01, {{"accuracy", accuracy}}});
  EnergyReport e;
  e.method = "estimated:tdp-model";
  e.estimated = true;
  e.energy_j = 10.0 * samples;
  e.duration_s = samples;
  ComponentReport cpu;
  cpu.component = Component::kCpu;
  cpu.energy_j = 8.0 * samples;
  cpu.method = e.method;
  e.components.push_back(cpu);
  ledger.FinishRun(id, RunStatus::kCompleted, "", e, {{"accuracy", accuracy}});
  return id;
}

// One raw request line, for paths a client library would normalise.
std::string RawGet(int port, const std::string& target) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  std::string request = "GET " + target + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  EXPECT_EQ(::write(fd, request.data(), request.size()), static_cast<ssize_t>(request.size()));
  std::string response;
  char buf[4096];
  for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) response.append(buf, n);
  ::close(fd);
  return response;
}

class DashboardTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = ScratchLedger(::testing::UnitTest::GetInstance()->current_test_info()->name());
    ledger_ = Ledger::Open(path_);
    train_ = Record(*ledger_, "train", 0.93, 40);
    measure_ = Record(*ledger_, "measure", 0.5, 10);
    dashboard_ = std::make_unique<Dashboard>(path_, "127.0.0.1:0");
    client_ = std::make_unique<httplib::Client>("127.0.0.1", dashboard_->port());
  }
  httplib::Result Get(const std::string& target) {
    httplib::Result r = client_->Get(target.c_str());
    EXPECT_TRUE(r) << target << ": " << httplib::to_string(r.error());
    return r;
  }
  std::string path_, train_, measure_;
  std::unique_ptr<Ledger> ledger_;
  std::unique_ptr<Dashboard> dashboard_;
  std::unique_ptr<httplib::Client> client_;
};

TEST_F(DashboardTest, ApiRunIsTheRunsJson) {
  httplib::Result r = Get("/api/run/" + train_);
  ASSERT_EQ(r->status, 200);
  EXPECT_EQ(r->get_header_value("Content-Type"), "application/json");
  EXPECT_EQ(nlohmann::json::parse(r->body), RunRecordToJson(ledger_->Get(train_)));
  // A unique prefix works as on the command line.
  EXPECT_EQ(nlohmann::json::parse(Get("/api/run/" + train_.substr(0, 8))->body)["id"], train_);

  nlohmann::json samples = nlohmann::json::parse(Get("/api/samples/" + train_)->body);
  ASSERT_EQ(samples["rows"].size(), 40u);
  EXPECT_EQ(samples["columns"][6], "cpu_j");
  EXPECT_EQ(samples["rows"][39][1], 400.0);
  EXPECT_EQ(samples["rows"][39][6], 320.0);

  nlohmann::json runs = nlohmann::json::parse(Get("/api/runs?kind=train")->body)["runs"];
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0]["id"], train_);
  nlohmann::json compare =
      nlohmann::json::parse(Get("/api/compare?ids=" + train_ + "," + measure_)->body);
  ASSERT_EQ(compare.size(), 2u);
  EXPECT_EQ(compare[1]["energy_ratio"], 0.25);
}

TEST_F(DashboardTest, PagesShowTheRunsAndTheirPlots) {
  httplib::Result all = Get("/");
  ASSERT_EQ(all->status, 200);
  EXPECT_THAT(all->body, HasSubstr("data-run=\"" + train_ + "\""));
  EXPECT_THAT(all->body, HasSubstr("data-run=\"" + measure_ + "\""));
  EXPECT_THAT(all->get_header_value("Content-Security-Policy"), HasSubstr("default-src 'none'"));
  httplib::Result trains = Get("/?kind=train&tag=&status=&since=&until=");
  EXPECT_THAT(trains->body, HasSubstr("data-run=\"" + train_ + "\""));
  EXPECT_THAT(trains->body, Not(HasSubstr("data-run=\"" + measure_ + "\"")));
  httplib::Result run = Get("/run/" + train_);
  ASSERT_EQ(run->status, 200);
  EXPECT_THAT(run->body, HasSubstr("data-plot=\"power\""));
  EXPECT_THAT(run->body, HasSubstr("class=\"series\""));
  EXPECT_THAT(run->body, HasSubstr("data-plot=\"epochs\""));
  httplib::Result compare = Get("/compare?ids=" + train_ + "&ids=" + measure_);
  ASSERT_EQ(compare->status, 200);
  EXPECT_THAT(compare->body, HasSubstr("data-plot=\"pareto\""));
}

TEST_F(DashboardTest, BadRequestsAreRefusedWithAReason) {
  struct Case {
    std::string target;
    int status;
    std::string reason;
  };
  const std::vector<Case> cases = {
      {"/api/run/ffffffffffff", 404, "no run 'ffffffffffff'"},
      {"/run/ffffffffffff", 404, "no run"},
      {"/api/run/xyz", 400, "expected 1 to 12 hex digits"},
      {"/api/run/0123456789abc", 400, "expected 1 to 12 hex digits"},
      {"/api/runs?limit=ten", 400, "limit ten"},
      {"/api/runs?limit=-1", 400, "limit -1"},
      {"/api/runs?status=done", 400, "status 'done'"},
      {"/api/runs?since=yesterday", 400, "since yesterday"},
      {"/api/runs?colour=red", 400, "unknown query parameter 'colour'"},
      {"/api/runs?kind=a&kind=b", 400, "given more than once"},
      {"/api/run/" + train_ + "?x=1", 400, "this page takes none"},
      {"/run/" + train_ + "?per=minute", 400, "--per minute"},
      {"/compare", 400, "ids: give the runs"},
      {"/api/compare?ids=,,", 400, "ids: give the runs"},
      {"/nope", 404, "not found"},
      {"/api/run/", 400, "expected 1 to 12"},
  };
  for (const Case& c : cases) {
    httplib::Result r = Get(c.target);
    ASSERT_TRUE(r) << c.target;
    EXPECT_EQ(r->status, c.status) << c.target << ": " << r->body;
    EXPECT_THAT(r->body, HasSubstr(c.reason)) << c.target;
    // One line.
    EXPECT_EQ(r->body.find('\n'), r->body.size() - 1) << c.target;
  }
  httplib::Result post = client_->Post("/api/runs", "x", "text/plain");
  ASSERT_TRUE(post);
  EXPECT_EQ(post->status, 405);
  httplib::Result del = client_->Delete(("/api/run/" + train_).c_str());
  ASSERT_TRUE(del);
  EXPECT_EQ(del->status, 405);
  EXPECT_NO_THROW(ledger_->Get(train_));
}

TEST_F(DashboardTest, NoPathReachesAFileOutsideTheLedger) {
  for (const std::string target :
       {"/../../../../etc/passwd", "//etc/passwd", "/run/..%2F..%2F..%2Fetc%2Fpasswd",
        "/api/run/..%2f..%2fetc%2fpasswd", "/%2e%2e/%2e%2e/etc/passwd", "/etc/passwd",
        "/api/samples/../../ledger.db", "/ledger.db"}) {
    std::string response = RawGet(dashboard_->port(), target);
    ASSERT_FALSE(response.empty()) << target;
    std::string status = response.substr(9, 3);
    EXPECT_TRUE(status == "400" || status == "404") << target << ": " << response.substr(0, 80);
    EXPECT_THAT(response, Not(HasSubstr("root:"))) << target;
    EXPECT_THAT(response, Not(HasSubstr("SQLite format"))) << target;
  }
  // Still serving.
  EXPECT_EQ(Get("/api/runs")->status, 200);
}

TEST_F(DashboardTest, SeesRunsRecordedWhileItServes) {
  EXPECT_EQ(nlohmann::json::parse(Get("/api/runs")->body)["runs"].size(), 2u);
  std::string later = Record(*ledger_, "bench-infer", 0.9, 3);
  nlohmann::json runs = nlohmann::json::parse(Get("/api/runs")->body)["runs"];
  ASSERT_EQ(runs.size(), 3u);
  EXPECT_EQ(Get("/api/run/" + later)->status, 200);
}

TEST_F(DashboardTest, ConcurrentClientsAllGetAnswers) {
  std::vector<std::thread> clients;
  std::atomic<int> ok{0};
  for (int c = 0; c < 16; ++c) {
    clients.emplace_back([&] {
      httplib::Client client("127.0.0.1", dashboard_->port());
      for (int i = 0; i < 10; ++i) {
        httplib::Result r = client.Get(i % 2 ? "/api/runs" : ("/run/" + train_).c_str());
        if (r && r->status == 200) ++ok;
      }
    });
  }
  for (std::thread& t : clients) t.join();
  EXPECT_EQ(ok, 160);
}

TEST(Dashboard, RefusesAMissingLedgerAndABadAddress) {
  std::string path = ScratchLedger("missing");
  EXPECT_THROW(Dashboard(path, "127.0.0.1:0"), Error);
  Ledger::Open(path);
  EXPECT_THROW(Dashboard(path, "127.0.0.1:99999"), Error);
  EXPECT_THROW(Dashboard(path, "1.2.3.4.5:80"), Error);
}

}  // namespace
}  // namespace joule
