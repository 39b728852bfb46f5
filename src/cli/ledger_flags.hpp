// --ledger FILE and --no-ledger, the same on every command that records a run
// or reads the ledger.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "joule/run_record.hpp"

namespace joule::cli {

struct LedgerFlags {
  std::string path;
  bool disabled = false;
};

// Adds --ledger FILE to `cmd`, and --no-ledger when `allow_disable` (a
// command that only reads the ledger has nothing to disable).
void AddLedgerFlags(CLI::App& cmd, LedgerFlags& flags, bool allow_disable = true);

// --no-ledger: records nothing; --ledger FILE: FILE, required (a ledger that
// cannot be opened stops the command); otherwise Ledger::DefaultPath()
// ($JOULE_HOME/ledger.db, ...), not required.
LedgerTarget ResolveLedgerTarget(const LedgerFlags& flags);

}  // namespace joule::cli
