package policy

import (
	"runtime"
	"time"
)

// Options bound the engine's work.
type Options struct {
	// Timeout bounds one evaluation: one policy set (or Gatekeeper
	// constraint) against one object. A policy that runs longer fails
	// with a LimitTime EvalError instead of holding the check.
	Timeout time.Duration
	// MaxResults bounds the messages one rule may return for one object;
	// more is a LimitResults EvalError, so a policy cannot flood the PR
	// comment or the bot's memory with findings.
	MaxResults int
	// MaxMessageBytes truncates longer messages.
	MaxMessageBytes int
	// Parallelism is how many objects are evaluated at once.
	Parallelism int
}

// DefaultOptions returns the bounds used by Load.
func DefaultOptions() Options {
	return Options{
		Timeout:         2 * time.Second,
		MaxResults:      100,
		MaxMessageBytes: 4096,
		Parallelism:     runtime.GOMAXPROCS(0),
	}
}

func (o Options) withDefaults() Options {
	d := DefaultOptions()
	if o.Timeout <= 0 {
		o.Timeout = d.Timeout
	}
	if o.MaxResults <= 0 {
		o.MaxResults = d.MaxResults
	}
	if o.MaxMessageBytes <= 0 {
		o.MaxMessageBytes = d.MaxMessageBytes
	}
	if o.Parallelism <= 0 {
		o.Parallelism = d.Parallelism
	}
	return o
}

// UnsafeBuiltins returns the builtins a policy set of the given trust may
// not call. Repository policies cannot reach the network or the host: a
// policy from a repository must not exfiltrate data (http.send, DNS) or read
// the server's environment (opa.runtime). Time, randomness, net.cidr_*,
// crypto and parsing builtins stay available. A call to one is a compile
// error at load, with the file, line and column of the call.
func UnsafeBuiltins(t Trust) map[string]struct{} {
	if t == Trusted {
		return map[string]struct{}{}
	}
	return map[string]struct{}{
		"http.send":          {},
		"net.lookup_ip_addr": {},
		"opa.runtime":        {},
	}
}
