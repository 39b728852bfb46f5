// A search space file read into SearchParams, and a point drawn from it
// (see joule/search.hpp).
#include <toml++/toml.h>

#include <cmath>
#include <string>
#include <vector>

#include "joule/search.hpp"
#include "joule/util.hpp"

namespace joule {
namespace {

[[noreturn]] void Fail(const std::string& path, int line, const std::string& what) {
  throw Error(path + ":" + std::to_string(line) + ": " + what);
}

// A TOML value as the field's type wants it; nullopt when it is not that type.
std::optional<FieldValue> ValueFor(const JobField& field, const toml::node& n) {
  switch (field.type) {
    case FieldType::kString:
    case FieldType::kPath:
      if (auto v = n.value<std::string>()) return FieldValue(*v);
      return std::nullopt;
    case FieldType::kBoolean:
      if (n.is_boolean()) return FieldValue(*n.value<bool>());
      return std::nullopt;
    case FieldType::kInteger:
      if (n.is_integer()) return FieldValue(*n.value<std::int64_t>());
      return std::nullopt;
    case FieldType::kNumber:
      if (n.is_number()) return FieldValue(*n.value<double>());
      return std::nullopt;
  }
  return std::nullopt;
}

// [lo, hi] of a two-number array, or a one-line failure.
std::pair<double, double> Bounds(const toml::node& n, const std::string& path, int line,
                                 const std::string& key, const std::string& kind) {
  const toml::array* a = n.as_array();
  if (a == nullptr || a->size() != 2 || !(*a)[0].is_number() || !(*a)[1].is_number()) {
    Fail(path, line, "'" + key + "': " + kind + " takes two numbers [lo, hi]");
  }
  return {*(*a)[0].value<double>(), *(*a)[1].value<double>()};
}

SearchParam ReadParam(const std::string& key, const toml::node& node, const std::string& path,
                      int line) {
  const JobField* field = FindJobField(key);
  if (field == nullptr) {
    std::vector<NameCandidate> keys;
    for (const JobField& f : JobSchema()) {
      if (f.recipe_key) keys.push_back({f.key, {f.key}});
    }
    const std::vector<std::string> close = CloseMatches(key, keys, 3);
    Fail(path, line,
         "unknown key '" + key + "'" + (close.empty() ? "" : "; closest: " + JoinList(close)) +
             " (every key: joule train --recipe-keys)");
  }
  const toml::table* spec = node.as_table();
  if (spec == nullptr || spec->size() != 1) {
    Fail(path, line,
         "'" + key +
             "': give one of { choice = [...] }, { range = [lo, hi] }, "
             "{ log = [lo, hi] }, { int = [lo, hi] }");
  }
  const std::string kind(spec->begin()->first.str());
  const toml::node& value = spec->begin()->second;
  SearchParam p;
  p.key = key;
  const bool number = field->type == FieldType::kNumber;
  const bool integer = field->type == FieldType::kInteger;
  if (kind == "choice") {
    p.kind = SearchParam::Kind::kChoice;
    const toml::array* a = value.as_array();
    if (a == nullptr || a->empty()) Fail(path, line, "'" + key + "': an empty choice list");
    for (const toml::node& c : *a) {
      std::optional<FieldValue> v = ValueFor(*field, c);
      if (!v) Fail(path, line, "'" + key + "': a choice is not " + FieldTypeText(*field));
      const std::string problem = CheckFieldValue(*field, *v);
      if (!problem.empty()) {
        Fail(path, line, "'" + key + "': choice " + ShowFieldValue(*v) + " " + problem);
      }
      p.choices.push_back(*v);
    }
    return p;
  }
  if (kind != "range" && kind != "log" && kind != "int") {
    Fail(path, line,
         "'" + key + "': unknown kind '" + kind + "'; expected choice, range, log or int");
  }
  auto [lo, hi] = Bounds(value, path, line, key, kind);
  if (kind == "int") {
    if (!integer)
      Fail(path, line, "'" + key + "': int needs an integer key; it is " + FieldTypeText(*field));
    if (lo != std::floor(lo) || hi != std::floor(hi)) {
      Fail(path, line, "'" + key + "': int bounds must be whole numbers");
    }
    if (lo > hi)
      Fail(path, line,
           "'" + key + "': empty range [" + ShowFieldValue(lo) + ", " + ShowFieldValue(hi) + "]");
    p.kind = SearchParam::Kind::kInt;
  } else {
    if (!number) {
      Fail(path, line,
           "'" + key + "': " + kind + " needs a number key; it is " + FieldTypeText(*field) +
               (integer ? " (use int)" : " (use choice)"));
    }
    if (!(lo < hi)) {
      Fail(path, line,
           "'" + key + "': empty range [" + ShowFieldValue(lo) + ", " + ShowFieldValue(hi) +
               "]: lo must be below hi");
    }
    if (kind == "log" && !(lo > 0)) {
      Fail(path, line,
           "'" + key + "': a log range needs bounds > 0; got [" + ShowFieldValue(lo) + ", " +
               ShowFieldValue(hi) + "]");
    }
    p.kind = kind == "log" ? SearchParam::Kind::kLog : SearchParam::Kind::kRange;
  }
  p.lo = lo;
  p.hi = hi;
  // Both ends must be values the key allows (a learning rate range reaching 0).
  for (double end : {lo, hi}) {
    const FieldValue v = integer ? FieldValue(static_cast<std::int64_t>(end)) : FieldValue(end);
    const std::string problem = CheckFieldValue(*field, v);
    if (!problem.empty() && !(end == hi && p.kind != SearchParam::Kind::kInt)) {
      Fail(path, line, "'" + key + "': bound " + ShowFieldValue(v) + " " + problem);
    }
  }
  return p;
}

}  // namespace

SearchSpace ParseSearchSpace(const std::string& text, const std::string& path) {
  toml::table root;
  try {
    root = toml::parse(text, path);
  } catch (const toml::parse_error& e) {
    Fail(path, static_cast<int>(e.source().begin.line), std::string(e.description()));
  }
  SearchSpace space;
  space.path = path;
  for (auto&& [k, node] : root) {
    if (k.str() != "params") {
      Fail(path, static_cast<int>(k.source().begin.line),
           "unknown table or key '" + std::string(k.str()) + "'; a space file holds [params]");
    }
  }
  const toml::table* params = root["params"].as_table();
  if (params == nullptr || params->empty()) {
    Fail(path, 1,
         "no [params]: give at least one key to search, e.g. \"optimizer.lr\" = { log = [0.001, "
         "0.1] }");
  }
  for (auto&& [k, node] : *params) {
    int line = static_cast<int>(k.source().begin.line);
    if (line == 0) line = static_cast<int>(node.source().begin.line);
    space.params.push_back(ReadParam(std::string(k.str()), node, path, line));
  }
  return space;
}

SearchSpace LoadSearchSpace(const std::string& path) {
  std::string text;
  try {
    text = ReadFile(path);
  } catch (const Error& e) {
    throw Error(std::string(e.what()) + " (--space)");
  }
  return ParseSearchSpace(text, path);
}

JobConfig SampleSearchSpace(const SearchSpace& space, const JobConfig& base, Rng& rng) {
  JobConfig c = base;
  for (const SearchParam& p : space.params) {
    const JobField* field = FindJobField(p.key);
    JOULE_ASSERT(field != nullptr);
    FieldValue v;
    switch (p.kind) {
      case SearchParam::Kind::kChoice:
        v = p.choices[rng.Below(p.choices.size())];
        break;
      case SearchParam::Kind::kRange:
        v = p.lo + (p.hi - p.lo) * static_cast<double>(rng.Uniform());
        break;
      case SearchParam::Kind::kLog:
        v = std::exp(std::log(p.lo) +
                     (std::log(p.hi) - std::log(p.lo)) * static_cast<double>(rng.Uniform()));
        break;
      case SearchParam::Kind::kInt:
        v = static_cast<std::int64_t>(p.lo) +
            static_cast<std::int64_t>(rng.Below(static_cast<std::uint64_t>(p.hi - p.lo) + 1));
        break;
    }
    field->set(c, v);
  }
  return c;
}

}  // namespace joule
