// A stand-in for the intensity providers: an HTTP server on 127.0.0.1 (a free
// port) whose replies the test chooses, and which remembers what it was asked.
// The clients under test get its url() as their base URL.
#pragma once

#include <httplib.h>  // the macros Debian built it with come from joule_httplib

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace joule::grid::testing {

struct SeenRequest {
  std::string path;           // without the query
  httplib::Params params;     // the query, decoded
  std::string auth_token;     // "auth-token" header
  std::string authorization;  // "Authorization" header
};

class FakeProviderServer {
 public:
  using Handler = std::function<void(const httplib::Request&, httplib::Response&)>;

  FakeProviderServer() {
    server_.Get(".*", [this](const httplib::Request& req, httplib::Response& res) {
      Handler handler;
      {
        std::lock_guard<std::mutex> lock(mu_);
        seen_.push_back({req.path, req.params, req.get_header_value("auth-token"),
                         req.get_header_value("Authorization")});
        handler = handler_;
      }
      if (handler) {
        handler(req, res);
      } else {
        res.status = 404;
      }
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    // bind_to_any_port also listens, so clients can connect from here on;
    // the accept loop runs on the thread.
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    // stop() before the loop has started would be lost and the destructor's
    // join would wait forever.
    while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }

  ~FakeProviderServer() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
    }
    stop_cv_.notify_all();
    server_.stop();
    thread_.join();
  }

  FakeProviderServer(const FakeProviderServer&) = delete;
  FakeProviderServer& operator=(const FakeProviderServer&) = delete;

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int port() const { return port_; }

  void Respond(Handler handler) {
    std::lock_guard<std::mutex> lock(mu_);
    handler_ = std::move(handler);
  }

  // Replies `status` with `body` (JSON) to every request.
  void RespondAlways(int status, std::string body) {
    Respond([status, body](const httplib::Request&, httplib::Response& res) {
      res.status = status;
      res.set_content(body, "application/json");
    });
  }

  std::vector<SeenRequest> seen() const {
    std::lock_guard<std::mutex> lock(mu_);
    return seen_;
  }
  std::size_t count() const {
    std::lock_guard<std::mutex> lock(mu_);
    return seen_.size();
  }

  // Sleeps in a handler for `seconds`, or less when the server is being
  // destroyed, so a slow-reply test does not hold up its own teardown.
  void SlowDown(double seconds) {
    std::unique_lock<std::mutex> lock(mu_);
    stop_cv_.wait_for(lock, std::chrono::duration<double>(seconds), [this] { return stopping_; });
  }

 private:
  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
  mutable std::mutex mu_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
  Handler handler_;
  std::vector<SeenRequest> seen_;
};

}  // namespace joule::grid::testing
