package moosefstest

import (
	"fmt"
	"strings"
)

// Ports the master listens on (MooseFS defaults) and the chunkserver port.
const (
	masterClientPort = 9421
	masterCSPort     = 9420
	masterMLPort     = 9419
	chunkserverPort  = 9422
)

// masterConfig is mfsmaster.cfg for a master at addr keeping data in dir.
func masterConfig(dir, addr string) string {
	return cfgText(
		"WORKING_USER", "root",
		"WORKING_GROUP", "root",
		"DATA_PATH", dir,
		"EXPORTS_FILENAME", dir+"/mfsexports.cfg",
		"TOPOLOGY_FILENAME", dir+"/mfstopology.cfg",
		"NICE_LEVEL", "0",
		"MATOML_LISTEN_HOST", addr,
		"MATOML_LISTEN_PORT", fmt.Sprint(masterMLPort),
		"MATOCS_LISTEN_HOST", addr,
		"MATOCS_LISTEN_PORT", fmt.Sprint(masterCSPort),
		"MATOCL_LISTEN_HOST", addr,
		"MATOCL_LISTEN_PORT", fmt.Sprint(masterClientPort),
	)
}

// exportsConfig lets every address of the /24 mount everything read-write,
// as root, with the admin right that storage class changes need.
func exportsConfig(subnetAddr string) string {
	return subnetAddr + "/24 / rw,alldirs,admin,maproot=0\n"
}

// chunkserverConfig is mfschunkserver.cfg for a chunkserver at addr with one
// label, its lock and charts in dir and its chunks in the dirs of hddConf.
func chunkserverConfig(dir, hddConf, addr, label, master string) string {
	return cfgText(
		"WORKING_USER", "root",
		"WORKING_GROUP", "root",
		"DATA_PATH", dir,
		"HDD_CONF_FILENAME", hddConf,
		"HDD_LEAVE_SPACE_DEFAULT", "64MiB",
		"NICE_LEVEL", "0",
		"LABELS", label,
		"BIND_HOST", addr,
		"MASTER_HOST", master,
		"MASTER_PORT", fmt.Sprint(masterCSPort),
		"MASTER_RECONNECTION_DELAY", "1",
		"CSSERV_LISTEN_HOST", addr,
		"CSSERV_LISTEN_PORT", fmt.Sprint(chunkserverPort),
	)
}

// cfgText renders key, value pairs as "KEY = VALUE" lines.
func cfgText(kv ...string) string {
	var b strings.Builder
	for i := 0; i+1 < len(kv); i += 2 {
		fmt.Fprintf(&b, "%s = %s\n", kv[i], kv[i+1])
	}
	return b.String()
}
