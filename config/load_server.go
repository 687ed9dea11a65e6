package config

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// repositoryRoles are GitHub's repository permission levels, lowest first.
var repositoryRoles = []string{"read", "triage", "write", "maintain", "admin"}

// LoadServer reads, validates and completes the server configuration.
// Relative file paths in it are taken from the file's directory.
func LoadServer(file string) (*Server, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read server configuration: %w", err)
	}
	return ParseServer(file, data, filepath.Dir(file))
}

// ParseServer is LoadServer on data already read; dir resolves relative
// paths and is where the referenced files must exist.
func ParseServer(file string, data []byte, dir string) (*Server, error) {
	s := &Server{File: file}
	d, err := parseDocument(file, data, s)
	if err != nil {
		return nil, err
	}
	s.resolvePaths(dir)
	validateServer(d, s)
	if err := d.errs.err(); err != nil {
		return nil, err
	}
	s.applyDefaults()
	s.defaultApplyCommand(d)
	s.defaultPreviews()
	s.defaultLeaderElection()
	return s, nil
}

func (s *Server) resolvePaths(dir string) {
	abs := func(p *string) {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
	abs(&s.GitHub.PrivateKeyFile)
	for i := range s.SOPS {
		abs(&s.SOPS[i].AgeKeyFile)
	}
	abs(&s.GitHub.WebhookSecretFile)
	abs(&s.Web.TokenFile)
	abs(&s.Metrics.TokenFile)
	for i := range s.Clusters {
		abs(&s.Clusters[i].Kubeconfig)
	}
	for i := range s.Policies {
		abs(&s.Policies[i].Path)
	}
	for i := range s.Notifications {
		if n := &s.Notifications[i]; n.Slack != nil {
			abs(&n.Slack.URLFile)
		}
		if n := &s.Notifications[i]; n.Webhook != nil {
			abs(&n.Webhook.SecretFile)
		}
	}
}

// readable checks that a file the server needs at start-up is there.
func readable(d *decoder, field, p string, wantDir bool) {
	fi, err := os.Stat(p)
	switch {
	case err != nil:
		d.errAt(field, "%s: %v", p, unwrapPathError(err))
	case wantDir && !fi.IsDir():
		d.errAt(field, "%s is not a directory", p)
	case !wantDir && fi.IsDir():
		d.errAt(field, "%s is a directory, want a file", p)
	}
}

func unwrapPathError(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}

func validateServer(d *decoder, s *Server) {
	if s.GitHub.URL != "" {
		u, err := url.Parse(s.GitHub.URL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			d.errAt("github.url", "%q is not an http(s) URL", s.GitHub.URL)
		}
	}
	if s.GitHub.AppID <= 0 {
		d.errAt("github.appID", "missing: the GitHub App's numeric id")
	}
	for _, f := range []struct{ field, path string }{
		{"github.privateKeyFile", s.GitHub.PrivateKeyFile},
		{"github.webhookSecretFile", s.GitHub.WebhookSecretFile},
	} {
		if f.path == "" {
			d.errAt(f.field, "missing")
		} else {
			readable(d, f.field, f.path, false)
		}
	}
	if len(s.Clusters) == 0 {
		d.errAt("clusters", "missing: at least one cluster")
	}
	seen := map[string]string{}
	for i, c := range s.Clusters {
		f := fmt.Sprintf("clusters[%d]", i)
		switch {
		case c.Name == "":
			d.errAt(f+".name", "missing")
		case !dnsLabel.MatchString(c.Name):
			d.errAt(f+".name", "%q must be lower-case letters, digits and '-'", c.Name)
		case seen[c.Name] != "":
			d.errAt(f+".name", "%q is already the name of %s", c.Name, seen[c.Name])
		case c.Name == NoCluster:
			d.errAt(f+".name", "%q is reserved: an app's `cluster: none` targets no cluster", c.Name)
		default:
			seen[c.Name] = f
		}
		switch {
		case c.InCluster && c.Kubeconfig != "":
			d.errAt(f+".inCluster", "give either inCluster or kubeconfig, not both")
		case !c.InCluster && c.Kubeconfig == "":
			d.errAt(f, "missing kubeconfig (or inCluster: true)")
		case c.Kubeconfig != "":
			readable(d, f+".kubeconfig", c.Kubeconfig, false)
		}
		if c.KubeVersion != "" && !strings.HasPrefix(c.KubeVersion, "v1.") {
			d.errAt(f+".kubeVersion", "%q is not a Kubernetes version such as v1.34.0", c.KubeVersion)
		}
	}
	if s.DefaultCluster != "" && s.cluster(s.DefaultCluster) == nil {
		d.errAt("defaultCluster", "%q is not one of the clusters (%s)%s", s.DefaultCluster,
			quoteList(s.clusterNames()), didYouMean(s.DefaultCluster, s.clusterNames()))
	}
	sets := map[string]bool{}
	for i, p := range s.Policies {
		f := fmt.Sprintf("policies[%d]", i)
		switch {
		case p.Name == "":
			d.errAt(f+".name", "missing")
		case sets[p.Name]:
			d.errAt(f+".name", "%q is already the name of another policy set", p.Name)
		}
		sets[p.Name] = true
		if s.StarterPack.Enabled && p.Name == StarterPackSet {
			d.errAt(f+".name", "%q is the starter pack's set name; choose another", p.Name)
		}
		if p.Path == "" {
			d.errAt(f+".path", "missing")
		} else {
			readable(d, f+".path", p.Path, true)
		}
	}
	excluded := map[string]bool{}
	for i, id := range s.StarterPack.Exclude {
		f := fmt.Sprintf("starterPack.exclude[%d]", i)
		switch {
		case strings.TrimSpace(id) == "":
			d.errAt(f, "empty: a rule ID such as image-pinned")
		case excluded[id]:
			d.errAt(f, "%q is listed twice", id)
		}
		excluded[id] = true
	}
	commands := make([]string, len(Commands))
	for i, c := range Commands {
		commands[i] = string(c)
	}
	for i, p := range s.Permissions {
		f := fmt.Sprintf("permissions[%d]", i)
		if len(p.Commands) == 0 {
			d.errAt(f+".commands", "missing: which commands this grants (%s)", strings.Join(commands, ", "))
		}
		for j, c := range p.Commands {
			oneOf(d, fmt.Sprintf("%s.commands[%d]", f, j), string(c), commands)
		}
		oneOf(d, f+".minRole", p.MinRole, repositoryRoles)
		if len(p.Users) == 0 && len(p.Teams) == 0 && p.MinRole == "" {
			d.errAt(f, "grants to nobody: give users, teams or minRole")
		}
		for j, t := range p.Teams {
			if strings.Count(t, "/") != 1 {
				d.errAt(fmt.Sprintf("%s.teams[%d]", f, j), "%q must be org/team-slug", t)
			}
		}
	}
	validateEndpoints(d, s)
	validateGrants(d, s)
	validateSOPS(d, s)
	validateApplyCommand(d, s)
	validatePreviews(d, s)
	validateNotifications(d, s)
	validateLeaderElection(d, s)
	validateShards(d, s)
	oneOf(d, "drift.mode", string(s.Drift.Mode), driftModes)
	if s.Render.MaxObjects < 0 {
		d.errAt("render.maxObjects", "%d is negative", s.Render.MaxObjects)
	}
	if d.has("resyncInterval") && s.ResyncInterval.D() < 10e9 {
		d.errAt("resyncInterval", "%s is too short: at least 10s", s.ResyncInterval.D())
	}
}

func (s *Server) applyDefaults() {
	if s.GitHub.URL == "" {
		s.GitHub.URL = DefaultGitHubURL
	}
	if !strings.HasSuffix(s.GitHub.URL, "/") {
		s.GitHub.URL += "/"
	}
	if s.Listen == "" {
		s.Listen = DefaultListen
	}
	if s.DefaultCluster == "" && len(s.Clusters) == 1 {
		s.DefaultCluster = s.Clusters[0].Name
	}
	s.defaultEndpoints()
	for i := range s.Clusters {
		if s.Clusters[i].KubeVersion == "" {
			s.Clusters[i].KubeVersion = KubeLibraryVersion()
		}
	}
	for i := range s.Policies {
		if len(s.Policies[i].Namespaces) == 0 {
			s.Policies[i].Namespaces = []string{DefaultPolicyNamespace}
		}
	}
	if s.ResyncInterval == 0 {
		s.ResyncInterval = Duration(DefaultResyncInterval)
	}
	if s.Drift.Mode == "" {
		s.Drift.Mode = DefaultDriftMode
	}
	if s.Drift.Debounce == 0 {
		s.Drift.Debounce = Duration(DefaultDriftDebounce)
	}
	if len(s.Discovery.Roots) == 0 {
		s.Discovery.Roots = DefaultDiscoveryRoots
	}
	if len(s.Permissions) == 0 {
		s.Permissions = DefaultPermissions()
	}
}

// DefaultPermissions apply when the configuration grants none: anyone who
// can push may plan and unlock; applying, overriding policy, reverting
// drift and previewing need the maintain role.
func DefaultPermissions() []Permission {
	return []Permission{
		{Commands: []Command{CommandPlan, CommandUnlock}, MinRole: "write"},
		{Commands: []Command{CommandApply, CommandApprovePolicies, CommandRevert, CommandPreview}, MinRole: "maintain"},
	}
}

// cluster returns the named cluster, or nil.
func (s *Server) cluster(name string) *Cluster {
	for i := range s.Clusters {
		if s.Clusters[i].Name == name {
			return &s.Clusters[i]
		}
	}
	return nil
}

// Cluster returns the named cluster and whether it exists.
func (s *Server) Cluster(name string) (Cluster, bool) {
	if c := s.cluster(name); c != nil {
		return *c, true
	}
	return Cluster{}, false
}

func (s *Server) clusterNames() []string {
	names := make([]string, len(s.Clusters))
	for i, c := range s.Clusters {
		names[i] = c.Name
	}
	return names
}

// validateGrants checks the repositories' grants: each matches something,
// names configured clusters, and every glob parses.
func validateGrants(d *decoder, s *Server) {
	for i, g := range s.Repositories {
		f := fmt.Sprintf("repositories[%d]", i)
		if len(g.Match) == 0 {
			d.errAt(f+".match", "missing: the repositories this grants to, as owner/name globs")
		}
		if len(g.Clusters) == 0 {
			d.errAt(f+".clusters", "missing: the clusters these repositories may target (\"*\" for all)")
		}
		for j, c := range g.Clusters {
			if c != "*" && s.cluster(c) == nil {
				d.errAt(fmt.Sprintf("%s.clusters[%d]", f, j), "%q is not one of the clusters (%s)%s", c, quoteList(s.clusterNames()), didYouMean(c, s.clusterNames()))
			}
		}
		checkRepositoryGlobs(d, f+".match", g.Match)
		checkGlobs(d, f+".namespaces", g.Namespaces)
		checkGlobs(d, f+".kinds", g.Kinds)
		checkGlobs(d, f+".clusterKinds", g.ClusterKinds)
	}
}
