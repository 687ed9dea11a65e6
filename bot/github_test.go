package bot

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/gantryops/gantry/fixtures/githubsim"
)

func TestAppClients(t *testing.T) {
	sim := githubsim.New(githubsim.Options{T: t, AppSlug: "gantry-test"}).Start()
	if _, err := sim.CreateRepo("acme", "ops", githubsim.RepoOptions{Files: map[string]string{"a": "b"}}); err != nil {
		t.Fatal(err)
	}
	app, err := NewApp(sim.AppID(), sim.AppPrivateKeyPEM(), sim.URL()+"/api/v3/", nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	login, err := app.BotLogin(ctx)
	if err != nil || login != "gantry-test[bot]" {
		t.Fatalf("BotLogin = %q, %v", login, err)
	}
	id, err := sim.InstallationID("acme")
	if err != nil {
		t.Fatal(err)
	}
	cli, err := app.Client(id)
	if err != nil {
		t.Fatal(err)
	}
	repo, _, err := cli.Repositories.Get(ctx, "acme", "ops")
	if err != nil || repo.GetFullName() != "acme/ops" {
		t.Fatalf("get repo as installation: %v, %v", repo.GetFullName(), err)
	}
	tok, err := app.ReadToken(ctx, id, "ops")
	if err != nil || !strings.HasPrefix(tok, "ghs_") {
		t.Fatalf("token %q, %v", tok, err)
	}
	again, _ := app.ReadToken(ctx, id, "ops")
	if again != tok {
		t.Error("installation token not cached between calls")
	}
	// The checkout's token reads the repository's contents and can do
	// nothing else: GitHub refuses it a comment.
	call := func(method, path, body string) int {
		req, _ := http.NewRequest(method, sim.URL()+"/api/v3/"+path, strings.NewReader(body))
		req.Header.Set("Authorization", "token "+tok)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := call(http.MethodGet, "repos/acme/ops/contents/a", ""); code == http.StatusForbidden || code == http.StatusUnauthorized {
		t.Errorf("read-only token cannot read contents: HTTP %d", code)
	}
	if code := call(http.MethodPost, "repos/acme/ops/issues/1/comments", `{"body":"x"}`); code != http.StatusForbidden {
		t.Errorf("read-only token commenting: HTTP %d, want 403", code)
	}
}

func TestNewAppRejectsBadKey(t *testing.T) {
	_, err := NewApp(1, []byte("-----BEGIN RSA PRIVATE KEY-----\nnot a key\n-----END RSA PRIVATE KEY-----\n"), "https://ghe.example/api/v3/", nil)
	if err == nil || !strings.Contains(err.Error(), "GitHub App 1 private key") {
		t.Fatalf("err = %v, want a private key error naming the App", err)
	}
}
