package egress

import (
	"maps"
	"testing"
)

// Every refusal is counted by its reason, also past the entries a report
// keeps: the gateway's metrics add up the whole call.
func TestRefusedByCountsPastTheKeptEntries(t *testing.T) {
	var r recorder
	for i := 0; i < MaxReportConns+44; i++ {
		e := r.begin("CONNECT")
		e.refuse(ReasonNotAllowed, "")
		e.finish()
	}
	e := r.begin("GET")
	e.refuse(ReasonIPLiteral, "")
	e.refuse(ReasonLimitBytes, "") // the first reason wins
	e.finish()
	r.begin("GET").finish() // allowed
	rep := r.report()
	want := map[string]int{ReasonNotAllowed: MaxReportConns + 44, ReasonIPLiteral: 1}
	if !maps.Equal(rep.RefusedBy, want) || rep.Refused != MaxReportConns+45 || rep.Allowed != 1 ||
		!rep.Truncated || len(rep.Connections) != MaxReportConns {
		t.Errorf("report: refusedBy %v refused %d allowed %d truncated %v kept %d", rep.RefusedBy, rep.Refused, rep.Allowed, rep.Truncated, len(rep.Connections))
	}
}
