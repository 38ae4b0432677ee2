package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/tashi-go/tashi/api"
	"github.com/tashi-go/tashi/configs"
)

// Main runs tashi with args (the command line without the program name)
// and returns the exit status. env looks up environment variables;
// TASHI_<SECTION>_<KEY> overrides are read from the process environment.
func Main(args []string, stdout, stderr io.Writer, env func(string) string) int {
	a := &app{stdout: stdout, stderr: stderr, env: env, verbs: builtinVerbs()}
	return a.main(context.Background(), args)
}

// app is one run of tashi and what it needs from outside.
type app struct {
	stdout, stderr io.Writer
	env            func(string) string
	environ        func() []string // nil: the process environment
	dirs           []string        // config directories; nil: the standard ones
	verbs          *registry

	baseURL string        // the CM's address, once known
	timeout time.Duration // [Client] clusterManagerTimeout
}

// main parses, checks, calls and prints; it returns the exit status.
func (a *app) main(ctx context.Context, args []string) int {
	c, err := parseArgs(args)
	if err != nil {
		return a.fail("", err)
	}
	if c.verb == "" {
		return a.noVerb(c)
	}
	vb, err := a.verbs.lookup(c.verb)
	if err != nil {
		return a.fail("", err)
	}
	if c.help || c.examples {
		a.verbHelp(vb, c.examples && !c.help)
		return exitOK
	}
	out, cols, err := a.call(ctx, vb, c)
	if err != nil {
		return a.fail(vb.name, err)
	}
	if err := a.print(out, cols, c.json); err != nil {
		return a.fail(vb.name, err)
	}
	return exitOK
}

// noVerb handles a command line without a verb: help, examples or usage.
func (a *app) noVerb(c *cmdline) int {
	switch {
	case c.help:
		a.usage(a.stdout)
	case c.examples:
		a.allExamples(a.stdout)
	default:
		a.usage(a.stderr)
		return exitUsage
	}
	return exitOK
}

// call checks the command line against vb, connects, and runs vb.
func (a *app) call(ctx context.Context, vb *verb, c *cmdline) (output, []column, error) {
	v, cols, err := check(vb, c)
	if err != nil {
		return output{}, nil, err
	}
	r := &req{ctx: ctx, v: v, pos: c.pos, app: a}
	if !vb.local {
		if r.cm, err = a.connect(c.configs); err != nil {
			return output{}, nil, err
		}
	}
	out, err := vb.run(r)
	return out, cols, err
}

// check does every usage check that needs no cluster manager.
func check(vb *verb, c *cmdline) (vals, []column, error) {
	if len(c.pos) > 0 && vb.pos == "" {
		return nil, nil, usagef("unexpected %q: %s's arguments are given as --name value", c.pos[0], vb.name)
	}
	v, err := bind(vb, c)
	if err == nil && vb.check != nil {
		err = vb.check(v)
	}
	if err != nil {
		return nil, nil, err
	}
	if vb.rows == nil {
		if len(c.columns) > 0 {
			return nil, nil, usagef("--show-/--hide- do not apply: %s prints a message, not a table", vb.name)
		}
		return v, nil, nil
	}
	cols, err := selectColumns(vb.rows, c.columns)
	return v, cols, err
}

// connect loads the Client configuration and returns a client of the CM.
func (a *app) connect(files []string) (*api.Client, error) {
	cfg, err := configs.Load("Client", configs.LoadOptions{Dirs: a.dirs, Files: files,
		Env: a.env, Environ: a.environ})
	if err != nil {
		return nil, err
	}
	host := cfg.String("Client", "clusterManagerHost")
	if host == "" {
		host = "localhost"
	}
	port, err := cfg.Int("Client", "clusterManagerPort")
	if err != nil || port < 1 || port > 65535 {
		return nil, fmt.Errorf("[Client] clusterManagerPort %q is not a TCP port; accepted: 1..65535",
			cfg.String("Client", "clusterManagerPort"))
	}
	if a.timeout, err = cfg.Duration("Client", "clusterManagerTimeout"); err != nil || a.timeout == 0 {
		a.timeout = 30 * time.Second
	}
	token, err := a.token(cfg)
	if err != nil {
		return nil, err
	}
	a.baseURL = "http://" + net.JoinHostPort(host, strconv.Itoa(port))
	cm := api.NewClient(a.baseURL, token)
	cm.HTTP = &http.Client{Timeout: a.timeout}
	cm.RetryFor = min(a.timeout, 5*time.Second)
	return cm, nil
}

// errNoToken says how to get an identity.
var errNoToken = errors.New("no API token: set token (or tokenFile, a file holding it) in the [Client] " +
	"section of ~/.tashi/Client.cfg (`make up` writes that file for a one-machine cluster), " +
	"or export TASHI_TOKEN=<token>; an admin creates users and their tokens with `tashi addUser`")

// token is [Client] token (or TASHI_TOKEN), else the content of
// [Client] tokenFile.
func (a *app) token(cfg *configs.Config) (string, error) {
	if t := strings.TrimSpace(cfg.String("Client", "token")); t != "" {
		return t, nil
	}
	path := cfg.String("Client", "tokenFile")
	if path == "" {
		return "", errNoToken
	}
	if rest, ok := strings.CutPrefix(path, "~/"); ok {
		path = filepath.Join(a.env("HOME"), rest)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read the token file named by [Client] tokenFile: %w", err)
	}
	t := strings.TrimSpace(string(data))
	if t == "" {
		return "", fmt.Errorf("token file %s (from [Client] tokenFile) is empty", path)
	}
	return t, nil
}

// print writes the output: JSON with --json, else the table and the text.
func (a *app) print(out output, cols []column, asJSON bool) error {
	if asJSON && out.raw != nil {
		b, err := json.MarshalIndent(out.raw, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(a.stdout, "%s\n", b)
		return err
	}
	if out.rows != nil && cols != nil {
		if err := writeTable(a.stdout, out.rows, cols); err != nil {
			return err
		}
	}
	if out.text != "" {
		_, err := fmt.Fprintln(a.stdout, out.text)
		return err
	}
	return nil
}

// fail reports err on stderr and returns the exit status for it.
func (a *app) fail(verb string, err error) int {
	prefix := "tashi: "
	if verb != "" {
		prefix += verb + ": "
	}
	var ue *usageError
	var ae *api.Error
	switch {
	case errors.As(err, &ue):
		hint := "tashi help"
		if verb != "" {
			hint = "tashi " + verb + " --help"
		}
		fmt.Fprintf(a.stderr, "%s%s\n(see %s)\n", prefix, ue.msg, hint)
		return exitUsage
	case errors.As(err, &ae):
		fmt.Fprintf(a.stderr, "%s%s (%s)\n", prefix, ae.Message, ae.Code)
	default:
		fmt.Fprintf(a.stderr, "%s%s\n", prefix, a.explain(err))
	}
	return exitError
}

// explain turns transport errors into a sentence naming the CM's address.
func (a *app) explain(err error) string {
	var ue *url.Error
	if !errors.As(err, &ue) {
		return err.Error()
	}
	msg := fmt.Sprintf("cannot reach the cluster manager at %s: %v", a.baseURL, ue.Err)
	if errors.Is(err, syscall.ECONNREFUSED) {
		msg = fmt.Sprintf("cannot reach the cluster manager at %s: connection refused; "+
			"is it running? `make up` starts a one-machine cluster; "+
			"[Client] clusterManagerHost/Port or TASHI_CM_HOST/TASHI_CM_PORT set the address", a.baseURL)
	}
	return msg
}
