package config

// RepoFileName is the repository model's file, at the repository root.
const RepoFileName = ".gantry.yaml"

// RepoVersion is the only schema version of .gantry.yaml this build reads.
const RepoVersion = 1

// Repo is a managed repository's .gantry.yaml: the apps it holds and the
// policies it adds. It can never grant itself anything the Server
// configuration does not allow; Validate checks it against one.
type Repo struct {
	// Version of the schema; must be 1.
	Version int `yaml:"version"`
	// Apps are the deployable units of the repository.
	Apps []App `yaml:"apps"`
	// Policies are the repository's own Rego policies, evaluated in
	// addition to the server's trusted ones and always read from the base
	// branch, never from a pull request's head.
	Policies Policies `yaml:"policies"`

	// File is where the model was read from (empty when discovered).
	File string `yaml:"-"`
	// Discovered is true when no .gantry.yaml exists and the apps were
	// found by Discover.
	Discovered bool `yaml:"-"`
}

// Policies lists the repository's policy directories.
type Policies struct {
	// Paths are directories relative to the repository root.
	Paths []string `yaml:"paths"`
	// Namespaces are the Rego packages whose deny/violation/warn rules
	// count, conftest style. Default: ["main"]. ["*"] means all.
	Namespaces []string `yaml:"namespaces"`
}

// RenderKind says how an app's directory becomes Kubernetes objects.
type RenderKind string

// The render kinds.
const (
	RenderYAML      RenderKind = "yaml"
	RenderKustomize RenderKind = "kustomize"
	RenderHelm      RenderKind = "helm"
)

// DriftMode says what gantry does when an app's live state drifts.
type DriftMode string

// The drift modes.
const (
	DriftPR        DriftMode = "pr"        // open or update a drift PR
	DriftRemediate DriftMode = "remediate" // restore Git's state at once, and record it
	DriftNotify    DriftMode = "notify"    // report only
	DriftOff       DriftMode = "off"       // do not watch
)

// ApplyMode says when an app's changes reach its cluster.
type ApplyMode string

// The apply modes.
const (
	ApplyOnMerge   ApplyMode = "on-merge"   // a push to the base branch applies
	ApplyOnCommand ApplyMode = "on-command" // only `/gantry apply` applies
)

// NoCluster is the cluster of an app that targets none: its plan
// validates it offline (package schema), and nothing applies it.
const NoCluster = "none"

// App is one deployable unit: a directory rendered to objects and applied
// to one cluster.
type App struct {
	// Name is unique in the repository; used in locks, check names and
	// branch names, so it is restricted to DNS-label characters.
	Name string `yaml:"name"`
	// Path is the app's directory relative to the repository root; it
	// never leaves the repository.
	Path string `yaml:"path"`
	// Render is how the directory is rendered; detected from its content
	// when omitted (Chart.yaml: helm, kustomization.yaml: kustomize, else
	// yaml).
	Render RenderKind `yaml:"render"`
	// Cluster is a cluster name from the server configuration, or
	// NoCluster ("none"): the app is rendered, checked by policy and
	// validated offline against shipped schemas, never applied.
	// Default: the server's defaultCluster.
	Cluster string `yaml:"cluster"`
	// Namespace is set on namespaced objects rendered without one.
	// Default: "default".
	Namespace string `yaml:"namespace"`
	// Helm holds the Helm settings; only for render: helm.
	Helm *Helm `yaml:"helm"`
	// Exclude are globs, relative to Path, of files a plain-YAML render
	// skips.
	Exclude []string `yaml:"exclude"`
	// Patches are files or directories, relative to the repository root,
	// of strategic-merge or JSON 6902 patches applied after rendering.
	// Accepted drift is written here.
	Patches []string `yaml:"patches"`
	// Prune deletes objects that left the desired state. Default: true.
	Prune *bool `yaml:"prune"`
	// AllowEmpty lets a render with no objects prune everything the app
	// owns. Default: false, so an accidental empty render deletes nothing.
	AllowEmpty bool `yaml:"allowEmpty"`
	// Force takes over fields owned by other field managers on apply.
	// Default: false (a conflict fails the object).
	Force bool `yaml:"force"`
	// Drift is what happens when the live state drifts.
	// Default: the server's drift default.
	Drift DriftMode `yaml:"drift"`
	// Apply says when changes are applied. Default: on-merge.
	Apply ApplyMode `yaml:"apply"`
	// OnFailure says what follows a failed or unhealthy apply after a
	// merge: revert-pr (default) opens a revert pull request; rollback
	// also applies the last healthy state at once.
	OnFailure OnFailure `yaml:"onFailure"`
	// WhenModified are extra globs, relative to the repository root, that
	// make a pull request touch this app.
	WhenModified []string `yaml:"whenModified"`
	// Ignore are differences the diff and drift detection leave out.
	Ignore []IgnoreRule `yaml:"ignore"`
	// HealthTimeout bounds the wait for health after apply, as a Go
	// duration. Default: 5m.
	HealthTimeout Duration `yaml:"healthTimeout"`
	// Promote chains the app to the next one (see Promote). Optional.
	Promote *Promote `yaml:"promote"`
}

// Helm is an app's Helm settings. The chart is the app's Path, in the
// repository, with its dependencies vendored under charts/.
type Helm struct {
	// ReleaseName defaults to the app's name.
	ReleaseName string `yaml:"releaseName"`
	// Values are values files relative to the chart directory, merged in
	// order after the chart's own values.yaml.
	Values []string `yaml:"values"`
	// Set are value overrides by dotted path, applied last (like --set).
	Set map[string]string `yaml:"set"`
	// KubeVersion is Capabilities.KubeVersion for templates.
	// Default: the target cluster's kubeVersion in the server
	// configuration, else DefaultKubeVersion.
	KubeVersion string `yaml:"kubeVersion"`
	// APIVersions are extra Capabilities.APIVersions (group/version or
	// group/version/Kind) the templates may test for.
	APIVersions []string `yaml:"apiVersions"`
}

// IgnoreRule leaves differences out of diffs and drift: the fields at
// Pointers, and the fields owned by Managers, in objects matching Kind
// and Name (all objects when empty).
type IgnoreRule struct {
	// Kind limits the rule to one kind, e.g. "Deployment".
	Kind string `yaml:"kind"`
	// Name limits the rule to one object name.
	Name string `yaml:"name"`
	// Namespace limits the rule to one namespace.
	Namespace string `yaml:"namespace"`
	// Pointers are RFC 6901 JSON pointers, e.g. "/spec/replicas".
	Pointers []string `yaml:"pointers"`
	// Managers are field managers whose fields are ignored, e.g.
	// "kube-controller-manager" for an HPA's replicas.
	Managers []string `yaml:"managers"`
}
