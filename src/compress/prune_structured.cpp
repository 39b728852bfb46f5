// Structured pruning: whole neurons of a Linear, whole output channels of a
// Conv2d, removed so that the result is a smaller dense model.
//
// Every pruned unit has a producer (the layer whose output unit it is), maybe
// BatchNorm layers that normalise it on the way, and a consumer (the next
// Linear/Conv2d, whose input columns or channels read it). All three are cut
// together. Tensors are viewed as [outer, units, inner] so one gather serves
// every case: a producer's weight rows (outer 1), a Conv2d consumer's input
// channels (inner = KH x KW), a Linear consumer's input features (inner = the
// H x W block a channel owns after Flatten, 1 after a Linear).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <optional>

#include "compress/prune_internal.hpp"
#include "joule/compress/prune.hpp"

namespace joule {
namespace {

using prune_internal::FindTensor;
using prune_internal::IsWeighted;
using prune_internal::WeightOf;

bool ActsPerUnit(const std::string& type) {
  static const char* const kTypes[] = {"ReLU",        "GELU",       "Tanh",      "Sigmoid",
                                       "Dropout",     "MaxPool2d",  "AvgPool2d", "Flatten",
                                       "BatchNorm1d", "BatchNorm2d"};
  return std::any_of(std::begin(kTypes), std::end(kTypes),
                     [&](const char* t) { return type == t; });
}

// The path from a producer's output units to the layer that consumes them.
struct Link {
  std::size_t producer = 0, consumer = 0;
  std::vector<std::size_t> norms;  // BatchNorm layers in between
  std::int64_t units = 0;
  std::int64_t inner = 0;  // consumer weight elements per (output, unit)
};

std::optional<Link> FindLink(Sequential& model, std::size_t producer) {
  if (!IsWeighted(model.layer(producer))) return std::nullopt;
  Link link;
  link.producer = producer;
  link.units = WeightOf(model.layer(producer)).dim(0);
  for (std::size_t j = producer + 1; j < model.size(); ++j) {
    Layer& layer = model.layer(j);
    if (IsWeighted(layer)) {
      const Tensor& w = WeightOf(layer);
      const std::int64_t per_output = w.numel() / w.dim(0);
      // A Linear reading a Conv2d's output must see whole channel blocks;
      // anything else is a layout this code does not know how to cut.
      if (layer.type() == "Conv2d" ? w.dim(1) != link.units : per_output % link.units != 0) {
        return std::nullopt;
      }
      link.consumer = j;
      link.inner = per_output / link.units;
      return link;
    }
    if (!ActsPerUnit(layer.type())) return std::nullopt;
    if (layer.type().rfind("BatchNorm", 0) == 0) link.norms.push_back(j);
  }
  return std::nullopt;
}

// Copies the kept units of src viewed as [outer, units, inner] into dst
// (numel outer x kept x inner).
void Gather(const Tensor& src, std::int64_t outer, std::int64_t units, std::int64_t inner,
            const std::vector<std::int64_t>& kept, Tensor& dst) {
  JOULE_ASSERT(src.numel() == outer * units * inner);
  JOULE_ASSERT(dst.numel() == outer * static_cast<std::int64_t>(kept.size()) * inner);
  const float* s = src.f32();
  float* d = dst.f32();
  for (std::int64_t o = 0; o < outer; ++o) {
    for (std::int64_t u : kept) {
      std::memcpy(d, s + (o * units + u) * inner, static_cast<std::size_t>(inner) * sizeof(float));
      d += inner;
    }
  }
}

// Zeroes the units of t (viewed as above) that `keep` marks false.
void ZeroDropped(Tensor& t, std::int64_t outer, std::int64_t units, std::int64_t inner,
                 const std::vector<bool>& keep) {
  JOULE_ASSERT(t.numel() == outer * units * inner);
  float* d = t.f32();
  for (std::int64_t o = 0; o < outer; ++o) {
    for (std::int64_t u = 0; u < units; ++u) {
      if (!keep[u]) std::fill_n(d + (o * units + u) * inner, inner, 0.0f);
    }
  }
}

// Per-unit norm of the producer's weight rows; `mean` divides by the row
// length (L1 -> mean |w|, L2 -> RMS) for the global ranking.
std::vector<double> UnitNorms(const Tensor& w, UnitNorm norm, bool mean) {
  const std::int64_t units = w.dim(0), row = w.numel() / units;
  std::vector<double> out(units, 0.0);
  const float* d = w.f32();
  for (std::int64_t u = 0; u < units; ++u) {
    double s = 0;
    for (std::int64_t i = 0; i < row; ++i) {
      const double v = d[u * row + i];
      s += norm == UnitNorm::kL1 ? std::fabs(v) : v * v;
    }
    if (mean) s /= static_cast<double>(row);
    out[u] = norm == UnitNorm::kL1 ? s : std::sqrt(s);
  }
  return out;
}

// The plan's links, checked against the model.
std::vector<std::pair<Link, const UnitSelection*>> Resolve(Sequential& model,
                                                           const StructuredPlan& plan) {
  std::vector<std::pair<Link, const UnitSelection*>> out;
  for (const UnitSelection& sel : plan) {
    std::optional<Link> link = sel.layer < model.size() ? FindLink(model, sel.layer) : std::nullopt;
    if (!link) {
      throw Error("structured pruning plan: layer " + std::to_string(sel.layer) +
                  " is not a Linear/Conv2d feeding another one in this model; rank units with "
                  "RankUnits on the same model");
    }
    bool sorted = !sel.kept.empty() && std::is_sorted(sel.kept.begin(), sel.kept.end()) &&
                  std::adjacent_find(sel.kept.begin(), sel.kept.end()) == sel.kept.end() &&
                  sel.kept.front() >= 0 && sel.kept.back() < link->units;
    if (sel.units != link->units || !sorted) {
      throw Error("structured pruning plan: layer " + std::to_string(sel.layer) + " has " +
                  std::to_string(link->units) + " units, the plan says " +
                  std::to_string(sel.units) +
                  " with kept indices that must be ascending, distinct, in range and non-empty");
    }
    out.emplace_back(*link, &sel);
  }
  return out;
}

struct Candidate {
  double score;
  std::size_t slot;  // index into the plan
  std::int64_t unit;
};

// Drops `drop` units in ascending score; ties drop the later slot / higher
// unit first so the lower index survives. Keeps one unit per slot.
void DropLowest(std::vector<Candidate> candidates, std::int64_t drop, StructuredPlan& plan) {
  std::sort(candidates.begin(), candidates.end(), [](const Candidate& a, const Candidate& b) {
    if (a.score != b.score) return a.score < b.score;
    if (a.slot != b.slot) return a.slot > b.slot;
    return a.unit > b.unit;
  });
  std::vector<std::vector<bool>> keep;
  std::vector<std::int64_t> left;
  for (const UnitSelection& s : plan) {
    keep.emplace_back(s.units, true);
    left.push_back(s.units);
  }
  for (const Candidate& c : candidates) {
    if (drop == 0) break;
    if (left[c.slot] == 1) continue;
    keep[c.slot][c.unit] = false;
    --left[c.slot];
    --drop;
  }
  for (std::size_t s = 0; s < plan.size(); ++s) {
    plan[s].kept.clear();
    for (std::int64_t u = 0; u < plan[s].units; ++u) {
      if (keep[s][u]) plan[s].kept.push_back(u);
    }
  }
}

}  // namespace

std::vector<std::size_t> StructurallyPrunableLayers(Sequential& model) {
  std::vector<std::size_t> out;
  for (std::size_t i = 0; i < model.size(); ++i) {
    if (FindLink(model, i)) out.push_back(i);
  }
  return out;
}

StructuredPlan RankUnits(Sequential& model, double sparsity, PruneScope scope, UnitNorm norm) {
  if (!(sparsity >= 0 && sparsity < 1)) {
    throw Error("structured pruning sparsity " + std::to_string(sparsity) +
                " is out of range: expected a fraction in [0, 1), e.g. 0.5 for half the units");
  }
  StructuredPlan plan;
  std::vector<Candidate> global;
  std::int64_t total = 0;
  for (std::size_t i : StructurallyPrunableLayers(model)) {
    const Tensor& w = WeightOf(model.layer(i));
    std::vector<double> scores = UnitNorms(w, norm, scope == PruneScope::kGlobal);
    plan.push_back({i, w.dim(0), {}});
    std::vector<Candidate> candidates;
    for (std::int64_t u = 0; u < w.dim(0); ++u) {
      candidates.push_back({scores[u], plan.size() - 1, u});
    }
    total += w.dim(0);
    if (scope == PruneScope::kLayer) {
      StructuredPlan one{plan.back()};
      for (Candidate& c : candidates) c.slot = 0;
      DropLowest(candidates, std::llround(sparsity * static_cast<double>(w.dim(0))), one);
      plan.back() = one.front();
    } else {
      global.insert(global.end(), candidates.begin(), candidates.end());
    }
  }
  if (plan.empty()) {
    throw Error(
        "structured pruning: no Linear/Conv2d in this model feeds another one through "
        "activations, pooling, BatchNorm or Flatten, so no unit can be removed; use unstructured "
        "pruning");
  }
  if (scope == PruneScope::kGlobal) {
    DropLowest(global, std::llround(sparsity * static_cast<double>(total)), plan);
  }
  return plan;
}

void MaskUnits(Sequential& model, const StructuredPlan& plan) {
  for (auto& [link, sel] : Resolve(model, plan)) {
    std::vector<bool> keep(link.units, false);
    for (std::int64_t u : sel->kept) keep[u] = true;
    Layer& producer = model.layer(link.producer);
    Tensor& w = WeightOf(producer);
    ZeroDropped(w, 1, link.units, w.numel() / link.units, keep);
    if (Tensor* b = FindTensor(producer, "bias")) ZeroDropped(*b, 1, link.units, 1, keep);
    for (std::size_t n : link.norms) {
      for (const char* name : {"gamma", "beta"}) {
        ZeroDropped(*FindTensor(model.layer(n), name), 1, link.units, 1, keep);
      }
    }
    Tensor& next = WeightOf(model.layer(link.consumer));
    ZeroDropped(next, next.dim(0), link.units, link.inner, keep);
  }
}

namespace {

// How one layer of the source model changes in the shrunk model.
struct LayerCut {
  const std::vector<std::int64_t>* out = nullptr;  // kept output units (producer)
  std::int64_t out_units = 0;
  const std::vector<std::int64_t>* in = nullptr;  // kept input units (consumer)
  std::int64_t in_units = 0, in_inner = 0;
  const std::vector<std::int64_t>* features = nullptr;  // kept features (BatchNorm)
  std::int64_t feature_units = 0;
};

nlohmann::json CutConfig(const Layer& layer, const LayerCut& cut) {
  nlohmann::json config = layer.config();
  const auto k = [](const std::vector<std::int64_t>* v) {
    return static_cast<std::int64_t>(v->size());
  };
  if (layer.type() == "Linear") {
    if (cut.out) config["out"] = k(cut.out);
    if (cut.in) config["in"] = k(cut.in) * cut.in_inner;
  } else if (layer.type() == "Conv2d") {
    if (cut.out) config["out_channels"] = k(cut.out);
    if (cut.in) config["in_channels"] = k(cut.in);
  } else if (cut.features) {
    config["features"] = k(cut.features);
  }
  return config;
}

// The tensor `name` of the source layer, cut as `cut` says.
Tensor CutTensor(const std::string& name, const Tensor& src, const LayerCut& cut) {
  Tensor t = src;
  if (cut.in && name == "weight") {
    const std::int64_t outer = t.dim(0);
    Tensor next({outer * static_cast<std::int64_t>(cut.in->size()) * cut.in_inner});
    Gather(t, outer, cut.in_units, cut.in_inner, *cut.in, next);
    t = next;
  }
  const std::vector<std::int64_t>* rows = cut.out ? cut.out : cut.features;
  const std::int64_t units = cut.out ? cut.out_units : cut.feature_units;
  if (rows != nullptr) {
    const std::int64_t inner = t.numel() / units;
    Tensor next({static_cast<std::int64_t>(rows->size()) * inner});
    Gather(t, 1, units, inner, *rows, next);
    t = next;
  }
  return t;
}

}  // namespace

Sequential ShrinkModel(Sequential& model, const StructuredPlan& plan) {
  std::vector<LayerCut> cuts(model.size());
  for (auto& [link, sel] : Resolve(model, plan)) {
    cuts[link.producer].out = &sel->kept;
    cuts[link.producer].out_units = link.units;
    cuts[link.consumer].in = &sel->kept;
    cuts[link.consumer].in_units = link.units;
    cuts[link.consumer].in_inner = link.inner;
    for (std::size_t n : link.norms) {
      cuts[n].features = &sel->kept;
      cuts[n].feature_units = link.units;
    }
  }
  Sequential out;
  for (std::size_t i = 0; i < model.size(); ++i) {
    Layer& src = model.layer(i);
    std::unique_ptr<Layer> layer = MakeLayer(src.type(), CutConfig(src, cuts[i]));
    layer->set_input_grad_needed(src.input_grad_needed());
    std::vector<std::pair<std::string, Tensor*>> tensors;
    for (Parameter* p : layer->Parameters()) tensors.emplace_back(p->name, &p->value);
    for (auto& b : layer->Buffers()) tensors.push_back(b);
    for (auto& [name, dst] : tensors) {
      const Tensor* from = FindTensor(src, name);
      JOULE_ASSERT(from != nullptr);
      Tensor cut = CutTensor(name, *from, cuts[i]);
      JOULE_ASSERT(cut.numel() == dst->numel() && cut.dtype() == dst->dtype());
      dst->CopyFrom(cut.Reshape(dst->shape()));
    }
    out.Add(std::move(layer));
  }
  return out;
}

double UnitSparsity(const StructuredPlan& plan) {
  std::int64_t units = 0, kept = 0;
  for (const UnitSelection& s : plan) {
    units += s.units;
    kept += static_cast<std::int64_t>(s.kept.size());
  }
  return units == 0 ? 0.0 : 1.0 - static_cast<double>(kept) / static_cast<double>(units);
}

}  // namespace joule
