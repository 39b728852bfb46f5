// JSON Lines writer (--samples FILE).

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "joule/ledger.hpp"
#include "joule/util.hpp"
#include "ledger/posix_file.hpp"

namespace joule {

JsonLinesWriter::JsonLinesWriter(const std::string& path) : path_(path) {
  fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
  if (fd_ < 0) throw Error("cannot create " + path + ": " + std::strerror(errno));
}

JsonLinesWriter::~JsonLinesWriter() { ::close(fd_); }

void JsonLinesWriter::Write(const nlohmann::json& record) {
  // `replace` turns invalid UTF-8 (a process name, say) into U+FFFD instead
  // of throwing in the middle of a run.
  line_ = record.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  line_ += '\n';
  posix_file::AppendAll(fd_, path_, line_, bytes_written_);
  bytes_written_ += static_cast<off_t>(line_.size());
}

}  // namespace joule
