package config

// Server is gantry's own configuration (`gantry serve --config F`): how it
// reaches GitHub and the clusters, which policies it trusts, and who may
// run which command. A repository's .gantry.yaml is checked against it.
type Server struct {
	// GitHub is how the App authenticates and where GitHub is.
	GitHub GitHub `yaml:"github"`
	// Listen is the HTTP address. Default: ":8080".
	Listen string `yaml:"listen"`
	// Clusters the apps may target, by name.
	Clusters []Cluster `yaml:"clusters"`
	// DefaultCluster is used by apps that name none and by discovered
	// apps. Default: the only cluster, when there is exactly one.
	DefaultCluster string `yaml:"defaultCluster"`
	// Policies are the server's trusted policy directories, evaluated for
	// every repository and never changed by a pull request.
	Policies []PolicySet `yaml:"policies"`
	// StarterPack turns on gantry's starter policy pack for every
	// repository. Default: off.
	StarterPack StarterPack `yaml:"starterPack"`
	// Permissions say who may run which command on which apps.
	Permissions []Permission `yaml:"permissions"`
	// Repositories grant each repository (or owner, by glob) the clusters,
	// namespaces and kinds its apps may reach. A repository that no grant
	// matches reaches nothing: its plans fail and say so.
	Repositories []RepositoryGrant `yaml:"repositories"`
	// PolicyOverrides say which denies `/gantry approve-policies` may
	// override.
	PolicyOverrides PolicyOverrides `yaml:"policyOverrides"`
	// Notifications send drift, failed applies and revert pull requests
	// to Slack or a signed webhook, per repository and app pattern.
	Notifications []Notification `yaml:"notifications"`
	// ApplyCommand says what `/gantry apply` requires and whether it
	// merges.
	ApplyCommand ApplyCommand `yaml:"applyCommand"`
	// Previews says whether and within which quotas `/gantry preview`
	// applies pull requests into namespaces of their own.
	Previews Previews `yaml:"previews"`
	// ResyncInterval is how often open PRs, locks, base heads and clusters
	// are reconciled with what should be. Default: 5m.
	ResyncInterval Duration `yaml:"resyncInterval"`
	// Drift holds the drift defaults.
	Drift DriftDefaults `yaml:"drift"`
	// Render bounds every render of an app, in plans, applies and drift
	// checks alike.
	Render RenderLimits `yaml:"render"`
	// Discovery says how apps are found in a repository without
	// .gantry.yaml.
	Discovery Discovery `yaml:"discovery"`
	// PullRequests says which pull requests are processed.
	PullRequests PullRequests `yaml:"pullRequests"`
	// Web is the listener of the read-only pages of recent runs and locks.
	Web Web `yaml:"web"`
	// Metrics says where /metrics is served and whether it needs a token.
	Metrics Metrics `yaml:"metrics"`
	// State says where the records every replica shares are kept.
	State State `yaml:"state"`
	// SOPS are the age keys that decrypt repositories' SOPS-encrypted
	// Secrets at render, by repository.
	SOPS []SOPSKeys `yaml:"sops"`

	// File is where the configuration was read from.
	File string `yaml:"-"`
}

// GitHub is the App's identity and GitHub's location.
type GitHub struct {
	// URL is GitHub's REST API root. Default: https://api.github.com/.
	// For GitHub Enterprise Server: https://HOST/api/v3/.
	URL string `yaml:"url"`
	// AppID is the GitHub App's id.
	AppID int64 `yaml:"appID"`
	// PrivateKeyFile holds the App's PEM private key.
	PrivateKeyFile string `yaml:"privateKeyFile"`
	// WebhookSecretFile holds the webhook secret.
	WebhookSecretFile string `yaml:"webhookSecretFile"`
}

// Cluster is a Kubernetes cluster gantry may apply to.
type Cluster struct {
	// Name is what apps refer to.
	Name string `yaml:"name"`
	// Kubeconfig is a kubeconfig file; empty with InCluster.
	Kubeconfig string `yaml:"kubeconfig"`
	// Context in the kubeconfig. Default: its current context.
	Context string `yaml:"context"`
	// InCluster uses the pod's service account instead of a kubeconfig.
	InCluster bool `yaml:"inCluster"`
	// KubeVersion is the cluster's version for Helm's
	// Capabilities.KubeVersion. Default: DefaultKubeVersion.
	KubeVersion string `yaml:"kubeVersion"`
}

// PolicySet is a trusted policy directory.
type PolicySet struct {
	// Name identifies the set in findings and in permissions.
	Name string `yaml:"name"`
	// Path is a directory on the server.
	Path string `yaml:"path"`
	// Namespaces are the Rego packages whose rules count. Default: ["main"].
	Namespaces []string `yaml:"namespaces"`
	// Owners may override this set's denies with
	// `/gantry approve-policies`: GitHub logins or "@org/team".
	Owners []string `yaml:"owners"`
}

// StarterPackSet is the starter pack's policy set name in findings; no
// server policy set may take it while the pack is on.
const StarterPackSet = "starter"

// StarterPack configures the starter policy pack shipped in the binary
// (policy/starter/README.md documents its rules). Its denies belong to a
// set without owners: waive one per object with the gantry.dev/allow
// annotation, or, with policyOverrides.allowOwnerless, per pull request.
type StarterPack struct {
	// Enabled evaluates the pack beside the server's and the repositories'
	// policies.
	Enabled bool `yaml:"enabled"`
	// AllowNodePort turns the no-nodeport rule off.
	AllowNodePort bool `yaml:"allowNodePort"`
	// Exclude lists rule IDs not evaluated at all; an unknown ID fails the
	// server's start.
	Exclude []string `yaml:"exclude"`
}

// Command is a `/gantry` comment command.
type Command string

// The commands that permissions govern.
const (
	CommandPlan            Command = "plan"
	CommandApply           Command = "apply"
	CommandUnlock          Command = "unlock"
	CommandApprovePolicies Command = "approve-policies"
	CommandRevert          Command = "revert"
	CommandPreview         Command = "preview"
)

// Commands lists every Command, for validation and "did you mean".
var Commands = []Command{CommandPlan, CommandApply, CommandUnlock, CommandApprovePolicies, CommandRevert, CommandPreview}

// Permission grants commands to users, teams or repository roles, on the
// apps whose names match Apps (globs; all when empty).
type Permission struct {
	// Commands granted.
	Commands []Command `yaml:"commands"`
	// Users are GitHub logins.
	Users []string `yaml:"users"`
	// Teams are "org/team" slugs.
	Teams []string `yaml:"teams"`
	// MinRole is the least repository permission that is granted:
	// read, triage, write, maintain or admin.
	MinRole string `yaml:"minRole"`
	// Apps are app-name globs; empty means every app.
	Apps []string `yaml:"apps"`
}

// DriftDefaults apply to apps that do not set their own.
type DriftDefaults struct {
	// Mode for apps without one. Default: pr.
	Mode DriftMode `yaml:"mode"`
	// Debounce waits this long after a change before opening or updating
	// a drift PR, so a burst of edits makes one PR. Default: 2s.
	Debounce Duration `yaml:"debounce"`
}

// Discovery finds apps in repositories without .gantry.yaml.
type Discovery struct {
	// Roots are directories whose subdirectories holding plain manifests
	// become apps. Directories with kustomization.yaml or Chart.yaml become
	// apps wherever they are. Default: ["apps", "clusters"].
	Roots []string `yaml:"roots"`
}

// RenderLimits bound one render of an app, so one pull request's huge or
// slow input cannot hold a worker or the memory for long; zero fields keep
// render.DefaultLimits.
type RenderLimits struct {
	// Timeout bounds one render in time: a render past it is abandoned and
	// the plan's diff check fails naming the limit. Default: 60s.
	Timeout Duration `yaml:"timeout"`
	// MaxObjects is the most objects one app may render. Default: 20000.
	MaxObjects int `yaml:"maxObjects"`
	// Isolation says where renders of pull request content run:
	// RenderInProcess (default) or RenderInWorker (a separate worker
	// process without network, credentials or unbounded resources).
	Isolation string `yaml:"isolation"`
	// Worker bounds the render worker process (isolation: process).
	Worker RenderWorker `yaml:"worker"`
}

// PullRequests says which pull requests gantry processes.
type PullRequests struct {
	// Drafts processes draft pull requests. Default: false.
	Drafts bool `yaml:"drafts"`
	// Forks processes pull requests from forks (diff and policy only; a
	// fork's pull request never applies). Default: false.
	Forks bool `yaml:"forks"`
}

// Web is the listener of the read-only pages. The pages show full diffs of
// private repositories and live cluster content, so they are served apart
// from the webhook port: on loopback by default, and anywhere else only
// behind a bearer token.
type Web struct {
	// Disabled turns the pages off. Default: false.
	Disabled bool `yaml:"disabled"`
	// Listen is the pages' address. Default: DefaultWebListen, loopback
	// only (reach it with a port-forward).
	Listen string `yaml:"listen"`
	// TokenFile holds the bearer token every page request must present.
	// Required when Listen is not loopback-only.
	TokenFile string `yaml:"tokenFile"`
}

// The listeners /metrics may be served on.
const (
	// MetricsOnWebhook serves /metrics beside /webhooks, where a
	// Prometheus scraping the pod's port finds it.
	MetricsOnWebhook = "webhook"
	// MetricsOnWeb serves /metrics on the pages' listener.
	MetricsOnWeb = "web"
	// MetricsOff serves no /metrics.
	MetricsOff = "off"
)

// MetricsListeners lists the values of Metrics.Listener.
var MetricsListeners = []string{MetricsOnWebhook, MetricsOnWeb, MetricsOff}

// Metrics says where the Prometheus metrics are served. They hold counts
// only, never repository content, so a token is optional.
type Metrics struct {
	// Listener is webhook, web or off. Default: DefaultMetricsListener.
	Listener string `yaml:"listener"`
	// TokenFile, when set, holds a bearer token /metrics requires.
	TokenFile string `yaml:"tokenFile"`
}

// State says where the records every replica shares are kept, such as the
// webhook deliveries already seen.
type State struct {
	// Cluster names the cluster holding the records, in gantry's system
	// namespace. Default: DefaultCluster. With neither, each replica
	// remembers deliveries in its own memory only.
	Cluster string `yaml:"cluster"`
	// Namespace holds the records in every cluster: inventories, locks,
	// apply records, delivery records and the leader's Lease. Default:
	// DefaultSystemNamespace; the chart sets its release namespace, where
	// its Role grants them.
	Namespace string `yaml:"namespace"`
	// LeaderElection elects one leader among replicas, on a Lease in
	// Cluster.
	LeaderElection LeaderElection `yaml:"leaderElection"`
	// Shards splits the repositories among replicas: each shard has a
	// Lease in Cluster, and a replica works on the shards it holds.
	// Default: 1 (no sharding; one leader does all work).
	Shards int `yaml:"shards"`
}

// RepositoryGrant gives the repositories it matches the clusters,
// namespaces and kinds their apps may reach. Several matching grants add
// up.
type RepositoryGrant struct {
	// Match are "owner/name" globs (path.Match, case-insensitive):
	// "acme/gitops", "acme/*".
	Match []string `yaml:"match"`
	// Clusters are cluster names; "*" is every configured cluster.
	Clusters []string `yaml:"clusters"`
	// Namespaces are globs of the namespaces namespaced objects may be in
	// (and an app's default namespace). Empty: none.
	Namespaces []string `yaml:"namespaces"`
	// Kinds are the namespaced kinds allowed, as "Kind" for the core group
	// or "Kind.group" ("Deployment.apps"), globs allowed ("*.apps", "*").
	// Default: every namespaced kind.
	Kinds []string `yaml:"kinds"`
	// ClusterKinds are the cluster-scoped kinds allowed, written as Kinds
	// ("Namespace", "ClusterRole.rbac.authorization.k8s.io"). Default:
	// none — cluster-scoped objects reach beyond the granted namespaces.
	ClusterKinds []string `yaml:"clusterKinds"`
}

// PolicyOverrides say which policy denies an approval may override.
type PolicyOverrides struct {
	// AllowOwnerless lets anyone whom the permissions allow
	// approve-policies override the denies of policy sets that name no
	// owners, the repository's own policies included. Default: false —
	// only denies of sets with owners can be overridden, by those owners.
	AllowOwnerless bool `yaml:"allowOwnerless"`
}
