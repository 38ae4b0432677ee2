// Package store is the cluster manager's record in PostgreSQL, through
// pgx/v5 only. Migrations are versioned SQL files applied by tern at
// start-up. Every mutation is one transaction that also appends to the
// event log, remembers its answer under the caller's idempotency key and
// announces itself with pg_notify; instance rows carry a version so that
// agents' plans and claims are compare-and-set.
package store
