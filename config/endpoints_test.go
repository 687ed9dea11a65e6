package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestLoopbackOnly(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:8081":    true,
		"127.1.2.3:8081":    true,
		"[::1]:8081":        true,
		"localhost:8081":    true,
		"LocalHost:8081":    true,
		":8081":             false,
		"0.0.0.0:8081":      false,
		"[::]:8081":         false,
		"10.0.0.7:8081":     false,
		"gantry.local:8081": false,
		"127.0.0.1":         false, // no port: does not parse, so not trusted
		"":                  false,
	} {
		if got := LoopbackOnly(addr); got != want {
			t.Errorf("LoopbackOnly(%q) = %v, want %v", addr, got, want)
		}
	}
}

// TestPagesElsewhereThanLoopbackNeedAToken proves that a server whose
// pages would be reachable from other machines without a token does not
// load, with an error naming the field to set.
func TestPagesElsewhereThanLoopbackNeedAToken(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"key.pem", "secret", "web-token"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	const base = "github: {appID: 1, privateKeyFile: key.pem, webhookSecretFile: secret}\nclusters: [{name: prod, inCluster: true}]\n"
	tests := []struct {
		name, yaml string
		want       []string
	}{
		{"loopback by default", "", nil},
		{"loopback IPv6", "web: {listen: '[::1]:9090'}\n", nil},
		{"every interface without a token", "web: {listen: ':8081'}\n", []string{
			`server.yaml:3:6: web.tokenFile: missing: web.listen ":8081" is reachable from other machines, and the pages show full diffs; give a token file, listen on loopback (e.g. "127.0.0.1:8081") or set web.disabled: true`,
		}},
		{"a routable address without a token", "web:\n  listen: 10.1.2.3:8081\n", []string{
			`server.yaml:4:3: web.tokenFile: missing: web.listen "10.1.2.3:8081" is reachable from other machines, and the pages show full diffs; give a token file, listen on loopback (e.g. "127.0.0.1:8081") or set web.disabled: true`,
		}},
		{"every interface with a token", "web: {listen: ':8081', tokenFile: web-token}\n", nil},
		{"every interface, disabled", "web: {listen: ':8081', disabled: true}\n", nil},
		{"token file missing", "web: {listen: ':8081', tokenFile: nope}\n", []string{
			"server.yaml:3:35: web.tokenFile: " + filepath.Join(dir, "nope") + ": no such file or directory",
		}},
		{"no port", "web: {listen: 'localhost'}\n", []string{
			`server.yaml:3:15: web.listen: "localhost" is not a host:port address such as "127.0.0.1:8081"`,
		}},
		{"the webhook's port", "listen: ':9000'\nweb: {listen: '127.0.0.1:9000'}\n", []string{
			`server.yaml:4:15: web.listen: "127.0.0.1:9000" is the webhook listener's address (listen ":9000"); the pages need a listener of their own`,
		}},
		{"metrics on disabled pages", "web: {disabled: true}\nmetrics: {listener: web}\n", []string{
			`server.yaml:4:21: metrics.listener: "web": the pages' listener is disabled (web.disabled: true)`,
		}},
		{"metrics listener typo", "metrics: {listener: webhok, tokenFile: nope}\n", []string{
			`server.yaml:3:21: metrics.listener: "webhok" is not one of webhook, web, off (did you mean "webhook"?)`,
			"server.yaml:3:40: metrics.tokenFile: " + filepath.Join(dir, "nope") + ": no such file or directory",
		}},
		{"state in an unknown cluster", "state: {cluster: prd}\n", []string{
			`server.yaml:3:18: state.cluster: "prd" is not one of the clusters ("prod") (did you mean "prod"?)`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseServer("server.yaml", []byte(base+tt.yaml), dir)
			if diff := cmp.Diff(tt.want, errorLines(err)); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEndpointDefaults(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"key.pem", "secret", "tok"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	const base = "github: {appID: 1, privateKeyFile: key.pem, webhookSecretFile: secret}\n"
	tests := []struct {
		name, yaml string
		want       [3]any // Web, Metrics, State
	}{
		{"defaults", "clusters: [{name: prod, inCluster: true}]\n",
			[3]any{Web{Listen: DefaultWebListen}, Metrics{Listener: MetricsOnWebhook}, State{Cluster: "prod", Namespace: DefaultSystemNamespace, LeaderElection: LeaderElection{LeaseDuration: Duration(DefaultLeaseDuration)}}}},
		{"no default cluster, no state cluster", "clusters: [{name: a, inCluster: true}, {name: b, inCluster: true}]\n",
			[3]any{Web{Listen: DefaultWebListen}, Metrics{Listener: MetricsOnWebhook}, State{Namespace: DefaultSystemNamespace, LeaderElection: LeaderElection{LeaseDuration: Duration(DefaultLeaseDuration)}}}},
		{"leader election", "clusters: [{name: prod, inCluster: true}]\nstate: {leaderElection: {enabled: true, leaseDuration: 5s}}\n",
			[3]any{Web{Listen: DefaultWebListen}, Metrics{Listener: MetricsOnWebhook}, State{Cluster: "prod", Namespace: DefaultSystemNamespace, LeaderElection: LeaderElection{Enabled: true, LeaseDuration: Duration(5 * time.Second)}}}},
		{"explicit", "clusters: [{name: a, inCluster: true}, {name: b, inCluster: true}]\ndefaultCluster: a\nstate: {cluster: b}\nweb: {disabled: true}\nmetrics: {listener: off, tokenFile: tok}\n",
			[3]any{Web{Disabled: true}, Metrics{Listener: MetricsOff, TokenFile: filepath.Join(dir, "tok")}, State{Cluster: "b", Namespace: DefaultSystemNamespace, LeaderElection: LeaderElection{LeaseDuration: Duration(DefaultLeaseDuration)}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := ParseServer("s.yaml", []byte(base+tt.yaml), dir)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, [3]any{s.Web, s.Metrics, s.State}); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestLeaderElectionIsChecked(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"key.pem", "secret"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	const base = "github: {appID: 1, privateKeyFile: key.pem, webhookSecretFile: secret}\n"
	for yaml, want := range map[string]string{
		"clusters: [{name: a, inCluster: true}, {name: b, inCluster: true}]\nstate: {leaderElection: {enabled: true}}\n": "state.leaderElection.enabled: needs a state cluster",
		"clusters: [{name: a, inCluster: true}]\nstate: {leaderElection: {enabled: true, leaseDuration: 1s}}\n":          "state.leaderElection.leaseDuration: 1s is too short",
	} {
		_, err := ParseServer("s.yaml", []byte(base+yaml), dir)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", yaml, err, want)
		}
	}
}
