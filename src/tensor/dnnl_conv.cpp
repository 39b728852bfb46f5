// 2-D convolution on oneDNN: forward, backward-data, backward-weights.
//
// Layout: the caller's tensors are plain NCHW / OIHW, but the primitives are
// created with format_tag::any and run on the blocked layouts oneDNN picks
// (nChw16c, OIhw16i16o, ...) through reorders cached with the primitive.
// With plain layouts oneDNN falls back to im2col + GEMM. Measured on this
// project's Zen 4 VM, one thread, batch 128, the MNIST layers 1->16 and
// 16->32 3x3 and 1->32 and 32->64 5x5 (forward + both backwards, reorders
// included): blocked is 1.5-2.2x faster in f32 and 2.4-3.7x in bf16, except
// backward-data into 1 input channel, where the blocked kernel was 3-6x
// slower than GEMM (and 2x at 3 channels in f32, even at 4): below
// kMinChannelsForBlockedBackwardData that one op keeps plain layouts.
//
// bf16: x/w (or dy/w, x/dy) bf16 with f32 y, dx, dw and bias runs natively on
// avx512_core_bf16 in oneDNN 2.6, including backward-data with an f32 diff_src,
// so nothing is converted here.
#include <array>
#include <cstdint>
#include <string>

#include "joule/tensor.hpp"
#include "tensor/dnnl_context.hpp"
#include "tensor/kernel_checks.hpp"

namespace joule {
namespace {

using dnnl::memory;
using Key = detail::PrimitiveKey;

constexpr std::uint32_t kBias = 1, kPlainLayout = 2;  // PrimitiveKey::flags

// Below this many input channels, backward-data runs on plain layouts (see
// the file comment for the measurement).
constexpr std::int64_t kMinChannelsForBlockedBackwardData = 4;

bool IsFloatOrBF16(const Tensor& t) {
  return t.dtype() == DType::kF32 || t.dtype() == DType::kBF16;
}

std::string Describe(const char* what, const char* in1, const Tensor& t1, const char* in2,
                     const Tensor& t2, const char* out, const Tensor& t3) {
  return std::string("conv2d ") + what + ": " + in1 + " " + ShapeString(t1.shape()) + " " +
         DTypeName(t1.dtype()) + ", " + in2 + " " + ShapeString(t2.shape()) + " " +
         DTypeName(t2.dtype()) + ", " + out + " " + ShapeString(t3.shape()) + " " +
         DTypeName(t3.dtype());
}

std::string Params(const Conv2dParams& p) {
  return ", stride " + std::to_string(p.stride) + ", padding " + std::to_string(p.padding);
}

// CheckConv checks shapes only. The dtype rules of tensor.hpp: the two
// inputs both f32 or both bf16; the output f32; a bias (or its gradient) f32
// [O].
void CheckDTypes(const char* what, const char* in1, const Tensor& t1, const char* in2,
                 const Tensor& t2, const char* out, const Tensor& t3, const Tensor* bias,
                 std::int64_t channels_out) {
  if (!IsFloatOrBF16(t1) || t1.dtype() != t2.dtype() || t3.dtype() != DType::kF32) {
    throw Error(Describe(what, in1, t1, in2, t2, out, t3) + ": want " + in1 + " and " + in2 +
                " both f32 or both bf16, and " + out + " f32");
  }
  if (bias && !bias->empty() &&
      (bias->dtype() != DType::kF32 || bias->rank() != 1 || bias->dim(0) != channels_out)) {
    throw Error(std::string("conv2d ") + what + ": bias must be f32 [" +
                std::to_string(channels_out) + "], got " + ShapeString(bias->shape()) + " " +
                DTypeName(bias->dtype()));
  }
}

bool HasZeroDim(const detail::ConvDims& d) {
  return d.n == 0 || d.c == 0 || d.h == 0 || d.w == 0 || d.o == 0 || d.kh == 0 || d.kw == 0;
}

Key MakeKey(Key::Op op, const detail::ConvDims& d, DType in1, DType in2, std::uint32_t flags) {
  Key key;
  key.op = op;
  key.dims = {d.n, d.c, d.h, d.w, d.o, d.kh, d.kw, d.stride, d.pad};
  key.dtypes = {in1, in2, DType::kF32};
  key.flags = flags;
  return key;
}

// Memory descriptors for one convolution: the caller's plain layouts, and
// what the primitive is asked for (format_tag::any unless plain is forced).
struct ConvDescs {
  memory::desc x, w, y, bias;        // caller layouts
  memory::desc x_ask, w_ask, y_ask;  // requested from oneDNN
  memory::dims strides, padding;
};

ConvDescs MakeDescs(const detail::ConvDims& d, DType x_dtype, DType w_dtype, DType y_dtype,
                    bool has_bias, bool plain) {
  using tag = memory::format_tag;
  ConvDescs s;
  memory::dims x_dims{d.n, d.c, d.h, d.w}, w_dims{d.o, d.c, d.kh, d.kw};
  memory::dims y_dims{d.n, d.o, d.oh, d.ow};
  s.x = memory::desc(x_dims, detail::ToDnnl(x_dtype), tag::nchw);
  s.w = memory::desc(w_dims, detail::ToDnnl(w_dtype), tag::oihw);
  s.y = memory::desc(y_dims, detail::ToDnnl(y_dtype), tag::nchw);
  if (has_bias) s.bias = memory::desc({d.o}, memory::data_type::f32, tag::x);
  s.x_ask = plain ? s.x : memory::desc(x_dims, detail::ToDnnl(x_dtype), tag::any);
  s.w_ask = plain ? s.w : memory::desc(w_dims, detail::ToDnnl(w_dtype), tag::any);
  s.y_ask = plain ? s.y : memory::desc(y_dims, detail::ToDnnl(y_dtype), tag::any);
  s.strides = {d.stride, d.stride};
  s.padding = {d.pad, d.pad};
  return s;
}

// The forward primitive descriptor: the forward op itself, and the hint the
// backward primitives need to pick matching implementations and layouts.
dnnl::convolution_forward::primitive_desc ForwardPd(detail::DnnlContext& ctx, const ConvDescs& s) {
  dnnl::convolution_forward::desc desc(dnnl::prop_kind::forward_training,
                                       dnnl::algorithm::convolution_direct, s.x_ask, s.w_ask,
                                       s.bias, s.y_ask, s.strides, s.padding, s.padding);
  return dnnl::convolution_forward::primitive_desc(desc, ctx.attr(), ctx.engine());
}

void* Handle(const Tensor& t) { return const_cast<void*>(t.raw()); }  // inputs are only read

}  // namespace

void Conv2dForward(const Tensor& x, const Tensor& w, const Tensor& bias, Tensor& y,
                   const Conv2dParams& p) {
  detail::ConvDims d = detail::CheckConv(x.shape(), w.shape(), y.shape(), p);
  CheckDTypes("forward", "x", x, "w", w, "y", y, &bias, d.o);
  if (HasZeroDim(d)) return Conv2dForwardReference(x, w, bias, y, p);  // no work to speak of
  const bool has_bias = !bias.empty();
  Key key = MakeKey(Key::Op::kConvForward, d, x.dtype(), w.dtype(), has_bias ? kBias : 0u);
  auto build = [&](detail::DnnlContext& ctx) {
    ConvDescs s = MakeDescs(d, x.dtype(), w.dtype(), DType::kF32, has_bias, /*plain=*/false);
    auto pd = ForwardPd(ctx, s);
    detail::DnnlOp op;
    op.BindInput(ctx, DNNL_ARG_SRC, s.x, pd.src_desc());
    op.BindInput(ctx, DNNL_ARG_WEIGHTS, s.w, pd.weights_desc());
    if (has_bias) op.BindInput(ctx, DNNL_ARG_BIAS, s.bias, pd.bias_desc());
    op.BindOutput(ctx, DNNL_ARG_DST, s.y, pd.dst_desc());
    op.SetPrimitive(ctx, pd);
    return op;
  };
  std::array<void*, 4> handles{Handle(x), Handle(w)};
  std::size_t count = 2;
  if (has_bias) handles[count++] = Handle(bias);
  handles[count++] = y.raw();
  detail::DnnlContext::Instance().Run(
      key, std::span<void* const>(handles.data(), count), build,
      [&] { return Describe("forward", "x", x, "w", w, "y", y) + Params(p); });
}

void Conv2dBackwardData(const Tensor& dy, const Tensor& w, Tensor& dx, const Conv2dParams& p) {
  detail::ConvDims d = detail::CheckConv(dx.shape(), w.shape(), dy.shape(), p);
  CheckDTypes("backward-data", "dy", dy, "w", w, "dx", dx, nullptr, d.o);
  if (HasZeroDim(d)) return Conv2dBackwardDataReference(dy, w, dx, p);
  const bool plain = d.c < kMinChannelsForBlockedBackwardData;
  Key key =
      MakeKey(Key::Op::kConvBackwardData, d, dy.dtype(), w.dtype(), plain ? kPlainLayout : 0u);
  auto build = [&](detail::DnnlContext& ctx) {
    // The hint is a forward op with the same dtypes as the inputs here.
    auto hint = ForwardPd(ctx, MakeDescs(d, w.dtype(), w.dtype(), DType::kF32, false, plain));
    ConvDescs s = MakeDescs(d, DType::kF32, w.dtype(), dy.dtype(), false, plain);
    dnnl::convolution_backward_data::desc desc(dnnl::algorithm::convolution_direct, s.x_ask,
                                               s.w_ask, s.y_ask, s.strides, s.padding, s.padding);
    dnnl::convolution_backward_data::primitive_desc pd(desc, ctx.attr(), ctx.engine(), hint);
    detail::DnnlOp op;
    op.BindInput(ctx, DNNL_ARG_DIFF_DST, s.y, pd.diff_dst_desc());
    op.BindInput(ctx, DNNL_ARG_WEIGHTS, s.w, pd.weights_desc());
    op.BindOutput(ctx, DNNL_ARG_DIFF_SRC, s.x, pd.diff_src_desc());
    op.SetPrimitive(ctx, pd);
    return op;
  };
  std::array<void*, 3> handles{Handle(dy), Handle(w), dx.raw()};
  detail::DnnlContext::Instance().Run(
      key, handles, build, [&] { return Describe("backward-data", "dy", dy, "w", w, "dx", dx); });
}

void Conv2dBackwardWeights(const Tensor& x, const Tensor& dy, Tensor& dw, Tensor* db,
                           const Conv2dParams& p) {
  detail::ConvDims d = detail::CheckConv(x.shape(), dw.shape(), dy.shape(), p);
  CheckDTypes("backward-weights", "x", x, "dy", dy, "dw", dw, db, d.o);
  if (db && db->empty()) {
    throw Error("conv2d backward-weights: db must be f32 [" + std::to_string(d.o) +
                "] or null, got an empty tensor");
  }
  if (HasZeroDim(d)) return Conv2dBackwardWeightsReference(x, dy, dw, db, p);
  const bool has_bias = db != nullptr;
  Key key = MakeKey(Key::Op::kConvBackwardWeights, d, x.dtype(), dy.dtype(), has_bias ? kBias : 0u);
  auto build = [&](detail::DnnlContext& ctx) {
    auto hint = ForwardPd(ctx, MakeDescs(d, x.dtype(), x.dtype(), DType::kF32, has_bias, false));
    // Weights and bias gradients are f32 whatever the input dtype.
    ConvDescs s = MakeDescs(d, x.dtype(), DType::kF32, dy.dtype(), has_bias, /*plain=*/false);
    dnnl::convolution_backward_weights::desc desc(dnnl::algorithm::convolution_direct, s.x_ask,
                                                  s.w_ask, s.bias, s.y_ask, s.strides, s.padding,
                                                  s.padding);
    dnnl::convolution_backward_weights::primitive_desc pd(desc, ctx.attr(), ctx.engine(), hint);
    detail::DnnlOp op;
    op.BindInput(ctx, DNNL_ARG_SRC, s.x, pd.src_desc());
    op.BindInput(ctx, DNNL_ARG_DIFF_DST, s.y, pd.diff_dst_desc());
    op.BindOutput(ctx, DNNL_ARG_DIFF_WEIGHTS, s.w, pd.diff_weights_desc());
    if (has_bias) op.BindOutput(ctx, DNNL_ARG_DIFF_BIAS, s.bias, pd.diff_bias_desc());
    op.SetPrimitive(ctx, pd);
    return op;
  };
  std::array<void*, 4> handles{Handle(x), Handle(dy), dw.raw()};
  std::size_t count = 3;
  if (has_bias) handles[count++] = db->raw();
  detail::DnnlContext::Instance().Run(
      key, std::span<void* const>(handles.data(), count), build,
      [&] { return Describe("backward-weights", "x", x, "dy", dy, "dw", dw) + Params(p); });
}

}  // namespace joule
