// Package bench is the cluster manager's benchmark program (make bench,
// go run ./cmd/tashi-bench). It measures the figures the CM is built to:
//
//  1. createVm through the HTTP API with 32 concurrent keep-alive clients:
//     throughput, p50/p99 latency, and the CM's CPU per 1,000 requests.
//  2. Heartbeats from 10,000 simulated hosts, each reporting 10 VMs every
//     10 s (1,000 heartbeats/s): what share of a core the CM (and the CM
//     with its PostgreSQL) uses to absorb them, and the call latency.
//  3. Watch wake-up: how long after a createVm commits an agent's blocked
//     watch returns.
//
// The set-up is production-like on purpose. A private PostgreSQL runs
// through clustermanager/pgembed with fsync, synchronous_commit and
// full_page_writes on, its data on the machine's disk (not tmpfs). The CM
// is the real tashi-cm binary, built from this module and run as a
// separate process, one per figure on a fresh database, so that its CPU
// can be read from /proc/<pid>/stat and PostgreSQL's from its postmaster
// and the postmaster's children. The load generator runs in this process,
// on the same machine: the report says how many cores it shared.
//
// Everything lives in one scratch directory that Run removes at the end.
// A small reaper shell, started first, also stops the CM and PostgreSQL
// and removes the directory if this process dies without cleaning up
// (a test timeout, SIGKILL).
//
// The report is markdown: one table per figure, each measure with its
// target and PASS or MISS, and notes on how it was measured. -quick runs
// small, short versions of every figure (the unit test runs them to keep
// the program from rotting); -only runs one figure.
package bench
