package clustermanager

import (
	"bytes"
	"errors"
	"net/http/httptest"
	"testing"

	"github.com/tashi-go/tashi/api"
)

// FuzzDecodeCreateVM feeds arbitrary bodies through the request decoder
// and the spec validation: never a panic, never an error without a code,
// and whatever is accepted is within the limits.
func FuzzDecodeCreateVM(f *testing.F) {
	f.Add([]byte(`{"name":"a","cores":1,"memory":128,"disks":[{"uri":"tiny.qcow2","persistent":true}],"nics":[{"network":"n","ip":"10.0.0.5","mac":"52:54:00:00:00:01"}],"hints":{"k":"v"}}`))
	f.Add([]byte(`{"name":"a","cores":1e400}`))
	f.Add([]byte(`{"name":"a","hints":{"__x":"1"}}`))
	f.Add([]byte(`[1,2]`))
	f.Add([]byte(`{"name":"\u0000"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		r := httptest.NewRequest("POST", "/v1/instances", bytes.NewReader(body))
		var spec api.InstanceSpec
		err := decode(r, &spec)
		if err == nil {
			err = api.ValidateSpec(spec, 8, 8192)
		}
		if err != nil {
			var e *api.Error
			if !errorsAs(err, &e) || e.Code == "" || e.Message == "" {
				t.Fatalf("error without code or message: %#v", err)
			}
			return
		}
		if spec.Cores < 1 || spec.Cores > 8 || spec.Memory < 1 || spec.Memory > 8192 || len(spec.Disks) == 0 {
			t.Fatalf("accepted a spec out of limits: %+v", spec)
		}
	})
}

// FuzzDecodeHeartbeat: node managers' heartbeats are outside input too.
func FuzzDecodeHeartbeat(f *testing.F) {
	f.Add([]byte(`{"hostId":1,"stats":{"load1":0.5},"vms":[{"instanceId":3,"state":"Running"}]}`))
	f.Add([]byte(`{"hostId":-1,"vms":[{"state":"Bogus"}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		r := httptest.NewRequest("POST", "/v1/nm/heartbeat", bytes.NewReader(body))
		var hb api.Heartbeat
		if err := decode(r, &hb); err != nil {
			return
		}
		if err := validHeartbeat(hb); err == nil && hb.HostID < 1 {
			t.Fatalf("accepted host id %d", hb.HostID)
		}
	})
}

func errorsAs(err error, target **api.Error) bool { return errors.As(err, target) }
