package cluster

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// TestUnreachableTellsAnOutageFromAFault: a refused connection or a 503,
// however wrapped, is an outage the next resync retries; a refusal of
// what was sent, or a cancelled run, is not.
func TestUnreachableTellsAnOutageFromAFault(t *testing.T) {
	// A real refused connection, as client-go sees one.
	_, refused := http.Get("http://127.0.0.1:1/")
	if refused == nil {
		t.Fatal("port 1 answered")
	}
	gr := schema.GroupResource{Resource: "configmaps"}
	for _, tt := range []struct {
		name string
		err  error
		want bool
	}{
		{"refused", refused, true},
		{"refused, wrapped and joined", errors.Join(errors.New("x"), fmt.Errorf("list deployments in %q: %w", "ns", refused)), true},
		{"503", apierrors.NewServiceUnavailable("etcd down"), true},
		{"429", apierrors.NewTooManyRequests("slow down", 1), true},
		{"server timeout", apierrors.NewServerTimeout(gr, "get", 1), true},
		{"invalid", apierrors.NewInvalid(schema.GroupKind{Kind: "ConfigMap"}, "x", nil), false},
		{"forbidden", apierrors.NewForbidden(gr, "x", errors.New("rbac")), false},
		{"apply failed", fmt.Errorf("app web: %w", ErrApplyFailed), false},
		{"cancelled", context.Canceled, false},
		{"none", nil, false},
	} {
		if got := Unreachable(tt.err); got != tt.want {
			t.Errorf("%s: Unreachable(%v) = %v, want %v", tt.name, tt.err, got, tt.want)
		}
	}
}

// TestRecordOfAnOutageSaysInterrupted: the record of an apply the cluster
// cut short says so, for the resync to apply it again; a failure of the
// app's own does not.
func TestRecordOfAnOutageSaysInterrupted(t *testing.T) {
	_, refused := http.Get("http://127.0.0.1:1/")
	var rec ApplyRecord
	fillRecord(&rec, nil, fmt.Errorf("app web: %w", refused))
	if rec.Result != ResultFailed || !rec.Interrupted {
		t.Errorf("record of an outage: %+v, want failed and interrupted", rec)
	}
	rec = ApplyRecord{}
	fillRecord(&rec, nil, fmt.Errorf("app web: 1 of 1 objects: %w", ErrApplyFailed))
	if rec.Result != ResultFailed || rec.Interrupted {
		t.Errorf("record of a refused object: %+v, want failed, not interrupted", rec)
	}
}
