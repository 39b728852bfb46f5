// Binding and running joule's HTTP servers: address parsing, socket options,
// the accept loop's thread and its orderly stop.
#include "joule/http_server.hpp"

#include <charconv>
#include <chrono>

#include "joule/util.hpp"

namespace joule {

std::pair<std::string, int> ParseHostPort(const std::string& host_port, const std::string& option) {
  std::string host = "127.0.0.1", port_text = host_port;
  if (!host_port.empty() && host_port[0] == '[') {
    std::size_t close = host_port.find(']');
    if (close == std::string::npos || close + 1 >= host_port.size() ||
        host_port[close + 1] != ':') {
      throw Error(option + " " + host_port + ": expected [IPV6]:PORT, e.g. [::1]:9091");
    }
    host = host_port.substr(1, close - 1);
    port_text = host_port.substr(close + 2);
  } else if (std::size_t colon = host_port.rfind(':'); colon != std::string::npos) {
    if (host_port.find(':') != colon) {
      throw Error(option + " " + host_port + ": an IPv6 address needs brackets, e.g. [::1]:9091");
    }
    if (colon > 0) host = host_port.substr(0, colon);
    port_text = host_port.substr(colon + 1);
  }
  int port = -1;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (port_text.empty() || ec != std::errc() || end != port_text.data() + port_text.size() ||
      port < 0 || port > 65535) {
    throw Error(option + " " + host_port +
                ": expected HOST:PORT with PORT 0-65535 (0 picks a free port), e.g. "
                "127.0.0.1:9091");
  }
  return {host, port};
}

HttpServerThread::HttpServerThread(httplib::Server& server, const std::string& host_port,
                                   const std::string& option)
    : server_(server) {
  auto [host, port] = ParseHostPort(host_port, option);
  server_.set_socket_options([](socket_t sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  if (host.find(':') != std::string::npos) server_.set_address_family(AF_INET6);
  bool bound = false;
  if (port == 0) {
    int chosen = server_.bind_to_any_port(host);
    bound = chosen > 0;
    port = chosen;
  } else {
    bound = server_.bind_to_port(host, port);
  }
  if (!bound) {
    throw Error(option + " " + host_port + ": cannot listen on " + host + ":" +
                std::to_string(port < 0 ? 0 : port) +
                " (port in use, address not on this machine, or a port below 1024 without "
                "privileges); pick another, or port 0 for any free port");
  }
  port_ = port;
  // Binding happened above, so clients can connect as soon as we return; the
  // thread only runs the accept loop.
  thread_ = std::thread([this] {
    server_.listen_after_bind();
    finished_ = true;
  });
}

HttpServerThread::~HttpServerThread() {
  // httplib's stop() does nothing until the accept loop has started
  // (is_running()), and that happens on the thread; retry until the loop
  // has really ended, or join() could wait forever.
  while (!finished_) {
    server_.stop();
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  thread_.join();
}

}  // namespace joule
