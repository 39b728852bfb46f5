#include "cli/job_flags.hpp"

#include <algorithm>

#include "joule/util.hpp"

namespace joule::cli {
namespace {

std::string ShowDefault(const FieldValue& v) {
  if (std::holds_alternative<std::monostate>(v)) return "";
  if (std::holds_alternative<std::string>(v)) return std::get<std::string>(v);
  return ShowFieldValue(v);
}

}  // namespace

JobFlags::JobFlags(CLI::App& cmd, const std::function<bool(const JobField&)>& pick,
                   const JobConfig& defaults) {
  for (const JobField& f : JobSchema()) {
    if (f.flag.empty() || !pick(f)) continue;
    Bound b{&f, nullptr, std::make_shared<std::string>()};
    if (!std::holds_alternative<std::monostate>(f.switch_value)) {
      b.option = cmd.add_flag(f.flag, f.help);
    } else {
      b.option = cmd.add_option(f.flag, *b.text, f.help);
      // Flags that imply another field (--patience, --target-*) switch a
      // feature on: their schema default is not what giving them does.
      if (f.flag_implies.empty() && f.recipe_key) {
        b.option->default_str(ShowDefault(f.get(defaults)));
      }
    }
    bound_.push_back(b);
  }
  // Two flags for one key exclude each other (--target-accuracy, --target-rmse).
  for (std::size_t i = 0; i < bound_.size(); ++i) {
    for (std::size_t j = i + 1; j < bound_.size(); ++j) {
      if (bound_[i].field->key == bound_[j].field->key)
        bound_[i].option->excludes(bound_[j].option);
    }
  }
}

void JobFlags::Apply(JobConfig& to) const {
  for (const Bound& b : bound_) {
    if (b.option->count() == 0) continue;
    const JobField& f = *b.field;
    FieldValue value = f.switch_value;
    if (std::holds_alternative<std::monostate>(value)) {
      std::string what = ParseFieldText(f, *b.text, &value);
      if (!what.empty()) throw Error(f.flag + " '" + *b.text + "' " + what);
      what = CheckFieldValue(f, value);
      if (!what.empty()) throw Error(f.flag + " " + *b.text + ": " + what);
    }
    f.set(to, value);
    for (const auto& [key, implied] : f.flag_implies) FindJobField(key)->set(to, implied);
  }
}

std::vector<std::string> JobFlags::OverriddenKeys() const {
  std::vector<std::string> keys;
  for (const Bound& b : bound_) {
    if (b.option->count() == 0) continue;
    keys.push_back(b.field->key);
    for (const auto& implied : b.field->flag_implies) keys.push_back(implied.first);
  }
  return keys;
}

std::string JobFlags::Explain(const ConfigProblem& problem, const Recipe* recipe) const {
  for (const Bound& b : bound_) {
    if (b.option->count() == 0 || b.field->key != problem.key) continue;
    if (problem.value.empty()) return problem.what;  // the message names the flag already
    if (!std::holds_alternative<std::monostate>(b.field->switch_value)) {
      return b.field->flag + ": " + problem.what;
    }
    return b.field->flag + " " + *b.text + ": " + problem.what;
  }
  if (recipe != nullptr && recipe->key_lines.count(problem.key) != 0) {
    // Checks shared with `joule measure` name the flag; from a recipe, name
    // the key as well.
    return RecipeProblemMessage(*recipe, problem);
  }
  // A key nobody set (a missing value): name the flag that would set it.
  for (const Bound& b : bound_) {
    if (b.field->key == problem.key && b.field->recipe_key) {
      return b.field->flag + " is missing: " + problem.what;
    }
  }
  return problem.Message();
}

void JobFlags::Validate(JobConfig& config, const Recipe* recipe) const {
  if (std::optional<ConfigProblem> problem = ResolveJobConfig(config)) {
    throw Error(Explain(*problem, recipe));
  }
}

bool TrainFlag(const JobField&) { return true; }

bool MeteringFlag(const JobField& field) { return field.group == "metering"; }

}  // namespace joule::cli
