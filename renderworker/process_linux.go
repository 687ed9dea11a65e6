package renderworker

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// start starts a worker: an empty environment but for GOMEMLIMIT (no
// GitHub, cloud or Kubernetes credentials reach it), its own network
// namespace (a user namespace too when not root, so that no privilege is
// needed where unprivileged user namespaces are allowed), killed with
// the server, and told its limits. A worker that cannot be isolated is
// not started: the render fails.
func (p *Process) start(ctx context.Context) (*worker, error) {
	args := p.Args
	if len(args) == 0 {
		args = []string{"render-worker"}
	}
	// The worker sets these limits on itself and starts again under them
	// (see Run) before it reads its request: the Go runtime's address
	// space, once reserved, would not fit a limit set from outside later.
	args = append(slices.Clip(args), "--memory-bytes", strconv.FormatUint(p.memory(), 10), "--cpu-seconds", strconv.Itoa(int(p.cpu()/time.Second)))
	cmd := exec.CommandContext(ctx, p.Executable, args...)
	cmd.Env = []string{fmt.Sprintf("GOMEMLIMIT=%dMiB", p.memory()*3/4>>20)}
	cmd.Dir = "/"
	cmd.WaitDelay = time.Second
	attr := &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if !p.NoNetworkNamespace {
		attr.Cloneflags = syscall.CLONE_NEWNET
		if uid, gid := os.Geteuid(), os.Getegid(); uid != 0 {
			attr.Cloneflags |= syscall.CLONE_NEWUSER
			attr.UidMappings = []syscall.SysProcIDMap{{ContainerID: uid, HostID: uid, Size: 1}}
			attr.GidMappings = []syscall.SysProcIDMap{{ContainerID: gid, HostID: gid, Size: 1}}
		}
	}
	cmd.SysProcAttr = attr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("render worker: %w", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("render worker: %w", err)
	}
	w := &worker{cmd: cmd, stdin: stdin, stdout: stdout, stderr: &capped{}}
	cmd.Stderr = w.stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the render worker %s in a network namespace of its own: %w", p.Executable, err)
	}
	return w, nil
}

// enterLimits caps this process's data memory and CPU time, then
// starts this program again with args under them; it returns only on
// failure.
func enterLimits(memory, cpu uint64, args []string) error {
	for _, l := range []struct {
		name     string
		resource int
		v        uint64
	}{{"RLIMIT_DATA", unix.RLIMIT_DATA, memory}, {"RLIMIT_CPU", unix.RLIMIT_CPU, cpu}} {
		if l.v == 0 {
			continue
		}
		if err := unix.Setrlimit(l.resource, &unix.Rlimit{Cur: l.v, Max: l.v}); err != nil {
			return fmt.Errorf("render worker: set %s: %w", l.name, err)
		}
	}
	return syscall.Exec("/proc/self/exe", args, os.Environ())
}
