package bot

import (
	"context"
	"fmt"
	"maps"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/gantryops/gantry/bot/marker"
	"github.com/gantryops/gantry/bot/report"
	"github.com/gantryops/gantry/cluster"
	"github.com/gantryops/gantry/config"
	"github.com/gantryops/gantry/fixtures/githubsim"
	"github.com/gantryops/gantry/fixtures/golden"
	"github.com/gantryops/gantry/fixtures/localcluster"
	"github.com/gantryops/gantry/gitrestore"
	"github.com/gantryops/gantry/renderworker"
)

var kube *localcluster.Cluster

func TestMain(m *testing.M) {
	// The render worker a Pipeline with a Worker starts is this binary.
	if len(os.Args) > 1 && os.Args[1] == "render-worker" {
		if err := renderworker.Run(context.Background(), os.Args, os.Args[2:], os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		os.Exit(0)
	}
	os.Exit(localcluster.Main(m, localcluster.Options{Controllers: true}, &kube))
}

// e2e is a GitHub simulator with one repository, a real local cluster and
// a pipeline wired to both, as `gantry serve` wires them.
type e2e struct {
	t    testing.TB
	sim  *githubsim.Server
	pipe *Pipeline
	ns   string
	inst int64
}

// newE2E creates acme/ops with files, where "NS" is replaced by the
// test's own namespace.
func newE2E(t testing.TB, files map[string]string) *e2e {
	t.Helper()
	ns := kube.Namespace(t)
	sim := githubsim.New(githubsim.Options{T: t, AppSlug: "gantry"}).Start()
	if _, err := sim.CreateRepo("acme", "ops", githubsim.RepoOptions{Files: withNS(files, ns)}); err != nil {
		t.Fatal(err)
	}
	app, err := NewApp(sim.AppID(), sim.AppPrivateKeyPEM(), sim.URL()+"/api/v3/", nil)
	if err != nil {
		t.Fatal(err)
	}
	inst, err := sim.InstallationID("acme")
	if err != nil {
		t.Fatal(err)
	}
	// Every test uses the repository acme/ops in the one cluster: start
	// and end with none of its locks held and none of its apply records.
	releaseAllLocks(t)
	t.Cleanup(func() { releaseAllLocks(t) })
	srv := &config.Server{Clusters: []config.Cluster{{Name: "local", Kubeconfig: kube.Kubeconfig}}, DefaultCluster: "local",
		Repositories: []config.RepositoryGrant{{Match: []string{"acme/ops"}, Clusters: []string{"*"}, Namespaces: []string{ns}}}}
	return &e2e{t: t, sim: sim, ns: ns, inst: inst, pipe: &Pipeline{
		Config: srv, GitHub: app, Checkouts: &Checkouts{Dir: t.TempDir()}, Clusters: NewClusters(srv),
		WorkDir: t.TempDir(), AppConcurrency: 4, Seal: marker.New(sim.AppPrivateKeyPEM()), Restorer: &gitrestore.Restorer{Dir: t.TempDir()},
	}}
}

func withNS(files map[string]string, ns string) map[string]string {
	out := map[string]string{}
	for k, v := range files {
		out[k] = strings.ReplaceAll(v, "NS", ns)
	}
	return out
}

// openPR opens a pull request changing files and runs the pipeline on it.
func (e *e2e) openPR(files map[string]string) (int, string) {
	e.t.Helper()
	n, head, err := e.sim.OpenPR("alice", "acme", "ops", githubsim.PullOptions{Head: "change", Base: "main", Title: "change", Files: withNS(files, e.ns)})
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.pipe.Plan(context.Background(), Job{Kind: JobPlan, InstallationID: e.inst, Owner: "acme", Repo: "ops", PR: n, HeadSHA: head, BaseRef: "main"}); err != nil {
		e.t.Fatal(err)
	}
	return n, head
}

// summary is the bot's summary comment with the namespace, SHAs and
// times scrubbed, for golden files.
func (e *e2e) summary(pr int) string {
	e.t.Helper()
	var bodies []string
	for _, c := range e.sim.Comments("acme", "ops", pr) {
		if c.User == "gantry[bot]" {
			bodies = append(bodies, c.Body)
		}
	}
	if len(bodies) == 0 {
		e.t.Fatal("no gantry comment")
	}
	s := strings.Join(bodies, "\n<!-- next comment -->\n")
	s = strings.ReplaceAll(s, e.ns, "NS")
	s = regexp.MustCompile(`<!-- gantry:part \S+ \S+ -->`).ReplaceAllString(s, "<!-- gantry:part (sealed) -->")
	s = regexp.MustCompile(`head [0-9a-f]{7}`).ReplaceAllString(s, "head SHA")
	s = regexp.MustCompile(`(rendered|diffed in) [0-9.]+ s`).ReplaceAllString(s, "$1 T")
	s = regexp.MustCompile(`web-flags-[a-z0-9]{10}`).ReplaceAllString(s, "web-flags-HASH")
	return s
}

func (e *e2e) checks(sha string) map[string]githubsim.CheckRun {
	out := map[string]githubsim.CheckRun{}
	for _, r := range e.sim.CheckRuns("acme", "ops", sha) {
		out[r.Name] = r
	}
	return out
}

const baseRepo = `version: 1
apps:
  - name: web
    path: apps/web
    namespace: NS
  - name: api
    path: apps/api
    namespace: NS
policies:
  paths: [policy/]
`

var baseFiles = map[string]string{
	".gantry.yaml":     baseRepo,
	"apps/web/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web-config\ndata:\n  color: blue\n",
	"apps/api/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: api-config\ndata:\n  level: info\n",
	"policy/main.rego": "package main\n\ndeny contains msg if {\n\tinput.kind == \"ConfigMap\"\n\tinput.data.color == \"red\"\n\tmsg := sprintf(\"ConfigMap %s: red is not allowed\", [input.metadata.name])\n}\n",
}

func TestPlanOneAppChange(t *testing.T) {
	e := newE2E(t, baseFiles)
	pr, head := e.openPR(map[string]string{"apps/web/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web-config\ndata:\n  color: green\n"})
	golden.Check(t, "plan-one-app.md", e.summary(pr))
	c := e.checks(head)
	if c[report.CheckDiff].Conclusion != "success" || c[report.CheckDiff].Title != "1 app changes: 1 create, 0 update, 0 delete" {
		t.Errorf("diff check: %s %q", c[report.CheckDiff].Conclusion, c[report.CheckDiff].Title)
	}
	if c[report.CheckPolicy].Conclusion != "success" {
		t.Errorf("policy check: %s %q", c[report.CheckPolicy].Conclusion, c[report.CheckPolicy].Title)
	}
}

func TestPlanPolicyDenyAnnotatesTheSource(t *testing.T) {
	e := newE2E(t, baseFiles)
	_, head := e.openPR(map[string]string{"apps/web/cm.yaml": "# the web app's colours\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web-config\ndata:\n  color: red\n"})
	c := e.checks(head)[report.CheckPolicy]
	if c.Conclusion != "failure" || c.Title != "1 deny" {
		t.Fatalf("policy check: %s %q", c.Conclusion, c.Title)
	}
	if len(c.Annotations) != 1 || c.Annotations[0].Path != "apps/web/cm.yaml" || c.Annotations[0].StartLine != 2 || !strings.Contains(c.Annotations[0].Message, "red is not allowed") {
		t.Errorf("annotations %+v, want one on apps/web/cm.yaml:2", c.Annotations)
	}
}

func TestPlanPolicyComesFromTheBaseBranch(t *testing.T) {
	e := newE2E(t, baseFiles)
	// The PR deletes the policy and makes the web app red: the base
	// branch's policy still judges it.
	_, head, err := e.sim.OpenPR("mallory", "acme", "ops", githubsim.PullOptions{Head: "weaken", Base: "main", Title: "weaken",
		Files: map[string]string{"apps/web/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web-config\ndata:\n  color: red\n",
			"policy/main.rego": "package main\n"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.pipe.Plan(context.Background(), Job{Kind: JobPlan, InstallationID: e.inst, Owner: "acme", Repo: "ops", PR: 1, HeadSHA: head}); err != nil {
		t.Fatal(err)
	}
	if c := e.checks(head)[report.CheckPolicy]; c.Conclusion != "failure" {
		t.Errorf("a PR that deletes the policy passed it: %s %q", c.Conclusion, c.Title)
	}
}

func TestPlanRenderErrorFailsTheDiffCheck(t *testing.T) {
	e := newE2E(t, baseFiles)
	pr, head := e.openPR(map[string]string{"apps/api/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: api-config\n  name: again\n"})
	c := e.checks(head)[report.CheckDiff]
	if c.Conclusion != "failure" || len(c.Annotations) != 1 || c.Annotations[0].Path != "apps/api/cm.yaml" || c.Annotations[0].StartLine != 5 {
		t.Fatalf("diff check: %s %q %+v, want a failure annotated on apps/api/cm.yaml:5", c.Conclusion, c.Title, c.Annotations)
	}
	golden.Check(t, "plan-render-error.md", e.summary(pr))
}

func TestPlanInvalidGantryYAML(t *testing.T) {
	e := newE2E(t, baseFiles)
	_, head := e.openPR(map[string]string{".gantry.yaml": strings.Replace(baseRepo, "path: apps/api", "pth: apps/api", 1)})
	c := e.checks(head)[report.CheckDiff]
	if c.Conclusion != "failure" || len(c.Annotations) == 0 || c.Annotations[0].Path != ".gantry.yaml" || c.Annotations[0].StartLine != 7 {
		t.Fatalf("diff check: %s %q %+v, want a failure on .gantry.yaml:7", c.Conclusion, c.Title, c.Annotations)
	}
}

func TestPlanClusterDown(t *testing.T) {
	e := newE2E(t, baseFiles)
	dead := e.t.TempDir() + "/kubeconfig"
	if err := os.WriteFile(dead, []byte("apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: \"https://127.0.0.1:1\"}}]\ncontexts: [{name: c, context: {cluster: c, user: u}}]\ncurrent-context: c\nusers: [{name: u, user: {token: x}}]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e.pipe.Config.Clusters[0].Kubeconfig = dead
	e.pipe.Clusters = NewClusters(e.pipe.Config)
	pr, head := e.openPR(map[string]string{"apps/web/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web-config\ndata:\n  color: green\n"})
	// The app is validated offline (its objects pass the schema): the
	// check is neutral, not the green of a live diff, and says why.
	c := e.checks(head)[report.CheckDiff]
	if c.Conclusion != "neutral" || !strings.Contains(c.Summary, "127.0.0.1:1") || !strings.Contains(c.Summary, "no live diff") {
		t.Errorf("diff check against a dead cluster: %s %q\n%s", c.Conclusion, c.Title, c.Summary)
	}
	if s := e.summary(pr); !strings.Contains(s, "**Validated offline:** `web`") {
		t.Errorf("comment does not call out the offline validation:\n%s", s)
	}
}

func TestPlanSecretValuesNeverPublished(t *testing.T) {
	files := map[string]string{}
	for k, v := range baseFiles {
		files[k] = v
	}
	files["apps/web/secret.yaml"] = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: creds\nstringData:\n  password: old-s3cret-value\n"
	e := newE2E(t, files)
	// Apply the base so the Secret exists live; the PR changes it.
	if _, err := e.pipe.Clusters.Get("local"); err != nil {
		t.Fatal(err)
	}
	pr, head := e.openPR(map[string]string{"apps/web/secret.yaml": "apiVersion: v1\nkind: Secret\nmetadata:\n  name: creds\nstringData:\n  password: new-s3cret-value\n  token: t0ken-value\n"})
	everything := e.summary(pr)
	for _, c := range e.checks(head) {
		everything += c.Title + c.Summary + c.Text
		for _, a := range c.Annotations {
			everything += a.Message
		}
	}
	for _, secret := range []string{"old-s3cret-value", "new-s3cret-value", "t0ken-value", "bmV3LXMzY3JldC12YWx1ZQ"} {
		if strings.Contains(everything, secret) {
			t.Errorf("published output contains the Secret value %q", secret)
		}
	}
	if !strings.Contains(everything, "Secret NS/creds · create") {
		t.Errorf("the Secret's change is not shown:\n%s", everything)
	}
}

func TestPlanThreeAppsOfThreeRenderKinds(t *testing.T) {
	files := benchRepo(3)
	files["apps/kust/base/kustomization.yaml"] = "resources: [cms.yaml]\nconfigMapGenerator:\n  - name: web-flags\n    literals: [A=1]\n"
	e := newE2E(t, files)
	pr, head := e.openPR(map[string]string{
		"charts/cms/values.yaml":  "count: 3\nversion: v2\n",
		"apps/plain/cms.yaml":     "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: p-0\ndata:\n  version: v2\n",
		"apps/kust/base/cms.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-0\ndata:\n  version: v2\n",
	})
	golden.Check(t, "plan-three-kinds.md", e.summary(pr))
	if c := e.checks(head)[report.CheckDiff]; c.Conclusion != "success" || c.Title != "3 apps change: 6 create, 0 update, 0 delete" {
		t.Errorf("diff check: %s %q", c.Conclusion, c.Title)
	}
}

func TestPlanLargeDiffSplitsAndShrinks(t *testing.T) {
	e := newE2E(t, baseFiles)
	var big strings.Builder
	for i := range 60 {
		big.WriteString("---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: big-" + strings.Repeat("x", 3) + string(rune('a'+i%26)) + strings.Repeat("0", i/26) + "\ndata:\n")
		for k := range 40 {
			big.WriteString("  key" + strings.Repeat("k", k%5) + string(rune('a'+k%26)) + string(rune('a'+k/26)) + ": " + strings.Repeat("v", 40) + "\n")
		}
	}
	pr, _ := e.openPR(map[string]string{"apps/web/big.yaml": big.String()})
	var parts []githubsim.Comment
	for _, c := range e.sim.Comments("acme", "ops", pr) {
		if c.User == "gantry[bot]" {
			parts = append(parts, c)
		}
	}
	if len(parts) < 2 {
		t.Fatalf("%d gantry comments for a ~170 KB diff, want a summary and continuations", len(parts))
	}
	if partOf(e.pipe.Seal, marker.Scope("acme", "ops", pr), parts[0].Body) != 1 || !strings.Contains(parts[0].Body, "more comment") {
		t.Errorf("first comment lacks the marker or the continuation note")
	}
	for i, p := range parts {
		if len(p.Body) > report.MaxCommentSize {
			t.Errorf("comment %d is %d characters", i+1, len(p.Body))
		}
		if partOf(e.pipe.Seal, marker.Scope("acme", "ops", pr), p.Body) != i+1 {
			t.Errorf("comment %d lacks its part marker", i+1)
		}
	}
	// A push that shrinks the diff removes the continuations and edits the
	// summary in place.
	if _, err := e.sim.Push("alice", "acme", "ops", "change", map[string]string{"apps/web/big.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: small\n"}, nil, "smaller"); err != nil {
		t.Fatal(err)
	}
	state, err := e.sim.PR("acme", "ops", pr)
	if err != nil {
		t.Fatal(err)
	}
	head := state["head"].(map[string]any)["sha"].(string)
	if err := e.pipe.Plan(context.Background(), Job{Kind: JobPlan, InstallationID: e.inst, Owner: "acme", Repo: "ops", PR: pr, HeadSHA: head}); err != nil {
		t.Fatal(err)
	}
	var after []githubsim.Comment
	for _, c := range e.sim.Comments("acme", "ops", pr) {
		if c.User == "gantry[bot]" {
			after = append(after, c)
		}
	}
	if len(after) != 1 || after[0].ID != parts[0].ID || !strings.Contains(after[0].Body, "small") {
		t.Errorf("after shrinking: %d gantry comments (first id %d, was %d), want the summary alone, edited", len(after), after[0].ID, parts[0].ID)
	}
}

func TestPlanRegoSyntaxErrorFailsThePolicyCheck(t *testing.T) {
	files := map[string]string{}
	for k, v := range baseFiles {
		files[k] = v
	}
	files["policy/broken.rego"] = "package main\n\ndeny contains msg if {\n\tinput.kind ==\n}\n"
	e := newE2E(t, files)
	pr, head := e.openPR(map[string]string{"apps/web/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web-config\ndata:\n  color: green\n"})
	c := e.checks(head)[report.CheckPolicy]
	if c.Conclusion != "failure" || !strings.HasPrefix(c.Title, "policies could not be evaluated") {
		t.Fatalf("policy check: %s %q, want a failure", c.Conclusion, c.Title)
	}
	if len(c.Annotations) == 0 || c.Annotations[0].Path != "policy/broken.rego" || c.Annotations[0].StartLine != 5 { // OPA points at the unexpected }
		t.Errorf("annotations %+v, want one on policy/broken.rego:5", c.Annotations)
	}
	if d := e.checks(head)[report.CheckDiff]; d.Conclusion != "success" {
		t.Errorf("a policy error failed the diff check too: %s %q", d.Conclusion, d.Title)
	}
	if s := e.summary(pr); !strings.Contains(s, "**Policy error:**") {
		t.Errorf("comment does not call out the policy error:\n%s", s)
	}
}

// releaseAllLocks releases every lock acme/ops holds in the test cluster.
func releaseAllLocks(t testing.TB) {
	t.Helper()
	c, err := cluster.NewClient(kube.Config, cluster.DefaultClientOptions())
	if err != nil {
		t.Fatal(err)
	}
	locks, err := c.Locks(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range locks {
		if l.Repository == "acme/ops" {
			if err := c.ReleaseLock(context.Background(), l.Key(), ""); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Apply records and inventories of acme/ops from another test name
	// commits and objects this test's simulator never had.
	sel := cluster.RepositoryLabel + "=" + cluster.RepositoryHash("acme/ops")
	if err := kube.Client.CoreV1().ConfigMaps("gantry-system").DeleteCollection(context.Background(), metav1.DeleteOptions{}, metav1.ListOptions{LabelSelector: sel}); err != nil && !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
}

// TestPlanNotesAPolicyPackageNeverEvaluated: a repository policy whose
// package the configured namespaces never evaluate would pass silently;
// the plan says so on the policy check (a warning on its package line)
// and in the comment, without failing the check.
func TestPlanNotesAPolicyPackageNeverEvaluated(t *testing.T) {
	files := maps.Clone(baseFiles)
	files["policy/images.rego"] = "package k8s.images\n\ndeny contains msg if {\n\tinput.kind == \"ConfigMap\"\n\tmsg := \"never seen\"\n}\n"
	e := newE2E(t, files)
	pr, head := e.openPR(map[string]string{"apps/web/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web-config\ndata:\n  color: green\n"})
	c := e.checks(head)[report.CheckPolicy]
	if c.Conclusion != "success" || !strings.Contains(c.Summary, "package k8s.images is never evaluated") {
		t.Errorf("gantry/policy: %s %q\n%s", c.Conclusion, c.Title, c.Summary)
	}
	found := false
	for _, a := range c.Annotations {
		found = found || (a.Path == "policy/images.rego" && a.StartLine == 1 && a.AnnotationLevel == "warning")
	}
	if !found {
		t.Errorf("no warning annotation on policy/images.rego:1: %+v", c.Annotations)
	}
	if s := e.summary(pr); !strings.Contains(s, "**Policy note:** policy/images.rego:1: package k8s.images is never evaluated") {
		t.Errorf("the comment lacks the note:\n%s", s)
	}
}
