// Includes cpp-httplib the way Debian's libcpp-httplib.so was built.
//
// The Debian library is compiled with OpenSSL, zlib and Brotli support (see
// `pkg-config --cflags cpp-httplib`), and those macros change the layout of
// classes such as httplib::ClientImpl. Code that includes <httplib.h> without
// them and links the .so would disagree with it about object sizes (an ODR
// violation that corrupts memory), so every joule file includes this header
// instead of <httplib.h>.
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
