package gitrestore

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage/memory"
	"github.com/google/go-cmp/cmp"
)

// dag builds commits in s: each name gets a commit with the given parents
// (named earlier) at the given second.
type dag struct {
	t      *testing.T
	s      *memory.Storage
	commit map[string]*object.Commit
	name   map[plumbing.Hash]string
}

func newDAG(t *testing.T) *dag {
	return &dag{t: t, s: memory.NewStorage(), commit: map[string]*object.Commit{}, name: map[plumbing.Hash]string{}}
}

func (d *dag) add(name string, second int64, parents ...string) {
	d.t.Helper()
	sig := object.Signature{Name: "t", Email: "t@example.com", When: time.Unix(1_700_000_000+second, 0)}
	c := &object.Commit{Author: sig, Committer: sig, Message: name + "\n", TreeHash: plumbing.ComputeHash(plumbing.TreeObject, nil)}
	for _, p := range parents {
		c.ParentHashes = append(c.ParentHashes, d.commit[p].Hash)
	}
	obj := d.s.NewEncodedObject()
	if err := c.Encode(obj); err != nil {
		d.t.Fatal(err)
	}
	h, err := d.s.SetEncodedObject(obj)
	if err != nil {
		d.t.Fatal(err)
	}
	stored, err := object.GetCommit(d.s, h)
	if err != nil {
		d.t.Fatal(err)
	}
	d.commit[name], d.name[h] = stored, name
}

// reachable is every commit name reachable from name, by brute force.
func (d *dag) reachable(name string) map[string]bool {
	out := map[string]bool{}
	var visit func(c *object.Commit)
	visit = func(c *object.Commit) {
		if out[d.name[c.Hash]] {
			return
		}
		out[d.name[c.Hash]] = true
		for _, p := range c.ParentHashes {
			pc, _ := object.GetCommit(d.s, p)
			visit(pc)
		}
	}
	visit(d.commit[name])
	return out
}

// The walk finds exactly git's after..head, parents listed before their
// children, also when branches fork before after, when commits share a
// second, and when the newer side runs far ahead of the older one.
func TestCommitsBetweenIsAfterDotDotHead(t *testing.T) {
	tests := []struct {
		name        string
		build       func(d *dag)
		after, head string
	}{{
		name: "linear",
		build: func(d *dag) {
			d.add("a", 1)
			d.add("b", 2, "a")
			d.add("c", 3, "b")
			d.add("d", 4, "c")
		},
		after: "b", head: "d",
	}, {
		name: "a branch forked before after and merged since",
		build: func(d *dag) {
			d.add("root", 1)
			d.add("before", 2, "root")
			d.add("side1", 3, "before")
			d.add("after", 4, "before")
			d.add("side2", 5, "side1")
			d.add("main1", 6, "after")
			d.add("merge", 7, "main1", "side2")
		},
		after: "after", head: "merge",
	}, {
		name: "every commit in the same second",
		build: func(d *dag) {
			d.add("root", 1)
			d.add("m1", 1, "root")
			d.add("a1", 1, "m1")
			d.add("a2", 1, "a1")
			d.add("after", 1, "a2")
			d.add("x", 1, "m1")
			d.add("head", 1, "after", "x")
		},
		after: "after", head: "head",
	}, {
		name: "the newer side reaches the shared root first, all in one second",
		build: func(d *dag) {
			d.add("root", 1)
			d.add("m1", 1, "root")
			prev := "m1"
			for i := range 8 {
				n := fmt.Sprintf("a%d", i)
				d.add(n, 1, prev)
				prev = n
			}
			d.add("after", 1, prev)
			d.add("x", 1, "m1")
			d.add("head", 1, "x", "after")
		},
		after: "after", head: "head",
	}, {
		name: "head is after",
		build: func(d *dag) {
			d.add("a", 1)
			d.add("b", 2, "a")
		},
		after: "b", head: "b",
	}, {
		name: "after merged a branch that head reaches on its own",
		build: func(d *dag) {
			d.add("root", 1)
			d.add("f1", 2, "root")
			d.add("f2", 3, "f1")
			d.add("m", 4, "root")
			d.add("after", 5, "m", "f2")
			d.add("f3", 6, "f2")
			d.add("head", 7, "after", "f3")
		},
		after: "after", head: "head",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newDAG(t)
			tt.build(d)
			got, err := commitsBetween(context.Background(), d.s, d.commit[tt.after], d.commit[tt.head])
			if err != nil {
				t.Fatal(err)
			}
			var want, names []string
			old := d.reachable(tt.after)
			for n := range d.reachable(tt.head) {
				if !old[n] {
					want = append(want, n)
				}
			}
			pos := map[string]int{}
			for i, c := range got {
				names = append(names, d.name[c.Hash])
				pos[d.name[c.Hash]] = i
			}
			for _, c := range got {
				for _, p := range c.ParentHashes {
					if i, ok := pos[d.name[p]]; ok && i > pos[d.name[c.Hash]] {
						t.Errorf("%s listed before its parent %s: %v", d.name[c.Hash], d.name[p], names)
					}
				}
			}
			sort.Strings(want)
			sort.Strings(names)
			if diff := cmp.Diff(want, names); diff != "" {
				t.Errorf("after..head (-want +got):\n%s", diff)
			}
		})
	}
}
