// Package builtin wires the in-tree data location plugins into a registry:
// "moosefs" (package moosefs) and "webhdfs" (package webhdfs). Call
// NewRegistry where the agent is wired and pick a plugin by its configured
// name.
package builtin
