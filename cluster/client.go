package cluster

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/util/flowcontrol"
)

// FieldManager is the field manager of every apply and dry-run gantry
// sends, so the API server tracks which fields gantry owns.
const FieldManager = "gantry"

// Labels and annotations gantry reads and writes on objects.
const (
	// AppLabel names the app that owns an object; set on every applied
	// object, so ownership is visible with kubectl and checked before prune.
	AppLabel = "gantry.dev/app"
	// PruneAnnotation set to PruneDisabled keeps an object when it leaves
	// the desired state.
	PruneAnnotation = "gantry.dev/prune"
	// PruneDisabled is the value of PruneAnnotation that keeps an object.
	PruneDisabled = "disabled"
	// AppliedAnnotation holds a hash of the object gantry last applied. With
	// the managed-fields times it lets apply skip objects that provably
	// have not changed since (see upToDate); the diff does not show it.
	AppliedAnnotation = "gantry.dev/applied"
)

// ClientOptions size the client for the request rates gantry needs.
type ClientOptions struct {
	// QPS and Burst are the client-side rate limit shared by every request
	// of this Client. They are high on purpose: Concurrency bounds the
	// requests in flight, and the API server's priority and fairness
	// protects itself; a low limit here only makes a 1,500-object diff wait
	// on the client.
	QPS   float32
	Burst int
	// Concurrency bounds the dry-runs, applies, deletes and reads in flight
	// at once.
	Concurrency int
	// SystemNamespace holds the inventories and locks.
	SystemNamespace string
}

// DefaultClientOptions returns the options used by the CLI and the bot.
func DefaultClientOptions() ClientOptions {
	return ClientOptions{QPS: 1000, Burst: 2000, Concurrency: 32, SystemNamespace: "gantry-system"}
}

// Client talks to one cluster. It is safe for concurrent use; build one per
// cluster and keep it.
type Client struct {
	config  *rest.Config
	dynamic dynamic.Interface
	typed   kubernetes.Interface
	mapper  *restmapper.DeferredDiscoveryRESTMapper
	opts    ClientOptions
}

// NewClient builds a Client on cfg with the rate limit of opts. Zero fields
// of opts take their DefaultClientOptions value.
func NewClient(cfg *rest.Config, opts ClientOptions) (*Client, error) {
	def := DefaultClientOptions()
	if opts.QPS == 0 {
		opts.QPS = def.QPS
	}
	if opts.Burst == 0 {
		opts.Burst = def.Burst
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = def.Concurrency
	}
	if opts.SystemNamespace == "" {
		opts.SystemNamespace = def.SystemNamespace
	}
	cfg = rest.CopyConfig(cfg)
	cfg.QPS, cfg.Burst = opts.QPS, opts.Burst
	cfg.RateLimiter = flowcontrol.NewTokenBucketRateLimiter(opts.QPS, opts.Burst)
	if cfg.UserAgent == "" {
		cfg.UserAgent = "gantry"
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("dynamic client for %s: %w", cfg.Host, err)
	}
	typed, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("client for %s: %w", cfg.Host, err)
	}
	disc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("discovery client for %s: %w", cfg.Host, err)
	}
	return &Client{
		config:  cfg,
		dynamic: dyn,
		typed:   typed,
		mapper:  restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(disc)),
		opts:    opts,
	}, nil
}

// RESTConfig loads a client configuration the way kubectl does: from the
// kubeconfig file (empty: $KUBECONFIG, then ~/.kube/config, then the
// in-cluster service account) and its context (empty: the current one).
func RESTConfig(kubeconfig, kubeContext string) (*rest.Config, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if kubeconfig != "" {
		rules.ExplicitPath = kubeconfig
	}
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules,
		&clientcmd.ConfigOverrides{CurrentContext: kubeContext}).ClientConfig()
	if err != nil {
		return nil, kubeconfigError(kubeconfig, kubeContext, rules.GetDefaultFilename(), err)
	}
	return cfg, nil
}

// kubeconfigError says which kubeconfig was tried and how to give one,
// instead of client-go's "try setting KUBERNETES_MASTER".
func kubeconfigError(flag, kubeContext, home string, err error) error {
	const how = "give --kubeconfig FILE (or the cluster's kubeconfig in the server configuration), or set KUBECONFIG"
	missing := func(p string) bool { _, e := os.Stat(p); return errors.Is(e, fs.ErrNotExist) }
	switch env := os.Getenv(clientcmd.RecommendedConfigPathEnvVar); {
	case flag != "" && missing(flag):
		return fmt.Errorf("kubeconfig %s: no such file: %s", flag, how)
	case flag == "" && env != "":
		var gone []string
		for _, p := range filepath.SplitList(env) {
			if missing(p) {
				gone = append(gone, p)
			}
		}
		if len(gone) == len(filepath.SplitList(env)) {
			return fmt.Errorf("KUBECONFIG names %s, which does not exist: %s", strings.Join(gone, ", "), how)
		}
	case flag == "" && missing(home):
		return fmt.Errorf("no kubeconfig: --kubeconfig is not given, KUBECONFIG is not set and %s does not exist: %s", home, how)
	}
	if kubeContext != "" {
		return fmt.Errorf("load kubeconfig %q context %q: %w", flag, kubeContext, err)
	}
	return fmt.Errorf("load kubeconfig %q: %w", flag, err)
}

// mapping resolves a kind to its resource; a kind the cached discovery does
// not know triggers one refresh, for CRDs installed since.
func (c *Client) mapping(gvk schema.GroupVersionKind) (*meta.RESTMapping, error) {
	m, err := c.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil && meta.IsNoMatchError(err) {
		c.mapper.Reset()
		m, err = c.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	}
	return m, err
}

// resource is the dynamic client for a mapping and namespace.
func (c *Client) resource(m *meta.RESTMapping, namespace string) dynamic.ResourceInterface {
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		return c.dynamic.Resource(m.Resource).Namespace(namespace)
	}
	return c.dynamic.Resource(m.Resource)
}
