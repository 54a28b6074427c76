#pragma once
// `musqratt-cli store backup DIR DEST` and `musqratt-cli store check DIR`: the broker's
// persistence database (DIR/musqratt.db, SQLite in WAL mode), read without ever writing to it.
//
// backup: SQLite's online backup API copies one consistent snapshot of the database (one read
// transaction, so the copy is what was committed at one instant, every acknowledged message
// included) into DEST, while the broker keeps running and writing; WAL readers do not block the
// writer. The copy is written to DEST.tmp, checked (PRAGMA integrity_check), synced and renamed,
// so DEST is either the old file or a complete new one.
// check: PRAGMA integrity_check on a read-only connection.
namespace musqratt::cli {
int run_store(int argc, char** argv);
}
