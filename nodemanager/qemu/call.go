package qemu

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/tashi-go/tashi/nodemanager/vmm"
)

// CallArgs are the vmmSpecificCall arguments Call accepts (case does
// not matter).
var CallArgs = []string{"startVnc", "stopVnc", "reset", "changeCdrom:ISO", "startConsole", "stopConsole", "info"}

// Call runs a vmmSpecificCall:
//
//   - startVnc: every guest has a VNC server on a unix socket in its run
//     directory (QEMU 7.2 cannot open a VNC display at run time: HMP
//     "change vnc" only sets passwords there); startVnc relays a TCP
//     port (5901 and up, on Config.ConsoleListen) to it. stopVnc closes
//     the relay. Without Config.VGA the screen is empty: guests use the
//     serial console.
//   - startConsole / stopConsole: the same for the serial console socket.
//     Everything the console prints is also in Info.SerialLog.
//   - reset: a hard reset (system_reset); with -no-reboot the driver lets
//     the firmware's own follow-up reset through (set-action).
//   - changeCdrom:ISO: inserts Config.ImageDir/ISO in the guest's cdrom.
//   - info: a one-line summary from query-status and query-cpus-fast.
//
// Relays live in the node manager process and end with it.
func (d *Driver) Call(ctx context.Context, id int64, arg string) (string, error) {
	name, param, hasParam := strings.Cut(arg, ":")
	name = strings.ToLower(strings.TrimSpace(name))
	known := map[string]bool{"startvnc": !hasParam, "stopvnc": !hasParam, "reset": !hasParam,
		"changecdrom": hasParam, "startconsole": !hasParam, "stopconsole": !hasParam, "info": !hasParam}
	if !known[name] {
		return "", &CallError{Arg: arg, Accepted: CallArgs}
	}
	g, err := d.mustGuest(id)
	if err != nil {
		return "", err
	}
	var out string
	switch name {
	case "startvnc":
		out, err = g.startRelay("vnc", g.st.VNCSocket, vncPorts())
	case "stopvnc":
		out, err = g.stopRelay("vnc")
	case "startconsole":
		out, err = g.startRelay("console", g.st.Console, nil)
	case "stopconsole":
		out, err = g.stopRelay("console")
	case "reset":
		err = g.op(func() error { return g.reset(ctx) })
		out = "reset"
	case "changecdrom":
		err = g.op(func() error {
			out, err = g.changeCdrom(ctx, param)
			return err
		})
	case "info":
		out, err = g.summary(ctx)
	}
	if err != nil {
		return "", fmt.Errorf("%s on instance %d: %w", arg, id, err)
	}
	return out, nil
}

func vncPorts() []int {
	p := make([]int, 0, 99)
	for n := 1; n <= 99; n++ {
		p = append(p, 5900+n)
	}
	return p
}

func (g *guest) startRelay(kind, socket string, ports []int) (string, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.state == vmm.StateExited {
		return "", fmt.Errorf("%w: the guest exited", ErrBadState)
	}
	r := g.relays[kind]
	if r == nil {
		var err error
		if r, err = listenRelay(g.d.cfg.ConsoleListen, socket, ports); err != nil {
			return "", fmt.Errorf("listen for %s clients: %w", kind, err)
		}
		g.relays[kind] = r
	}
	if kind == "vnc" {
		return fmt.Sprintf("VNC running on %s (guest socket %s)", r.Addr(), socket), nil
	}
	return fmt.Sprintf("console listening on %s (guest socket %s, log %s)", r.Addr(), socket, g.st.SerialLog), nil
}

func (g *guest) stopRelay(kind string) (string, error) {
	g.mu.Lock()
	r := g.relays[kind]
	delete(g.relays, kind)
	g.mu.Unlock()
	if r != nil {
		r.Close()
	}
	if kind == "vnc" {
		return "VNC halted", nil
	}
	return "console halted", nil
}

// reset does a hard reset. Under -no-reboot the reset itself would make
// QEMU exit, and SeaBIOS answers a reset with resets of its own, so
// reboots are allowed (set-action reboot=reset) until those are over.
func (g *guest) reset(ctx context.Context) error {
	mon, err := g.monitor()
	if err != nil {
		return err
	}
	if g.d.cfg.AllowReboot {
		return mon.SystemReset(ctx)
	}
	select {
	case <-g.resetSignal:
	default:
	}
	if err := mon.SetAction(ctx, map[string]string{"reboot": "reset"}); err != nil {
		return err
	}
	defer func() {
		if err := mon.SetAction(context.WithoutCancel(ctx), map[string]string{"reboot": "shutdown"}); err != nil {
			g.log.Error("could not restore -no-reboot after reset", "err", err)
		}
	}()
	if err := mon.SystemReset(ctx); err != nil {
		return err
	}
	// SeaBIOS resets once or twice within ~100 ms of a host reset: wait
	// for a quiet second (at most resetSettleMax) before -no-reboot is back.
	limit := time.NewTimer(resetSettleMax)
	defer limit.Stop()
	for {
		quiet := time.NewTimer(resetQuiet)
		select {
		case <-g.resetSignal:
			quiet.Stop()
			continue
		case <-quiet.C:
		case <-limit.C:
		case <-ctx.Done():
		}
		quiet.Stop()
		return nil
	}
}

const (
	resetQuiet     = time.Second
	resetSettleMax = 5 * time.Second
)

func (g *guest) changeCdrom(ctx context.Context, iso string) (string, error) {
	if !g.st.CDROM {
		return "", fmt.Errorf("%w: the guest has no cdrom drive (driver NoCDROM, or machine %s)", ErrBadState, g.machine())
	}
	if g.d.cfg.ImageDir == "" {
		return "", fmt.Errorf("changeCdrom is disabled: the driver has no ImageDir to find ISO images in")
	}
	if !filepath.IsLocal(iso) {
		return "", badOption("ISO", iso, "must be an image name inside the image directory")
	}
	path := filepath.Join(g.d.cfg.ImageDir, iso)
	if fi, err := os.Stat(path); err != nil || !fi.Mode().IsRegular() {
		return "", badOption("ISO", iso, "no such image file in %s", g.d.cfg.ImageDir)
	}
	mon, err := g.monitor()
	if err != nil {
		return "", err
	}
	if err := mon.BlockdevChangeMedium(ctx, "cdrom0", path, "raw"); err != nil {
		return "", err
	}
	return "cdrom now holds " + path, nil
}

func (g *guest) summary(ctx context.Context) (string, error) {
	mon, err := g.monitor()
	if err != nil {
		return "", err
	}
	st, err := mon.QueryStatus(ctx)
	if err != nil {
		return "", err
	}
	cpus, err := mon.QueryCPUsFast(ctx)
	if err != nil {
		return "", err
	}
	threads := make([]string, len(cpus))
	for i, c := range cpus {
		threads[i] = fmt.Sprint(c.ThreadID)
	}
	inf := g.info()
	return fmt.Sprintf("state %s (qemu %s), accel %s, machine %s, %d vCPUs (host threads %s), memory %d MiB, "+
		"pid %d, cpu %.2f s, rss %.1f MiB, qemu %s",
		inf.State, st.Status, inf.Accel, g.machine(), len(cpus), strings.Join(threads, " "), g.st.Spec.MemoryMiB,
		g.st.PID, inf.CPUSeconds, float64(inf.RSSBytes)/(1<<20), mon.Version()), nil
}
