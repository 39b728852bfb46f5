// Helpers shared by the pruning files: finding a layer's tensors by name.
#pragma once

#include <string>

#include "joule/nn.hpp"

namespace joule::prune_internal {

// True for the layers whose "weight" pruning acts on.
inline bool IsWeighted(const Layer& layer) {
  return layer.type() == "Linear" || layer.type() == "Conv2d";
}

// The parameter or buffer called `name` of `layer`, or null.
inline Tensor* FindTensor(Layer& layer, const std::string& name) {
  for (Parameter* p : layer.Parameters()) {
    if (p->name == name) return &p->value;
  }
  for (auto& [buffer_name, tensor] : layer.Buffers()) {
    if (buffer_name == name) return tensor;
  }
  return nullptr;
}

// The f32 "weight" of a Linear or Conv2d (asserted: only a bug asks another layer).
inline Tensor& WeightOf(Layer& layer) {
  Tensor* w = FindTensor(layer, "weight");
  JOULE_ASSERT(w != nullptr && w->dtype() == DType::kF32);
  return *w;
}

}  // namespace joule::prune_internal
