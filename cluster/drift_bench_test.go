package cluster

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// largeApp renders 1,000 objects: 500 ConfigMaps, 250 Secrets and 250
// ServiceAccounts.
func largeApp(tb testing.TB, ns string) []*unstructured.Unstructured {
	tb.Helper()
	var b strings.Builder
	for i := range 500 {
		fmt.Fprintf(&b, "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm-%03d, labels: {team: a}}\ndata: {setting: \"v%d\", mode: fast}\n", i, i)
	}
	for i := range 250 {
		fmt.Fprintf(&b, "---\napiVersion: v1\nkind: Secret\nmetadata: {name: secret-%03d}\nstringData: {user: u, password: p%d}\n", i, i)
		fmt.Fprintf(&b, "---\napiVersion: v1\nkind: ServiceAccount\nmetadata: {name: sa-%03d, labels: {version: v1}}\n", i)
	}
	var objs []*unstructured.Unstructured
	for _, d := range strings.Split(b.String(), "---\n")[1:] {
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal([]byte(d), &u.Object); err != nil {
			tb.Fatal(err)
		}
		u.SetNamespace(ns)
		objs = append(objs, u)
	}
	return objs
}

// BenchmarkDriftNothingDrifted is the cost of one drift check of a
// 1,000-object app where nothing drifted: the watcher's check after an
// event that changed nothing of gantry's, and the backstop's per app.
func BenchmarkDriftNothingDrifted(b *testing.B) {
	ctx := context.Background()
	ns := cluster.Namespace(b)
	app := newApp(ns)
	objs := largeApp(b, ns)
	c, err := NewClient(cluster.Config, DefaultClientOptions())
	if err != nil {
		b.Fatal(err)
	}
	if _, err := c.Apply(ctx, app, objs, ApplyOptions{Repository: testRepo}); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		s, err := c.Drift(ctx, app, objs, DriftOptions{Repository: testRepo})
		if err != nil {
			b.Fatal(err)
		}
		if s.Drifted() || s.HasErrors() {
			b.Fatalf("drift right after apply: %+v", s.Objects[0])
		}
	}
}

// BenchmarkWatcherIdle measures the watcher's CPU time (of this whole
// process) and heap over 30 s of a cluster where nothing changes, with a
// 1,000-object app watched. Run it once: -benchtime=1x.
func BenchmarkWatcherIdle(b *testing.B) {
	const idle = 30 * time.Second
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ns := cluster.Namespace(b)
	app := newApp(ns)
	c, err := NewClient(cluster.Config, DefaultClientOptions())
	if err != nil {
		b.Fatal(err)
	}
	if _, err := c.Apply(ctx, app, largeApp(b, ns), ApplyOptions{Repository: testRepo}); err != nil {
		b.Fatal(err)
	}
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	var calls atomic.Int64
	if _, err := c.Watch(ctx, WatchOptions{OnChange: func(string, string) { calls.Add(1) }}); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		start := cpuTime(b)
		time.Sleep(idle)
		used := cpuTime(b) - start
		b.ReportMetric(100*used.Seconds()/idle.Seconds(), "%cpu")
	}
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(after.HeapAlloc-min(before.HeapAlloc, after.HeapAlloc))/(1<<20), "MiB-heap")
	if n := calls.Load(); n != 0 {
		b.Errorf("%d OnChange calls while nothing changed", n)
	}
}

// cpuTime is the user and system CPU time of this process.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
