// A finite-difference gradient checker for joule::Layer.
//
// For a layer and an input x, the scalar loss is L = sum(r * y) with y the
// layer's output and r a fixed random tensor, so dL/dy = r. The layer's
// Backward(r) gives the analytic dL/dx and dL/dparam; each is compared, element
// by element, with the central difference (L(v + h) - L(v - h)) / (2h). The
// losses are summed in double and the divisor is the difference of the two f32
// values actually used (v + h and v - h rounded to float), so the only f32
// error left is the layer's own rounding.
//
// Every loss evaluation builds a fresh layer from the factory and copies the
// reference parameter values into it. That keeps evaluations independent of
// each other (a Dropout layer draws the same mask for the same seed each
// time; BatchNorm's running statistics do not drift into the result).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "joule/nn.hpp"

namespace joule::gradcheck {

using LayerFactory = std::function<std::unique_ptr<Layer>()>;

struct GradCheckOptions {
  double step = 1e-2;    // h, added to and subtracted from one value at a time
  bool training = true;  // the mode of every Forward
};

// The comparison for one tensor (dL/dx or one parameter's gradient).
struct GradError {
  std::string name;        // "x" or the parameter's name
  double max_abs_err = 0;  // max_i |analytic_i - numeric_i|
  double scale = 0;        // max(|analytic|_inf, |numeric|_inf, kGradScaleFloor)
  double rel_err = 0;      // max_abs_err / scale: what tolerances bound
  std::int64_t worst_index = -1;
  double worst_analytic = 0, worst_numeric = 0;
};

// Gradients smaller than this everywhere are treated as this large, so that a
// tensor of near-zero gradients is judged by absolute, not relative, error.
inline constexpr double kGradScaleFloor = 1e-3;

inline std::string Describe(const GradError& e) {
  return e.name + ": rel_err " + std::to_string(e.rel_err) + " (max abs " +
         std::to_string(e.max_abs_err) + " at " + std::to_string(e.worst_index) + ", analytic " +
         std::to_string(e.worst_analytic) + " vs numeric " + std::to_string(e.worst_numeric) +
         ", scale " + std::to_string(e.scale) + ")";
}

namespace detail {

inline double SumProduct(const Tensor& r, const Tensor& y) {
  double sum = 0.0;
  for (std::int64_t i = 0; i < y.numel(); ++i) {
    sum += static_cast<double>(r.f32()[i]) * static_cast<double>(y.f32()[i]);
  }
  return sum;
}

inline GradError Compare(const std::string& name, const Tensor& analytic,
                         const std::vector<double>& numeric) {
  GradError e;
  e.name = name;
  double max_a = 0.0, max_n = 0.0;
  for (std::int64_t i = 0; i < analytic.numel(); ++i) {
    double a = analytic.f32()[i], n = numeric[static_cast<std::size_t>(i)];
    max_a = std::max(max_a, std::fabs(a));
    max_n = std::max(max_n, std::fabs(n));
    double err = std::fabs(a - n);
    // A NaN error, once seen, is the worst and stays so.
    bool worse =
        e.worst_index < 0 || std::isnan(err) || (!std::isnan(e.max_abs_err) && err > e.max_abs_err);
    if (worse) {
      e.max_abs_err = err;
      e.worst_index = i;
      e.worst_analytic = a;
      e.worst_numeric = n;
    }
  }
  e.scale = std::max({max_a, max_n, kGradScaleFloor});
  e.rel_err = e.max_abs_err / e.scale;
  return e;
}

}  // namespace detail

// Runs the check; element 0 of the result is dL/dx, then one entry per
// parameter in Parameters() order. `seed` draws r.
inline std::vector<GradError> CheckGradients(const LayerFactory& make, const Tensor& x,
                                             std::uint64_t seed,
                                             const GradCheckOptions& options = {}) {
  using detail::SumProduct;
  std::unique_ptr<Layer> layer = make();
  const Tensor& y = layer->Forward(x, options.training);
  Rng rng(seed);
  Tensor r(y.shape());
  for (std::int64_t i = 0; i < r.numel(); ++i) r.f32()[i] = 2.0f * rng.Uniform() - 1.0f;
  Tensor dx = layer->Backward(r).Clone();
  std::vector<Tensor> values, grads;
  std::vector<std::string> names;
  for (Parameter* p : layer->Parameters()) {
    values.push_back(p->value.Clone());
    grads.push_back(p->grad.Clone());
    names.push_back(p->name);
  }

  // L with x replaced by `input` and parameter `param` (when >= 0) replaced by
  // `param_value`.
  auto loss = [&](const Tensor& input, int param, const Tensor* param_value) {
    std::unique_ptr<Layer> fresh = make();
    std::vector<Parameter*> params = fresh->Parameters();
    for (std::size_t j = 0; j < params.size(); ++j) {
      params[j]->value.CopyFrom(static_cast<int>(j) == param ? *param_value : values[j]);
    }
    return SumProduct(r, fresh->Forward(input, options.training));
  };
  // Central difference in element i of `v`, evaluated through `eval(v)`.
  auto central = [&](Tensor& v, std::int64_t i, const std::function<double(const Tensor&)>& eval) {
    const float original = v.f32()[i];
    const float plus = static_cast<float>(original + options.step);
    const float minus = static_cast<float>(original - options.step);
    v.f32()[i] = plus;
    const double loss_plus = eval(v);
    v.f32()[i] = minus;
    const double loss_minus = eval(v);
    v.f32()[i] = original;
    return (loss_plus - loss_minus) / (static_cast<double>(plus) - static_cast<double>(minus));
  };

  std::vector<GradError> errors;
  Tensor xv = x.Clone();
  std::vector<double> numeric(static_cast<std::size_t>(x.numel()));
  for (std::int64_t i = 0; i < x.numel(); ++i) {
    numeric[static_cast<std::size_t>(i)] =
        central(xv, i, [&](const Tensor& v) { return loss(v, -1, nullptr); });
  }
  errors.push_back(detail::Compare("x", dx, numeric));

  for (std::size_t j = 0; j < values.size(); ++j) {
    Tensor pv = values[j].Clone();
    numeric.assign(static_cast<std::size_t>(pv.numel()), 0.0);
    for (std::int64_t i = 0; i < pv.numel(); ++i) {
      numeric[static_cast<std::size_t>(i)] =
          central(pv, i, [&](const Tensor& v) { return loss(x, static_cast<int>(j), &v); });
    }
    errors.push_back(detail::Compare(names[j], grads[j], numeric));
  }
  return errors;
}

// The largest rel_err of a CheckGradients result.
inline double WorstRelErr(const std::vector<GradError>& errors) {
  double worst = 0.0;
  for (const GradError& e : errors)
    worst = std::max(worst, std::isnan(e.rel_err) ? 1e300 : e.rel_err);
  return worst;
}

}  // namespace joule::gradcheck
