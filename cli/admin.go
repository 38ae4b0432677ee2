package cli

import (
	"fmt"
	"strings"

	"github.com/tashi-go/tashi/api"
)

// adminVerbs are the verbs Tashi moved to tashi-admin, plus the user,
// network and image verbs its docstring promised.
func adminVerbs() []*verb {
	quota := []arg{
		number("maxInstances", "", 0, "most instances the user may have (0: unlimited)"),
		number("maxCores", "", 0, "most cores in all (0: unlimited)"),
		number("maxMemory", "", 0, "most memory in MB in all (0: unlimited)"),
	}
	userArg := required("user", "user id or name")
	return []*verb{
		{name: "addHost", summary: "add a host; its node manager fills in cores and memory",
			rows: rowsOf[api.Host](), run: runAddHost,
			args: []arg{hostArg, number("cores", "", 1, "cores offered to guests"),
				number("memory", "", 1, "memory offered to guests, in MB")},
			examples: []string{"tashi addHost --host node7"}},
		{name: "delHost", summary: "remove a host that runs no instances", run: runDelHost,
			args: []arg{hostArg}, examples: []string{"tashi delHost --host node7"}},
		{name: "setHostState", summary: "drain a host (no new VMs) or return it to Normal",
			run: runSetHostState,
			args: []arg{hostArg, {name: "state", kind: kChoice, required: true,
				choices: []string{string(api.HostNormal), string(api.HostDrained)}, help: "Normal or Drained"}},
			examples: []string{"tashi setHostState --host node7 --state Drained"}},
		{name: "setHostNotes", summary: "set a host's notes", run: runSetHostNotes,
			args:     []arg{hostArg, required("notes", "free text shown by getHosts")},
			examples: []string{`tashi setHostNotes --host node7 --notes "disk replaced 2024-05"`}},
		{name: "addReservation", summary: "reserve a host for a user", run: runAddReservation,
			args: []arg{hostArg, userArg}, examples: []string{"tashi addReservation --host node7 --user alice"}},
		{name: "delReservation", summary: "remove a user from a host's reservation", run: runDelReservation,
			args: []arg{hostArg, userArg}, examples: []string{"tashi delReservation --host node7 --user alice"}},
		{name: "getReservation", summary: "say whom a host is reserved for", run: runGetReservation,
			args: []arg{hostArg}, examples: []string{"tashi getReservation --host node7"}},
		{name: "addUser", summary: "create a user and print its token (shown once)",
			rows: rowsOf[api.User](), run: runAddUser,
			args: append([]arg{required("name", "user name"),
				choice("role", string(api.RoleUser), roleNames(), "what the user may do")}, quota...),
			examples: []string{"tashi addUser --name alice", "tashi addUser --name ops --role admin"}},
		{name: "delUser", summary: "remove a user that has no instances", run: runDelUser,
			args: []arg{userArg}, examples: []string{"tashi delUser --user alice"}},
		{name: "setQuota", summary: "change a user's quota", rows: rowsOf[api.User](), run: runSetQuota,
			check:    anyQuota,
			args:     append([]arg{userArg}, quota...),
			examples: []string{"tashi setQuota --user alice --maxInstances 10 --maxMemory 16384"}},
		{name: "addNetwork", summary: "record a network guests can join", rows: rowsOf[api.Network](),
			run: runAddNetwork, args: networkArgs(),
			examples: []string{"tashi addNetwork --name lab --kind vxlan --segment 42 --cidr 10.42.0.0/24 --gateway 10.42.0.1 --ranges 10.42.0.10-10.42.0.250 --domain lab.example.org --default"}},
		{name: "delNetwork", summary: "remove a network no NIC uses", run: runDelNetwork,
			args:     []arg{required("network", "network id or name")},
			examples: []string{"tashi delNetwork --network lab"}},
		{name: "addImage", summary: "register a base image of the image store", rows: rowsOf[api.Image](),
			run: runAddImage,
			args: []arg{required("name", "image file name under the image store, e.g. tiny.qcow2"),
				number("size", "", 0, "size in bytes")},
			examples: []string{"tashi addImage --name tiny.qcow2"}},
		imageOpVerb("copyImage", "copy a base image to a new name"),
		imageOpVerb("cloneImage", "make a copy-on-write qcow2 clone of a base image (backing file: the source)"),
		imageOpVerb("rebaseImage", "flatten an image into a standalone qcow2 under a new name"),
	}
}

func imageOpVerb(name, summary string) *verb {
	return &verb{name: name, summary: summary, rows: rowsOf[api.Image](),
		args: []arg{required("src", "source image name"), required("dst", "new image name")},
		run: func(r *req) (output, error) {
			img, err := r.cm.ImageOp(r.ctx, strings.TrimSuffix(name, "Image"), r.v.str("src"), r.v.str("dst"))
			return table(img, []api.Image{img}, err)
		},
		examples: []string{"tashi " + name + " --src tiny.qcow2 --dst mine.qcow2"}}
}

func networkArgs() []arg {
	return []arg{
		required("name", "network name"),
		choice("kind", "bridge", api.NetworkKinds, "how guests are isolated"),
		number("segment", "", 0, "VLAN id or VXLAN VNI"),
		optional("cidr", "the guests' subnet, e.g. 10.42.0.0/24"),
		optional("gateway", "the guests' default gateway"),
		optional("domain", "DNS domain of the guests' names (default "+api.DefaultDomain+")"),
		optional("ranges", "comma-separated FIRST-LAST address ranges guests get addresses from (default: the whole cidr)"),
		number("mtu", "", 0, "MTU of the guests' NICs (0: the kind's default)"),
		{name: "default", kind: kBool, help: "NICs that name no network join this one (alone: true)"},
	}
}

func roleNames() []string {
	out := make([]string, len(api.Roles))
	for i, r := range api.Roles {
		out[i] = string(r)
	}
	return out
}

func runAddHost(r *req) (output, error) {
	h, err := r.cm.AddHost(r.ctx, api.AddHostRequest{Name: r.v.str("host"),
		Cores: r.v.int("cores"), Memory: r.v.int("memory")})
	return table(h, []api.Host{h}, err)
}

func runDelHost(r *req) (output, error) { return message(r.cm.DelHost(r.ctx, r.v.str("host"))) }

func runSetHostState(r *req) (output, error) {
	return message(r.cm.SetHostState(r.ctx, r.v.str("host"), r.v.str("state")))
}

func runSetHostNotes(r *req) (output, error) {
	return message(r.cm.SetHostNotes(r.ctx, r.v.str("host"), r.v.str("notes")))
}

func runAddReservation(r *req) (output, error) {
	return message(r.cm.AddReservation(r.ctx, r.v.str("host"), r.v.str("user")))
}

func runDelReservation(r *req) (output, error) {
	return message(r.cm.DelReservation(r.ctx, r.v.str("host"), r.v.str("user")))
}

func runGetReservation(r *req) (output, error) {
	return message(r.cm.Reservation(r.ctx, r.v.str("host")))
}

func runAddUser(r *req) (output, error) {
	u, err := r.cm.AddUser(r.ctx, api.AddUserRequest{Name: r.v.str("name"),
		Role: api.Role(r.v.str("role")), MaxInstances: r.v.int("maxInstances"),
		MaxCores: r.v.int("maxCores"), MaxMemory: r.v.int("maxMemory")})
	if err != nil {
		return output{}, err
	}
	shown := u
	shown.Token = "" // the token goes in the notice below, not in the table
	return output{raw: u, rows: []api.User{shown}, text: tokenNotice(u)}, nil
}

// tokenNotice shows a new user's token, once, with where to put it.
func tokenNotice(u api.User) string {
	if u.Token == "" {
		return "\nthe cluster manager returned no token for " + u.Name + "."
	}
	return fmt.Sprintf(`
Token for %[1]s (shown only this once; keep it secret):

    %[2]s

%[1]s puts it in ~/.tashi/Client.cfg:

    [Client]
    token = %[2]s

or runs: export TASHI_TOKEN=%[2]s`, u.Name, u.Token)
}

func runDelUser(r *req) (output, error) { return message(r.cm.DelUser(r.ctx, r.v.str("user"))) }

func runSetQuota(r *req) (output, error) {
	q := api.Quota{MaxInstances: r.v.intp("maxInstances"), MaxCores: r.v.intp("maxCores"),
		MaxMemory: r.v.intp("maxMemory")}
	u, err := r.cm.SetQuota(r.ctx, r.v.str("user"), q)
	return table(u, []api.User{u}, err)
}

func anyQuota(v vals) error {
	if !v.has("maxInstances") && !v.has("maxCores") && !v.has("maxMemory") {
		return usagef("setQuota needs at least one of --maxInstances, --maxCores, --maxMemory")
	}
	return nil
}

func runAddNetwork(r *req) (output, error) {
	n, err := r.cm.AddNetwork(r.ctx, api.Network{Name: r.v.str("name"), Kind: r.v.str("kind"),
		SegmentID: r.v.int("segment"), CIDR: strings.TrimSpace(r.v.str("cidr")),
		Gateway: strings.TrimSpace(r.v.str("gateway")), Domain: r.v.str("domain"),
		MTU: r.v.int("mtu"), Default: r.v.bool("default"), Ranges: splitList(r.v.str("ranges"))})
	return table(n, []api.Network{n}, err)
}

// splitList splits a comma-separated value, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

func runDelNetwork(r *req) (output, error) {
	return message(r.cm.DelNetwork(r.ctx, r.v.str("network")))
}

func runAddImage(r *req) (output, error) {
	img, err := r.cm.AddImage(r.ctx, api.AddImageRequest{Name: r.v.str("name"),
		Size: int64(r.v.int("size"))})
	return table(img, []api.Image{img}, err)
}
