// The training step's own element-wise work against plain loops, bit for bit:
// ReLU forward and backward (vectorised blends) and Linear's bias gradient
// (column sums). Lengths that are not a multiple of the vector width exercise
// the loops' tails, and one above the parallel threshold the blocked OpenMP
// path.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include "joule/nn.hpp"

namespace joule {
namespace {

// Lengths around the 8- and 16-float vector widths, and one past the
// activations' parallel threshold (1 << 16 elements) that is not a multiple
// of their block.
const std::int64_t kLengths[] = {1, 7, 8, 9, 15, 17, 33, 127, (1 << 16) + 1001};

Tensor RandomSigned(std::int64_t n, Rng& rng) {
  Tensor t({n});
  for (std::int64_t i = 0; i < n; ++i) t.f32()[i] = rng.Normal();
  return t;
}

bool SameBits(float a, float b) {
  return std::memcmp(&a, &b, sizeof(float)) == 0 || (std::isnan(a) && std::isnan(b));
}

TEST(ReluKernelTest, ForwardAndBackwardMatchThePlainRuleOnEveryLength) {
  Rng rng(7);
  for (std::int64_t n : kLengths) {
    Tensor x = RandomSigned(n, rng);
    Tensor dy = RandomSigned(n, rng);
    x.f32()[0] = 0.0f;  // the kink: y = 0 and no gradient
    if (n > 2) x.f32()[n - 1] = std::numeric_limits<float>::quiet_NaN();
    auto relu = MakeReLU();
    relu->set_input_grad_needed(true);
    const Tensor& y = relu->Forward(x, true);
    const Tensor& dx = relu->Backward(dy);
    std::int64_t wrong_y = 0, wrong_dx = 0;
    for (std::int64_t i = 0; i < n; ++i) {
      const float xi = x.f32()[i];
      const float want_y = xi < 0.0f ? 0.0f : xi;  // NaN passes through
      const float want_dx = want_y > 0.0f ? dy.f32()[i] : 0.0f;
      wrong_y += !SameBits(y.f32()[i], want_y);
      wrong_dx += !SameBits(dx.f32()[i], want_dx);
    }
    EXPECT_EQ(wrong_y, 0) << "n = " << n;
    EXPECT_EQ(wrong_dx, 0) << "n = " << n;
  }
}

TEST(ReluKernelTest, BackwardPassesNaNAndInfinityOfDyOnlyWhereActive) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  Tensor x = Tensor::FromVector({4}, {1.0f, -1.0f, 2.0f, -2.0f});
  Tensor dy = Tensor::FromVector({4}, {nan, nan, -inf, inf});
  auto relu = MakeReLU();
  relu->set_input_grad_needed(true);
  relu->Forward(x, true);
  const Tensor& dx = relu->Backward(dy);
  EXPECT_TRUE(std::isnan(dx.f32()[0]));
  EXPECT_EQ(dx.f32()[1], 0.0f);
  EXPECT_EQ(dx.f32()[2], -inf);
  EXPECT_EQ(dx.f32()[3], 0.0f);
}

// The bias gradient is the column sum of dy in row order, the order this
// reference adds in, so the two agree exactly.
TEST(LinearBiasGradTest, IsTheColumnSumOfDyInRowOrder) {
  Rng rng(11);
  for (std::int64_t out : {1, 7, 10, 17, 128}) {
    const std::int64_t in = 5, batch = 37;
    auto linear = MakeLinear(in, out, rng);
    Tensor x({batch, in});
    for (std::int64_t i = 0; i < x.numel(); ++i) x.f32()[i] = rng.Normal();
    linear->Forward(x, true);
    Tensor dy({batch, out});
    for (std::int64_t i = 0; i < dy.numel(); ++i) dy.f32()[i] = rng.Normal();
    linear->Backward(dy);
    const Tensor& db = linear->Parameters()[1]->grad;
    ASSERT_EQ(db.shape(), (Shape{out}));
    for (std::int64_t j = 0; j < out; ++j) {
      float want = 0.0f;
      for (std::int64_t i = 0; i < batch; ++i) want += dy.f32()[i * out + j];
      EXPECT_EQ(db.f32()[j], want) << "out = " << out << ", column " << j;
    }
  }
}

}  // namespace
}  // namespace joule
