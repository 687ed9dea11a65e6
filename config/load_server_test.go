package config

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseServerErrors(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"key.pem", "secret", "kc"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "policies"), 0o755); err != nil {
		t.Fatal(err)
	}
	const good = "github: {appID: 1, privateKeyFile: key.pem, webhookSecretFile: secret}\n"
	tests := []struct {
		name string
		yaml string
		want []string
	}{{
		name: "missing github identity and clusters",
		yaml: "listen: \":9000\"\n",
		want: []string{
			"server.yaml:1:1: github.appID: missing: the GitHub App's numeric id",
			"server.yaml:1:1: github.privateKeyFile: missing",
			"server.yaml:1:1: github.webhookSecretFile: missing",
			"server.yaml:1:1: clusters: missing: at least one cluster",
		},
	}, {
		name: "files that are not there",
		yaml: "github: {appID: 1, privateKeyFile: nokey.pem, webhookSecretFile: secret}\nclusters:\n  - {name: prod, kubeconfig: nokc}\n",
		want: []string{
			"server.yaml:1:36: github.privateKeyFile: " + filepath.Join(dir, "nokey.pem") + ": no such file or directory",
			"server.yaml:3:30: clusters[0].kubeconfig: " + filepath.Join(dir, "nokc") + ": no such file or directory",
		},
	}, {
		name: "clusters, default, typo in field",
		yaml: good + "clusters:\n  - {name: prod, kubeconfig: kc, inCluster: true}\n  - {name: prod, inCluster: true}\n  - {name: dev}\ndefaultCluster: prd\nresyncIntreval: 1m\n",
		want: []string{
			"server.yaml:3:45: clusters[0].inCluster: give either inCluster or kubeconfig, not both",
			"server.yaml:4:12: clusters[1].name: \"prod\" is already the name of clusters[0]",
			"server.yaml:5:5: clusters[2]: missing kubeconfig (or inCluster: true)",
			`server.yaml:6:17: defaultCluster: "prd" is not one of the clusters ("prod", "prod", "dev") (did you mean "prod"?)`,
			`server.yaml:7:1: unknown field "resyncIntreval" (did you mean "resyncInterval"?)`,
		},
	}, {
		name: "permissions and policies",
		yaml: good + "clusters: [{name: prod, inCluster: true}]\npolicies:\n  - {name: base, path: nodir}\npermissions:\n  - commands: [aply]\n    minRole: writer\n  - commands: [plan]\n    teams: [platform]\n  - commands: [unlock]\nresyncInterval: 1s\n",
		want: []string{
			"server.yaml:4:24: policies[0].path: " + filepath.Join(dir, "nodir") + ": no such file or directory",
			`server.yaml:6:16: permissions[0].commands[0]: "aply" is not one of plan, apply, unlock, approve-policies, revert, preview (did you mean "apply"?)`,
			`server.yaml:7:14: permissions[0].minRole: "writer" is not one of read, triage, write, maintain, admin (did you mean "write"?)`,
			`server.yaml:9:13: permissions[1].teams[0]: "platform" must be org/team-slug`,
			"server.yaml:10:5: permissions[2]: grants to nobody: give users, teams or minRole",
			"server.yaml:11:17: resyncInterval: 1s is too short: at least 10s",
		},
	}, {
		name: "repository grants",
		yaml: good + "clusters: [{name: prod, inCluster: true}]\nrepositories:\n  - {match: [acme], clusters: [prd], kinds: ['[']}\n  - {namespaces: [web]}\n",
		want: []string{
			`server.yaml:4:14: repositories[0].match[0]: "acme" must be an owner/name glob (acme/ops, acme/*, */*)`,
			`server.yaml:4:32: repositories[0].clusters[0]: "prd" is not one of the clusters ("prod") (did you mean "prod"?)`,
			`server.yaml:4:46: repositories[0].kinds[0]: "[" is not a valid glob`,
			"server.yaml:5:5: repositories[1].match: missing: the repositories this grants to, as owner/name globs",
			`server.yaml:5:5: repositories[1].clusters: missing: the clusters these repositories may target ("*" for all)`,
		},
	}, {
		name: "starter pack",
		yaml: good + "clusters: [{name: prod, inCluster: true}]\npolicies:\n  - {name: starter, path: policies}\nstarterPack:\n  enabled: true\n  exclude: [probes, '', probes]\n  allowNodeport: true\n",
		want: []string{
			`server.yaml:4:12: policies[0].name: "starter" is the starter pack's set name; choose another`,
			`server.yaml:7:21: starterPack.exclude[1]: empty: a rule ID such as image-pinned`,
			`server.yaml:7:25: starterPack.exclude[2]: "probes" is listed twice`,
			`server.yaml:8:3: starterPack: unknown field "allowNodeport" (did you mean "allowNodePort"?)`,
		},
	}, {
		name: "previews",
		yaml: good + "clusters: [{name: staging, inCluster: true}]\npreviews:\n  enabled: true\n  clusters: [stagin]\n  maxObjects: -1\n  podSecurity: lax\n  quota: {pods: lots}\n",
		want: []string{
			`server.yaml:5:14: previews.clusters[0]: no cluster "stagin" is configured (did you mean "staging"?)`,
			"server.yaml:6:15: previews.maxObjects: -1 is negative",
			`server.yaml:7:16: previews.podSecurity: "lax" is not one of restricted, baseline, privileged`,
			`server.yaml:8:10: previews.quota: pods: "lots" is not a quantity`,
		},
	}, {
		name: "previews without a cluster",
		yaml: good + "clusters: [{name: s, inCluster: true}]\npreviews: {enabled: true}\n",
		want: []string{"server.yaml:3:11: previews.clusters: previews are enabled but no cluster may hold them: name at least one"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseServer("server.yaml", []byte(tt.yaml), dir)
			if diff := cmp.Diff(tt.want, errorLines(err)); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseServerDefaults(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"key.pem", "secret"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	s, err := ParseServer("s.yaml", []byte("github: {appID: 3, privateKeyFile: key.pem, webhookSecretFile: secret, url: 'https://ghe.example/api/v3'}\nclusters: [{name: only, inCluster: true}]\n"), dir)
	if err != nil {
		t.Fatal(err)
	}
	want := &Server{
		File: "s.yaml",
		GitHub: GitHub{URL: "https://ghe.example/api/v3/", AppID: 3,
			PrivateKeyFile: filepath.Join(dir, "key.pem"), WebhookSecretFile: filepath.Join(dir, "secret")},
		Listen:         DefaultListen,
		Clusters:       []Cluster{{Name: "only", InCluster: true, KubeVersion: KubeLibraryVersion()}},
		DefaultCluster: "only",
		ResyncInterval: Duration(5 * time.Minute),
		Drift:          DriftDefaults{Mode: DriftPR, Debounce: Duration(2 * time.Second)},
		Discovery:      Discovery{Roots: []string{"apps", "clusters"}},
		Permissions:    DefaultPermissions(),
		Web:            Web{Listen: DefaultWebListen},
		Metrics:        Metrics{Listener: DefaultMetricsListener},
		State:          State{Cluster: "only", Namespace: DefaultSystemNamespace, LeaderElection: LeaderElection{LeaseDuration: Duration(DefaultLeaseDuration)}},
		ApplyCommand:   ApplyCommand{MergeMethod: "merge"},
		Previews: Previews{Label: DefaultPreviewLabel, MaxPerRepository: DefaultPreviewsPerRepository, MaxObjects: DefaultPreviewMaxObjects,
			TTL: Duration(DefaultPreviewTTL), Quota: DefaultPreviewQuota, Limits: DefaultPreviewLimits, PodSecurity: DefaultPreviewPodSecurity},
	}
	if diff := cmp.Diff(want, s); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestParseServerStarterPack(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"key.pem", "secret"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	s, err := ParseServer("s.yaml", []byte("github: {appID: 3, privateKeyFile: key.pem, webhookSecretFile: secret}\nclusters: [{name: only, inCluster: true}]\nstarterPack: {enabled: true, allowNodePort: true, exclude: [probes, pdb]}\n"), dir)
	if err != nil {
		t.Fatal(err)
	}
	want := StarterPack{Enabled: true, AllowNodePort: true, Exclude: []string{"probes", "pdb"}}
	if diff := cmp.Diff(want, s.StarterPack); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
