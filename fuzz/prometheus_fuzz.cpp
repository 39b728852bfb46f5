// Fuzzes the HTTP request handling of joule's Prometheus endpoint
// (joule::PrometheusServer, `joule measure --prometheus`): one server listens
// on 127.0.0.1 for the whole run; each input is sent to it as the raw bytes
// of one connection (request line, headers, body, pipelined requests, or
// garbage), then a well-formed GET /metrics must still get the metrics. So
// what is fuzzed is everything between the socket and the render callback:
// the HTTP parsing of the library the server is built on, and joule's
// routing and response around it.
//
// Bugs: a crash or sanitizer report (in this process, which runs the
// server), or a server that stops answering or hangs (reported with
// __builtin_trap, after kTimeoutS for a hang).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>

#include "joule/ledger.hpp"

namespace {

constexpr int kTimeoutS = 5;
constexpr int kLivenessAttempts = 3;
constexpr std::string_view kMetricName = "joule_fuzz_energy_joules";

// The one call into joule: the server under test.
std::unique_ptr<joule::PrometheusServer> StartServer() {
  std::string body = joule::RenderPrometheusText(
      {{std::string(kMetricName), "Energy so far.", "counter", {{"source", "fuzz"}}, 1.5}});
  return std::make_unique<joule::PrometheusServer>("127.0.0.1:0", [body] { return body; });
}

[[noreturn]] void Fail(const char* what) {
  std::fprintf(stderr, "prometheus_fuzz: %s\n", what);
  __builtin_trap();
}

// Sends `request` on a new connection and returns everything the server
// writes back until it closes the connection. With `close_sending`, the
// sending side is closed after the request, so that the server sees the end
// of an incomplete request at once instead of waiting for its read time-out;
// the server still reads, parses and routes what came, but it then treats
// the half-closed connection as gone and writes no response (its library's
// choice), so the response is empty.
std::string Exchange(int port, std::string_view request, bool close_sending = true) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) Fail("socket() failed");
  timeval timeout{kTimeoutS, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  // libFuzzer's time-out alarm interrupts system calls (EINTR) about once a
  // second; an interrupted connect completes in the background.
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    int error = errno;
    if (error == EINTR) {
      pollfd poll_fd{fd, POLLOUT, 0};
      int ready;
      do {
        ready = ::poll(&poll_fd, 1, kTimeoutS * 1000);
      } while (ready < 0 && errno == EINTR);
      socklen_t size = sizeof error;
      if (ready != 1 || ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &size) != 0) error = -1;
    }
    if (error != 0) Fail("the server no longer accepts connections");
  }
  // A send error means the server closed early (it may reject a request
  // before reading it all): not a bug.
  for (std::size_t sent = 0; sent < request.size();) {
    ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    sent += static_cast<std::size_t>(n);
  }
  if (close_sending) ::shutdown(fd, SHUT_WR);
  std::string response;
  char buffer[4096];
  for (;;) {
    ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n == 0) break;
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) Fail("the server did not close a connection");
      break;  // reset by the server
    }
    response.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return response;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static std::unique_ptr<joule::PrometheusServer> server = StartServer();
  Exchange(server->port(), std::string_view(reinterpret_cast<const char*>(data), size));
  // A few attempts, so that a scrape lost to the loaded machine is not taken
  // for a dead server; one that is really hung or broken fails every attempt.
  std::string response;
  for (int attempt = 0; attempt < kLivenessAttempts; ++attempt) {
    response =
        Exchange(server->port(),
                 "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", false);
    if (response.rfind("HTTP/1.1 200", 0) == 0 && response.find(kMetricName) != std::string::npos) {
      return 0;
    }
    std::fprintf(stderr, "prometheus_fuzz: scrape attempt %d got [%s] (errno %d)\n", attempt + 1,
                 response.c_str(), errno);
    usleep(100 * 1000);
  }
  Fail("the server no longer answers GET /metrics");
}
