package bot

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-github/v60/github"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
)

func TestShardOfIsStableCaseInsensitiveAndSpreads(t *testing.T) {
	if a, b := ShardOf("Acme/Ops", 16), ShardOf("acme/ops", 16); a != b {
		t.Errorf("ShardOf differs by case: %d and %d", a, b)
	}
	for _, n := range []int{0, 1} {
		if got := ShardOf("acme/ops", n); got != 0 {
			t.Errorf("ShardOf(acme/ops, %d) = %d, want 0: no sharding", n, got)
		}
	}
	used := map[int]int{}
	for i := range 64 {
		s := ShardOf(fmt.Sprintf("acme/repo-%d", i), 16)
		if s < 0 || s >= 16 {
			t.Fatalf("shard %d out of range", s)
		}
		used[s]++
	}
	// FNV-1a over 64 names: a hash that ignored the name would put them
	// all in one shard; a fair one leaves few shards empty.
	if len(used) < 12 {
		t.Errorf("64 repositories fell in %d of 16 shards: %v", len(used), used)
	}
	// The hatest and the benchmark rely on their 8 repositories using both
	// shards of 2 and at least three of 4.
	two, four := map[int]bool{}, map[int]bool{}
	for i := range 8 {
		two[ShardOf(fmt.Sprintf("acme/ops-%d", i), 2)] = true
		four[ShardOf(fmt.Sprintf("acme/ops-%d", i), 4)] = true
	}
	if len(two) != 2 || len(four) < 3 {
		t.Errorf("acme/ops-0..7 use %d of 2 shards and %d of 4", len(two), len(four))
	}
}

func TestFairShare(t *testing.T) {
	for _, tc := range []struct{ shards, replicas, want int }{
		{16, 1, 16}, {16, 2, 8}, {16, 3, 6}, {16, 4, 4}, {16, 5, 4}, {2, 4, 1}, {1, 3, 1}, {16, 0, 16},
	} {
		if got := fairShare(tc.shards, tc.replicas); got != tc.want {
			t.Errorf("fairShare(%d, %d) = %d, want %d", tc.shards, tc.replicas, got, tc.want)
		}
	}
}

// view builds a view of n shards: m are mine, o are another live
// replica's, the rest free.
func view(n int, mine, others []int) []shardState {
	v := make([]shardState, n)
	for i := range v {
		v[i] = shardState{Index: i, Mine: slices.Contains(mine, i), Free: !slices.Contains(mine, i) && !slices.Contains(others, i)}
	}
	return v
}

func TestPlanShards(t *testing.T) {
	for _, tc := range []struct {
		name          string
		view          []shardState
		replicas      int
		take, release int // counts
		mustNotTake   []int
	}{
		{name: "alone: takes every shard", view: view(4, nil, nil), replicas: 1, take: 4},
		{name: "a second replica joined: releases half", view: view(4, []int{0, 1, 2, 3}, nil), replicas: 2, release: 2},
		{name: "joined: takes free shards up to its share", view: view(4, nil, []int{0, 1}), replicas: 2, take: 2, mustNotTake: []int{0, 1}},
		{name: "never takes a live replica's shard", view: view(4, nil, []int{0, 1, 2, 3}), replicas: 2},
		{name: "at its share: nothing", view: view(4, []int{0, 1}, []int{2, 3}), replicas: 2},
		{name: "a dead replica's expired shards become free and are taken", view: view(4, []int{0, 1}, nil), replicas: 1, take: 2},
		{name: "more replicas than shards: one each at most", view: view(2, nil, []int{0}), replicas: 4, take: 1, mustNotTake: []int{0}},
		{name: "three replicas, sixteen shards: six", view: view(16, nil, nil), replicas: 3, take: 6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			take, release := planShards("replica-a", tc.view, tc.replicas)
			if len(take) != tc.take || len(release) != tc.release {
				t.Fatalf("take %v release %v, want %d taken and %d released", take, release, tc.take, tc.release)
			}
			for _, i := range take {
				if !tc.view[i].Free {
					t.Errorf("took shard %d, which is not free", i)
				}
				if slices.Contains(tc.mustNotTake, i) {
					t.Errorf("took shard %d, held by another replica", i)
				}
			}
			for _, i := range release {
				if !tc.view[i].Mine {
					t.Errorf("released shard %d, which is not mine", i)
				}
			}
		})
	}
}

// TestShardsConvergeAndRebalance simulates replicas sharing one view and
// taking turns (an update on a stale version loses, as on the API
// server): every shard ends held by exactly one replica, none past its
// fair share; when one dies its shards are taken by the others.
func TestShardsConvergeAndRebalance(t *testing.T) {
	const n = 16
	owner := make([]string, n) // "" free
	converge := func(replicas []string) {
		for range 20 {
			changed := false
			for _, r := range replicas {
				v := make([]shardState, n)
				for i := range v {
					v[i] = shardState{Index: i, Mine: owner[i] == r, Free: owner[i] == "" || !slices.Contains(replicas, owner[i])}
				}
				take, release := planShards(r, v, len(replicas))
				for _, i := range release {
					owner[i], changed = "", true
				}
				for _, i := range take {
					owner[i], changed = r, true
				}
			}
			if !changed {
				return
			}
		}
		t.Fatalf("no stable assignment after 20 rounds: %v", owner)
	}
	check := func(replicas []string) {
		t.Helper()
		count := map[string]int{}
		for i, o := range owner {
			if !slices.Contains(replicas, o) {
				t.Errorf("shard %d is held by %q, not a live replica", i, o)
			}
			count[o]++
		}
		for _, r := range replicas {
			if count[r] > fairShare(n, len(replicas)) {
				t.Errorf("%s holds %d shards, past its share of %d", r, count[r], fairShare(n, len(replicas)))
			}
		}
	}
	converge([]string{"a"})
	check([]string{"a"})
	converge([]string{"a", "b", "c"})
	check([]string{"a", "b", "c"})
	converge([]string{"a", "c"}) // b died: its Leases expired
	check([]string{"a", "c"})
}

func TestValidAddressRefusesAnythingButABaseURL(t *testing.T) {
	for in, want := range map[string]string{
		"http://10.0.0.5:8080":              "http://10.0.0.5:8080",
		"https://gantry-0.gantry:8443/":     "https://gantry-0.gantry:8443",
		"":                                  "",
		"file:///etc/passwd":                "",
		"http://user:pw@evil.example:80":    "",
		"http://10.0.0.5:8080/other/path":   "",
		"http://10.0.0.5:8080?x=1":          "",
		"gopher://10.0.0.5:70":              "",
		"http://":                           "",
		"http://10.0.0.5:8080/#frag":        "",
		"http://10.0.0.5:8080\n/webhooks":   "",
		"javascript:alert(1)":               "",
		"//10.0.0.5:8080":                   "",
		"http://[::1]:8080":                 "http://[::1]:8080",
		"HTTP://10.0.0.5:8080":              "http://10.0.0.5:8080",
		"http://10.0.0.5:8080/../../admin/": "",
	} {
		if got := validAddress(in); got != want {
			t.Errorf("validAddress(%q) = %q, want %q", in, got, want)
		}
	}
}

// forwardServer is a sharded Server with only what forwarding reads:
// acme/ops's shard is held here when mine, else by the replica at
// holderAt.
func forwardServer(t *testing.T, holderAt string, mine bool) *Server {
	t.Helper()
	m := &shardSet{n: 4, id: "me", log: slog.New(slog.DiscardHandler), held: map[int]*shardTerm{}, holders: map[int]holder{}}
	i := ShardOf("acme/ops", 4)
	if mine {
		m.held[i] = &shardTerm{ctx: context.Background(), cancel: func(error) {}}
	} else {
		m.holders[i] = holder{id: "other", address: validAddress(holderAt)}
	}
	s := &Server{log: slog.New(slog.DiscardHandler)}
	s.shards.Store(m)
	return s
}

func TestForwardSendsTheSignedDeliveryToTheShardHolder(t *testing.T) {
	body := []byte(`{"action":"opened","repository":{"full_name":"acme/ops"}}`)
	var got *http.Request
	var gotBody []byte
	holderSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, gotBody = r, must(io.ReadAll(r.Body))
		w.WriteHeader(http.StatusAccepted)
		fmt.Fprintln(w, "queued")
	}))
	defer holderSrv.Close()
	req := httptest.NewRequest("POST", "/webhooks", nil)
	req.Header.Set(github.EventTypeHeader, "pull_request")
	req.Header.Set(github.DeliveryIDHeader, "d-1")
	req.Header.Set(github.SHA256SignatureHeader, "sha256=abc")
	req.Header.Set("Authorization", "Bearer must-not-travel")
	rec := httptest.NewRecorder()
	if !forwardServer(t, holderSrv.URL, false).forward(rec, req, body) {
		t.Fatal("not forwarded")
	}
	if rec.Code != http.StatusAccepted || !strings.Contains(rec.Body.String(), "queued") {
		t.Errorf("answer %d %q, want the holder's 202 queued", rec.Code, rec.Body)
	}
	if got == nil || got.URL.Path != "/webhooks" || string(gotBody) != string(body) {
		t.Fatalf("holder got %v %q, want the same body at /webhooks", got, gotBody)
	}
	want := map[string]string{github.EventTypeHeader: "pull_request", github.DeliveryIDHeader: "d-1", github.SHA256SignatureHeader: "sha256=abc", forwardedHeader: "me", "Authorization": ""}
	for k, v := range want {
		if g := got.Header.Get(k); g != v {
			t.Errorf("holder got header %s = %q, want %q", k, g, v)
		}
	}
}

func TestForwardDeclines(t *testing.T) {
	body := []byte(`{"repository":{"full_name":"acme/ops"}}`)
	calls := 0
	holderSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		if r.Header.Get("X-Test-Fail") != "" {
			http.Error(w, "shutting down", http.StatusServiceUnavailable)
		}
	}))
	defer holderSrv.Close()
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close()
	for _, tc := range []struct {
		name   string
		s      *Server
		header map[string]string
		body   []byte
		calls  int
	}{
		{name: "no sharding", s: &Server{log: slog.New(slog.DiscardHandler)}, body: body},
		{name: "held here", s: forwardServer(t, holderSrv.URL, true), body: body},
		{name: "already forwarded once: never again", s: forwardServer(t, holderSrv.URL, false), header: map[string]string{forwardedHeader: "x"}, body: body},
		{name: "no repository", s: forwardServer(t, holderSrv.URL, false), body: []byte(`{"installation":{"id":1}}`)},
		{name: "not JSON", s: forwardServer(t, holderSrv.URL, false), body: []byte(`<xml/>`)},
		{name: "a holder address that is not a base URL", s: forwardServer(t, "file:///etc/passwd", false), body: body},
		{name: "holder unreachable", s: forwardServer(t, deadURL, false), body: body},
		{name: "holder refuses with 503", s: forwardServer(t, holderSrv.URL, false), header: map[string]string{"X-Test-Fail": "1"}, body: body, calls: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			calls = 0
			req := httptest.NewRequest("POST", "/webhooks", nil)
			for k, v := range tc.header {
				req.Header.Set(k, v)
			}
			if tc.header["X-Test-Fail"] != "" {
				forwardHeaders = append(forwardHeaders, "X-Test-Fail")
				defer func() { forwardHeaders = forwardHeaders[:len(forwardHeaders)-1] }()
			}
			rec := httptest.NewRecorder()
			if tc.s.forward(rec, req, tc.body) {
				t.Fatal("forwarded, want handled here")
			}
			if rec.Body.Len() != 0 || calls != tc.calls {
				t.Errorf("answered %q after %d holder calls, want nothing written and %d calls", rec.Body, calls, tc.calls)
			}
		})
	}
}

// TestWebhookNeverForwardsAnUnverifiedDelivery: a delivery with a bad
// signature, even one claiming to be forwarded, is rejected before the
// forward is asked.
func TestWebhookNeverForwardsAnUnverifiedDelivery(t *testing.T) {
	asked := 0
	h := &Webhook{Secret: []byte("s3cret"), Enqueue: func(Job) bool { return true },
		Forward: func(http.ResponseWriter, *http.Request, []byte) bool { asked++; return true }}
	req := httptest.NewRequest("POST", "/webhooks", strings.NewReader(`{"repository":{"full_name":"acme/ops"}}`))
	req.Header.Set(github.EventTypeHeader, "pull_request")
	req.Header.Set(github.DeliveryIDHeader, "d")
	req.Header.Set(github.SHA256SignatureHeader, "sha256=00")
	req.Header.Set(forwardedHeader, "other")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusUnauthorized || asked != 0 {
		t.Errorf("answer %d, forward asked %d times; want 401 and never asked", rec.Code, asked)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestShardLeasesBalanceAndTakeOverADeadReplica runs two shard sets on
// the local cluster's API server: alone, the first takes every shard;
// with the second, they split them, each shard held once; when the
// second stops renewing (dies), the first takes its shards back once
// their Leases expire. A job of a shard its replica released is
// cancelled with ErrShardLost.
func TestShardLeasesBalanceAndTakeOverADeadReplica(t *testing.T) {
	ns := kube.Namespace(t)
	leases := kube.Client.CoordinationV1().Leases(ns)
	const n = 8
	d := 2 * time.Second
	newSet := func(id string) *shardSet {
		return &shardSet{leases: leases, n: n, id: id, address: "http://" + id + ":8080", d: d, log: slog.New(slog.DiscardHandler),
			held: map[int]*shardTerm{}, seen: leaseClock{}}
	}
	ctx := context.Background()
	a, b := newSet("a"), newSet("b")
	heldBy := func(m *shardSet) []int {
		m.mu.Lock()
		defer m.mu.Unlock()
		var out []int
		for i := range m.held {
			out = append(out, i)
		}
		slices.Sort(out)
		return out
	}
	tickUntil := func(what string, sets []*shardSet, cond func() bool) {
		t.Helper()
		for range 200 {
			for _, m := range sets {
				if err := m.tick(ctx); err != nil {
					t.Logf("tick %s: %v", m.id, err)
				}
			}
			if cond() {
				return
			}
			time.Sleep(d / 10)
		}
		t.Fatalf("never: %s (a %v, b %v)", what, heldBy(a), heldBy(b))
	}
	tickUntil("a holds every shard", []*shardSet{a}, func() bool { return len(heldBy(a)) == n })
	repo := "acme/ops-1"
	if !a.holds(repo) {
		t.Fatal("a does not hold acme/ops-1's shard")
	}
	jctx, done, ok := a.jobContext(ctx, repo)
	if !ok {
		t.Fatal("no job context on the holder")
	}
	defer done()

	tickUntil("a and b split the shards", []*shardSet{a, b}, func() bool {
		ha, hb := heldBy(a), heldBy(b)
		return len(ha) == n/2 && len(hb) == n/2
	})
	if overlap := slices.DeleteFunc(heldBy(a), func(i int) bool { return !slices.Contains(heldBy(b), i) }); len(overlap) > 0 {
		t.Fatalf("shards %v held by both", overlap)
	}
	// a's job of a shard it released is cancelled for its new holder.
	if b.holds(repo) {
		<-jctx.Done()
		if cause := context.Cause(jctx); cause != ErrShardLost {
			t.Errorf("the job of a released shard ended with %v, want ErrShardLost", cause)
		}
		if _, ok := b.holderOf(ctx, repo); ok {
			t.Error("b would forward a delivery of a shard it holds")
		}
		if h, ok := a.holderOf(ctx, repo); !ok || h.address != "http://b:8080" {
			t.Errorf("a forwards acme/ops-1 to %+v %v, want b's address", h, ok)
		}
	} else if jctx.Err() != nil {
		t.Errorf("the job of a shard a kept was cancelled: %v", context.Cause(jctx))
	}
	// Every Lease names its holder and the holder's address.
	l, err := leases.Get(ctx, shardLeaseName(heldBy(b)[0], n), metav1.GetOptions{})
	if err != nil || *l.Spec.HolderIdentity != "b" || l.Annotations[addressAnnotation] != "http://b:8080" {
		t.Fatalf("shard Lease of b: %v %v", l, err)
	}

	// b dies: it ticks no more. a takes its shards once they expire.
	died := time.Now()
	tickUntil("a takes the dead b's shards", []*shardSet{a}, func() bool { return len(heldBy(a)) == n })
	t.Logf("b died → a holds all %d shards after %s (Lease %s; measured, not asserted)", n, time.Since(died).Round(time.Millisecond), d)
	if !a.holds(repo) {
		t.Error("a does not hold acme/ops-1's shard after the takeover")
	}
	// The dead replica's heartbeat is cleaned up.
	if _, err := leases.Get(ctx, replicaLeasePre+"b", metav1.GetOptions{}); err == nil {
		t.Error("the dead replica's heartbeat Lease is still there")
	}
	// A graceful stop frees every Lease at once.
	a.stop()
	list, err := leases.List(ctx, metav1.ListOptions{LabelSelector: shardingLabel})
	if err != nil {
		t.Fatal(err)
	}
	var holders []string
	for _, l := range list.Items {
		if h := *l.Spec.HolderIdentity; h != "" && l.Labels[shardingLabel] != "replica" {
			holders = append(holders, l.Name+"="+h)
		}
	}
	if diff := cmp.Diff([]string(nil), holders); diff != "" {
		t.Errorf("shards held after a's stop (-want +got):\n%s", diff)
	}
}

func TestReplicaIDIsALeaseName(t *testing.T) {
	for _, host := range []string{"vm-M657WJI6", "", "web.example.com", strings.Repeat("x", 300), "-_-", "ünïcode"} {
		id := replicaID(host)
		if errs := validation.IsDNS1123Subdomain(replicaLeasePre + id); len(errs) > 0 {
			t.Errorf("replicaID(%q) = %q: not a Lease name: %v", host, id, errs)
		}
		if replicaID(host) == id {
			t.Errorf("replicaID(%q) is the same twice: %q", host, id)
		}
	}
}
