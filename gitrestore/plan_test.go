package gitrestore

import (
	"errors"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/google/go-cmp/cmp"
)

// blob is a regular file entry whose hash is derived from s.
func blob(s string) File {
	return File{Hash: plumbing.ComputeHash(plumbing.BlobObject, []byte(s)), Mode: filemode.Regular}
}

func to(f File) *File { return &f }

func TestPlanRevert(t *testing.T) {
	exec := blob("v1")
	exec.Mode = filemode.Executable
	tests := []struct {
		name                string
		before, after, base map[string]File
		want                Plan
	}{{
		name:   "a file After modified is restored to Before's content",
		before: map[string]File{"a": blob("v1")},
		after:  map[string]File{"a": blob("v2")},
		base:   map[string]File{"a": blob("v2")},
		want:   Plan{Restore: []Change{{Path: "a", To: to(blob("v1"))}}},
	}, {
		name:   "a file After added is deleted",
		before: map[string]File{},
		after:  map[string]File{"new": blob("n")},
		base:   map[string]File{"new": blob("n")},
		want:   Plan{Restore: []Change{{Path: "new"}}},
	}, {
		name:   "a file After deleted comes back",
		before: map[string]File{"gone": blob("g")},
		after:  map[string]File{},
		base:   map[string]File{},
		want:   Plan{Restore: []Change{{Path: "gone", To: to(blob("g"))}}},
	}, {
		name:   "a file After did not change is left alone, whatever the base did since",
		before: map[string]File{"same": blob("s"), "a": blob("v1")},
		after:  map[string]File{"same": blob("s"), "a": blob("v2")},
		base:   map[string]File{"same": blob("later"), "a": blob("v2")},
		want:   Plan{Restore: []Change{{Path: "a", To: to(blob("v1"))}}},
	}, {
		name:   "a file changed again later is left for a human",
		before: map[string]File{"a": blob("v1")},
		after:  map[string]File{"a": blob("v2")},
		base:   map[string]File{"a": blob("v3")},
		want:   Plan{Later: []string{"a"}},
	}, {
		name:   "a file After added and a later commit deleted is left, not recreated",
		before: map[string]File{},
		after:  map[string]File{"new": blob("n")},
		base:   map[string]File{},
		want:   Plan{},
	}, {
		name:   "a file After deleted and a later commit re-added differently is left",
		before: map[string]File{"x": blob("old")},
		after:  map[string]File{},
		base:   map[string]File{"x": blob("other")},
		want:   Plan{Later: []string{"x"}},
	}, {
		name:   "a file After added that a later commit changed is left, not deleted",
		before: map[string]File{},
		after:  map[string]File{"new": blob("n")},
		base:   map[string]File{"new": blob("n2")},
		want:   Plan{Later: []string{"new"}},
	}, {
		name:   "a file the base already has as Before had it needs nothing",
		before: map[string]File{"a": blob("v1")},
		after:  map[string]File{"a": blob("v2")},
		base:   map[string]File{"a": blob("v1")},
		want:   Plan{},
	}, {
		name:   "a mode change alone is a change",
		before: map[string]File{"run.sh": exec},
		after:  map[string]File{"run.sh": blob("v1")},
		base:   map[string]File{"run.sh": blob("v1")},
		want:   Plan{Restore: []Change{{Path: "run.sh", To: to(exec)}}},
	}, {
		name:   "results come sorted",
		before: map[string]File{"b": blob("1"), "a": blob("1"), "c": blob("1"), "d": blob("1")},
		after:  map[string]File{"b": blob("2"), "a": blob("2"), "c": blob("2"), "d": blob("2")},
		base:   map[string]File{"b": blob("2"), "a": blob("3"), "c": blob("3"), "d": blob("2")},
		want: Plan{
			Restore: []Change{{Path: "b", To: to(blob("1"))}, {Path: "d", To: to(blob("1"))}},
			Later:   []string{"a", "c"},
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := PlanRevert(tt.before, tt.after, tt.base)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("PlanRevert (-want +got):\n%s", diff)
			}
		})
	}
}

func TestValidatePaths(t *testing.T) {
	tests := []struct {
		paths []string
		ok    bool
	}{
		{[]string{"apps/web"}, true},
		{[]string{"apps/web", "patches/web.yaml", "values/web-prod.yaml"}, true},
		{[]string{"."}, true},
		{[]string{".hidden/dir"}, true},
		{nil, false},
		{[]string{""}, false},
		{[]string{"/etc/passwd"}, false},
		{[]string{"../other"}, false},
		{[]string{".."}, false},
		{[]string{"apps/../../other"}, false},
		{[]string{"apps/../web"}, false},
		{[]string{"apps/web/"}, false},
		{[]string{"apps//web"}, false},
		{[]string{"./apps"}, false},
		{[]string{`apps\web`}, false},
		{[]string{"apps/web", "../x"}, false},
	}
	for _, tt := range tests {
		err := ValidatePaths(tt.paths)
		if (err == nil) != tt.ok {
			t.Errorf("ValidatePaths(%q) = %v, want ok=%v", tt.paths, err, tt.ok)
		}
		if err != nil && !errors.Is(err, ErrBadPath) {
			t.Errorf("ValidatePaths(%q) = %v, want it to wrap ErrBadPath", tt.paths, err)
		}
	}
}
