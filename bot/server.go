package bot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/gantryops/gantry/bot/marker"
	"github.com/gantryops/gantry/config"
	"github.com/gantryops/gantry/gitrestore"
	"github.com/gantryops/gantry/notify"
	"github.com/gantryops/gantry/policy"
	"github.com/gantryops/gantry/policy/starter"
	"github.com/gantryops/gantry/renderworker"
)

// ServerOptions are what `gantry serve` adds to the configuration.
type ServerOptions struct {
	// Log receives the server's logs. Default: discarded.
	Log *slog.Logger
	// CacheDir keeps the repositories' git caches across jobs. Default: a
	// directory under the user's cache.
	CacheDir string
	// Workers bounds the jobs run at once. Default: 4.
	Workers int
	// DriftBranchPrefix marks drift pull requests. Default: gantry/drift/.
	DriftBranchPrefix string
	// HTTP bounds every connection's reads, writes and idle time. Zero
	// fields take their DefaultHTTPTimeouts value.
	HTTP HTTPTimeouts
	// Advertise is the base URL (http://10.1.2.3:8080) other replicas
	// forward a shard's deliveries to. Default: the webhook listener's
	// address, with the host name for an unspecified host.
	Advertise string
}

// Server is the GitHub App: webhooks in, a queue of lanes, the pipeline,
// resync, and the HTTP endpoints.
type Server struct {
	cfg     *config.Server
	log     *slog.Logger
	app     *App
	pipe    *Pipeline
	queue   *Queue
	hook    *Webhook
	metrics *Metrics
	runs    *runLog
	ready   atomic.Bool
	route   RouteConfig
	// webToken and metricsToken guard the pages and /metrics; empty:
	// no token (the pages then serve on loopback only).
	webToken, metricsToken []byte
	timeouts               HTTPTimeouts
	// resynced is closed when the resync at start has run.
	resynced chan struct{}
	// promoteAt holds the timers that come back when a soak ends.
	promoteAt promoteTimers
	// delivery computes the delivery metrics from the apply records.
	delivery *deliveryStats
	// watch holds the drift watchers of the clusters (while leading).
	watch *watches
	// shards holds this replica's shards; nil without sharding. Set
	// once serving, so read atomically.
	shards atomic.Pointer[shardSet]
	// advertise is the base URL other replicas forward deliveries to.
	advertise string
}

// NewServer checks everything it can before serving: the key parses, the
// webhook secret is there, the trusted policies compile, and GitHub knows
// the App. A failure is an error that names the file or the cause.
func NewServer(ctx context.Context, cfg *config.Server, opts ServerOptions) (*Server, error) {
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	key, err := os.ReadFile(cfg.GitHub.PrivateKeyFile)
	if err != nil {
		return nil, fmt.Errorf("read GitHub App private key: %w", err)
	}
	secret, err := os.ReadFile(cfg.GitHub.WebhookSecretFile)
	if err != nil {
		return nil, fmt.Errorf("read webhook secret: %w", err)
	}
	secret = []byte(strings.TrimSpace(string(secret)))
	if len(secret) == 0 {
		return nil, fmt.Errorf("webhook secret %s is empty", cfg.GitHub.WebhookSecretFile)
	}
	webToken, err := readToken("web.tokenFile", cfg.Web.TokenFile)
	if err != nil {
		return nil, err
	}
	metricsToken, err := readToken("metrics.tokenFile", cfg.Metrics.TokenFile)
	if err != nil {
		return nil, err
	}
	app, err := NewApp(cfg.GitHub.AppID, key, cfg.GitHub.URL, log)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", cfg.GitHub.PrivateKeyFile, err)
	}
	var trusted []policy.Source
	for _, ps := range cfg.Policies {
		trusted = append(trusted, policy.Source{Name: ps.Name, Dir: ps.Path, Prefix: ps.Name, Trust: policy.Trusted, Namespaces: ps.Namespaces})
	}
	if sp := cfg.StarterPack; sp.Enabled {
		src, err := starter.Source(starter.Settings{AllowNodePort: sp.AllowNodePort, Exclude: sp.Exclude})
		if err != nil {
			return nil, fmt.Errorf("%s: starterPack: %w", cfg.File, err)
		}
		trusted = append(trusted, src)
	}
	if len(trusted) > 0 {
		if _, err := policy.Load(ctx, trusted); err != nil {
			return nil, fmt.Errorf("server policies: %w", err)
		}
	}
	cache := opts.CacheDir
	if cache == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			base = os.TempDir()
		}
		cache = filepath.Join(base, "gantry", "serve")
	}
	for _, d := range []string{filepath.Join(cache, "git"), filepath.Join(cache, "work")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("cache directory: %w", err)
		}
	}
	bot, err := app.BotLogin(ctx)
	if err != nil {
		return nil, fmt.Errorf("GitHub App %d at %s: %w", cfg.GitHub.AppID, cfg.GitHub.URL, err)
	}
	if opts.DriftBranchPrefix == "" {
		opts.DriftBranchPrefix = "gantry/drift/"
	}
	s := &Server{cfg: cfg, log: log, app: app, runs: newRunLog(100), resynced: make(chan struct{}), webToken: webToken, metricsToken: metricsToken, timeouts: opts.HTTP.withDefaults(), advertise: opts.Advertise}
	s.pipe = &Pipeline{Config: cfg, GitHub: app, Checkouts: &Checkouts{Dir: filepath.Join(cache, "git")},
		Clusters: NewClusters(cfg), Trusted: trusted, WorkDir: filepath.Join(cache, "work"), Restorer: &gitrestore.Restorer{Dir: cache}, AppConcurrency: 4, Log: log,
		OnStarted: s.started, Seal: marker.New(key)}
	if s.pipe.SOPS, err = LoadSOPSKeys(cfg); err != nil {
		return nil, err
	}
	if cfg.Render.Isolation == config.RenderInWorker {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("%s: render.isolation: process: find gantry's own binary: %w", cfg.File, err)
		}
		s.pipe.Worker = &renderworker.Process{Executable: exe, MemoryBytes: uint64(cfg.Render.Worker.MemoryMiB) << 20, CPU: cfg.Render.Worker.CPU.D()}
	}
	if cfg.Render.Isolation == config.RenderInSidecar {
		s.pipe.Sidecar = &renderworker.Socket{Path: cfg.Render.Worker.Socket}
	}
	workers := opts.Workers
	if workers == 0 {
		workers = 4
	}
	s.queue = NewQueue(s.runJob, workers, log)
	notifier, err := notify.New(cfg.Notifications, log)
	if err != nil {
		return nil, fmt.Errorf("notifications: %w", err)
	}
	s.pipe.Notify = notifier
	s.metrics = NewMetrics(s.queue.Waiting, app.Transport().Remaining)
	s.metrics.notifications(notifier)
	s.pipe.LockWaits = newLockWaits()
	s.metrics.Registry.MustRegister(s.pipe.LockWaits.Waits, s.pipe.LockWaits.Seconds, s.pipe.LockWaits.Waiting)
	s.delivery = &deliveryStats{s: s}
	s.metrics.Registry.MustRegister(s.delivery)
	s.route = RouteConfig{BotLogin: bot, Drafts: cfg.PullRequests.Drafts, Forks: cfg.PullRequests.Forks, DriftBranchPrefix: opts.DriftBranchPrefix}
	if cfg.Previews.Enabled {
		s.route.PreviewLabel = cfg.Previews.Label
	}
	s.route.Seal = s.pipe.Seal
	s.pipe.Route = s.route
	s.hook = &Webhook{Secret: secret, Route: s.route, Enqueue: s.queue.Enqueue, Log: log, Deliveries: s.deliveryRecorder(), Forward: s.forward,
		Observe: func(event, outcome string) { s.metrics.Deliveries.WithLabelValues(event, outcome).Inc() }}
	return s, nil
}

// started records how long a webhook took to become checks in progress.
func (s *Server) started(j Job) {
	if !j.Received.IsZero() {
		s.metrics.FirstCheck.Observe(time.Since(j.Received).Seconds())
	}
}

// runJob does one job from the queue.
func (s *Server) runJob(ctx context.Context, j Job) (err error) {
	start := time.Now()
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("job %s for %s panicked: %v", j.Kind, j.Lane(), r)
		}
		result := "ok"
		if err != nil {
			result = "error"
		}
		s.metrics.Jobs.WithLabelValues(string(j.Kind), result).Inc()
		s.metrics.JobSeconds.WithLabelValues(string(j.Kind)).Observe(time.Since(start).Seconds())
	}()
	if m := s.shards.Load(); m != nil && j.Owner != "" {
		jctx, done, held := m.jobContext(ctx, j.Owner+"/"+j.Repo)
		if !held {
			s.log.Info("job left to its shard's holder", jobAttrs(j)...)
			return nil
		}
		defer done()
		ctx = jctx
	}
	switch j.Kind {
	case JobPlan:
		err := s.plan(ctx, j)
		if ctx.Err() != nil {
			return err // superseded or shutting down: the newer head's job updates the previews
		}
		if perr := s.previewOnPush(ctx, j); perr != nil {
			err = errors.Join(err, fmt.Errorf("update previews: %w", perr))
		}
		return err
	case JobPreviewLabel, JobPreviewUnlabel:
		return s.previewLabel(ctx, j)
	case JobCommand:
		return s.command(ctx, j)
	case JobDrift:
		return s.pipe.Drift(ctx, j)
	case JobDriftPRClose:
		return s.driftPRClosed(ctx, j)
	case JobPRClosed:
		s.pipe.LockWaits.closed(j)
		if err := s.closePreviews(ctx, j); err != nil {
			s.log.Warn("previews not deleted: the resync deletes them", append(jobAttrs(j), "err", err)...)
		}
		if j.Merged {
			s.log.Info("merged: the locks stay until its push is applied", jobAttrs(j)...)
			return nil
		}
		if s.closedDriftPR(ctx, j) {
			return s.driftPRClosed(ctx, j)
		}
		_, err := s.releaseLocks(ctx, j, nil)
		return err
	case JobInstallation:
		return s.resync(ctx)
	case JobApply:
		return s.apply(ctx, j)
	case JobPromote:
		return s.promote(ctx, j)
	}
	return fmt.Errorf("job kind %q has no handler", j.Kind)
}

// plan runs the pipeline and keeps the result for the run pages.
func (s *Server) plan(ctx context.Context, j Job) error {
	rep, parts, err := s.pipe.PlanReport(ctx, j)
	if rep != nil {
		s.runs.add(j, *rep, parts)
	}
	var skipped *NotProcessedError
	if errors.As(err, &skipped) {
		return nil // filtered out, and logged, by the pipeline
	}
	return err
}

// closedDriftPR reports whether the pull request of a close the router
// took for an ordinary one is one of gantry's drift pull requests, as
// GitHub has it now: a close in the moment between its opening and its
// sealed body carries a body without the seal.
func (s *Server) closedDriftPR(ctx context.Context, j Job) bool {
	if s.route.DriftBranchPrefix == "" {
		return false
	}
	gh, err := s.app.Client(j.InstallationID)
	if err != nil {
		return false
	}
	pr, _, err := gh.PullRequests.Get(ctx, j.Owner, j.Repo, j.PR)
	if err != nil || pr.GetMerged() || !strings.HasPrefix(pr.GetHead().GetRef(), s.route.DriftBranchPrefix) {
		return false
	}
	return isDriftPR(pr.GetBase().GetRepo(), pr, s.route)
}

// driftPRClosed restores the cluster to Git for a drift pull request
// closed unmerged, and says what it restored on the pull request.
func (s *Server) driftPRClosed(ctx context.Context, j Job) error {
	gh, err := s.app.Client(j.InstallationID)
	if err != nil {
		return err
	}
	pr, _, err := gh.PullRequests.Get(ctx, j.Owner, j.Repo, j.PR)
	if err != nil {
		return fmt.Errorf("read drift pull request #%d: %w", j.PR, err)
	}
	msg, changed, rerr := s.pipe.RevertDrift(ctx, j, pr)
	// A /gantry revert already restored and said so: the close it made
	// restores nothing more and says nothing.
	if changed || rerr != nil {
		if _, _, err := gh.Issues.CreateComment(ctx, j.Owner, j.Repo, j.PR, &github.IssueComment{Body: github.String("Closed without merging: " + msg)}); err != nil {
			return errors.Join(rerr, fmt.Errorf("comment on drift pull request #%d: %w", j.PR, err))
		}
	}
	return rerr
}

// apply applies a base branch's head, then releases the locks of the pull
// requests it applied.
func (s *Server) apply(ctx context.Context, j Job) error {
	run, err := s.pipe.ApplyBase(ctx, j)
	if run == nil {
		return err
	}
	if run.Promotions > 0 {
		s.queue.Enqueue(promoteJob(j))
	}
	var errs []error
	for _, pr := range run.PRs {
		if _, rerr := s.releaseLocks(context.WithoutCancel(ctx), Job{Owner: j.Owner, Repo: j.Repo, PR: pr.GetNumber()}, nil); rerr != nil {
			errs = append(errs, rerr)
		}
	}
	return errors.Join(append(errs, err)...)
}
