// Package sandbox runs gantry's main job on one machine: a local
// Kubernetes cluster, the GitHub simulator on loopback, and the bot
// (`gantry serve`, in process) wired to both, with a demo GitOps
// repository and three users seeded. Play plays a scripted set of pull
// requests (Story) against it and prints what gantry posted. `gantry
// sandbox` is its command; its tests are the end-to-end test CI runs.
package sandbox

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/gantryops/gantry/bot"
	"github.com/gantryops/gantry/config"
	"github.com/gantryops/gantry/fixtures/githubsim"
	"github.com/gantryops/gantry/fixtures/localcluster"
	sandboxrepo "github.com/gantryops/gantry/fixtures/repos/sandbox"
)

// The demo repository's place in the simulator.
const (
	Owner = "demo"
	Name  = "gitops"
)

// User is a person of the demo repository, with a token the simulator
// accepts as GitHub accepts a personal access token.
type User struct {
	Login string `json:"login"`
	Role  string `json:"role"`
	Token string `json:"token"`
}

// demoUsers are the three people of the story: one per role that matters
// to gantry's permissions.
var demoUsers = []User{{Login: "ada", Role: "admin"}, {Login: "wes", Role: "write"}, {Login: "rae", Role: "read"}}

// Options say what Start runs.
type Options struct {
	// GitHubOnly starts the simulator with the demo repository and users,
	// and neither the cluster nor the bot.
	GitHubOnly bool
	// Dir keeps everything the sandbox writes (repositories, cluster,
	// configuration, logs), and is left in place by Close. Default: a new
	// temporary directory, removed by Close.
	Dir string
	// WebhookURL, with GitHubOnly, is where the simulator delivers
	// webhooks (an App server of one's own). Ignored otherwise.
	WebhookURL string
	// Progress receives one line per part started. Default: discarded.
	Progress io.Writer
	// ServeAs, when set, is called once the cluster runs and before the
	// bot starts. The bot then reaches the cluster with the kubeconfig it
	// returns, and keeps its records, locks and Lease in namespace with
	// leader election on, as the chart runs it: tests play the whole
	// story as the chart's ServiceAccount this way.
	ServeAs func(ctx context.Context, c *localcluster.Cluster) (kubeconfig, namespace string, err error)
	// AuditLog is where the local cluster's API server logs every
	// request it answers (localcluster.Options.AuditLog); empty: none.
	AuditLog string
}

// Sandbox is a running simulator, and unless GitHubOnly, a local cluster
// and the bot.
type Sandbox struct {
	// Sim is the GitHub simulator; the story acts through it as users.
	Sim *githubsim.Server
	// Cluster is the local cluster; nil with GitHubOnly.
	Cluster *localcluster.Cluster
	// Info is how to reach all of it.
	Info Info
	// SpecMissing says why requests are not validated against GitHub's
	// description; empty when they are.
	SpecMissing string
	// Initial is the commit on main that added the demo apps.
	Initial string

	ownDir   bool
	secret   string            // the webhook secret
	demo     map[string]string // the demo apps' files, pushed by pushApps
	stopBot  func() error
	closeMu  sync.Mutex
	closed   bool
	progress io.Writer
}

// Start starts the sandbox's parts and seeds the demo repository. On
// error it stops what it had started. Close stops everything.
func Start(ctx context.Context, opts Options) (sb *Sandbox, err error) {
	sb = &Sandbox{progress: opts.Progress}
	if sb.progress == nil {
		sb.progress = io.Discard
	}
	dir := opts.Dir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "gantry-sandbox-"); err != nil {
			return nil, fmt.Errorf("create sandbox directory: %w", err)
		}
		sb.ownDir = true
	} else if err = os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create sandbox directory %s: %w", dir, err)
	} else if entries, err := os.ReadDir(dir); err != nil {
		return nil, fmt.Errorf("read sandbox directory: %w", err)
	} else if len(entries) > 0 {
		// Another sandbox's repositories and cluster would be in the way.
		return nil, fmt.Errorf("sandbox directory %s is not empty: give a new or empty one", dir)
	}
	if dir, err = filepath.Abs(dir); err != nil {
		return nil, fmt.Errorf("sandbox directory: %w", err)
	}
	sb.Info.Dir = dir
	defer func() {
		if err != nil {
			_ = sb.Close()
		}
	}()

	if err = sb.startGitHub(opts); err != nil {
		return nil, err
	}
	if opts.GitHubOnly {
		return sb, nil
	}
	fmt.Fprintln(sb.progress, "starting the local cluster (etcd, kube-apiserver, controllers, scheduler, kwok)…")
	start := time.Now()
	clusterDir := filepath.Join(dir, "cluster")
	if err = os.MkdirAll(clusterDir, 0o700); err != nil {
		return nil, fmt.Errorf("create cluster directory: %w", err)
	}
	if sb.Cluster, err = localcluster.Start(ctx, localcluster.Options{Controllers: true, Dir: clusterDir, AuditLog: opts.AuditLog}); err != nil {
		return nil, fmt.Errorf("start the local cluster (build its binaries with `make kube-bin`): %w", err)
	}
	sb.Info.Kubeconfig = sb.Cluster.Kubeconfig
	fmt.Fprintf(sb.progress, "local cluster up in %.1fs\n", time.Since(start).Seconds())
	as := serveAs{kubeconfig: sb.Cluster.Kubeconfig}
	if opts.ServeAs != nil {
		if as.kubeconfig, as.namespace, err = opts.ServeAs(ctx, sb.Cluster); err != nil {
			return nil, fmt.Errorf("prepare the bot's identity in the cluster: %w", err)
		}
	}
	if err = sb.startBot(ctx, as); err != nil {
		return nil, err
	}
	return sb, nil
}

// serveAs is how the bot reaches the cluster: a kubeconfig, and the
// namespace of its state ("" for the default, without election).
type serveAs struct {
	kubeconfig, namespace string
}

// startGitHub starts the simulator, validating against GitHub's
// description when it is in the cache, and seeds the demo repository and
// its users.
func (sb *Sandbox) startGitHub(opts Options) error {
	simOpts := githubsim.Options{Dir: filepath.Join(sb.Info.Dir, "github"), AppSlug: "gantry", AppName: "Gantry"}
	if spec, err := githubsim.LoadSpec(githubsim.SpecDir()); err != nil {
		sb.SpecMissing = fmt.Sprintf("GitHub's OpenAPI description was not loaded (%v): the simulator's requests and responses are NOT validated; run `make github-spec` to fetch it", err)
	} else {
		simOpts.Spec = spec
		sb.Info.SpecDir = spec.Dir
	}
	sb.Sim = githubsim.New(simOpts).Start()
	files, err := demoFiles()
	if err != nil {
		return err
	}
	// The first commit holds a README only; the apps come in a push once
	// the bot listens, as gantry applies the apps a push changes.
	if _, err = sb.Sim.CreateRepo(Owner, Name, githubsim.RepoOptions{Files: map[string]string{"README.md": demoReadme}}); err != nil {
		return fmt.Errorf("seed the demo repository: %w", err)
	}
	sb.demo = files
	for _, u := range demoUsers {
		if err := sb.Sim.SetPermission(Owner, Name, u.Login, u.Role); err != nil {
			return fmt.Errorf("seed user %s: %w", u.Login, err)
		}
		u.Token = sb.Sim.UserToken(u.Login)
		sb.Info.Users = append(sb.Info.Users, u)
	}
	sb.Info.APIURL = sb.Sim.URL() + "/api/v3/"
	sb.Info.Repo = Owner + "/" + Name
	sb.Info.CloneURL = sb.Sim.URL() + "/" + Owner + "/" + Name + ".git"
	sb.Info.AppID = sb.Sim.AppID()
	sb.secret = randomToken()
	secret := sb.secret
	if sb.Info.PrivateKeyFile, err = sb.write("app-key.pem", string(sb.Sim.AppPrivateKeyPEM())); err != nil {
		return err
	}
	if sb.Info.WebhookSecretFile, err = sb.write("webhook-secret", secret+"\n"); err != nil {
		return err
	}
	if opts.GitHubOnly {
		if opts.WebhookURL != "" {
			sb.Info.WebhookURL = opts.WebhookURL
			sb.Sim.SetWebhook(opts.WebhookURL, secret)
		}
		return sb.pushApps()
	}
	return nil
}

// demoReadme is the demo repository's first commit.
const demoReadme = `# demo/gitops

The demo GitOps repository of gantry sandbox: three apps (web: Kustomize,
config: plain YAML, api: Helm) and the repository's policies, described in
.gantry.yaml.
`

// pushApps pushes the demo apps to main as ada: gantry applies them, as
// it applies every app a push to the base branch changes.
func (sb *Sandbox) pushApps() error {
	sha, err := sb.Sim.Push("ada", Owner, Name, "main", sb.demo, nil, "Add the demo apps: web, config and api")
	if err != nil {
		return fmt.Errorf("push the demo apps: %w", err)
	}
	sb.Initial = sha
	return nil
}

// startBot writes the bot's configuration (its App key, the webhook
// secret, the local cluster, the demo repository's grant, the platform
// policies and the pages' token) and runs the bot in process, as `gantry
// serve` would with that file.
func (sb *Sandbox) startBot(ctx context.Context, as serveAs) (err error) {
	// What is opened here is closed again when a later part fails; once
	// the bot runs, stopBot closes it.
	var undo []func()
	defer func() {
		if err != nil {
			for i := len(undo) - 1; i >= 0; i-- {
				undo[i]()
			}
		}
	}()
	policyDir := filepath.Join(sb.Info.Dir, "platform-policy")
	if err := copyFS(sandboxrepo.Platform, "platform", policyDir); err != nil {
		return err
	}
	sb.Info.WebToken = randomToken()
	tokenFile, err := sb.write("web-token", sb.Info.WebToken+"\n")
	if err != nil {
		return err
	}
	cfgText := serverConfig(sb.Info, as, policyDir, tokenFile)
	if sb.Info.ServerConfig, err = sb.write("gantry.yaml", cfgText); err != nil {
		return err
	}
	cfg, err := config.LoadServer(sb.Info.ServerConfig)
	if err != nil {
		return fmt.Errorf("the sandbox's server configuration: %w", err)
	}
	sb.Info.BotLog = filepath.Join(sb.Info.Dir, "gantry.log")
	logFile, err := os.Create(sb.Info.BotLog)
	if err != nil {
		return fmt.Errorf("create the bot's log: %w", err)
	}
	undo = append(undo, func() { _ = logFile.Close() })
	log := slog.New(slog.NewTextHandler(logFile, &slog.HandlerOptions{Level: slog.LevelDebug}))
	// The bot outlives ctx (a Ctrl-C during the story) until Close stops
	// it, so that it never dies under a job without its grace.
	bctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	undo = append(undo, cancel)
	srv, err := bot.NewServer(bctx, cfg, bot.ServerOptions{Log: log, CacheDir: filepath.Join(sb.Info.Dir, "bot-cache")})
	if err != nil {
		return fmt.Errorf("start the bot: %w", err)
	}
	hookLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("listen for webhooks: %w", err)
	}
	undo = append(undo, func() { _ = hookLn.Close() })
	webLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("listen for the pages: %w", err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Run(bctx, bot.Listeners{Webhook: hookLn, Web: webLn}, 10*time.Second) }()
	undo = nil
	sb.stopBot = func() error {
		cancel()
		err := <-done
		return errors.Join(err, logFile.Close())
	}
	hookURL := "http://" + hookLn.Addr().String()
	sb.Info.WebURL = "http://" + webLn.Addr().String() + "/"
	sb.Info.WebhookURL = hookURL + "/webhooks"
	if err := waitReady(ctx, hookURL+"/readyz", done); err != nil {
		return err
	}
	sb.Sim.SetWebhook(sb.Info.WebhookURL, sb.secret)
	return sb.pushApps()
}

// serverConfig is the bot's configuration: everything `gantry serve
// --config` needs, granting demo/gitops its three namespaces (and their
// Namespace objects) in the local cluster.
func serverConfig(info Info, as serveAs, policyDir, webTokenFile string) string {
	state := ""
	if as.namespace != "" {
		state = fmt.Sprintf("state:\n  namespace: %s\n  leaderElection: {enabled: true}\n", as.namespace)
	}
	return fmt.Sprintf(`# gantry's server configuration, written by gantry sandbox.
github:
  appID: %d
  privateKeyFile: %q
  webhookSecretFile: %q
  url: %q
clusters:
  - name: local
    kubeconfig: %q
repositories:
  - match: [%s]
    clusters: ["*"]
    namespaces: [web, api, shared]
    clusterKinds: [Namespace]
policies:
  - name: platform
    path: %q
    owners: [ada]
web:
  tokenFile: %q
# Short, so that drift in the cluster becomes a pull request within
# seconds (the resync compares every app with Git).
resyncInterval: %s
%s`, info.AppID, info.PrivateKeyFile, info.WebhookSecretFile, info.APIURL, as.kubeconfig, info.Repo, policyDir, webTokenFile, resyncInterval, state)
}

// resyncInterval is the bot's resync period in the sandbox: the least
// the configuration allows, as drift is found by the resync.
const resyncInterval = "10s"

// waitReady polls the bot's /readyz until it answers, the bot stops, or a
// minute passes.
func waitReady(ctx context.Context, url string, done <-chan error) error {
	deadline := time.Now().Add(time.Minute)
	for {
		resp, err := http.Get(url) //nolint:gosec // the bot's own loopback listener
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case err := <-done:
			return fmt.Errorf("the bot stopped before it was ready: %w", err)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the bot at %s was not ready within a minute", url)
		}
	}
}

// Close stops the bot, the simulator and the cluster, and removes the
// sandbox's directory unless Options.Dir named it. It may be called more
// than once.
func (sb *Sandbox) Close() error {
	sb.closeMu.Lock()
	defer sb.closeMu.Unlock()
	if sb.closed {
		return nil
	}
	sb.closed = true
	var errs []error
	if sb.stopBot != nil {
		if err := sb.stopBot(); err != nil {
			errs = append(errs, fmt.Errorf("stop the bot: %w", err))
		}
	}
	if sb.Sim != nil {
		sb.Sim.Close()
	}
	if sb.Cluster != nil {
		if err := sb.Cluster.Stop(); err != nil {
			errs = append(errs, fmt.Errorf("stop the local cluster: %w", err))
		}
	}
	if sb.ownDir && sb.Info.Dir != "" {
		if err := os.RemoveAll(sb.Info.Dir); err != nil {
			errs = append(errs, fmt.Errorf("remove %s: %w", sb.Info.Dir, err))
		}
	}
	return errors.Join(errs...)
}

// User returns the demo user login, with its token.
func (sb *Sandbox) User(login string) User {
	for _, u := range sb.Info.Users {
		if u.Login == login {
			return u
		}
	}
	return User{Login: login}
}

// write writes a file in the sandbox's directory, readable by its owner
// only, and returns its path.
func (sb *Sandbox) write(name, body string) (string, error) {
	p := filepath.Join(sb.Info.Dir, name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		return "", fmt.Errorf("write %s: %w", p, err)
	}
	return p, nil
}

// demoFiles are the demo repository's files, path -> content.
func demoFiles() (map[string]string, error) {
	files := map[string]string{}
	err := fs.WalkDir(sandboxrepo.Repo, "repo", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(sandboxrepo.Repo, p)
		if err != nil {
			return err
		}
		files[strings.TrimPrefix(p, "repo/")] = string(b)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read the demo repository: %w", err)
	}
	return files, nil
}

// copyFS copies the files under root in fsys to dir.
func copyFS(fsys fs.FS, root, dir string) error {
	return fs.WalkDir(fsys, root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		target := filepath.Join(dir, filepath.FromSlash(strings.TrimPrefix(p, root)))
		if d.IsDir() {
			return os.MkdirAll(target, 0o700)
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		if err := os.WriteFile(target, b, 0o600); err != nil {
			return fmt.Errorf("write %s: %w", target, err)
		}
		return nil
	})
}

func randomToken() string {
	b := make([]byte, 20)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("read random: %v", err))
	}
	return hex.EncodeToString(b)
}
