// cpp-httplib for the grid layer, included the way Debian's libcpp-httplib.so
// was built (OpenSSL, zlib, Brotli). Those macros change the layout of classes
// such as httplib::ClientImpl, so a file that included <httplib.h> without them
// would disagree with the library about object sizes. The ledger's
// joule/http_server.hpp does the same for the layers that link it; grid does
// not link the ledger, hence this copy of the three lines.
#pragma once

#ifndef CPPHTTPLIB_OPENSSL_SUPPORT
#define CPPHTTPLIB_OPENSSL_SUPPORT
#endif
#ifndef CPPHTTPLIB_ZLIB_SUPPORT
#define CPPHTTPLIB_ZLIB_SUPPORT
#endif
#ifndef CPPHTTPLIB_BROTLI_SUPPORT
#define CPPHTTPLIB_BROTLI_SUPPORT
#endif

#include <httplib.h>
