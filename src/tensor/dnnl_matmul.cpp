// Matmul on oneDNN. Transposed operands are described by their strides, so
// oneDNN reads the caller's storage as it is: nothing is copied here.
#include <array>
#include <cstdint>

#include "joule/tensor.hpp"
#include "tensor/dnnl_context.hpp"
#include "tensor/kernel_checks.hpp"

namespace joule {
namespace {

using dnnl::memory;

constexpr std::uint32_t kTransA = 1, kTransB = 2, kBias = 4;  // PrimitiveKey::flags

// A row-major [rows, cols] matrix, or the transpose of one stored [cols, rows].
memory::desc MatrixDesc(std::int64_t rows, std::int64_t cols, DType dtype, bool transposed) {
  memory::dims strides = transposed ? memory::dims{1, rows} : memory::dims{cols, 1};
  return memory::desc({rows, cols}, detail::ToDnnl(dtype), strides);
}

std::string Describe(const Tensor& a, const Tensor& b, const Tensor& bias, const Tensor& c,
                     const MatmulOptions& o) {
  std::string s = "matmul a " + ShapeString(a.shape()) + " " + DTypeName(a.dtype()) +
                  (o.trans_a ? "^T" : "") + ", b " + ShapeString(b.shape()) + " " +
                  DTypeName(b.dtype()) + (o.trans_b ? "^T" : "");
  if (!bias.empty()) s += ", bias " + ShapeString(bias.shape());
  return s + ", c " + ShapeString(c.shape()) + " " + DTypeName(c.dtype());
}

}  // namespace

void Matmul(const Tensor& a, const Tensor& b, const Tensor& bias, Tensor& c,
            const MatmulOptions& o) {
  detail::MatmulDims d = detail::CheckMatmul(a, b, bias, c, o);
  if (d.m == 0 || d.n == 0 || d.k == 0) {
    // No products to sum: c is empty, or all bias/zero. The reference does
    // that exactly and oneDNN has no useful primitive for it.
    MatmulReference(a, b, bias, c, o);
    return;
  }
  const bool has_bias = !bias.empty();
  detail::PrimitiveKey key;
  key.op = detail::PrimitiveKey::Op::kMatmul;
  key.dims = {d.m, d.k, d.n};
  key.dtypes = {a.dtype(), b.dtype(), c.dtype()};
  key.flags = (o.trans_a ? kTransA : 0u) | (o.trans_b ? kTransB : 0u) | (has_bias ? kBias : 0u);

  auto build = [&](detail::DnnlContext& ctx) {
    memory::desc a_md = MatrixDesc(d.m, d.k, a.dtype(), o.trans_a);
    memory::desc b_md = MatrixDesc(d.k, d.n, b.dtype(), o.trans_b);
    memory::desc c_md = MatrixDesc(d.m, d.n, c.dtype(), false);
    memory::desc bias_md = has_bias ? MatrixDesc(1, d.n, DType::kF32, false) : memory::desc();
    dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a_md, b_md, bias_md, c_md), ctx.attr(),
                                    ctx.engine());
    detail::DnnlOp op;
    op.BindInput(ctx, DNNL_ARG_SRC, a_md, pd.src_desc());
    op.BindInput(ctx, DNNL_ARG_WEIGHTS, b_md, pd.weights_desc());
    if (has_bias) op.BindInput(ctx, DNNL_ARG_BIAS, bias_md, pd.bias_desc());
    op.BindOutput(ctx, DNNL_ARG_DST, c_md, pd.dst_desc());
    op.SetPrimitive(ctx, pd);
    return op;
  };
  // oneDNN takes non-const handles; inputs are only read.
  std::array<void*, 4> handles{const_cast<void*>(a.raw()), const_cast<void*>(b.raw())};
  std::size_t count = 2;
  if (has_bias) handles[count++] = const_cast<void*>(bias.raw());
  handles[count++] = c.raw();
  detail::DnnlContext::Instance().Run(key, std::span<void* const>(handles.data(), count), build,
                                      [&] { return Describe(a, b, bias, c, o); });
}

}  // namespace joule
