// Package configs loads Tashi-Go's layered ini configuration.
//
// A program (ClusterManager, NodeManager, Client, Agent, ...) calls Load with
// its name. Load reads, in order, later values overriding earlier ones:
//
//  1. TashiDefaults.cfg from this directory, compiled into the binary, so a
//     binary works with no files installed;
//  2. TashiDefaults.cfg, Tashi.cfg, <Program>Defaults.cfg and <Program>.cfg,
//     each looked for in /usr/share/tashi, /etc/tashi and ~/.tashi (in that
//     order; missing files are skipped);
//  3. extra files named by the caller, for example with a --config flag
//     (these must exist);
//  4. environment overrides: Tashi's TASHI_CM_HOST, TASHI_CM_PORT and
//     TASHI_TOKEN ([Client] clusterManagerHost, clusterManagerPort, token),
//     then TASHI_<SECTION>_<KEY> for any section already defined, with section
//     and key upper-cased, for example TASHI_CLUSTERMANAGERSERVICE_MAXCORES=16.
//
// The syntax is that of Python's ConfigParser, which Tashi used: [Section]
// headers, "key = value" or "key: value" lines, whole-line comments starting
// with # or ;, inline comments starting with " ;", indented continuation
// lines, and a value of "" meaning empty. Key names are case-insensitive;
// section names are case-sensitive. The [DEFAULT] section and %(name)s
// interpolation are not supported.
//
// The shipped TashiDefaults.cfg documents every key, its unit and default.
package configs
