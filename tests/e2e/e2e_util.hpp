// Runs the joule binary as a user would and captures what it printed.
#pragma once

#include <string>

namespace joule::test {

struct CommandResult {
  int exit_code = -1;  // 128 + signal when killed by a signal
  std::string out;     // stdout
  std::string err;     // stderr
};

// Runs `JOULE_BINARY args` through /bin/sh (args are shell words, quote
// them yourself) with stdout and stderr captured to files.
CommandResult RunJoule(const std::string& args);

// A fresh, empty directory under the test binary dir, named after `name`.
std::string ScratchDir(const std::string& name);

void WriteBytes(const std::string& path, const std::string& bytes);

}  // namespace joule::test
