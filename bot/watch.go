package bot

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/gantryops/gantry/cluster"
)

// watches are the drift watchers of the configured clusters, and what a
// changed object's repository maps to: its installation and base branch.
type watches struct {
	s *Server
	// starting serialises refresh, so a cluster gets one watcher.
	starting sync.Mutex
	mu       sync.Mutex
	w        map[string]*cluster.Watcher // by cluster name
	// repos caches, per "owner/name", the installation and default branch.
	repos map[string]repoInfo
}

type repoInfo struct {
	inst   int64
	branch string
	at     time.Time
}

// startWatches watches the managed objects of every configured cluster
// until ctx ends; a cluster that cannot be watched is logged and retried
// at the next refresh.
func (s *Server) startWatches(ctx context.Context) {
	s.watch = &watches{s: s, w: map[string]*cluster.Watcher{}, repos: map[string]repoInfo{}}
	// A cluster that is slow to list delays nothing else.
	go s.watch.refresh(ctx)
}

// refresh starts the watchers not running yet (a cluster that was down,
// a kind gantry could not list): the resync calls it. A running watcher
// follows new inventories and kinds by itself.
func (w *watches) refresh(ctx context.Context) {
	if w == nil {
		return
	}
	w.starting.Lock()
	defer w.starting.Unlock()
	debounce := w.s.cfg.Drift.Debounce.D()
	for _, cc := range w.s.cfg.Clusters {
		w.mu.Lock()
		running := w.w[cc.Name]
		w.mu.Unlock()
		if running != nil {
			continue
		}
		c, err := w.s.pipe.Clusters.Get(cc.Name)
		if err != nil {
			w.s.log.Warn("drift watch not started", "cluster", cc.Name, "err", err)
			continue
		}
		watcher, err := c.Watch(ctx, cluster.WatchOptions{Debounce: debounce, OnChange: func(repo, app string) { w.changed(ctx, repo, app) }})
		if err != nil {
			w.s.log.Warn("drift watch not started", "cluster", cc.Name, "err", err)
			continue
		}
		w.mu.Lock()
		w.w[cc.Name] = watcher
		w.mu.Unlock()
	}
}

// changed queues the drift comparison of repo's app.
func (w *watches) changed(ctx context.Context, repo, app string) {
	owner, name, ok := strings.Cut(repo, "/")
	if !ok {
		return
	}
	info, err := w.repo(ctx, owner, name)
	if err != nil {
		w.s.log.Warn("drift seen in a repository gantry cannot reach", "repository", repo, "app", app, "err", err)
		return
	}
	w.s.metrics.DriftEvents.Inc()
	w.s.queue.Enqueue(Job{Kind: JobDrift, InstallationID: info.inst, Owner: owner, Repo: name, BaseRef: info.branch, Apps: []string{app}})
}

// repo finds the installation and default branch of owner/name, cached
// for ten minutes.
func (w *watches) repo(ctx context.Context, owner, name string) (repoInfo, error) {
	key := strings.ToLower(owner + "/" + name)
	w.mu.Lock()
	info, ok := w.repos[key]
	w.mu.Unlock()
	if ok && time.Since(info.at) < 10*time.Minute {
		return info, nil
	}
	inst, _, err := w.s.app.AppClient().Apps.FindRepositoryInstallation(ctx, owner, name)
	if err != nil {
		return info, err
	}
	gh, err := w.s.app.Client(inst.GetID())
	if err != nil {
		return info, err
	}
	r, _, err := gh.Repositories.Get(ctx, owner, name)
	if err != nil {
		return info, err
	}
	info = repoInfo{inst: inst.GetID(), branch: r.GetDefaultBranch(), at: time.Now()}
	w.mu.Lock()
	w.repos[key] = info
	w.mu.Unlock()
	return info, nil
}
