package dhcp

import (
	_ "github.com/insomniacslk/dhcp/dhcpv4/server4"
	_ "github.com/vishvananda/netns"
)
