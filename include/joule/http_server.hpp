// joule/http_server.hpp: cpp-httplib as joule's servers use it (the
// Prometheus endpoint, the dashboard), and the one place that binds and runs
// them.
//
// Ledger layer (src/ledger/http_server.cpp).
//
// The Debian library is compiled with OpenSSL, zlib and Brotli support (see
// `pkg-config --cflags cpp-httplib`), and those macros change the layout of
// classes such as httplib::ClientImpl. Code that includes <httplib.h> without
// them and links the .so would disagree with it about object sizes (an ODR
// violation that corrupts memory), so the CMake target every user of the
// library links, joule_httplib, defines all three.
#pragma once

#include <httplib.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <utility>

namespace joule {

// Splits "HOST:PORT", ":PORT", "PORT" or "[IPV6]:PORT"; the host defaults to
// 127.0.0.1 (loopback), so nothing is exposed to the network unless asked.
// Throws Error naming `option` ("--prometheus 1.2.3.4:x: expected ...") for a
// malformed address or a port outside 0-65535.
std::pair<std::string, int> ParseHostPort(const std::string& host_port, const std::string& option);

// Binds `server` to `host_port` and runs its accept loop on a thread of its
// own until destroyed. Port 0 picks a free port; port() is the one bound.
// Clients can connect once the constructor returns. SO_REUSEADDR only
// (httplib's default SO_REUSEPORT would let a second joule bind the same port
// and silently take half the requests). Throws Error naming `option` when the
// address is malformed or cannot be bound. The destructor stops the server
// and joins the thread; `server` must outlive this object.
class HttpServerThread {
 public:
  HttpServerThread(httplib::Server& server, const std::string& host_port,
                   const std::string& option);
  ~HttpServerThread();
  HttpServerThread(const HttpServerThread&) = delete;
  HttpServerThread& operator=(const HttpServerThread&) = delete;
  int port() const { return port_; }

 private:
  httplib::Server& server_;
  std::thread thread_;
  std::atomic<bool> finished_{false};
  int port_ = 0;
};

}  // namespace joule
