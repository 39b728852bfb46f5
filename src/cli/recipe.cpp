#include "cli/recipe.hpp"

#include <toml++/toml.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <limits>
#include <set>

#include "joule/util.hpp"

namespace joule::cli {
namespace {

// Where a value sits in the recipe, for messages.
struct Place {
  const std::string* file;
  int line;
  std::string key;  // dotted
};

[[noreturn]] void Fail(const Place& p, const std::string& what) {
  throw Error(*p.file + ":" + std::to_string(p.line) + ": " + what);
}

// A number as a user would write it: no trailing zeros, "-5" not "-5.000000".
std::string FormatNumber(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.10g", v);
  return buf;
}

const char* TypeName(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::table:
      return "a table";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a floating-point number";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::date:
      return "a date";
    case toml::node_type::time:
      return "a time";
    case toml::node_type::date_time:
      return "a date-time";
    default:
      return "nothing";
  }
}

// How a value of the wrong type looked, shortened for one line.
std::string Shown(const toml::node& n) {
  std::string s;
  if (const auto* str = n.as_string()) {
    s = "\"" + str->get() + "\"";
  } else if (const auto* i = n.as_integer()) {
    s = std::to_string(i->get());
  } else if (const auto* f = n.as_floating_point()) {
    s = FormatNumber(f->get());
  } else if (const auto* b = n.as_boolean()) {
    s = b->get() ? "true" : "false";
  } else {
    return TypeName(n);
  }
  if (s.size() > 40) s = s.substr(0, 37) + "...";
  return std::string(TypeName(n)) + " (" + s + ")";
}

// An allowed interval for a number; `text` says it the way a message does.
struct Range {
  double lo = -std::numeric_limits<double>::infinity();
  double hi = std::numeric_limits<double>::infinity();
  bool lo_open = false, hi_open = false;
  const char* text = "";  // empty: any finite number
  bool Contains(double v) const {
    if (!std::isfinite(v)) return false;
    if (lo_open ? !(v > lo) : !(v >= lo)) return false;
    if (hi_open ? !(v < hi) : !(v <= hi)) return false;
    return true;
  }
};
constexpr double kInf = std::numeric_limits<double>::infinity();
const Range kAnyFinite{-kInf, kInf, false, false, ""};
const Range kPositive{0, kInf, true, false, "> 0"};
const Range kNonNegative{0, kInf, false, false, ">= 0"};
const Range kFractionHalfOpen{0, 1, false, true, "in [0, 1)"};
const Range kFractionOpen{0, 1, true, true, "in (0, 1)"};
const Range kFractionUpper{0, 1, true, false, "in (0, 1]"};
const Range kAtLeastOne{1, kInf, false, false, ">= 1"};
const Range kInterval{0.01, 3600, false, false, "in [0.01, 3600] seconds"};
const Range kWallPower{0, 1e6, true, true, "in (0, 1e6) watts"};

std::string NumberHelp(const Range& range) {
  return *range.text != '\0' ? std::string("number ") + range.text : "number";
}

std::string Join(const std::vector<std::string>& items, const char* sep) {
  std::string out;
  for (const std::string& s : items) out += (out.empty() ? "" : sep) + s;
  return out;
}

std::size_t EditDistance(const std::string& a, const std::string& b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] != b[j - 1] ? 1u : 0u)});
      diagonal = up;
    }
  }
  return row[b.size()];
}

std::string Leaf(const std::string& key) {
  std::size_t dot = key.rfind('.');
  return dot == std::string::npos ? key : key.substr(dot + 1);
}

std::string Parent(const std::string& key) {
  std::size_t dot = key.rfind('.');
  return dot == std::string::npos ? "" : key.substr(0, dot);
}

class RecipeReader {
 public:
  RecipeReader(const std::string& path, Recipe& recipe)
      : path_(path), base_dir_(std::filesystem::path(path).parent_path()), r_(recipe) {
    Register();
  }

  // Lists every key with its type, for RecipeKeys().
  std::vector<std::string> Describe() const {
    std::vector<std::string> out;
    for (const auto& [key, spec] : keys_) out.push_back(key + "  " + spec.help);
    return out;
  }

  void Read(const toml::table& root) {
    std::vector<Entry> entries;
    Collect(root, "", entries);
    // The first problem in file order is the one reported, so a user fixing a
    // recipe top to bottom sees them in order.
    std::stable_sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
      return a.line != b.line ? a.line < b.line : a.column < b.column;
    });
    for (const Entry& e : entries) {
      Place place{&path_, e.line, e.key};
      if (!e.known) UnknownKey(place, e.node->is_table());
      if (e.section) {
        Fail(place, "'" + e.key + "' must be a table ([" + e.key + "]), found " + Shown(*e.node));
      }
      keys_.at(e.key).set(*e.node, place);
      r_.key_lines[e.key] = e.line;
    }
  }

 private:
  struct Spec {
    std::string help;  // "integer >= 1"
    std::function<void(const toml::node&, const Place&)> set;
  };
  struct Entry {
    int line = 0, column = 0;
    std::string key;
    const toml::node* node = nullptr;
    bool known = false;
    bool section = false;  // a section name used as a plain value
  };

  void Collect(const toml::table& table, const std::string& prefix, std::vector<Entry>& out) {
    for (auto&& [k, node] : table) {
      std::string key = prefix + std::string(k.str());
      Entry e;
      e.line = static_cast<int>(k.source().begin.line);
      e.column = static_cast<int>(k.source().begin.column);
      e.key = key;
      e.node = &node;
      if (sections_.count(key) != 0) {
        if (const toml::table* sub = node.as_table()) {
          Collect(*sub, key + ".", out);
          continue;
        }
        e.known = true;
        e.section = true;
      } else {
        e.known = keys_.count(key) != 0;
      }
      if (e.line == 0) e.line = static_cast<int>(node.source().begin.line);
      out.push_back(e);
    }
  }

  [[noreturn]] void UnknownKey(const Place& p, bool table) const {
    std::string parent = Parent(p.key);
    // A known leaf in other tables ("patience" at the top level) names what
    // was likely meant; else the nearest key by edit distance, if near.
    std::vector<std::string> same_leaf;
    for (const auto& [key, spec] : keys_) {
      if (Leaf(key) == Leaf(p.key)) same_leaf.push_back("'" + key + "'");
    }
    std::string best;
    if (same_leaf.size() == 1) {
      best = same_leaf[0];
    } else if (same_leaf.size() > 1) {
      best = "one of " + Join(same_leaf, ", ");
    } else {
      std::size_t best_distance = 3;
      for (const auto& [key, spec] : keys_) {
        std::size_t d = EditDistance(p.key, key);
        if (d < best_distance) best_distance = d, best = "'" + key + "'";
      }
      for (const std::string& section : sections_) {
        std::size_t d = EditDistance(p.key, section);
        if (d < best_distance) best_distance = d, best = "[" + section + "]";
      }
    }
    std::vector<std::string> siblings;
    for (const auto& [key, spec] : keys_) {
      if (Parent(key) == parent) siblings.push_back(Leaf(key));
    }
    for (const std::string& s : sections_) {
      if (Parent(s) == parent) siblings.push_back("[" + s + "]");
    }
    std::string where = parent.empty() ? "the top level takes" : "[" + parent + "] takes";
    std::string msg = (table ? "unknown table [" : "unknown key '") + p.key + (table ? "]" : "'");
    if (!best.empty()) msg += ": did you mean " + best + "?";
    if (siblings.empty() && sections_.count(parent) == 0) {
      Fail(p, msg + " (joule recipes have no table [" + parent +
                  "]; run 'joule train --recipe-keys')");
    }
    Fail(p, msg + " (" + where + ": " + Join(siblings, ", ") + ")");
  }

  void Add(const std::string& key, std::string help,
           std::function<void(const toml::node&, const Place&)> set) {
    keys_[key] = Spec{std::move(help), std::move(set)};
    for (std::string parent = Parent(key); !parent.empty(); parent = Parent(parent)) {
      sections_.insert(parent);
    }
  }

  static void WrongType(const toml::node& n, const Place& p, const char* want) {
    Fail(p, "'" + p.key + "' must be " + want + ", found " + Shown(n));
  }

  static std::int64_t IntValue(const toml::node& n, const Place& p, std::int64_t lo,
                               std::int64_t hi, const std::string& range_text) {
    const auto* i = n.as_integer();
    if (i == nullptr) WrongType(n, p, "an integer");
    std::int64_t v = i->get();
    if (v < lo || v > hi) {
      Fail(p, "'" + p.key + "' = " + std::to_string(v) + " is out of range: must be " + range_text);
    }
    return v;
  }

  static double NumValue(const toml::node& n, const Place& p, const Range& range,
                         const char* hint = "") {
    double v;
    if (const auto* f = n.as_floating_point()) {
      v = f->get();
    } else if (const auto* i = n.as_integer()) {
      v = static_cast<double>(i->get());
    } else {
      WrongType(n, p, "a number");
    }
    if (!range.Contains(v)) {
      Fail(p, "'" + p.key + "' = " + FormatNumber(v) + " is out of range: must be " +
                  (*range.text != '\0' ? range.text : "a finite number") + hint);
    }
    return v;
  }

  static const std::string& StrValue(const toml::node& n, const Place& p) {
    const auto* s = n.as_string();
    if (s == nullptr) WrongType(n, p, "a string");
    return s->get();
  }

  void Str(const std::string& key, std::function<std::string&(JobConfig&)> field,
           std::vector<std::string> allowed = {}) {
    std::string help = allowed.empty() ? "string" : "string: " + Join(allowed, " | ");
    Add(key, help, [this, field, allowed](const toml::node& n, const Place& p) {
      const std::string& v = StrValue(n, p);
      if (!allowed.empty() && std::find(allowed.begin(), allowed.end(), v) == allowed.end()) {
        Fail(p, "'" + p.key + "' = \"" + v + "\" is not one of: " + Join(allowed, ", "));
      }
      field(r_.config) = v;
    });
  }

  // A path: relative ones are taken relative to the recipe's directory.
  // `keyword` (e.g. "mnist") is kept as it is.
  void PathKey(const std::string& key, std::function<std::string&(JobConfig&)> field,
               std::string keyword = "") {
    Add(key,
        std::string("string: a path, relative to the recipe's directory") +
            (keyword.empty() ? "" : ", or \"" + keyword + "\""),
        [this, field, keyword](const toml::node& n, const Place& p) {
          std::string v = StrValue(n, p);
          if (v.empty()) Fail(p, "'" + p.key + "' is empty: give a path or remove the key");
          if (v != keyword && std::filesystem::path(v).is_relative()) {
            v = (base_dir_ / v).lexically_normal().string();
          }
          field(r_.config) = v;
        });
  }

  void Bool(const std::string& key, std::function<bool&(JobConfig&)> field) {
    Add(key, "boolean", [this, field](const toml::node& n, const Place& p) {
      const auto* b = n.as_boolean();
      if (b == nullptr) WrongType(n, p, "true or false");
      field(r_.config) = b->get();
    });
  }

  template <typename T>
  void Int(const std::string& key, std::function<T&(JobConfig&)> field, std::int64_t lo,
           std::int64_t hi, const std::string& range_text) {
    Add(key, "integer " + range_text,
        [this, field, lo, hi, range_text](const toml::node& n, const Place& p) {
          field(r_.config) = static_cast<T>(IntValue(n, p, lo, hi, range_text));
        });
  }

  void Num(const std::string& key, std::function<double&(JobConfig&)> field, const Range& range) {
    Add(key, NumberHelp(range), [this, field, range](const toml::node& n, const Place& p) {
      field(r_.config) = NumValue(n, p, range);
    });
  }

  void OptNum(const std::string& key, std::function<std::optional<double>&(JobConfig&)> field,
              const Range& range) {
    Add(key, NumberHelp(range) + " (optional)",
        [this, field, range](const toml::node& n, const Place& p) {
          field(r_.config) = NumValue(n, p, range, " (the key is optional: remove it for none)");
        });
  }

  void Register();

  std::string path_;
  std::filesystem::path base_dir_;
  Recipe& r_;
  std::map<std::string, Spec> keys_;
  std::set<std::string> sections_;
};

void RecipeReader::Register() {
  using C = JobConfig;
  const std::vector<std::string> monitors = {"", "accuracy", "loss", "rmse", "mae"};
  constexpr std::int64_t kMaxInt = std::numeric_limits<int>::max();
  constexpr std::int64_t kMaxI64 = std::numeric_limits<std::int64_t>::max();

  Add("name", "string: shown in tables",
      [this](const toml::node& n, const Place& p) { r_.name = StrValue(n, p); });
  Add("description", "string",
      [this](const toml::node& n, const Place& p) { r_.description = StrValue(n, p); });
  PathKey(
      "data", [](C& c) -> std::string& { return c.data; }, "mnist");
  Str("target", [](C& c) -> std::string& { return c.target; });
  Str("task", [](C& c) -> std::string& { return c.task; }, {"classification", "regression"});
  Str("model", [](C& c) -> std::string& { return c.model; }, {"mlp", "cnn"});
  Str("loss", [](C& c) -> std::string& { return c.loss; },
      {"cross-entropy", "mse", "mae", "huber", "log-cosh", "annealed-huber"});
  Num(
      "huber_delta", [](C& c) -> double& { return c.huber_delta; }, kPositive);
  Int<int>(
      "epochs", [](C& c) -> int& { return c.epochs; }, 1, kMaxInt, ">= 1");
  Int<std::int64_t>(
      "batch_size", [](C& c) -> std::int64_t& { return c.batch_size; }, 1, kMaxI64, ">= 1");
  Str("lr_schedule", [](C& c) -> std::string& { return c.lr_schedule; },
      {"constant", "step", "cosine", "one-cycle", "reduce-on-plateau"});
  Str("precision", [](C& c) -> std::string& { return c.precision; }, {"f32", "bf16"});
  Int<int>(
      "threads", [](C& c) -> int& { return c.threads; }, 0, 4096, "in [0, 4096] (0: all cores)");
  Int<std::uint64_t>(
      "seed", [](C& c) -> std::uint64_t& { return c.seed; }, 0, kMaxI64, ">= 0");
  Num(
      "validation_fraction", [](C& c) -> double& { return c.validation_fraction; },
      kFractionHalfOpen);
  PathKey("save_dir", [](C& c) -> std::string& { return c.save_dir; });

  Str("optimizer.kind", [](C& c) -> std::string& { return c.optimizer.kind; },
      {"sgd", "adam", "adamw"});
  Num(
      "optimizer.lr", [](C& c) -> double& { return c.optimizer.lr; }, kPositive);
  Num(
      "optimizer.momentum", [](C& c) -> double& { return c.optimizer.momentum; },
      kFractionHalfOpen);
  Bool("optimizer.nesterov", [](C& c) -> bool& { return c.optimizer.nesterov; });
  Num(
      "optimizer.weight_decay", [](C& c) -> double& { return c.optimizer.weight_decay; },
      kNonNegative);
  Num(
      "optimizer.beta1", [](C& c) -> double& { return c.optimizer.beta1; }, kFractionHalfOpen);
  Num(
      "optimizer.beta2", [](C& c) -> double& { return c.optimizer.beta2; }, kFractionHalfOpen);
  Num(
      "optimizer.eps", [](C& c) -> double& { return c.optimizer.eps; }, kPositive);

  const std::string ls = "lr_schedule_options.";
  Int<int>(
      ls + "step_epochs", [](C& c) -> int& { return c.lr_schedule_options.step_epochs; }, 1,
      kMaxInt, ">= 1");
  Num(
      ls + "gamma", [](C& c) -> double& { return c.lr_schedule_options.gamma; }, kFractionUpper);
  Num(
      ls + "min_lr", [](C& c) -> double& { return c.lr_schedule_options.min_lr; }, kNonNegative);
  Num(
      ls + "pct_start", [](C& c) -> double& { return c.lr_schedule_options.pct_start; },
      kFractionOpen);
  Num(
      ls + "div_factor", [](C& c) -> double& { return c.lr_schedule_options.div_factor; },
      kPositive);
  Num(
      ls + "final_div_factor",
      [](C& c) -> double& { return c.lr_schedule_options.final_div_factor; }, kPositive);
  Str(
      ls + "monitor", [](C& c) -> std::string& { return c.lr_schedule_options.monitor; }, monitors);
  Num(
      ls + "factor", [](C& c) -> double& { return c.lr_schedule_options.factor; }, kFractionOpen);
  Int<int>(
      ls + "patience", [](C& c) -> int& { return c.lr_schedule_options.patience; }, 0, kMaxInt,
      ">= 0");
  Num(
      ls + "min_delta", [](C& c) -> double& { return c.lr_schedule_options.min_delta; },
      kNonNegative);

  Num(
      "annealed_huber.delta_start", [](C& c) -> double& { return c.annealed_huber.delta_start; },
      kPositive);
  Num(
      "annealed_huber.delta_end", [](C& c) -> double& { return c.annealed_huber.delta_end; },
      kPositive);
  Str("annealed_huber.curve", [](C& c) -> std::string& { return c.annealed_huber.curve; },
      {"geometric", "linear"});
  Str("annealed_huber.per", [](C& c) -> std::string& { return c.annealed_huber.per; },
      {"epoch", "step"});

  Bool("early_stopping.enabled", [](C& c) -> bool& { return c.early_stopping.enabled; });
  Str(
      "early_stopping.monitor", [](C& c) -> std::string& { return c.early_stopping.monitor; },
      monitors);
  Int<int>(
      "early_stopping.patience", [](C& c) -> int& { return c.early_stopping.patience; }, 0, kMaxInt,
      ">= 0");
  Num(
      "early_stopping.min_delta", [](C& c) -> double& { return c.early_stopping.min_delta; },
      kNonNegative);
  Bool("early_stopping.restore_best", [](C& c) -> bool& { return c.early_stopping.restore_best; });

  // Any finite value: a target the metric can never reach is not an input
  // error; the run ends at the epoch limit and says so.
  OptNum(
      "target_metric.value", [](C& c) -> std::optional<double>& { return c.target_metric.value; },
      kAnyFinite);
  Str(
      "target_metric.monitor", [](C& c) -> std::string& { return c.target_metric.monitor; },
      monitors);

  OptNum(
      "budget.energy_j", [](C& c) -> std::optional<double>& { return c.budget.energy_j; },
      kPositive);
  OptNum(
      "budget.co2_g", [](C& c) -> std::optional<double>& { return c.budget.co2_g; }, kPositive);

  const std::string ab = "adaptive_batch.";
  Bool(ab + "enabled", [](C& c) -> bool& { return c.adaptive_batch.enabled; });
  Str(
      ab + "monitor", [](C& c) -> std::string& { return c.adaptive_batch.monitor; }, monitors);
  Int<int>(
      ab + "patience", [](C& c) -> int& { return c.adaptive_batch.patience; }, 0, kMaxInt, ">= 0");
  Num(
      ab + "min_delta", [](C& c) -> double& { return c.adaptive_batch.min_delta; }, kNonNegative);
  Int<std::int64_t>(
      ab + "max_batch_size", [](C& c) -> std::int64_t& { return c.adaptive_batch.max_batch_size; },
      1, kMaxI64, ">= 1");
  Num(
      ab + "lr_factor", [](C& c) -> double& { return c.adaptive_batch.lr_factor; }, kPositive);

  PathKey("checkpoint.dir", [](C& c) -> std::string& { return c.checkpoint.dir; });
  Int<int>(
      "checkpoint.every_epochs", [](C& c) -> int& { return c.checkpoint.every_epochs; }, 0, kMaxInt,
      ">= 0");
  Bool("checkpoint.resume", [](C& c) -> bool& { return c.checkpoint.resume; });

  Bool("metering.enabled", [](C& c) -> bool& { return c.metering.enabled; });
  Num(
      "metering.interval_s", [](C& c) -> double& { return c.metering.interval_s; }, kInterval);
  Add("metering.attribution", "string: process | machine",
      [this](const toml::node& n, const Place& p) {
        const std::string& v = StrValue(n, p);
        if (v == "process") {
          r_.config.metering.attribution = Attribution::kProcessTree;
        } else if (v == "machine") {
          r_.config.metering.attribution = Attribution::kMachine;
        } else {
          Fail(p, "'" + p.key + "' = \"" + v + "\" is not one of: process, machine");
        }
      });
  const std::string se = "metering.sensors.";
  OptNum(
      se + "cpu_tdp_w", [](C& c) -> std::optional<double>& { return c.metering.sensors.cpu_tdp_w; },
      kPositive);
  OptNum(
      se + "ram_power_w",
      [](C& c) -> std::optional<double>& { return c.metering.sensors.ram_power_w; }, kNonNegative);
  OptNum(
      se + "declared_power_w",
      [](C& c) -> std::optional<double>& { return c.metering.sensors.declared_power_w; },
      kWallPower);
  const std::string ca = "metering.carbon.";
  Str(ca + "country_iso3", [](C& c) -> std::string& { return c.metering.carbon.country_iso3; });
  Str(ca + "cloud_provider", [](C& c) -> std::string& { return c.metering.carbon.cloud_provider; });
  Str(ca + "cloud_region", [](C& c) -> std::string& { return c.metering.carbon.cloud_region; });
  Str(ca + "grid_region", [](C& c) -> std::string& { return c.metering.carbon.grid_region; });
  OptNum(
      ca + "intensity_g_per_kwh",
      [](C& c) -> std::optional<double>& { return c.metering.carbon.intensity_g_per_kwh; },
      kNonNegative);
  PathKey(ca + "series_path", [](C& c) -> std::string& { return c.metering.carbon.series_path; });
  Str(ca + "series_kind", [](C& c) -> std::string& { return c.metering.carbon.series_kind; },
      {"direct", "lca"});
  Num(
      ca + "pue", [](C& c) -> double& { return c.metering.carbon.pue; }, kAtLeastOne);
  OptNum(
      ca + "embodied_kg",
      [](C& c) -> std::optional<double>& { return c.metering.carbon.embodied_kg; }, kPositive);
  OptNum(
      ca + "lifetime_years",
      [](C& c) -> std::optional<double>& { return c.metering.carbon.lifetime_years; }, kPositive);
}

}  // namespace

Recipe ParseRecipe(const std::string& text, const std::string& path) {
  Recipe recipe;
  recipe.path = path;
  recipe.name = std::filesystem::path(path).stem().string();
  toml::table root;
  try {
    root = toml::parse(text, path);
  } catch (const toml::parse_error& e) {
    const toml::source_position& at = e.source().begin;
    throw Error(path + ":" + std::to_string(at.line) + ":" + std::to_string(at.column) +
                ": not valid TOML: " + std::string(e.description()));
  }
  RecipeReader reader(path, recipe);
  reader.Read(root);
  return recipe;
}

Recipe LoadRecipe(const std::string& path) {
  if (std::filesystem::is_directory(path)) {
    throw Error(path + ": is a directory; --recipe takes a .toml file");
  }
  std::string text;
  try {
    text = ReadFile(path);
  } catch (const Error& e) {
    throw Error(std::string(e.what()) + " (--recipe)");
  }
  return ParseRecipe(text, path);
}

std::vector<std::string> RecipeKeys() {
  Recipe scratch;
  RecipeReader reader("", scratch);
  return reader.Describe();
}

std::string ExplainConfigError(const std::string& message, const Recipe& recipe,
                               const std::vector<std::string>& overridden) {
  auto set_by_recipe = [&](const std::string& key) {
    return recipe.key_lines.count(key) != 0 &&
           std::find(overridden.begin(), overridden.end(), key) == overridden.end();
  };
  // The train layer writes "field = value: ..."; matching that form keeps a
  // short key ("data", "loss") from matching ordinary words. The longest key
  // named wins.
  std::string best;
  for (const auto& [key, line] : recipe.key_lines) {
    if (!set_by_recipe(key)) continue;
    std::size_t at = message.find(key + " = ");
    bool starts_word = at != std::string::npos && (at == 0 || message[at - 1] == ' ');
    if (starts_word && key.size() > best.size()) best = key;
  }
  if (!best.empty()) {
    return recipe.path + ":" + std::to_string(recipe.key_lines.at(best)) + ": " + message;
  }
  // Checks shared with `joule measure` name the flag ("--country XYZ: ...");
  // from a recipe, name the key as well.
  static const std::map<std::string, std::string> kFlagKeys = {
      {"--epochs", "epochs"},
      {"--batch", "batch_size"},
      {"--lr", "optimizer.lr"},
      {"--momentum", "optimizer.momentum"},
      {"--weight-decay", "optimizer.weight_decay"},
      {"--huber-delta", "huber_delta"},
      {"--loss", "loss"},
      {"--precision", "precision"},
      {"--country", "metering.carbon.country_iso3"},
      {"--cloud", "metering.carbon.cloud_provider"},
      {"--region", "metering.carbon.cloud_region"},
      {"--grid-region", "metering.carbon.grid_region"},
      {"--intensity", "metering.carbon.intensity_g_per_kwh"},
      {"--intensity-series", "metering.carbon.series_path"},
      {"--intensity-kind", "metering.carbon.series_kind"},
      {"--pue", "metering.carbon.pue"},
      {"--embodied-kg", "metering.carbon.embodied_kg"},
      {"--lifetime-years", "metering.carbon.lifetime_years"},
      {"--cpu-tdp", "metering.sensors.cpu_tdp_w"},
      {"--ram-power", "metering.sensors.ram_power_w"},
      {"--power", "metering.sensors.declared_power_w"},
  };
  for (const auto& [flag, key] : kFlagKeys) {
    if (message.rfind(flag + " ", 0) == 0 && set_by_recipe(key)) {
      return recipe.path + ":" + std::to_string(recipe.key_lines.at(key)) + ": " + key + ": " +
             message;
    }
  }
  return message;
}

}  // namespace joule::cli
