// Package agents will hold tashi-agent: it watches the cluster manager,
// asks package scheduler where pending VMs go, submits plans, and claims
// and carries out lifecycle transitions on node managers. Not built yet:
// see issues 3 and 4. The CM's agent API (snapshot, watch, plans, claims)
// exists already.
package agents
