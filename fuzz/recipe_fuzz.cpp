// Fuzzes the TOML recipe reader behind `joule train --recipe` and `joule
// demo`: joule::ParseRecipe (run layer), then the cross-field checks
// (joule::ValidateJobConfig) a recipe meets before it runs.
//
// Input: the recipe's text. A joule::Error is the expected outcome for bad
// input; anything else is a bug.
#include <cstddef>
#include <cstdint>
#include <string>

#include "joule/run.hpp"
#include "joule/util.hpp"

namespace {

// The calls into joule (repoint here if the reader moves).
void ReadRecipe(const std::string& text) {
  joule::Recipe recipe = joule::ParseRecipe(text, "/fuzz/recipes/fuzz.toml");
  joule::ValidateJobConfig(recipe.config);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    ReadRecipe(std::string(reinterpret_cast<const char*>(data), size));
  } catch (const joule::Error&) {
  }
  return 0;
}
