package cli

import (
	"fmt"
	"net/http"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/tashi-go/tashi/api"
)

// clientVerbs are Tashi's tashi-client verbs.
func clientVerbs() []*verb {
	instances := rowsOf[api.Instance]()
	return []*verb{
		{name: "createVm", summary: "create one VM", rows: instances, run: runCreateVM,
			args: withSpec(required("name", "name of the new instance")),
			examples: []string{
				"tashi createVm --name web1 --disks tiny.qcow2",
				"tashi createVm --name db --cores 2 --memory 1024 --disks db.qcow2:True,scratch.qcow2 --nics lab::",
				"tashi createVm --name pinned --disks tiny.qcow2 --hints targetHost=node3,allowElsewhere=true",
			}},
		{name: "createMany", summary: "create count VMs named <basename>-<i> in one request",
			rows: instances, run: runCreateMany,
			args: withSpec(required("basename", "the instances are named <basename>-0 .. <basename>-<count-1>"),
				requiredNumber("count", 1, "how many instances")),
			examples: []string{"tashi createMany --basename hadoop --count 8 --cores 2 --memory 2048 --disks hadoop.qcow2"}},
		actVerb("shutdownVm", api.EvShutdown, "shut a VM down (ACPI power button)"),
		actVerb("destroyVm", api.EvDestroy, "destroy a VM at once (power off)"),
		actVerb("suspendVm", api.EvSuspend, "suspend a VM to disk"),
		actVerb("resumeVm", api.EvResume, "resume a suspended VM"),
		actVerb("pauseVm", api.EvPause, "pause a VM's CPUs"),
		actVerb("unpauseVm", api.EvUnpause, "let a paused VM run again"),
		{name: "migrateVm", summary: "live-migrate a VM to another host", run: runMigrate,
			args:     []arg{instanceArg, required("dst", "destination host id or name")},
			examples: []string{"tashi migrateVm --instance web1 --dst node4"}},
		{name: "vmmSpecificCall", summary: "send a hypervisor-specific call to a VM and print the answer",
			run: runVMMCall,
			args: []arg{instanceArg, required("arg", "the call, e.g. startVnc or stopVnc"),
				number("timeout", "30", 1, "seconds to wait for an agent to answer")},
			examples: []string{"tashi vmmSpecificCall --instance web1 --arg startVnc"}},
		actManyVerb("shutdownMany", api.EvShutdown, "shut down every VM named <basename>-<number>"),
		actManyVerb("destroyMany", api.EvDestroy, "destroy every VM named <basename>-<number>"),
		listVerb("getInstances", "list every instance", rowsOf[api.Instance](), runInstances(false)),
		listVerb("getMyInstances", "list your instances", rowsOf[api.Instance](), runInstances(true)),
		listVerb("getVmLayout", "list hosts with the instances on them", rowsOf[api.LayoutHost](), runLayout),
		listVerb("getHosts", "list hosts", rowsOf[api.Host](), runHosts),
		listVerb("getNetworks", "list networks", rowsOf[api.Network](), runNetworks),
		listVerb("getUsers", "list users", rowsOf[api.User](), runUsers),
		listVerb("getImages", "list base images", rowsOf[api.Image](), runImages),
		{name: "getSlots", summary: "count how many VMs of a size fit now", run: runSlots,
			args: []arg{number("cores", "1", 1, "virtual CPU cores per VM"),
				number("memory", "128", 1, "memory per VM in MB")},
			examples: []string{"tashi getSlots --cores 2 --memory 1024"}},
		{name: "explain", summary: "say why an instance is not placed yet, or where and how it was placed",
			run: runExplain, args: []arg{instanceArg},
			examples: []string{"tashi explain --instance web-3"}},
		{name: "getEvents", summary: "print an instance's event log", rows: rowsOf[api.LogEntry](),
			run: runEvents, args: []arg{instanceArg},
			examples: []string{"tashi getEvents --instance web1 --show-hostId"}},
	}
}

// withSpec is createVm's arguments with head (--name or --basename) in
// second place, as Tashi lists them, and extra at the end.
func withSpec(head arg, extra ...arg) []arg {
	args := []arg{
		number("userId", "", 1, "create for this user id (the CM decides whether you may); default: you"),
		head,
		number("cores", "1", 1, "virtual CPU cores"),
		number("memory", "128", 1, "memory in MB"),
		{name: "disks", kind: kDisks, required: true,
			help: "comma-separated uri[:persistent], e.g. tiny.qcow2 or data.qcow2:True"},
		{name: "nics", kind: kNICs,
			help: "comma-separated network:ip:mac; an empty part means the default network, no fixed ip, a mac the CM picks"},
		{name: "hints", kind: kHints, help: "comma-separated key=value hints, e.g. targetHost=node3 or dfsFiles=/data/a,/data/b,loadAware=true (after dfsFiles, an item without = continues its list)"},
	}
	return append(args, extra...)
}

func actVerb(name string, ev api.Event, summary string) *verb {
	return &verb{name: name, summary: summary, args: []arg{instanceArg},
		examples: []string{"tashi " + name + " --instance web1"},
		run: func(r *req) (output, error) {
			return message(r.cm.Act(r.ctx, r.v.str("instance"), ev))
		}}
}

func actManyVerb(name string, ev api.Event, summary string) *verb {
	return &verb{name: name, summary: summary, args: []arg{basenameArg},
		examples: []string{"tashi " + name + " --basename hadoop"},
		run: func(r *req) (output, error) {
			return message(r.cm.ActMany(r.ctx, r.v.str("basename"), ev))
		}}
}

func listVerb(name, summary string, rows reflect.Type, run func(r *req) (output, error)) *verb {
	return &verb{name: name, summary: summary, rows: rows, run: run,
		examples: []string{"tashi " + name, "tashi " + name + " --show-all", "tashi " + name + " --json"}}
}

// message prints the CM's message.
func message(m api.Message, err error) (output, error) {
	return output{raw: m, text: m.Message}, err
}

// table prints rows (a slice) and answers --json with raw.
func table[T any](raw any, rows []T, err error) (output, error) {
	return output{raw: raw, rows: rows}, err
}

func list[T any](rows []T, err error) (output, error) { return table(rows, rows, err) }

func spec(v vals, name string) api.InstanceSpec {
	disks, _ := v["disks"].([]api.Disk)
	nics, _ := v["nics"].([]api.NIC)
	hints, _ := v["hints"].(map[string]string)
	return api.InstanceSpec{Name: name, UserID: int64(v.int("userId")), Cores: v.int("cores"),
		Memory: v.int("memory"), Disks: disks, NICs: nics, Hints: hints}
}

func runCreateVM(r *req) (output, error) {
	inst, err := r.cm.CreateVM(r.ctx, spec(r.v, r.v.str("name")))
	return table(inst, []api.Instance{inst}, err)
}

func runCreateMany(r *req) (output, error) {
	g, err := r.cm.CreateMany(r.ctx, api.ManySpec{Basename: r.v.str("basename"),
		Count: r.v.int("count"), Spec: spec(r.v, "")})
	return table(g, g.Instances, err)
}

func runMigrate(r *req) (output, error) {
	return message(r.cm.Migrate(r.ctx, r.v.str("instance"), r.v.str("dst")))
}

func runInstances(mine bool) func(r *req) (output, error) {
	return func(r *req) (output, error) { return list(r.cm.Instances(r.ctx, mine)) }
}

func runLayout(r *req) (output, error)   { return list(r.cm.Layout(r.ctx)) }
func runHosts(r *req) (output, error)    { return list(r.cm.Hosts(r.ctx)) }
func runNetworks(r *req) (output, error) { return list(r.cm.Networks(r.ctx)) }
func runUsers(r *req) (output, error)    { return list(r.cm.Users(r.ctx)) }
func runImages(r *req) (output, error)   { return list(r.cm.Images(r.ctx)) }
func runEvents(r *req) (output, error)   { return list(r.cm.Events(r.ctx, r.v.str("instance"))) }

// runExplain prints the instance's state and the last agent's account of
// its placement: how many hosts each filter rejected or, once placed, the
// locality of its data.
func runExplain(r *req) (output, error) {
	in, err := r.cm.Instance(r.ctx, r.v.str("instance"))
	if err != nil {
		return output{}, err
	}
	return output{raw: in, text: explainText(in)}, nil
}

func explainText(in api.Instance) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s (id %d) is %s", in.Name, in.ID, in.State)
	if in.HostName != "" {
		fmt.Fprintf(&b, " on host %s", in.HostName)
	}
	b.WriteString(".\n")
	if in.Error != "" {
		fmt.Fprintf(&b, "last error: %s\n", in.Error)
	}
	if len(in.FailedHosts) > 0 {
		fmt.Fprintf(&b, "activation failed before on hosts %v; they are avoided\n", in.FailedHosts)
	}
	x := in.Placement
	if x == nil {
		if in.State == api.Pending {
			b.WriteString("no agent has explained it yet: is a tashi-agent running?\n")
		}
		return strings.TrimRight(b.String(), "\n")
	}
	fmt.Fprintf(&b, "%s (as of %s)\n", x.Message, x.At.Format(time.RFC3339))
	if x.Locality != "" {
		fmt.Fprintf(&b, "%s\n", x.Locality)
	}
	reasons := make([]string, 0, len(x.Rejected))
	for k := range x.Rejected {
		reasons = append(reasons, k)
	}
	sort.Slice(reasons, func(i, j int) bool { return x.Rejected[reasons[i]] > x.Rejected[reasons[j]] })
	for _, k := range reasons {
		fmt.Fprintf(&b, "  %6d hosts: %s\n", x.Rejected[k], k)
	}
	return strings.TrimRight(b.String(), "\n")
}

// runSlots prints Tashi's sentence, with its singular forms.
func runSlots(r *req) (output, error) {
	cores, memory := r.v.int("cores"), r.v.int("memory")
	s, err := r.cm.Slots(r.ctx, cores, memory)
	if err != nil {
		return output{}, err
	}
	return output{raw: s, text: slotsSentence(s.Slots, cores, memory)}, nil
}

func slotsSentence(n, cores, memory int) string {
	slots, coreWord := "slots", "cores"
	if n == 1 {
		slots = "slot"
	}
	if cores == 1 {
		coreWord = "core"
	}
	return fmt.Sprintf("%d available %s for instances with %d %s and %d MB of memory.",
		n, slots, cores, coreWord, memory)
}

// runVMMCall records the call, then waits for an agent's answer.
func runVMMCall(r *req) (output, error) {
	inst, arg := r.v.str("instance"), r.v.str("arg")
	call, err := r.cm.VMMSpecificCall(r.ctx, inst, arg)
	if err != nil {
		return output{}, err
	}
	wait := time.Duration(r.v.int("timeout")) * time.Second
	call, err = waitCall(r, call, wait)
	switch {
	case err != nil:
		return output{}, err
	case call.Status == "done":
		return output{raw: call, text: call.Result}, nil
	case call.Status == "failed":
		return output{}, fmt.Errorf("%s on instance %s failed: %s", arg, inst, call.Result)
	}
	return output{}, fmt.Errorf("no agent answered %s on instance %s within %s; "+
		"the call (id %d) is still pending: is a tashi-agent running?", arg, inst, wait, call.ID)
}

// waitCall asks the CM to wait for the answer until wait has passed in
// all, asking again if the CM answers early with the call still pending.
func waitCall(r *req, call api.VMMCall, wait time.Duration) (api.VMMCall, error) {
	cm := *r.cm
	cm.HTTP = &http.Client{Timeout: r.app.timeout + wait}
	deadline := time.Now().Add(wait)
	for left := wait; pending(call) && left > 0; left = time.Until(deadline).Round(time.Millisecond) {
		var err error
		if call, err = cm.WaitCall(r.ctx, call.ID, min(left, maxWait)); err != nil {
			return call, err
		}
		if pending(call) {
			time.Sleep(min(200*time.Millisecond, time.Until(deadline)))
		}
	}
	return call, nil
}

// maxWait is the longest wait the CM accepts in one request.
const maxWait = 5 * time.Minute

func pending(c api.VMMCall) bool { return c.Status == "pending" || c.Status == "" }
