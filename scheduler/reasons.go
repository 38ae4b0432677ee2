package scheduler

import (
	"fmt"
	"strings"
	"time"
)

// Reason says why a host was rejected for a request, or why a request was
// not placed. Host reasons are listed in the order the filters run; a host
// is counted under the first filter that rejects it.
type Reason uint8

const (
	OK Reason = iota // not rejected

	// Host reasons, one per filter, in filter order.
	ReasonHostDown        // the host's heartbeat has expired
	ReasonHostDrained     // an admin drained the host
	ReasonVersionMismatch // the node manager runs another version
	ReasonNotTarget       // the request names another host (targetHost)
	ReasonReserved        // the host is reserved for other users
	ReasonFailedBefore    // the instance's activation failed on this host before
	ReasonDiskInUse       // a persistent disk is in use by another instance
	ReasonCores           // not enough free cores
	ReasonMemory          // not enough free memory
	ReasonAntiAffinity    // a group member with the same hard anti-affinity label is there
	ReasonAffinity        // the group's members with the same hard affinity label are elsewhere

	// Request reasons: the summary in an Explanation.
	ReasonNoHost       // every host was rejected; see Rejected
	ReasonGang         // the request's gang did not fit as a whole
	ReasonInvalidHints // the hints could not be parsed; see Detail
	ReasonInvalid      // cores or memory below 1
	ReasonDuplicate    // the same instance was asked for earlier in the call

	numReasons
)

var reasonText = [numReasons]string{
	OK:                    "ok",
	ReasonHostDown:        "host down",
	ReasonHostDrained:     "host drained",
	ReasonVersionMismatch: "version mismatch",
	ReasonNotTarget:       "not the target host",
	ReasonReserved:        "reserved for other users",
	ReasonFailedBefore:    "activation failed here before",
	ReasonDiskInUse:       "persistent disk in use",
	ReasonCores:           "not enough cores",
	ReasonMemory:          "not enough memory",
	ReasonAntiAffinity:    "anti-affinity",
	ReasonAffinity:        "affinity",
	ReasonNoHost:          "no host fits",
	ReasonGang:            "gang does not fit",
	ReasonInvalidHints:    "invalid hints",
	ReasonInvalid:         "invalid request",
	ReasonDuplicate:       "duplicate request",
}

func (r Reason) String() string {
	if r < numReasons {
		return reasonText[r]
	}
	return fmt.Sprintf("reason(%d)", uint8(r))
}

// MarshalText makes reasons readable in JSON.
func (r Reason) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// UnmarshalText reads a reason back from its text.
func (r *Reason) UnmarshalText(b []byte) error {
	for k, text := range reasonText {
		if text == string(b) {
			*r = Reason(k)
			return nil
		}
	}
	return fmt.Errorf("unknown scheduling reason %q", b)
}

// ReasonCount is how many hosts one filter rejected.
type ReasonCount struct {
	Reason Reason `json:"reason"`
	Hosts  int    `json:"hosts"`
}

// Explanation says why a request was not placed, as Nomad's AllocMetric
// does: how many hosts were evaluated and how many each filter rejected.
type Explanation struct {
	InstanceID int64         `json:"instanceId"`
	Version    int64         `json:"version"`
	Reason     Reason        `json:"reason"`
	Hosts      int           `json:"hosts"`              // hosts evaluated
	Rejected   []ReasonCount `json:"rejected,omitempty"` // in filter order, non-zero only
	// GangMember is, for ReasonGang, the member that did not fit; Rejected
	// are then its counts, taken with the members before it in place.
	GangMember int64         `json:"gangMember,omitempty"`
	Detail     string        `json:"detail,omitempty"`
	Waited     time.Duration `json:"waited"`            // now - Created
	Expired    bool          `json:"expired,omitempty"` // a gang past Policy.GangTimeout
}

// String reads like "gang does not fit: instance 17: 10 hosts: 3 host
// down, 7 not enough memory".
func (e Explanation) String() string {
	var b strings.Builder
	b.WriteString(e.Reason.String())
	if e.GangMember != 0 {
		fmt.Fprintf(&b, ": instance %d", e.GangMember)
	}
	if e.Detail != "" {
		b.WriteString(": " + e.Detail)
	}
	if len(e.Rejected) > 0 || e.Reason == ReasonNoHost || e.Reason == ReasonGang {
		fmt.Fprintf(&b, ": %d hosts", e.Hosts)
	}
	for i, rc := range e.Rejected {
		sep := ", "
		if i == 0 {
			sep = ": "
		}
		fmt.Fprintf(&b, "%s%d %s", sep, rc.Hosts, rc.Reason)
	}
	if e.Expired {
		b.WriteString(" (gang timeout passed)")
	}
	return b.String()
}

// Count returns how many hosts r rejected.
func (e Explanation) Count(r Reason) int {
	for _, rc := range e.Rejected {
		if rc.Reason == r {
			return rc.Hosts
		}
	}
	return 0
}

// tally counts rejections per reason while hosts are scanned.
type tally [numReasons]int

func (t *tally) counts() []ReasonCount {
	var out []ReasonCount
	for r := ReasonHostDown; r <= ReasonAffinity; r++ {
		if t[r] > 0 {
			out = append(out, ReasonCount{Reason: r, Hosts: t[r]})
		}
	}
	return out
}
