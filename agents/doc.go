// Package agents is tashi-agent: it watches the cluster manager (a
// snapshot, then a watch woken by LISTEN/NOTIFY), places Pending
// instances with package scheduler (one atomic plan per gang, bounded
// re-plans, explanations of why the rest wait), releases Held instances
// after a back-off, claims every instance in a transitional state and carries
// the transition out on node managers over mutual TLS, reporting the
// outcome (with measured suspend and migration figures) to the CM. It
// also carries vmmSpecificCalls. Several agents may run at once: claims
// and the CM's re-verification of plans keep them from doubling work.
package agents
