//go:build !linux

package renderworker

import (
	"context"
	"errors"
)

// start refuses: the worker's network namespace and limits need Linux.
func (p *Process) start(context.Context) (*worker, error) {
	return nil, errors.New("render.isolation: process needs Linux (network namespaces and rlimits)")
}

// enterLimits refuses: rlimits are set on Linux only.
func enterLimits(uint64, uint64, []string) error {
	return errors.New("render worker limits need Linux")
}
