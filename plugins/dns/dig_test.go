package dns

import (
	"bufio"
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// digResult is what the tests read from dig's full output.
type digResult struct {
	Status    string     // NOERROR, NXDOMAIN, ...
	Flags     []string   // qr aa rd ...
	Answer    [][]string // fields of each answer line
	Authority [][]string
	Raw       string
}

func (r digResult) hasFlag(f string) bool {
	for _, x := range r.Flags {
		if x == f {
			return true
		}
	}
	return false
}

// dig runs dig against server (host:port) with args and parses its output.
func dig(t *testing.T, server string, args ...string) digResult {
	t.Helper()
	host, port, _ := strings.Cut(server, ":")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	full := append([]string{"@" + host, "-p", port, "+norec", "+time=2", "+tries=1"}, args...)
	out, err := exec.CommandContext(ctx, "dig", full...).CombinedOutput()
	if err != nil {
		t.Fatalf("dig %v: %v\n%s", full, err, out)
	}
	return parseDig(string(out))
}

func parseDig(out string) digResult {
	r := digResult{Raw: out}
	var section *[][]string
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, ";; ->>HEADER<<-"):
			_, after, _ := strings.Cut(line, "status: ")
			r.Status, _, _ = strings.Cut(after, ",")
		case strings.HasPrefix(line, ";; flags:"):
			flags, _, _ := strings.Cut(strings.TrimPrefix(line, ";; flags:"), ";")
			r.Flags = strings.Fields(flags)
		case line == ";; ANSWER SECTION:":
			section = &r.Answer
		case line == ";; AUTHORITY SECTION:":
			section = &r.Authority
		case line == "" || strings.HasPrefix(line, ";"):
			section = nil
		case section != nil:
			*section = append(*section, strings.Fields(line))
		}
	}
	return r
}

func needDig(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("dig"); err != nil {
		t.Skip("dig not installed (Debian package bind9-dnsutils)")
	}
}

func TestServerWithDig(t *testing.T) {
	needDig(t)
	addr := startServer(t, testZone(t))
	tests := []struct {
		name   string
		args   []string
		status string
		answer []string // "type value" of each answer line
		soa    bool     // SOA in the authority section
	}{
		{"A", []string{"vm1.cluster.test", "A"}, "NOERROR", []string{"A 10.88.0.11"}, false},
		{"A mixed case", []string{"VM2.cluster.TEST", "A"}, "NOERROR", []string{"A 10.88.0.12", "A 10.88.0.13"}, false},
		{"PTR -x", []string{"-x", "10.88.0.12"}, "NOERROR", []string{"PTR vm2.cluster.test."}, false},
		{"NXDOMAIN", []string{"nope.cluster.test", "A"}, "NXDOMAIN", nil, true},
		{"NODATA", []string{"vm1.cluster.test", "AAAA"}, "NOERROR", nil, true},
		{"REFUSED", []string{"example.com", "A"}, "REFUSED", nil, false},
		{"A over TCP", []string{"+tcp", "vm1.cluster.test", "A"}, "NOERROR", []string{"A 10.88.0.11"}, false},
		{"PTR over TCP", []string{"+tcp", "-x", "10.88.0.11"}, "NOERROR", []string{"PTR vm1.cluster.test."}, false},
		{"no EDNS", []string{"+noedns", "vm1.cluster.test", "A"}, "NOERROR", []string{"A 10.88.0.11"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := dig(t, addr, tt.args...)
			if r.Status != tt.status {
				t.Fatalf("status %q, want %q\n%s", r.Status, tt.status, r.Raw)
			}
			if wantAA := tt.status != "REFUSED"; r.hasFlag("aa") != wantAA {
				t.Errorf("flags %v, want aa %v", r.Flags, wantAA)
			}
			var got []string
			for _, f := range r.Answer {
				got = append(got, strings.Join(f[3:], " "))
			}
			if strings.Join(got, "|") != strings.Join(tt.answer, "|") {
				t.Errorf("answers %q, want %q\n%s", got, tt.answer, r.Raw)
			}
			if hasSOA := len(r.Authority) == 1 && r.Authority[0][3] == "SOA"; hasSOA != tt.soa {
				t.Errorf("authority %q, want SOA %v", r.Authority, tt.soa)
			}
		})
	}
}
