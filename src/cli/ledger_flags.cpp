#include "cli/ledger_flags.hpp"

namespace joule::cli {

void AddLedgerFlags(CLI::App& cmd, LedgerFlags& flags, bool allow_disable) {
  CLI::Option* path =
      cmd.add_option("--ledger", flags.path,
                     "the run ledger (SQLite) to use instead of $JOULE_HOME/ledger.db (default "
                     "~/.local/share/joule/ledger.db)");
  if (allow_disable) {
    cmd.add_flag("--no-ledger", flags.disabled, "do not record this run in the ledger")
        ->excludes(path);
  }
}

LedgerTarget ResolveLedgerTarget(const LedgerFlags& flags) {
  if (flags.disabled) return {};
  if (!flags.path.empty()) return {flags.path, true};
  return {Ledger::DefaultPath(), false};
}

}  // namespace joule::cli
