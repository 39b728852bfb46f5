// The oneDNN side of the tensor layer: one engine and one stream for the
// process, and a cache that creates each primitive once per (op, shapes,
// dtypes, flags, thread count) and reuses it on every later call.
//
// Why a cache of our own when oneDNN has one: a cached DnnlOp also keeps the
// memory objects, reorder primitives and layout buffers around the primitive,
// so that a call in steady state only re-points memory handles and executes.
//
// Scratchpad: every primitive is created with scratchpad_mode::user and runs
// on one buffer owned by the context, grown only when a new primitive needs
// more. Calls are serialized by the context's mutex (oneDNN parallelizes each
// call with OpenMP, so concurrent calls would only oversubscribe the cores).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <oneapi/dnnl/dnnl.hpp>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "joule/tensor.hpp"

namespace joule::detail {

dnnl::memory::data_type ToDnnl(DType dtype);

// Everything a primitive's creation depends on. Callers fill op, dims, dtypes
// and flags; DnnlContext::Run adds the thread count, because oneDNN sizes its
// parallel decomposition when the primitive is created.
struct PrimitiveKey {
  enum class Op : std::uint8_t { kMatmul, kConvForward, kConvBackwardData, kConvBackwardWeights };
  Op op = Op::kMatmul;
  std::array<std::int64_t, 9> dims{};
  std::array<DType, 3> dtypes{};
  std::uint32_t flags = 0;  // op-specific: transposes, bias, layout choice
  int threads = 0;

  auto operator<=>(const PrimitiveKey&) const = default;
};

class DnnlContext;

// A primitive ready to run: reorders from the caller's layouts into the ones
// the primitive chose, the primitive, and reorders back. The caller's buffers
// are "user" memories, bound in order and re-pointed at each call.
class DnnlOp {
 public:
  // Declares the next caller buffer (handles[i] of Run, in declaration order)
  // with layout `user`, feeding argument `arg` of the primitive, which wants
  // layout `want`. When they differ, a reorder through a buffer owned by this
  // op is added before (input) or after (output) the primitive.
  void BindInput(DnnlContext& ctx, int arg, const dnnl::memory::desc& user,
                 const dnnl::memory::desc& want);
  void BindOutput(DnnlContext& ctx, int arg, const dnnl::memory::desc& user,
                  const dnnl::memory::desc& want);
  // Creates the primitive from pd; call after binding its arguments.
  void SetPrimitive(DnnlContext& ctx, const dnnl::primitive_desc_base& pd);

 private:
  friend class DnnlContext;
  // One primitive and its arguments, kept in the C API's form so that a run
  // builds nothing (the C++ execute() makes a vector per call).
  struct Step {
    dnnl::primitive primitive;
    std::vector<dnnl::memory> memories;  // owns what args point to
    std::vector<dnnl_exec_arg_t> args;
    dnnl::memory scratchpad;  // empty when the step needs none
    void Add(int arg, const dnnl::memory& memory);
  };
  void Bind(DnnlContext& ctx, int arg, const dnnl::memory::desc& user,
            const dnnl::memory::desc& want, bool is_output);
  Step MakeStep(DnnlContext& ctx, const dnnl::primitive_desc_base& pd);

  std::vector<dnnl::memory> user_;  // one per Run handle
  std::vector<Step> before_, after_;
  Step main_;
  std::vector<std::pair<int, dnnl::memory>> main_args_;  // filled by Bind*
};

class DnnlContext {
 public:
  // The process-wide context, created on first use.
  static DnnlContext& Instance();

  const dnnl::engine& engine() const { return engine_; }
  // The attributes every primitive is created with (user scratchpad).
  const dnnl::primitive_attr& attr() const { return attr_; }

  // Runs the op for `key` on the caller's buffers (in DnnlOp bind order),
  // building it with build(*this) -> DnnlOp on first use. A dnnl::error is
  // rethrown as Error naming describe() (the op and its shapes).
  template <class Build, class Describe>
  void Run(PrimitiveKey key, std::span<void* const> handles, Build&& build, Describe&& describe) {
    std::lock_guard<std::mutex> lock(mutex_);
    key.threads = CurrentThreads();
    try {
      auto it = cache_.find(key);
      if (it == cache_.end()) it = cache_.emplace(key, build(*this)).first;
      Execute(it->second, handles);
    } catch (const dnnl::error& e) {
      ThrowError(describe(), e);
    }
  }

  std::size_t primitive_count();

  // For DnnlOp: creates a primitive from pd, counts it, and grows the shared
  // scratchpad to fit it.
  dnnl::primitive CreatePrimitive(const dnnl::primitive_desc_base& pd);

 private:
  DnnlContext();
  void Execute(DnnlOp& op, std::span<void* const> handles);
  static int CurrentThreads();
  [[noreturn]] static void ThrowError(const std::string& what, const dnnl::error& e);

  dnnl::engine engine_;
  dnnl::stream stream_;
  dnnl::primitive_attr attr_;
  std::mutex mutex_;
  std::map<PrimitiveKey, DnnlOp> cache_;
  std::size_t primitive_count_ = 0;
  Tensor scratchpad_;  // u8, shared by all primitives; grows, never shrinks
};

}  // namespace joule::detail
