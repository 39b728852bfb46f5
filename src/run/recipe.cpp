// Recipes: a training job as a TOML file. The keys and their checks come from
// JobSchema(); this file only maps TOML values onto the schema, in file order,
// with the file and line in every message.
#include <toml++/toml.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <limits>
#include <set>

#include "joule/run.hpp"
#include "joule/util.hpp"

namespace joule {
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

std::string Join(const std::vector<std::string>& items, const char* sep) {
  std::string out;
  for (const std::string& s : items) out += (out.empty() ? "" : sep) + s;
  return out;
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

  static const std::string& StrValue(const toml::node& n, const Place& p) {
    const auto* s = n.as_string();
    if (s == nullptr) WrongType(n, p, "a string");
    return s->get();
  }

  // The TOML value of a schema field, converted to the field's type; relative
  // paths are resolved here, so the config holds paths that work from any
  // directory.
  FieldValue Value(const JobField& f, const toml::node& n, const Place& p) const {
    switch (f.type) {
      case FieldType::kString:
        return StrValue(n, p);
      case FieldType::kPath: {
        std::string v = StrValue(n, p);
        if (v.empty()) Fail(p, "'" + p.key + "' is empty: give a path or remove the key");
        if (v != f.keyword && std::filesystem::path(v).is_relative()) {
          v = (base_dir_ / v).lexically_normal().string();
        }
        return v;
      }
      case FieldType::kBoolean: {
        const auto* b = n.as_boolean();
        if (b == nullptr) WrongType(n, p, "true or false");
        return b->get();
      }
      case FieldType::kInteger: {
        const auto* i = n.as_integer();
        if (i == nullptr) WrongType(n, p, "an integer");
        return i->get();
      }
      case FieldType::kNumber:
        if (const auto* d = n.as_floating_point()) return d->get();
        if (const auto* i = n.as_integer()) return static_cast<double>(i->get());
        WrongType(n, p, "a number");
    }
    return {};
  }

  void Field(const JobField& f) {
    Add(f.key, FieldTypeText(f), [this, &f](const toml::node& n, const Place& p) {
      FieldValue v = Value(f, n, p);
      std::string what = CheckFieldValue(f, v);
      if (!what.empty()) {
        if (!f.choices.empty()) {
          Fail(p, "'" + p.key + "' = " + ShowFieldValue(v) +
                      " is not one of: " + what.substr(what.find(':') + 2));
        }
        Fail(p, "'" + p.key + "' = " + ShowFieldValue(v) + " is out of range: " + what +
                    (f.optional ? " (the key is optional: remove it for none)" : ""));
      }
      f.set(r_.config, v);
    });
  }

  void Register() {
    Add("name", "string: shown in tables",
        [this](const toml::node& n, const Place& p) { r_.name = StrValue(n, p); });
    Add("description", "string",
        [this](const toml::node& n, const Place& p) { r_.description = StrValue(n, p); });
    for (const JobField& f : JobSchema()) {
      if (f.recipe_key) Field(f);
    }
  }

  std::string path_;
  std::filesystem::path base_dir_;
  Recipe& r_;
  std::map<std::string, Spec> keys_;
  std::set<std::string> sections_;
};

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
    throw Error(path + ": is a directory; a recipe is a .toml file");
  }
  const std::string text = ReadFile(path);
  return ParseRecipe(text, path);
}

std::vector<std::string> RecipeKeys() {
  Recipe scratch;
  RecipeReader reader("", scratch);
  return reader.Describe();
}

std::string RecipeProblemMessage(const Recipe& recipe, const ConfigProblem& problem) {
  auto line = recipe.key_lines.find(problem.key);
  if (line == recipe.key_lines.end()) return problem.Message();
  return recipe.path + ":" + std::to_string(line->second) + ": " + problem.Message();
}

std::string BundledRecipesDir() {
  // The bundled recipes live beside data/ in the repository (or wherever
  // JOULE_DATA_DIR's parent is), so a fresh clone finds both.
  std::filesystem::path data = std::filesystem::path(DataDir()).lexically_normal();
  if (!data.has_filename()) data = data.parent_path();  // "data/" -> "data"
  return (data.parent_path() / "recipes").string();
}

}  // namespace joule
