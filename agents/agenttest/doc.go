// Package agenttest starts, in one test process, everything an agent
// needs: a real cluster manager on a throwaway PostgreSQL database
// (clustermanager/cmtest), simulated hosts — each a real node manager
// (nodemanager.NodeManager) on 127.0.0.1:0 with mutual TLS over a
// simulated VMM (nodemanager/simvmm) — and agents, in-process
// (agents.New) or as tashi-agent subprocesses that a test may kill -9.
// It also checks the cluster's invariants: from the record (no host over
// its cores or memory, usage consistent, placements only on hosts that
// were Normal) and between the record and the simulated guests (every
// live instance runs exactly once, where the record says).
//
// The test package must use cmtest's TestMain:
//
//	func TestMain(m *testing.M) { agenttest.Main(m) }
//
// Simulated instances have no NIC (the harness adds no network) and one
// non-persistent disk on the image "sim.img" (an empty raw file), see
// Spec. This package is for tests and benchmarks only.
package agenttest
