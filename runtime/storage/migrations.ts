// Versioned schema migrations, one list per engine, applied in order at
// start (version N is the Nth entry). Never edit an entry that has shipped:
// add one. Two adjacent versions replicate to each other: the replicated row
// (redundancy/storage.ts) is the same in every version, and the hello of the
// replication protocol refuses a peer whose schema is more than one apart.

export const SQLITE_MIGRATIONS: readonly string[] = [
  `CREATE TABLE tandem_state (last_seq INTEGER NOT NULL, last_epoch INTEGER NOT NULL);
   INSERT INTO tandem_state (last_seq, last_epoch) VALUES (0, 0);
   CREATE TABLE tandem_rows (
     seq INTEGER PRIMARY KEY, epoch INTEGER NOT NULL, at INTEGER NOT NULL,
     tbl TEXT NOT NULL, kind TEXT NOT NULL, key TEXT, body TEXT);
   CREATE INDEX tandem_rows_table ON tandem_rows (tbl, seq);
   CREATE INDEX tandem_rows_age ON tandem_rows (tbl, at);
   CREATE UNIQUE INDEX tandem_rows_key ON tandem_rows (tbl, key) WHERE key IS NOT NULL;
   CREATE TABLE tandem_epochs (epoch INTEGER PRIMARY KEY, first_seq INTEGER NOT NULL);
   CREATE TABLE tandem_divergence (
     id INTEGER PRIMARY KEY AUTOINCREMENT, found_at INTEGER NOT NULL, active_epoch INTEGER NOT NULL,
     seq INTEGER NOT NULL, epoch INTEGER NOT NULL, at INTEGER NOT NULL,
     tbl TEXT NOT NULL, kind TEXT NOT NULL, key TEXT, body TEXT);`,
];

// PostgreSQL: the same tables and columns. tbl and key compare bytewise
// (COLLATE "C"): they are only ever compared for equality, and three of the
// four indexes start with tbl, so a database whose default collation is a
// language's (en_US.UTF-8 …) would otherwise pay a locale-aware comparison
// on every index step of every write.
export const POSTGRES_MIGRATIONS: readonly string[] = [
  `CREATE TABLE tandem_state (last_seq BIGINT NOT NULL, last_epoch BIGINT NOT NULL);
   INSERT INTO tandem_state (last_seq, last_epoch) VALUES (0, 0);
   CREATE TABLE tandem_rows (
     seq BIGINT PRIMARY KEY, epoch BIGINT NOT NULL, at BIGINT NOT NULL,
     tbl TEXT COLLATE "C" NOT NULL, kind TEXT NOT NULL, key TEXT COLLATE "C", body TEXT);
   CREATE INDEX tandem_rows_table ON tandem_rows (tbl, seq);
   CREATE INDEX tandem_rows_age ON tandem_rows (tbl, at);
   CREATE UNIQUE INDEX tandem_rows_key ON tandem_rows (tbl, key) WHERE key IS NOT NULL;
   CREATE TABLE tandem_epochs (epoch BIGINT PRIMARY KEY, first_seq BIGINT NOT NULL);
   CREATE TABLE tandem_divergence (
     id BIGSERIAL PRIMARY KEY, found_at BIGINT NOT NULL, active_epoch BIGINT NOT NULL,
     seq BIGINT NOT NULL, epoch BIGINT NOT NULL, at BIGINT NOT NULL,
     tbl TEXT NOT NULL, kind TEXT NOT NULL, key TEXT, body TEXT);`,
  // v2: the age index (only a retention purge reads it) as a block-range
  // index: rows are appended in time order, so a BRIN finds a purge's old
  // rows at almost no cost to each insert, where the b-tree made every row
  // pay a fourth index entry (a catch-up applies ~20% more rows/s). The rows
  // are unchanged: a v1 node and a v2 node replicate to each other.
  `DROP INDEX tandem_rows_age;
   CREATE INDEX tandem_rows_age ON tandem_rows USING brin (at);`,
];
