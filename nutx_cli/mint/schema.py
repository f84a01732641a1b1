"""The mint's schema and its migrations, written once for SQLite and PostgreSQL (`sql_database.render`).

Amounts are powers of two up to 2^63, which a signed 64-bit integer cannot hold, so rows store
`amount_log2` on both engines. Column names are lower case but for B_, C_ and Y: PostgreSQL folds them
to lower case, SQLite names them as declared, so the store reads them `AS b_`, `c_`, `y`.

A PostgreSQL database starts at the current version, so the migrations below only ever run on SQLite
files of older nutx releases; a migration added from here on is written in the schema's words and
runs on both.
"""

from __future__ import annotations

SCHEMA_VERSION = 6

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS keysets (
    id TEXT PRIMARY KEY, unit TEXT NOT NULL, idx {INT} NOT NULL, epoch {INT},
    input_fee_ppk {INT} NOT NULL, created_at {INT} NOT NULL, UNIQUE (unit, idx));
CREATE TABLE IF NOT EXISTS signatures (
    B_ {BLOB} NOT NULL UNIQUE, C_ {BLOB} NOT NULL, e {BLOB} NOT NULL, s {BLOB} NOT NULL,
    amount_log2 {INT} NOT NULL, keyset_id TEXT NOT NULL, share {INT} NOT NULL);
CREATE INDEX IF NOT EXISTS signatures_keyset ON signatures (keyset_id, share);
CREATE TABLE IF NOT EXISTS spent (
    Y {BLOB} PRIMARY KEY, amount_log2 {INT} NOT NULL, keyset_id TEXT NOT NULL, witness TEXT,
    spent_at {INT} NOT NULL){ROWID};
CREATE TABLE IF NOT EXISTS pending (
    Y {BLOB} PRIMARY KEY, amount_log2 {INT} NOT NULL, keyset_id TEXT NOT NULL, quote TEXT NOT NULL,
    created_at {INT} NOT NULL, witness TEXT){ROWID};
CREATE INDEX IF NOT EXISTS pending_quote ON pending (quote);
CREATE TABLE IF NOT EXISTS mint_quotes (
    quote TEXT PRIMARY KEY, method TEXT NOT NULL, request TEXT NOT NULL, payment_hash TEXT NOT NULL,
    amount {INT} NOT NULL, unit TEXT NOT NULL, state TEXT NOT NULL, expiry {INT},
    pubkey TEXT, created_at {INT} NOT NULL);
CREATE TABLE IF NOT EXISTS melt_quotes (
    quote TEXT PRIMARY KEY, method TEXT NOT NULL, request TEXT NOT NULL, payment_hash TEXT NOT NULL,
    amount {INT} NOT NULL, unit TEXT NOT NULL, fee_reserve {INT} NOT NULL, state TEXT NOT NULL,
    expiry {INT}, payment_preimage TEXT, fee_paid {INT}, change TEXT, created_at {INT} NOT NULL,
    outputs TEXT);
CREATE UNIQUE INDEX IF NOT EXISTS melt_quotes_one_payment ON melt_quotes (payment_hash)
    WHERE state IN ('PENDING', 'PAID');
CREATE TABLE IF NOT EXISTS epochs (
    epoch {INT} PRIMARY KEY, status TEXT NOT NULL, keyset_id TEXT NOT NULL, k_max {INT} NOT NULL,
    started_at {INT} NOT NULL, start_hash TEXT NOT NULL, start_height {INT} NOT NULL,
    ended_at {INT}, height {INT}, block_hash TEXT, theta_b {INT}, mint_fee {INT},
    confirmations {INT}, paid {INT} NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS epoch_work (
    epoch {INT} NOT NULL, amount_log2 {INT} NOT NULL, count {INT} NOT NULL,
    PRIMARY KEY (epoch, amount_log2)){ROWID};
CREATE TABLE IF NOT EXISTS redemptions (
    id {SERIAL}, epoch {INT} NOT NULL, ehash_log2_counts TEXT NOT NULL,
    sats {INT} NOT NULL, at {INT} NOT NULL);
CREATE TABLE IF NOT EXISTS cached_responses (
    key {BLOB} PRIMARY KEY, response TEXT NOT NULL, created_at {INT} NOT NULL){ROWID};
CREATE INDEX IF NOT EXISTS cached_responses_age ON cached_responses (created_at);
CREATE TABLE IF NOT EXISTS claims (
    pubkey TEXT NOT NULL, epoch {INT} NOT NULL, amount_log2 {INT} NOT NULL, count {INT} NOT NULL,
    PRIMARY KEY (pubkey, epoch, amount_log2)){ROWID};
CREATE TABLE IF NOT EXISTS claims_paid (
    pubkey TEXT NOT NULL, epoch {INT} NOT NULL, paid_at {INT} NOT NULL,
    PRIMARY KEY (pubkey, epoch)){ROWID};
"""

MIGRATIONS = {
    # 1 → 2: signatures move from a table clustered on the random B_ to a rowid table with a unique
    # index on B_: a batch of share signatures then appends to the table and dirties far fewer
    # pages (measured: a third of the insert + commit time per share).
    1: """
CREATE TABLE signatures_v2 (
    B_ {BLOB} NOT NULL UNIQUE, C_ {BLOB} NOT NULL, e {BLOB} NOT NULL, s {BLOB} NOT NULL,
    amount_log2 {INT} NOT NULL, keyset_id TEXT NOT NULL, share {INT} NOT NULL);
INSERT INTO signatures_v2 (B_, C_, e, s, amount_log2, keyset_id, share)
    SELECT B_, C_, e, s, amount_log2, keyset_id, share FROM signatures;
DROP TABLE signatures;
ALTER TABLE signatures_v2 RENAME TO signatures;
CREATE INDEX signatures_keyset ON signatures (keyset_id, share)""",
    # 2 → 3: an invoice is paid at most once, so at most one melt quote per payment hash may be PENDING or
    # PAID: the schema's partial unique index `melt_quotes_one_payment`, which the schema script (run
    # before the migrations) already creates on an older file.
    2: "",
    # 3 → 4: a melt whose payment outcome is unknown can be settled after a restart with its change: the
    # blank outputs it was sent with (`melt_quotes.outputs`) and the witnesses of its pending proofs. Both
    # tables are rebuilt with the new column (as 1 → 2 did), with their indexes.
    3: """
CREATE TABLE pending_v4 (
    Y {BLOB} PRIMARY KEY, amount_log2 {INT} NOT NULL, keyset_id TEXT NOT NULL, quote TEXT NOT NULL,
    created_at {INT} NOT NULL, witness TEXT){ROWID};
INSERT INTO pending_v4 (Y, amount_log2, keyset_id, quote, created_at)
    SELECT Y, amount_log2, keyset_id, quote, created_at FROM pending;
DROP TABLE pending;
ALTER TABLE pending_v4 RENAME TO pending;
CREATE INDEX pending_quote ON pending (quote);
CREATE TABLE melt_quotes_v4 (
    quote TEXT PRIMARY KEY, method TEXT NOT NULL, request TEXT NOT NULL, payment_hash TEXT NOT NULL,
    amount {INT} NOT NULL, unit TEXT NOT NULL, fee_reserve {INT} NOT NULL, state TEXT NOT NULL,
    expiry {INT}, payment_preimage TEXT, fee_paid {INT}, change TEXT, created_at {INT} NOT NULL,
    outputs TEXT);
INSERT INTO melt_quotes_v4 (quote, method, request, payment_hash, amount, unit, fee_reserve, state, expiry,
        payment_preimage, fee_paid, change, created_at)
    SELECT quote, method, request, payment_hash, amount, unit, fee_reserve, state, expiry, payment_preimage,
        fee_paid, change, created_at FROM melt_quotes;
DROP TABLE melt_quotes;
ALTER TABLE melt_quotes_v4 RENAME TO melt_quotes;
CREATE UNIQUE INDEX melt_quotes_one_payment ON melt_quotes (payment_hash) WHERE state IN ('PENDING', 'PAID')""",
    # 4 → 5: NUT-19 cached responses, the table `cached_responses`, which the schema script creates.
    4: "",
    # 5 → 6: claimed ehash (DESIGN §4): per (pubkey, epoch) the count of claimed shares per amount, and which
    # claims were paid (one row each, so a claim is paid at most once); the schema script creates both tables.
    5: "",
}
