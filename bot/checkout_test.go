package bot

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/gantryops/gantry/fixtures/githubsim"
)

func TestCheckoutPullRequestHeadAndBase(t *testing.T) {
	sim := githubsim.New(githubsim.Options{T: t}).Start()
	base, err := sim.CreateRepo("acme", "ops", githubsim.RepoOptions{Files: map[string]string{
		"apps/web/deploy.yaml": "kind: Deployment\n", ".gantry.yaml": "version: 1\n",
	}})
	if err != nil {
		t.Fatal(err)
	}
	n, head, err := sim.OpenPR("alice", "acme", "ops", githubsim.PullOptions{Head: "scale", Base: "main", Title: "scale",
		Files: map[string]string{"apps/web/deploy.yaml": "kind: Deployment\nspec: {replicas: 5}\n", "apps/web/new.yaml": "kind: ConfigMap\n"}})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := sim.InstallationToken("acme")
	if err != nil {
		t.Fatal(err)
	}
	co := &Checkouts{Dir: t.TempDir()}
	ctx := context.Background()
	url := sim.URL() + "/acme/ops.git"
	work := t.TempDir()

	headDir, _, err := co.Checkout(ctx, Source{URL: url, Token: tok, Ref: "refs/pull/" + strconv.Itoa(n) + "/head", SHA: head}, work)
	if err != nil {
		t.Fatal(err)
	}
	baseDir, baseSHA, err := co.Checkout(ctx, Source{URL: url, Token: tok, Ref: "refs/heads/main"}, work)
	if err != nil {
		t.Fatal(err)
	}
	if baseSHA != base {
		t.Errorf("base checked out at %s, want the branch head %s", baseSHA, base)
	}
	read := func(dir, name string) string {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return "<missing>"
		}
		return string(b)
	}
	if got := read(headDir, "apps/web/deploy.yaml"); got != "kind: Deployment\nspec: {replicas: 5}\n" {
		t.Errorf("head deploy.yaml = %q", got)
	}
	if got := read(headDir, "apps/web/new.yaml"); got != "kind: ConfigMap\n" {
		t.Errorf("head new.yaml = %q", got)
	}
	if got := read(baseDir, "apps/web/deploy.yaml"); got != "kind: Deployment\n" {
		t.Errorf("base deploy.yaml = %q", got)
	}
	if got := read(baseDir, "apps/web/new.yaml"); got != "<missing>" {
		t.Errorf("base has the PR's new file: %q", got)
	}
	if _, err := os.Stat(filepath.Join(headDir, ".git")); !os.IsNotExist(err) {
		t.Error("checkout has a .git directory")
	}

	// A push moves the head: asking for the old commit on a cold cache
	// fails clearly rather than rendering the wrong commit.
	if _, err := sim.Push("alice", "acme", "ops", "scale", map[string]string{"apps/web/deploy.yaml": "kind: Deployment\nspec: {replicas: 6}\n"}, nil, "more"); err != nil {
		t.Fatal(err)
	}
	cold := &Checkouts{Dir: t.TempDir()}
	_, _, err = cold.Checkout(ctx, Source{URL: url, Token: tok, Ref: "refs/pull/" + strconv.Itoa(n) + "/head", SHA: head}, work)
	if !errors.Is(err, ErrStaleRef) {
		t.Errorf("checkout of a superseded head: err = %v, want ErrStaleRef", err)
	}
	// A bad token is an error that does not leak the token.
	_, _, err = cold.Checkout(ctx, Source{URL: url, Token: "ghs_wrong", Ref: "refs/heads/main", SHA: base}, work)
	if err == nil || strings.Contains(err.Error(), "ghs_wrong") {
		t.Errorf("bad token: err = %v", err)
	}
}
