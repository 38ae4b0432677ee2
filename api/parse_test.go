package api

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// wantErr checks that err is an *Error with CodeInvalid for field whose
// message contains want.
func wantErr(t *testing.T, err error, field, want string) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error = %v, want *Error", err)
	}
	if e.Code != CodeInvalid || e.Field != field {
		t.Errorf("code, field = %s, %s; want %s, %s", e.Code, e.Field, CodeInvalid, field)
	}
	if !strings.Contains(e.Message, want) {
		t.Errorf("message %q does not contain %q", e.Message, want)
	}
}

func TestParseBool(t *testing.T) {
	for in, want := range map[string]bool{"yes": true, "TRUE": true, "1": true, "True": true,
		"no": false, "False": false, "0": false, "NO": false} {
		got, err := ParseBool("f", in)
		if err != nil || got != want {
			t.Errorf("ParseBool(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	_, err := ParseBool("default", "maybe")
	wantErr(t, err, "default", "accepted: yes, true, 1, no, false, 0")
}

func TestParseDisks(t *testing.T) {
	tests := []struct {
		in      string
		want    []Disk
		errWant string
	}{
		{in: "tiny.qcow2", want: []Disk{{URI: "tiny.qcow2"}}},
		{in: "mpi-hardy.qcow2:True,scratch.qcow2:False", want: []Disk{
			{URI: "mpi-hardy.qcow2", Persistent: true}, {URI: "scratch.qcow2"}}},
		{in: "a:yes, b:1 ,c:no,d:0", want: []Disk{{"a", true}, {"b", true}, {"c", false}, {"d", false}}},
		{in: "", errWant: "empty; expected a comma-separated list of uri[:persistent]"},
		{in: "a,,b", errWant: "item 2 of \"a,,b\" is empty"},
		{in: "a,", errWant: "item 2"},
		{in: ":true", errWant: "empty uri"},
		{in: "a:maybe", errWant: "persistent flag \"maybe\" is not a boolean"},
		{in: "a:", errWant: "is not a boolean"},
		{in: "a:b:c", errWant: "more than one ':'"},
	}
	for _, tt := range tests {
		got, err := ParseDisks(tt.in)
		if tt.errWant != "" {
			wantErr(t, err, "disks", tt.errWant)
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseDisks(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

func TestFormatDisks(t *testing.T) {
	got := FormatDisks([]Disk{{URI: "a", Persistent: true}, {URI: "b"}})
	if got != "a:True,b" {
		t.Errorf("FormatDisks = %q, want a:True,b", got)
	}
}

func TestParseNICs(t *testing.T) {
	tests := []struct {
		in      string
		want    []NIC
		errWant string
	}{
		{in: ":1.2.3.4,1::52:54:00:00:56:78", want: []NIC{{IP: "1.2.3.4"},
			{Network: "1", MAC: "52:54:00:00:56:78"}}},
		{in: "::", want: []NIC{{}}},
		{in: "lab", want: []NIC{{Network: "lab"}}},
		{in: "lab:10.0.0.5", want: []NIC{{Network: "lab", IP: "10.0.0.5"}}},
		{in: "lab::52-54-00-AB-CD-EF", want: []NIC{{Network: "lab", MAC: "52:54:00:ab:cd:ef"}}},
		{in: "", errWant: "empty"},
		{in: "lab,,x", errWant: "item 2"},
		{in: ":1.2.3", errWant: "not an IPv4 address"},
		{in: ":::1", errWant: "not a MAC address"},
		{in: ":fe80::1", errWant: "ip \"fe80\" is not an IPv4 address"},
		{in: ":224.0.0.1", errWant: "cannot be a guest's address"},
		{in: ":0.0.0.0", errWant: "cannot be a guest's address"},
		{in: "::01:00:5e:00:00:01", errWant: "multicast"},
		{in: "::00:00:00:00:00:00", errWant: "all zero"},
		{in: "::00:00:00:00:00:00:00:01", errWant: "not a MAC address"},
	}
	for _, tt := range tests {
		got, err := ParseNICs(tt.in)
		if tt.errWant != "" {
			wantErr(t, err, "nics", tt.errWant)
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseNICs(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
	}
}

func TestParseHints(t *testing.T) {
	tests := []struct {
		in      string
		want    map[string]string
		errWant string
	}{
		{in: "", want: nil},
		{in: "targetHost=h1,densePack=true", want: map[string]string{"targetHost": "h1", "densePack": "true"}},
		{in: "cpumodel=qemu64,x.y-z_1=a=b, empty=", want: map[string]string{
			"cpumodel": "qemu64", "x.y-z_1": "a=b", "empty": ""}},
		{in: "a=1,a=2", errWant: `key "a" is given twice`},
		{in: "__resume_source=1", errWant: "reserved for the system"},
		{in: "=v", errWant: "is not valid"},
		{in: "a b=v", errWant: "is not valid"},
		{in: "novalue", errWant: "has no '='"},
		{in: "dfsFiles=/data/a,/data/b,loadAware=true", want: map[string]string{
			"dfsFiles": "/data/a,/data/b", "loadAware": "true"}},
		{in: "dfsFiles=/a, /b ,/c", want: map[string]string{"dfsFiles": "/a,/b,/c"}},
		{in: "targetHost=h1,densePack", errWant: "has no '='"},
		{in: "a=1,,b=2", errWant: "item 2"},
	}
	for _, tt := range tests {
		got, err := ParseHints(tt.in)
		if tt.errWant != "" {
			wantErr(t, err, "hints", tt.errWant)
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseHints(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

func TestFormatHints(t *testing.T) {
	if got := FormatHints(map[string]string{"b": "2", "a": "1=x"}); got != "a=1=x,b=2" {
		t.Errorf("FormatHints = %q", got)
	}
}

func FuzzParseDisks(f *testing.F) {
	for _, s := range []string{"tiny.qcow2", "a:True,b:no", "a,,b", ":x", "a:b:c", " a : 1 "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ds, err := ParseDisks(s)
		if err != nil {
			checkInvalid(t, err, "disks")
			return
		}
		again, err := ParseDisks(FormatDisks(ds))
		if err != nil || !reflect.DeepEqual(ds, again) {
			t.Fatalf("round trip of %q: %v, %v; want %v", s, again, err, ds)
		}
	})
}

func FuzzParseNICs(f *testing.F) {
	for _, s := range []string{":1.2.3.4,1::52:54:00:00:56:78", "::", "lab", ":::", "a:b:c:d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ns, err := ParseNICs(s)
		if err != nil {
			checkInvalid(t, err, "nics")
			return
		}
		again, err := ParseNICs(FormatNICs(ns))
		if err != nil || !reflect.DeepEqual(ns, again) {
			t.Fatalf("round trip of %q: %+v, %v; want %+v", s, again, err, ns)
		}
	})
}

func FuzzParseHints(f *testing.F) {
	for _, s := range []string{"a=1,b=2", "", "__x=1", "a=1,a=2", "k==", " k = v "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		h, err := ParseHints(s)
		if err != nil {
			checkInvalid(t, err, "hints")
			return
		}
		again, err := ParseHints(FormatHints(h))
		if err != nil || !reflect.DeepEqual(h, again) {
			t.Fatalf("round trip of %q: %v, %v; want %v", s, again, err, h)
		}
	})
}

func checkInvalid(t *testing.T, err error, field string) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) || e.Code != CodeInvalid || e.Field != field {
		t.Fatalf("error %v is not an invalid_argument *Error for %s", err, field)
	}
}
