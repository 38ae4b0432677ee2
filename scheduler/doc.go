// Package scheduler decides where Pending VMs go. It is placement as pure
// code: Place(snapshot, requests, now) returns placements and, for every
// request it could not place, an Explanation counting how many hosts each
// filter rejected and why. It does no I/O, reads no clock, keeps no global
// state and draws no unseeded randomness, so any decision can be replayed
// from its inputs.
//
// The flow (see README.md): requests are ordered by priority, created time
// and id; gangs are placed all-or-nothing; for each request, feasible hosts
// are found by filters (each returning a Reason), a bounded number of them
// are scored by Scorers (each a small pure function with a documented
// range), and the best wins, ties broken by a shuffle seeded from the
// request's instance id and version.
//
// Data locality: a request may carry the blocks it reads (Request.Data,
// resolved by the agent from the hint dfsFiles); ScoreLocality then
// favours hosts holding them, and the members of a createMany that share
// their data (a data group) are placed together and the blocks split
// among them so that as many bytes as possible are node-local (group.go,
// improve.go, assign.go). ScoreLoad, for load-aware requests, favours
// cooler hosts.
//
// The core works on its own small types (Snapshot, Host, Instance,
// Request); convert.go builds them from api.Snapshot and turns a Result
// into api.Plans. The CM re-verifies every placement when the agent
// submits its plan, so the scheduler may be wrong about a stale snapshot
// but never about the one it was given: one Place call never overcommits
// a host, places an instance twice or breaks a hard anti-affinity.
package scheduler
