package gitrestore

import (
	"container/heap"
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
)

// CommitRef names a commit for a human: its SHA and its subject line.
type CommitRef struct {
	SHA     string
	Subject string
}

// LaterChange is a file After changed that commits after it changed again;
// the revert leaves it as the base has it.
type LaterChange struct {
	Path string
	// Commits after After that changed Path, oldest first.
	Commits []CommitRef
}

// laterChanges finds, for each path, the commits reachable from head but
// not from after that changed it. A commit changed a path when its entry
// there differs from its first parent's: for a merge commit that is the
// change the merge brought to the branch, so a merged pull request shows
// both as its merge commit and as its own commits.
func laterChanges(ctx context.Context, s storer.EncodedObjectStorer, after, head *object.Commit, paths []string) ([]LaterChange, error) {
	if len(paths) == 0 {
		return nil, nil
	}
	between, err := commitsBetween(ctx, s, after, head)
	if err != nil {
		return nil, err
	}
	byPath := map[string][]CommitRef{}
	for _, c := range between {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		tree, err := c.Tree()
		if err != nil {
			return nil, fmt.Errorf("read tree of commit %s: %w", c.Hash, err)
		}
		var parent *object.Tree
		if len(c.ParentHashes) > 0 {
			p, err := object.GetCommit(s, c.ParentHashes[0])
			if err != nil {
				return nil, fmt.Errorf("read parent of commit %s: %w", c.Hash, err)
			}
			if parent, err = p.Tree(); err != nil {
				return nil, fmt.Errorf("read tree of commit %s: %w", p.Hash, err)
			}
		}
		for _, p := range paths {
			now, err := lookup(s, tree, p)
			if err != nil {
				return nil, fmt.Errorf("read %s at commit %s: %w", p, c.Hash, err)
			}
			var was *object.TreeEntry
			if parent != nil {
				if was, err = lookup(s, parent, p); err != nil {
					return nil, fmt.Errorf("read %s at commit %s: %w", p, c.ParentHashes[0], err)
				}
			}
			if !sameEntry(now, was) {
				byPath[p] = append(byPath[p], CommitRef{SHA: c.Hash.String(), Subject: subject(c.Message)})
			}
		}
	}
	out := make([]LaterChange, 0, len(paths))
	for _, p := range paths {
		out = append(out, LaterChange{Path: p, Commits: byPath[p]})
	}
	return out, nil
}

func sameEntry(a, b *object.TreeEntry) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Hash == b.Hash && a.Mode == b.Mode
}

// subject is a commit message's first line.
func subject(msg string) string {
	line, _, _ := strings.Cut(strings.TrimLeft(msg, "\n"), "\n")
	return strings.TrimSpace(line)
}

// commitsBetween returns the commits reachable from head and not from
// after (git's after..head), parents before children. It walks both
// histories newest first by committer time, marking what after reaches,
// and stops once every commit left to visit is reachable from after and
// older than every commit found so far that after does not reach, so it
// reads only the recent history both share. Commits of the same second
// are exact; like git, it trusts a parent to be no newer than its child,
// and with clock skew beyond that may list a commit after also reaches,
// never miss one it does not.
func commitsBetween(ctx context.Context, s storer.EncodedObjectStorer, after, head *object.Commit) ([]*object.Commit, error) {
	nodes := map[plumbing.Hash]*walkNode{}
	q := &walkQueue{}
	add := func(c *object.Commit, old bool) *walkNode {
		n := &walkNode{c: c, old: old}
		nodes[c.Hash] = n
		heap.Push(q, n)
		return n
	}
	add(head, false)
	if after.Hash != head.Hash {
		add(after, true)
	} else {
		nodes[head.Hash].old = true
	}
	var visited []*walkNode
	var oldestNew time.Time // of the commits visited as not reachable from after
	for q.Len() > 0 && (q.anyNew() || !oldestNew.IsZero() && !(*q)[0].c.Committer.When.Before(oldestNew)) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		n := heap.Pop(q).(*walkNode)
		n.done = true
		visited = append(visited, n)
		if when := n.c.Committer.When; !n.old && (oldestNew.IsZero() || when.Before(oldestNew)) {
			oldestNew = when
		}
		for _, ph := range n.c.ParentHashes {
			if p, ok := nodes[ph]; ok {
				if n.old {
					markOld(nodes, p)
				}
				continue
			}
			pc, err := object.GetCommit(s, ph)
			if err != nil {
				return nil, fmt.Errorf("read commit %s, parent of %s: %w", ph, n.c.Hash, err)
			}
			add(pc, n.old)
		}
	}
	// Every commit was visited before its parents: reversed, the order
	// is oldest first and never puts a commit before its parent.
	var out []*object.Commit
	for i := len(visited) - 1; i >= 0; i-- {
		if !visited[i].old {
			out = append(out, visited[i].c)
		}
	}
	return out, nil
}

// markOld marks n and, when already visited, its visited ancestors as
// reachable from after.
func markOld(nodes map[plumbing.Hash]*walkNode, n *walkNode) {
	if n.old {
		return
	}
	n.old = true
	if !n.done {
		return
	}
	for _, ph := range n.c.ParentHashes {
		if p, ok := nodes[ph]; ok {
			markOld(nodes, p)
		}
	}
}

type walkNode struct {
	c    *object.Commit
	old  bool // reachable from after
	done bool // its parents were queued
}

// walkQueue orders commits newest first by committer time.
type walkQueue []*walkNode

func (q walkQueue) Len() int           { return len(q) }
func (q walkQueue) Less(i, j int) bool { return q[i].c.Committer.When.After(q[j].c.Committer.When) }
func (q walkQueue) Swap(i, j int)      { q[i], q[j] = q[j], q[i] }
func (q *walkQueue) Push(x any)        { *q = append(*q, x.(*walkNode)) }
func (q *walkQueue) Pop() any {
	old := *q
	n := old[len(old)-1]
	*q = old[:len(old)-1]
	return n
}

// anyNew reports whether a queued commit may still be one after lacks.
func (q walkQueue) anyNew() bool {
	for _, n := range q {
		if !n.old {
			return true
		}
	}
	return false
}
