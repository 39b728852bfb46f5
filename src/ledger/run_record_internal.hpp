// Pieces of the run record's stored form shared by the ledger's files.
#pragma once

#include <nlohmann/json.hpp>

#include "joule/run_record.hpp"

namespace joule::ledger_internal {

nlohmann::json HostRecordToJson(const HostRecord& host);
// Missing keys keep their defaults; throws joule::Error for a wrong type.
HostRecord HostRecordFromJson(const nlohmann::json& j);
nlohmann::json EpochRowToJson(const EpochRow& epoch);

// The host name of this machine ("" when it cannot be read), which the ledger
// stores with every run to tell a live run from an incomplete one.
std::string ThisHostName();

}  // namespace joule::ledger_internal
