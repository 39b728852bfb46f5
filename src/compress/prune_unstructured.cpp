// Unstructured magnitude pruning: exact-count masks over the weights of
// Linear and Conv2d layers.
#include <algorithm>
#include <cmath>
#include <numeric>

#include "compress/prune_internal.hpp"
#include "joule/compress/prune.hpp"

namespace joule {
namespace {

using prune_internal::IsWeighted;
using prune_internal::WeightOf;

void CheckSparsity(double sparsity) {
  if (!(sparsity >= 0 && sparsity < 1)) {
    throw Error("pruning sparsity " + std::to_string(sparsity) +
                " is out of range: expected a fraction in [0, 1), e.g. 0.9 for 90% zeros");
  }
}

// Sets mask entries to 0 for the k smallest |w| over `values` (a group that
// may span several layers: values[i] belongs to *masks[owner[i]]). The
// comparison is a strict total order (|w|, then position), so nth_element
// picks the same set on every run and every platform.
void PruneSmallest(const std::vector<float>& magnitude, std::int64_t k,
                   const std::vector<float*>& mask_entries) {
  if (k <= 0) return;
  std::vector<std::int64_t> order(magnitude.size());
  std::iota(order.begin(), order.end(), std::int64_t{0});
  auto smaller = [&](std::int64_t a, std::int64_t b) {
    if (magnitude[a] != magnitude[b]) return magnitude[a] < magnitude[b];
    return a < b;
  };
  std::nth_element(order.begin(), order.begin() + (k - 1), order.end(), smaller);
  for (std::int64_t i = 0; i < k; ++i) *mask_entries[order[i]] = 0.0f;
}

// Fills magnitudes and mask entry pointers for one layer's weight.
void Collect(const Tensor& weight, Tensor& mask, std::vector<float>& magnitude,
             std::vector<float*>& entries) {
  const float* w = weight.f32();
  float* m = mask.f32();
  for (std::int64_t i = 0; i < weight.numel(); ++i) {
    // NaN would break the ordering; it ranks as the largest so it is kept
    // visible rather than silently pruned.
    magnitude.push_back(std::isnan(w[i]) ? INFINITY : std::fabs(w[i]));
    entries.push_back(m + i);
  }
}

}  // namespace

PruneScope ParsePruneScope(const std::string& name, const std::string& flag) {
  if (name == "global") return PruneScope::kGlobal;
  if (name == "layer") return PruneScope::kLayer;
  throw Error(flag + " '" + name + "' is not a pruning scope: expected global or layer");
}

const char* PruneScopeName(PruneScope scope) {
  return scope == PruneScope::kGlobal ? "global" : "layer";
}

std::vector<std::size_t> PrunableLayers(Sequential& model) {
  std::vector<std::size_t> layers;
  for (std::size_t i = 0; i < model.size(); ++i) {
    if (IsWeighted(model.layer(i))) layers.push_back(i);
  }
  return layers;
}

std::vector<WeightMask> MagnitudeMasks(Sequential& model, double sparsity, PruneScope scope) {
  CheckSparsity(sparsity);
  std::vector<WeightMask> masks;
  for (std::size_t i : PrunableLayers(model)) {
    Tensor mask(WeightOf(model.layer(i)).shape());
    mask.Fill(1.0f);
    masks.push_back({i, mask});
  }
  if (masks.empty()) {
    throw Error("the model has no Linear or Conv2d layer: nothing for magnitude pruning to prune");
  }
  std::vector<float> magnitude;
  std::vector<float*> entries;
  for (WeightMask& m : masks) {
    Collect(WeightOf(model.layer(m.layer)), m.mask, magnitude, entries);
    if (scope == PruneScope::kLayer) {
      const auto n = static_cast<double>(magnitude.size());
      PruneSmallest(magnitude, std::llround(sparsity * n), entries);
      magnitude.clear();
      entries.clear();
    }
  }
  if (scope == PruneScope::kGlobal) {
    const auto n = static_cast<double>(magnitude.size());
    PruneSmallest(magnitude, std::llround(sparsity * n), entries);
  }
  return masks;
}

void ApplyMasks(Sequential& model, const std::vector<WeightMask>& masks) {
  for (const WeightMask& m : masks) {
    JOULE_ASSERT(m.layer < model.size());
    Tensor& w = WeightOf(model.layer(m.layer));
    JOULE_ASSERT(w.shape() == m.mask.shape());
    float* wd = w.f32();
    const float* md = m.mask.f32();
    // Assigned rather than multiplied: w * 0 is -0.0 for negative w, which
    // the sparse file layout would have to store as a nonzero bit pattern.
    for (std::int64_t i = 0; i < w.numel(); ++i) {
      if (md[i] == 0.0f) wd[i] = 0.0f;
    }
  }
}

double WeightSparsity(Sequential& model) {
  std::int64_t zeros = 0, total = 0;
  for (std::size_t i : PrunableLayers(model)) {
    const Tensor& w = WeightOf(model.layer(i));
    const float* d = w.f32();
    for (std::int64_t j = 0; j < w.numel(); ++j) zeros += d[j] == 0.0f ? 1 : 0;
    total += w.numel();
  }
  return total == 0 ? 0.0 : static_cast<double>(zeros) / static_cast<double>(total);
}

}  // namespace joule
