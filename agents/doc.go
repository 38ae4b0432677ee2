// Package agents is tashi-agent: it watches the cluster manager (a
// snapshot, then a watch woken by LISTEN/NOTIFY), places Pending
// instances with package scheduler (one atomic plan per gang, bounded
// re-plans, explanations of why the rest wait and of the locality the
// placed ones got: before Place, the files of the hint dfsFiles are
// resolved to blocks by the data location plugin and the hosts get their
// racks from the topology), releases Held instances
// after a back-off, claims every instance in a transitional state and carries
// the transition out on node managers over mutual TLS, reporting the
// outcome (with measured suspend and migration figures) to the CM. It
// also carries vmmSpecificCalls. Several agents may run at once: claims
// and the CM's re-verification of plans keep them from doubling work.
package agents
