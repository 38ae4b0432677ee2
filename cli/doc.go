// Package cli is the tashi command: Tashi's client verbs (createVm,
// getInstances, ...) and the admin verbs Tashi moved to tashi-admin, in one
// program, speaking to the cluster manager through package api.
//
// The syntax is Tashi's: `tashi <verb> [--arg value]...`. Verbs match in
// any case; an argument's value is the next word unless that word starts
// with "--" (then the argument has no value and its default is used);
// `--arg=value` works too; a repeated argument overrides the earlier one.
// Global flags (anywhere on the line): --json, --show-<col>, --hide-<col>,
// --show-all, --hide-all, --config FILE, --help (-h) and --examples.
//
// The files hold one idea each:
//
//	args.go       splits the command line into verb, arguments and global flags
//	bind.go       checks the arguments against a verb and converts them
//	verbs.go      the verb table (names, arguments, help, examples)
//	client.go     handlers of the client verbs
//	admin.go      handlers of the admin verbs
//	table.go      Tashi's makeTable: columns from JSON field names, --show/--hide
//	help.go       usage, per-verb help and examples
//	completion.go bash and zsh completion scripts
//	run.go        Main: configuration, identity, calling, printing, exit status
//
// Configuration is package configs with program name "Client":
// [Client] clusterManagerHost, clusterManagerPort, token, tokenFile and
// clusterManagerTimeout (seconds per request; transport errors are retried
// for at most 5 s of it, so a missing cluster manager is reported quickly).
//
// Exit status: 0 on success, 1 when a call fails, 2 for usage errors.
package cli
