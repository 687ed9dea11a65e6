package bot

import (
	"errors"
	"fmt"
	"sync"

	"k8s.io/client-go/rest"

	"github.com/gantryops/gantry/cluster"
	"github.com/gantryops/gantry/config"
)

// ErrNoCluster is the cluster of an app that targets none (cluster: none):
// it is validated offline and never applied.
var ErrNoCluster = errors.New("the app targets no cluster (cluster: none): it is validated offline and never applied")

// Clusters hands out one cluster client per configured cluster, made on
// first use, so a cluster that is down fails only the apps that target it.
type Clusters struct {
	cfg *config.Server
	mu  sync.Mutex
	m   map[string]*cluster.Client
}

// NewClusters serves the clusters of cfg.
func NewClusters(cfg *config.Server) *Clusters {
	return &Clusters{cfg: cfg, m: map[string]*cluster.Client{}}
}

// Get returns the client of the named cluster.
func (cs *Clusters) Get(name string) (*cluster.Client, error) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if c := cs.m[name]; c != nil {
		return c, nil
	}
	if name == config.NoCluster {
		return nil, ErrNoCluster
	}
	cc, ok := cs.cfg.Cluster(name)
	if !ok {
		return nil, fmt.Errorf("cluster %q is not in the server configuration", name)
	}
	var rc *rest.Config
	var err error
	if cc.InCluster {
		rc, err = rest.InClusterConfig()
	} else {
		rc, err = cluster.RESTConfig(cc.Kubeconfig, cc.Context)
	}
	if err != nil {
		return nil, fmt.Errorf("cluster %s: %w", name, err)
	}
	opts := cluster.DefaultClientOptions()
	if ns := cs.cfg.State.Namespace; ns != "" {
		opts.SystemNamespace = ns
	}
	c, err := cluster.NewClient(rc, opts)
	if err != nil {
		return nil, fmt.Errorf("cluster %s: %w", name, err)
	}
	cs.m[name] = c
	return c, nil
}
