#include "tensor/dnnl_context.hpp"

#include <omp.h>
#include <oneapi/dnnl/dnnl_debug.h>

namespace joule {
namespace detail {

dnnl::memory::data_type ToDnnl(DType dtype) {
  using dt = dnnl::memory::data_type;
  switch (dtype) {
    case DType::kF32:
      return dt::f32;
    case DType::kBF16:
      return dt::bf16;
    case DType::kS8:
      return dt::s8;
    case DType::kU8:
      return dt::u8;
    case DType::kS32:
      return dt::s32;
  }
  JOULE_ASSERT(false);
}

void DnnlOp::BindInput(DnnlContext& ctx, int arg, const dnnl::memory::desc& user,
                       const dnnl::memory::desc& want) {
  Bind(ctx, arg, user, want, /*is_output=*/false);
}

void DnnlOp::BindOutput(DnnlContext& ctx, int arg, const dnnl::memory::desc& user,
                        const dnnl::memory::desc& want) {
  Bind(ctx, arg, user, want, /*is_output=*/true);
}

void DnnlOp::Bind(DnnlContext& ctx, int arg, const dnnl::memory::desc& user,
                  const dnnl::memory::desc& want, bool is_output) {
  // The handle is set by each Run; nothing is allocated for user memory.
  dnnl::memory user_memory(user, ctx.engine(), DNNL_MEMORY_NONE);
  user_.push_back(user_memory);
  if (user == want) {
    main_args_.emplace_back(arg, user_memory);
    return;
  }
  // The primitive chose another layout: it runs on a buffer owned by this op,
  // allocated once here, with a reorder on the way in or out.
  dnnl::memory inner(want, ctx.engine());
  main_args_.emplace_back(arg, inner);
  const dnnl::memory& from = is_output ? inner : user_memory;
  const dnnl::memory& to = is_output ? user_memory : inner;
  dnnl::reorder::primitive_desc pd(ctx.engine(), from.get_desc(), ctx.engine(), to.get_desc(),
                                   ctx.attr());
  Step step = MakeStep(ctx, pd);
  step.Add(DNNL_ARG_FROM, from);
  step.Add(DNNL_ARG_TO, to);
  (is_output ? after_ : before_).push_back(std::move(step));
}

void DnnlOp::SetPrimitive(DnnlContext& ctx, const dnnl::primitive_desc_base& pd) {
  main_ = MakeStep(ctx, pd);
  for (const auto& [arg, memory] : main_args_) main_.Add(arg, memory);
}

void DnnlOp::Step::Add(int arg, const dnnl::memory& memory) {
  memories.push_back(memory);
  args.push_back({arg, memory.get()});
}

DnnlOp::Step DnnlOp::MakeStep(DnnlContext& ctx, const dnnl::primitive_desc_base& pd) {
  Step step;
  step.primitive = ctx.CreatePrimitive(pd);
  dnnl::memory::desc scratch = pd.scratchpad_desc();
  if (scratch.get_size() > 0) {
    step.scratchpad = dnnl::memory(scratch, ctx.engine(), DNNL_MEMORY_NONE);
    step.Add(DNNL_ARG_SCRATCHPAD, step.scratchpad);
  }
  return step;
}

// The context is leaked on purpose: it must outlive every static object and
// thread that may still call a kernel during exit, and destroying it would
// race with oneDNN's own globals, whose destruction order is unspecified.
DnnlContext& DnnlContext::Instance() {
  static DnnlContext* context = new DnnlContext();
  return *context;
}

DnnlContext::DnnlContext() : engine_(dnnl::engine::kind::cpu, 0), stream_(engine_) {
  attr_.set_scratchpad_mode(dnnl::scratchpad_mode::user);
}

dnnl::primitive DnnlContext::CreatePrimitive(const dnnl::primitive_desc_base& pd) {
  dnnl::primitive primitive(pd.get());
  ++primitive_count_;
  std::size_t bytes = pd.scratchpad_desc().get_size();
  if (bytes > scratchpad_.nbytes()) {
    scratchpad_.Resize({static_cast<std::int64_t>(bytes)}, DType::kU8);
  }
  return primitive;
}

void DnnlContext::Execute(DnnlOp& op, std::span<void* const> handles) {
  JOULE_ASSERT(handles.size() == op.user_.size());
  for (std::size_t i = 0; i < handles.size(); ++i) op.user_[i].set_data_handle(handles[i]);
  auto run = [&](DnnlOp::Step& step) {
    if (step.scratchpad) step.scratchpad.set_data_handle(scratchpad_.raw());
    dnnl::error::wrap_c_api(
        dnnl_primitive_execute(step.primitive.get(), stream_.get(),
                               static_cast<int>(step.args.size()), step.args.data()),
        "could not execute a primitive");
  };
  for (auto& step : op.before_) run(step);
  run(op.main_);
  for (auto& step : op.after_) run(step);
  stream_.wait();
}

int DnnlContext::CurrentThreads() { return omp_get_max_threads(); }

void DnnlContext::ThrowError(const std::string& what, const dnnl::error& e) {
  throw Error("oneDNN " + what + ": " + e.what() + " (" + dnnl_status2str(e.status) +
              "); this shape or dtype may be unsupported by oneDNN " +
              std::to_string(dnnl_version()->major) + "." + std::to_string(dnnl_version()->minor) +
              " on this CPU");
}

std::size_t DnnlContext::primitive_count() {
  std::lock_guard<std::mutex> lock(mutex_);
  return primitive_count_;
}

}  // namespace detail

std::size_t DnnlPrimitiveCount() { return detail::DnnlContext::Instance().primitive_count(); }

}  // namespace joule
