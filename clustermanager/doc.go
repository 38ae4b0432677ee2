// Package clustermanager is the record keeper: an HTTP/JSON API (/v1)
// over the PostgreSQL record in package store. It validates and records
// client requests, absorbs node managers' registrations and heartbeats,
// serves agents a snapshot, a watch woken by LISTEN/NOTIFY, plan
// re-verification and claims, and answers getMetric/getAllMetrics (the
// Resource Telemetry Service, telemetry.go) from the config's topology,
// the heartbeats and a background Ganglia reader. It never calls a node
// manager and holds no
// state of its own beyond caches: it is crash-only, and several replicas
// may serve one database.
package clustermanager
