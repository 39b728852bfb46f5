// Every oneDNN kernel against its reference loop, on random shapes, plus the
// argument checks and the primitive cache.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "joule/tensor.hpp"
#include "joule/util.hpp"

namespace joule {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

// f32: oneDNN and the reference (which sums in double) differ only in the
// order and precision of the f32 sums. The rounding error of a sum of terms
// t_i is at most ~depth * 2^-24 * sum|t_i|, so the error is measured relative
// to sum|t_i| (the reference run on absolute values), which stays meaningful
// where a result cancels to near zero. Blocked sums keep the depth small: the
// worst seen over the cases below is 3.2e-7 (about 5 ulp of the scale), while
// an indexing, padding or missing-bias bug gives an error of order 1.
constexpr double kMaxRelErrF32 = 2e-6;

// bf16: both paths read the same bf16 values, and a product of two bf16
// numbers (8 significant bits each) is exact in f32, so again only the f32
// accumulation differs. Its NMSE is of order K * (2^-24)^2 = K * 3.6e-15,
// under 6e-12 for the longest reduction here (K = 2*28*28 = 1568 terms);
// the worst seen is 1.6e-13. Rounding any intermediate or the output through
// bf16 would give NMSE ~ (2^-9)^2 / 3 ~ 1.3e-6, five orders above the bound.
constexpr double kMaxNmseBf16 = 1e-11;

Tensor RandomTensor(const Shape& shape, DType dtype, Rng& rng) {
  Tensor t(shape, dtype);
  for (std::int64_t i = 0; i < t.numel(); ++i) {
    switch (dtype) {
      case DType::kF32:
        t.f32()[i] = rng.Normal();
        break;
      case DType::kBF16:
        t.data<BF16>()[i] = FloatToBF16(rng.Normal());
        break;
      case DType::kU8:
        t.data<std::uint8_t>()[i] = static_cast<std::uint8_t>(rng.Below(256));
        break;
      case DType::kS8:
        t.data<std::int8_t>()[i] = static_cast<std::int8_t>(static_cast<int>(rng.Below(256)) - 128);
        break;
      case DType::kS32:
        t.data<std::int32_t>()[i] = static_cast<std::int32_t>(rng.NextU64());
        break;
    }
  }
  return t;
}

// |t| elementwise, same dtype (f32 or bf16: clearing the sign bit is exact).
Tensor Abs(const Tensor& t) {
  Tensor a = t.Clone();
  if (a.dtype() == DType::kBF16) {
    for (std::int64_t i = 0; i < a.numel(); ++i) a.data<BF16>()[i].bits &= 0x7fff;
  } else {
    for (std::int64_t i = 0; i < a.numel(); ++i) a.f32()[i] = std::fabs(a.f32()[i]);
  }
  return a;
}

// Garbage in the output, so that a kernel that skips elements is caught.
Tensor Poisoned(const Shape& shape, DType dtype = DType::kF32) {
  Tensor t(shape, dtype);
  if (dtype == DType::kF32) t.Fill(12345.0f);
  if (dtype == DType::kS32) std::fill_n(t.data<std::int32_t>(), t.numel(), 0x5a5a5a5a);
  return t;
}

// max_i |got_i - want_i| / scale_i, scale being the sum of absolute terms.
double MaxRelErr(const Tensor& got, const Tensor& want, const Tensor& scale) {
  double worst = 0;
  for (std::int64_t i = 0; i < got.numel(); ++i) {
    double err = std::fabs(static_cast<double>(got.f32()[i]) - want.f32()[i]);
    double s = scale.f32()[i];
    worst = std::max(worst, s > 0 ? err / s : (err > 0 ? INFINITY : 0.0));
  }
  return worst;
}

double Nmse(const Tensor& got, const Tensor& want) {
  double num = 0, den = 0;
  for (std::int64_t i = 0; i < got.numel(); ++i) {
    double d = static_cast<double>(got.f32()[i]) - want.f32()[i];
    num += d * d;
    den += static_cast<double>(want.f32()[i]) * want.f32()[i];
  }
  return den > 0 ? num / den : num;
}

// Checks one f32 result; `scale` is the reference run on absolute values.
void ExpectClose(DType input_dtype, const Tensor& got, const Tensor& want, const Tensor& scale,
                 const std::string& what) {
  ASSERT_EQ(got.shape(), want.shape()) << what;
  if (input_dtype == DType::kBF16) {
    EXPECT_LE(Nmse(got, want), kMaxNmseBf16) << what;
  } else {
    EXPECT_LE(MaxRelErr(got, want, scale), kMaxRelErrF32) << what;
  }
}

// Runs the comparisons on one thread: on a 2-core machine shared with other
// jobs, each parallel region can wait milliseconds for its second thread to
// be scheduled, which made this suite take seconds instead of a fraction of
// one. ParallelTest covers the multi-threaded decompositions.
class KernelsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    saved_threads_ = NumThreads();
    SetNumThreads(1);
  }
  void TearDown() override { SetNumThreads(saved_threads_); }

 private:
  int saved_threads_ = 1;
};

// ---------------------------------------------------------------------------
// Matmul

using MatmulTest = KernelsTest;
using Conv2dTest = KernelsTest;
using PrimitiveCacheTest = KernelsTest;

struct MatmulCase {
  std::int64_t m, k, n;
};
const MatmulCase kMatmulCases[] = {{1, 1, 1},    {1, 17, 3},    {3, 129, 17},    {17, 3, 129},
                                   {129, 17, 1}, {64, 129, 33}, {129, 129, 129}, {128, 784, 10}};

std::string Name(const MatmulCase& c, const MatmulOptions& o, bool bias, DType dtype) {
  return std::string(DTypeName(dtype)) + " m" + std::to_string(c.m) + " k" + std::to_string(c.k) +
         " n" + std::to_string(c.n) + (o.trans_a ? " a^T" : "") + (o.trans_b ? " b^T" : "") +
         (bias ? " +bias" : "");
}

// variant bits: 1 transposes a, 2 transposes b, 4 adds a bias.
void CheckMatmul(const MatmulCase& c, int variant, DType dtype, Rng& rng) {
  MatmulOptions o{(variant & 1) != 0, (variant & 2) != 0};
  const bool with_bias = (variant & 4) != 0;
  Tensor a = RandomTensor(o.trans_a ? Shape{c.k, c.m} : Shape{c.m, c.k}, dtype, rng);
  Tensor b = RandomTensor(o.trans_b ? Shape{c.n, c.k} : Shape{c.k, c.n}, dtype, rng);
  Tensor bias = with_bias ? RandomTensor({c.n}, DType::kF32, rng) : Tensor();
  Tensor got = Poisoned({c.m, c.n}), want({c.m, c.n}), scale({c.m, c.n});
  Matmul(a, b, bias, got, o);
  MatmulReference(a, b, bias, want, o);
  MatmulReference(Abs(a), Abs(b), with_bias ? Abs(bias) : Tensor(), scale, o);
  ExpectClose(dtype, got, want, scale, Name(c, o, with_bias, dtype));
}

TEST_F(MatmulTest, FloatAndBF16MatchReference) {
  Rng rng(42);
  for (DType dtype : {DType::kF32, DType::kBF16}) {
    for (const MatmulCase& c : kMatmulCases) {
      for (int variant = 0; variant < 8; ++variant) CheckMatmul(c, variant, dtype, rng);
    }
  }
}

TEST_F(MatmulTest, U8S8IsBitwiseEqualToReference) {
  // Full u8 and s8 ranges: 255 * 127 * 2 overflows s16, so an implementation
  // that saturated pairwise products (vpmaddubsw without VNNI) would fail.
  Rng rng(43);
  for (const MatmulCase& c : kMatmulCases) {
    for (int variant = 0; variant < 4; ++variant) {
      MatmulOptions o{(variant & 1) != 0, (variant & 2) != 0};
      Tensor a = RandomTensor(o.trans_a ? Shape{c.k, c.m} : Shape{c.m, c.k}, DType::kU8, rng);
      Tensor b = RandomTensor(o.trans_b ? Shape{c.n, c.k} : Shape{c.k, c.n}, DType::kS8, rng);
      Tensor got = Poisoned({c.m, c.n}, DType::kS32), want({c.m, c.n}, DType::kS32);
      Matmul(a, b, Tensor(), got, o);
      MatmulReference(a, b, Tensor(), want, o);
      for (std::int64_t i = 0; i < got.numel(); ++i) {
        ASSERT_EQ(got.data<std::int32_t>()[i], want.data<std::int32_t>()[i])
            << Name(c, o, false, DType::kU8) << " at " << i;
      }
    }
  }
}

TEST_F(MatmulTest, EmptyInnerDimensionGivesBias) {
  Tensor a({2, 0}), b({0, 3}), bias = Tensor::FromVector({3}, {1, 2, 3});
  Tensor c = Poisoned({2, 3});
  Matmul(a, b, bias, c);
  for (std::int64_t i = 0; i < 6; ++i) EXPECT_EQ(c.f32()[i], static_cast<float>(i % 3 + 1));
}

// Both implementations must reject the call, with the shapes in the message.
template <class Call>
void ExpectBothThrow(Call call, const std::vector<std::string>& fragments) {
  for (bool reference : {false, true}) {
    try {
      call(reference);
      ADD_FAILURE() << (reference ? "reference" : "oneDNN") << " path did not throw";
    } catch (const Error& e) {
      for (const std::string& f : fragments) {
        EXPECT_THAT(e.what(), HasSubstr(f)) << (reference ? "reference" : "oneDNN");
      }
    }
  }
}

TEST_F(MatmulTest, ShapeMismatchThrowsNamingShapes) {
  Tensor a({3, 4}), b({5, 6}), c({3, 6});
  ExpectBothThrow(
      [&](bool ref) { ref ? MatmulReference(a, b, Tensor(), c) : Matmul(a, b, Tensor(), c); },
      {"[3, 4]", "[5, 6]", "[3, 6]"});
  Tensor wrong_c({4, 6});
  Tensor b_ok({4, 6});
  ExpectBothThrow(
      [&](bool ref) {
        ref ? MatmulReference(a, b_ok, Tensor(), wrong_c) : Matmul(a, b_ok, Tensor(), wrong_c);
      },
      {"[4, 6]", "[3, 4]"});
}

TEST_F(MatmulTest, DTypeMismatchThrowsNamingShapesAndDTypes) {
  Tensor a({3, 4}), b({4, 5}, DType::kBF16), c({3, 5});
  ExpectBothThrow(
      [&](bool ref) { ref ? MatmulReference(a, b, Tensor(), c) : Matmul(a, b, Tensor(), c); },
      {"[3, 4] f32", "[4, 5] bf16"});
  Tensor a8({3, 4}, DType::kU8), b8({4, 5}, DType::kS8), c_f32({3, 5});
  ExpectBothThrow(
      [&](bool ref) {
        ref ? MatmulReference(a8, b8, Tensor(), c_f32) : Matmul(a8, b8, Tensor(), c_f32);
      },
      {"s32", "[3, 5] f32"});
  Tensor bad_bias({4});
  ExpectBothThrow(
      [&](bool ref) {
        Tensor b32({4, 5});
        ref ? MatmulReference(a, b32, bad_bias, c) : Matmul(a, b32, bad_bias, c);
      },
      {"bias", "[4]"});
}

// ---------------------------------------------------------------------------
// Conv2d

struct ConvCase {
  std::int64_t n, c, h, w, o;
  int kernel, stride, pad;
};

std::string Name(const ConvCase& c, DType dtype) {
  return std::string(DTypeName(dtype)) + " n" + std::to_string(c.n) + " c" + std::to_string(c.c) +
         " " + std::to_string(c.h) + "x" + std::to_string(c.w) + " o" + std::to_string(c.o) + " k" +
         std::to_string(c.kernel) + " s" + std::to_string(c.stride) + " p" + std::to_string(c.pad);
}

// Every (kernel 1/3/5) x (stride 1/2) x (padding 0/1/2), with random batch,
// channels (including 1 and 3, below the plain-layout threshold of
// backward-data, and odd 17) and odd spatial sizes; plus MNIST-like layers.
std::vector<ConvCase> ConvCases() {
  Rng rng(44);
  const std::int64_t channels[] = {1, 3, 4, 16, 17};
  std::vector<ConvCase> cases;
  for (int kernel : {1, 3, 5})
    for (int stride : {1, 2})
      for (int pad : {0, 1, 2}) {
        ConvCase c;
        c.n = 1 + static_cast<std::int64_t>(rng.Below(3));
        c.c = channels[rng.Below(5)];
        c.o = channels[rng.Below(5)];
        c.h = 5 + static_cast<std::int64_t>(rng.Below(10));
        c.w = 5 + static_cast<std::int64_t>(rng.Below(10));
        c.kernel = kernel;
        c.stride = stride;
        c.pad = pad;
        cases.push_back(c);
      }
  cases.push_back({2, 1, 28, 28, 16, 3, 1, 1});
  cases.push_back({2, 16, 14, 14, 32, 3, 1, 1});
  cases.push_back({1, 32, 14, 14, 64, 5, 1, 2});
  return cases;
}

// Forward, backward-data and backward-weights (+ bias gradient) of one case.
void CheckConv(const ConvCase& c, DType dtype, bool with_bias, Rng& rng) {
  const std::string name = Name(c, dtype) + (with_bias ? " +bias" : "");
  Conv2dParams p{c.stride, c.pad};
  Tensor x = RandomTensor({c.n, c.c, c.h, c.w}, dtype, rng);
  Tensor w = RandomTensor({c.o, c.c, c.kernel, c.kernel}, dtype, rng);
  Tensor bias = with_bias ? RandomTensor({c.o}, DType::kF32, rng) : Tensor();
  Shape y_shape = Conv2dOutputShape(x.shape(), w.shape(), p);
  Tensor dy = RandomTensor(y_shape, dtype, rng);

  Tensor y = Poisoned(y_shape), y_ref(y_shape), y_scale(y_shape);
  Conv2dForward(x, w, bias, y, p);
  Conv2dForwardReference(x, w, bias, y_ref, p);
  Conv2dForwardReference(Abs(x), Abs(w), with_bias ? Abs(bias) : Tensor(), y_scale, p);
  ExpectClose(dtype, y, y_ref, y_scale, "forward " + name);

  Tensor dx = Poisoned(x.shape()), dx_ref(x.shape()), dx_scale(x.shape());
  Conv2dBackwardData(dy, w, dx, p);
  Conv2dBackwardDataReference(dy, w, dx_ref, p);
  Conv2dBackwardDataReference(Abs(dy), Abs(w), dx_scale, p);
  ExpectClose(dtype, dx, dx_ref, dx_scale, "backward-data " + name);

  Tensor dw = Poisoned(w.shape()), dw_ref(w.shape()), dw_scale(w.shape());
  Tensor db = Poisoned({c.o}), db_ref({c.o}), db_scale({c.o});
  Conv2dBackwardWeights(x, dy, dw, with_bias ? &db : nullptr, p);
  Conv2dBackwardWeightsReference(x, dy, dw_ref, &db_ref, p);
  Conv2dBackwardWeightsReference(Abs(x), Abs(dy), dw_scale, &db_scale, p);
  ExpectClose(dtype, dw, dw_ref, dw_scale, "backward-weights " + name);
  if (with_bias) ExpectClose(dtype, db, db_ref, db_scale, "bias gradient " + name);
}

TEST_F(Conv2dTest, AllThreeDirectionsMatchReference) {
  Rng rng(45);
  int index = 0;
  for (DType dtype : {DType::kF32, DType::kBF16}) {
    for (const ConvCase& c : ConvCases()) CheckConv(c, dtype, ++index % 2 == 0, rng);
  }
}

TEST_F(Conv2dTest, ShapeMismatchThrowsNamingShapes) {
  Conv2dParams p{1, 1};
  Tensor x({2, 3, 8, 8}), w({4, 5, 3, 3}), y({2, 4, 8, 8});
  ExpectBothThrow(
      [&](bool ref) {
        ref ? Conv2dForwardReference(x, w, Tensor(), y, p) : Conv2dForward(x, w, Tensor(), y, p);
      },
      {"[2, 3, 8, 8]", "[4, 5, 3, 3]"});
  Tensor w_ok({4, 3, 3, 3}), dy_bad({2, 4, 7, 8});
  ExpectBothThrow(
      [&](bool ref) {
        ref ? Conv2dBackwardDataReference(dy_bad, w_ok, x, p)
            : Conv2dBackwardData(dy_bad, w_ok, x, p);
      },
      {"[2, 4, 8, 8]", "[2, 4, 7, 8]"});
  Tensor dw({4, 3, 3, 3});
  ExpectBothThrow(
      [&](bool ref) {
        ref ? Conv2dBackwardWeightsReference(x, dy_bad, dw, nullptr, p)
            : Conv2dBackwardWeights(x, dy_bad, dw, nullptr, p);
      },
      {"[2, 4, 7, 8]"});
}

// The reference conv does not check dtypes (CheckConv is shape-only), so
// these go through the oneDNN path alone.
TEST_F(Conv2dTest, DTypeMismatchThrowsNamingShapesAndDTypes) {
  Conv2dParams p{1, 1};
  Tensor x({2, 3, 8, 8}, DType::kBF16), w({4, 3, 3, 3}), y({2, 4, 8, 8});
  EXPECT_THAT([&] { Conv2dForward(x, w, Tensor(), y, p); },
              ::testing::ThrowsMessage<Error>(
                  AllOf(HasSubstr("x [2, 3, 8, 8] bf16"), HasSubstr("w [4, 3, 3, 3] f32"))));
  Tensor xb({2, 3, 8, 8}, DType::kBF16), wb({4, 3, 3, 3}, DType::kBF16);
  Tensor y_bf16({2, 4, 8, 8}, DType::kBF16);
  EXPECT_THAT([&] { Conv2dForward(xb, wb, Tensor(), y_bf16, p); },
              ::testing::ThrowsMessage<Error>(HasSubstr("y [2, 4, 8, 8] bf16")));
  Tensor x32({2, 3, 8, 8}), bad_bias({3});
  EXPECT_THAT([&] { Conv2dForward(x32, w, bad_bias, y, p); },
              ::testing::ThrowsMessage<Error>(AllOf(HasSubstr("bias"), HasSubstr("[3]"))));
  Tensor dy({2, 4, 8, 8}, DType::kBF16), dx({2, 3, 8, 8});
  EXPECT_THAT([&] { Conv2dBackwardData(dy, w, dx, p); },
              ::testing::ThrowsMessage<Error>(HasSubstr("dy [2, 4, 8, 8] bf16")));
  Tensor dw({4, 3, 3, 3}), db({5});
  EXPECT_THAT(
      [&] {
        Conv2dBackwardWeights(x32, Tensor({2, 4, 8, 8}), dw, &db, p);
      },
      ::testing::ThrowsMessage<Error>(HasSubstr("[5]")));
}

// ---------------------------------------------------------------------------
// Two threads: oneDNN splits M/N and, for backward-weights, the reduction
// over the batch across threads; a few cases exercise those splits.

TEST(ParallelTest, TwoThreadsMatchReference) {
  const int saved = NumThreads();
  SetNumThreads(2);
  Rng rng(49);
  for (DType dtype : {DType::kF32, DType::kBF16}) {
    CheckMatmul({129, 129, 129}, 7, dtype, rng);
    CheckMatmul({128, 784, 10}, 2, dtype, rng);
    CheckConv({4, 16, 14, 14, 32, 3, 1, 1}, dtype, true, rng);
    CheckConv({3, 1, 17, 17, 16, 5, 2, 2}, dtype, false, rng);
  }
  SetNumThreads(saved);
}

// ---------------------------------------------------------------------------
// Primitive cache

TEST_F(PrimitiveCacheTest, RepeatedMatmulCreatesNoPrimitive) {
  Rng rng(46);
  for (DType dtype : {DType::kF32, DType::kBF16}) {
    Tensor a = RandomTensor({5, 7}, dtype, rng), b = RandomTensor({7, 9}, dtype, rng);
    Tensor bias = RandomTensor({9}, DType::kF32, rng), c({5, 9});
    Matmul(a, b, bias, c);
    const std::size_t count = DnnlPrimitiveCount();
    // New tensors of the same shapes: the cached primitive must serve them.
    Tensor a2 = RandomTensor({5, 7}, dtype, rng), b2 = RandomTensor({7, 9}, dtype, rng);
    Tensor c2({5, 9}), want({5, 9});
    Matmul(a2, b2, bias, c2);
    EXPECT_EQ(DnnlPrimitiveCount(), count) << DTypeName(dtype);
    // ...and compute on the new data, not the old pointers.
    MatmulReference(a2, b2, bias, want);
    EXPECT_LE(Nmse(c2, want), kMaxNmseBf16);
    // A different shape is a different primitive (the counter does count).
    Tensor c3({5, 9});
    Matmul(a2, b2, Tensor(), c3);
    EXPECT_GT(DnnlPrimitiveCount(), count);
  }
}

TEST_F(PrimitiveCacheTest, RepeatedConvCreatesNoPrimitive) {
  Rng rng(47);
  Conv2dParams p{1, 1};
  Tensor x = RandomTensor({2, 4, 9, 9}, DType::kF32, rng);
  Tensor w = RandomTensor({8, 4, 3, 3}, DType::kF32, rng);
  Tensor bias = RandomTensor({8}, DType::kF32, rng), y({2, 8, 9, 9});
  Tensor dx({2, 4, 9, 9}), dw({8, 4, 3, 3}), db({8});
  auto step = [&] {
    Conv2dForward(x, w, bias, y, p);
    Conv2dBackwardData(y, w, dx, p);
    Conv2dBackwardWeights(x, y, dw, &db, p);
  };
  step();
  const std::size_t count = DnnlPrimitiveCount();
  step();
  step();
  EXPECT_EQ(DnnlPrimitiveCount(), count);
}

TEST_F(PrimitiveCacheTest, ThreadCountIsPartOfTheKey) {
  // oneDNN fixes its work split when a primitive is created, so a primitive
  // made for two threads must not be reused after SetNumThreads(1).
  const int saved = NumThreads();
  Rng rng(48);
  Tensor a = RandomTensor({6, 10}, DType::kF32, rng), b = RandomTensor({10, 3}, DType::kF32, rng);
  Tensor c({6, 3});
  SetNumThreads(2);
  Matmul(a, b, Tensor(), c);
  const std::size_t count = DnnlPrimitiveCount();
  SetNumThreads(1);
  Matmul(a, b, Tensor(), c);
  EXPECT_EQ(DnnlPrimitiveCount(), count + 1);
  SetNumThreads(saved);
}

}  // namespace
}  // namespace joule
