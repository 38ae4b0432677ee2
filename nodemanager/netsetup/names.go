package netsetup

import (
	"encoding/binary"
	"fmt"
	"net"
	"strconv"
	"strings"
)

// maxNameLen is the longest Linux interface name (IFNAMSIZ - 1).
const maxNameLen = 15

// BridgeName is the bridge of network netID.
func (h *Host) BridgeName(netID int64) (string, error) {
	return deviceName("Config.BridgePrefix", h.cfg.BridgePrefix, netID)
}

// VXLANName is the VXLAN device of network netID.
func (h *Host) VXLANName(netID int64) (string, error) {
	return deviceName("Config.VXLANPrefix", h.cfg.VXLANPrefix, netID)
}

// VLANName is the VLAN sub-interface of network netID.
func (h *Host) VLANName(netID int64) (string, error) {
	return deviceName("Config.VLANPrefix", h.cfg.VLANPrefix, netID)
}

// TapName is the tap of an instance's NIC: "<TapPrefix><instance>.<nic>",
// the form Detach and Sweep recognize as theirs.
func (h *Host) TapName(instance int64, nic int) (string, error) {
	if instance < 0 || nic < 0 {
		return "", invalid("tap instance/nic", fmt.Sprintf("%d/%d", instance, nic), "ids ≥ 0")
	}
	name := fmt.Sprintf("%s%d.%d", h.cfg.TapPrefix, instance, nic)
	if len(name) > maxNameLen {
		return "", tooLong("Config.TapPrefix", name)
	}
	return name, nil
}

func deviceName(field, prefix string, id int64) (string, error) {
	if id < 1 {
		return "", invalid("network ID", id, "a record id ≥ 1")
	}
	name := prefix + strconv.FormatInt(id, 10)
	if len(name) > maxNameLen {
		return "", tooLong(field, name)
	}
	return name, nil
}

func tooLong(field, name string) error {
	return invalid("interface name", fmt.Sprintf("%q (%d characters)", name, len(name)),
		fmt.Sprintf("at most %d characters (IFNAMSIZ): shorten %s", maxNameLen, field))
}

// parseID returns the id in name = prefix + decimal id, if it is one.
func parseID(prefix, name string) (int64, bool) {
	rest, ok := strings.CutPrefix(name, prefix)
	if !ok || rest == "" || rest[0] < '1' || rest[0] > '9' {
		return 0, false
	}
	id, err := strconv.ParseInt(rest, 10, 64)
	return id, err == nil
}

// isTapName reports whether name has the form TapName makes.
func isTapName(prefix, name string) bool {
	rest, ok := strings.CutPrefix(name, prefix)
	if !ok {
		return false
	}
	inst, nic, ok := strings.Cut(rest, ".")
	return ok && isDigits(inst) && isDigits(nic)
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// GatewayMAC is the MAC of network netID's bridge on every host (the
// anycast gateway's MAC): 0a:74 and the id's low 32 bits, big-endian. The
// first octet has the locally-administered bit set and the multicast bit
// clear, and cannot collide with QEMU's 52:54:00 guest MACs. Networks are
// separate layer-2 domains, so ids that differ only above 32 bits sharing
// a MAC is harmless.
func GatewayMAC(netID int64) net.HardwareAddr {
	mac := net.HardwareAddr{0x0a, 0x74, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(mac[2:], uint32(netID))
	return mac
}
