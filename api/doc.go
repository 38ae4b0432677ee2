// Package api holds what the CLI, the cluster manager, agents and node
// managers share: the wire types of the HTTP/JSON API, the stable error
// codes, the instance and host state machines (one pure, table-driven
// function each), the parsers for Tashi's argument formats, and the Go
// client of the cluster manager.
package api
