// Replays the inputs on which safetensors_fuzz found bugs (fuzz/regressions/safetensors/).
#include "fuzz_regressions.hpp"

#include <gtest/gtest.h>

#include "joule/nn.hpp"
#include "joule/util.hpp"

namespace joule {
namespace {

// number_out_of_range: a header number beyond double's range (1e400) made
// nlohmann::json throw out_of_range, which escaped as an uncaught exception.
// byte_size_overflow: shape [2^62] of F32 made 2^64 bytes, which wrapped to 0
// and matched data_offsets [0, 0]: a tensor of 2^62 elements without storage.
TEST(SafetensorsFuzzRegressions, EveryInputThrowsError) {
  auto files = test::FuzzRegressions("safetensors");
  ASSERT_FALSE(files.empty());
  for (const std::string& path : files) {
    SCOPED_TRACE(path);
    EXPECT_THROW(ReadSafetensors(path), Error);
  }
}

}  // namespace
}  // namespace joule
