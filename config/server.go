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
	// Permissions say who may run which command on which apps.
	Permissions []Permission `yaml:"permissions"`
	// ResyncInterval is how often open PRs, locks, base heads and clusters
	// are reconciled with what should be. Default: 5m.
	ResyncInterval Duration `yaml:"resyncInterval"`
	// Drift holds the drift defaults.
	Drift DriftDefaults `yaml:"drift"`
	// Discovery says how apps are found in a repository without
	// .gantry.yaml.
	Discovery Discovery `yaml:"discovery"`
	// PullRequests says which pull requests are processed.
	PullRequests PullRequests `yaml:"pullRequests"`

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

// Command is a `/gantry` comment command.
type Command string

// The commands that permissions govern.
const (
	CommandPlan            Command = "plan"
	CommandApply           Command = "apply"
	CommandUnlock          Command = "unlock"
	CommandApprovePolicies Command = "approve-policies"
	CommandRevert          Command = "revert"
)

// Commands lists every Command, for validation and "did you mean".
var Commands = []Command{CommandPlan, CommandApply, CommandUnlock, CommandApprovePolicies, CommandRevert}

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
	// a drift PR, so a burst of edits makes one PR. Default: 30s.
	Debounce Duration `yaml:"debounce"`
}

// Discovery finds apps in repositories without .gantry.yaml.
type Discovery struct {
	// Roots are directories whose subdirectories holding plain manifests
	// become apps. Directories with kustomization.yaml or Chart.yaml become
	// apps wherever they are. Default: ["apps", "clusters"].
	Roots []string `yaml:"roots"`
}

// PullRequests says which pull requests gantry processes.
type PullRequests struct {
	// Drafts processes draft pull requests. Default: false.
	Drafts bool `yaml:"drafts"`
	// Forks processes pull requests from forks (diff and policy only; a
	// fork's pull request never applies). Default: false.
	Forks bool `yaml:"forks"`
}
