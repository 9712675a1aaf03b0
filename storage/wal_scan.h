// ScanWal: what a SQLite write-ahead log holds, read with plain file I/O before SQLite opens the
// database, so that the frames SQLite's recovery keeps can be told from the frames it drops.
//
// SQLite's WAL recovery stops at the first frame whose checksum fails and keeps the frames up to the last
// commit before it, silently: committed (acknowledged) transactions after a damaged frame are lost and
// SQLite logs only "recovered N frames". The WAL's header carries two salts that change each time the
// log restarts; every frame written since carries the same salts. A commit frame that carries them but
// lies past the frames SQLite recovered is a transaction that was committed and then dropped (or, for
// the very last one only, a commit that was being written when the machine went down).
//
// Format: https://www.sqlite.org/fileformat.html#the_write_ahead_log. Thread-compatible (a free function).
#ifndef HPO_STORAGE_WAL_SCAN_H_
#define HPO_STORAGE_WAL_SCAN_H_

#include <cstdint>
#include <string>
#include <vector>

namespace hpo::storage {

struct WalFrames {
  bool present = false;    // a WAL with a whole header was found
  uint32_t page_size = 0;  // from the WAL header
  int64_t frames = 0;      // whole frames in the file (any generation)
  int64_t current = 0;     // frames that carry the header's salts (this generation's)
  // 1-based indices of this generation's commit frames (those that end a transaction), ascending.
  std::vector<int64_t> commits;
};

// Scans the WAL at `wal_path` (the database's path + "-wal"). A missing, short or foreign file gives
// present == false; nothing here fails.
WalFrames ScanWal(const std::string& wal_path);

// The number of this generation's commits past frame `recovered` (the frames SQLite kept).
int64_t CommitsAfter(const WalFrames& wal, int64_t recovered);

}  // namespace hpo::storage

#endif  // HPO_STORAGE_WAL_SCAN_H_
