package bot

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"

	"github.com/bradleyfalzon/ghinstallation/v2"
	"github.com/google/go-github/v60/github"
	// ghinstallation takes its token options in go-github v88's types.
	ghtoken "github.com/google/go-github/v88/github"
)

// App is the GitHub App's identity and its clients: one App client
// (JWT-authenticated) and one client per installation, whose tokens
// ghinstallation caches and refreshes before they expire. All share one
// Transport, so retries, rate-limit tracking and the ETag cache see every
// request.
type App struct {
	apps    *ghinstallation.AppsTransport
	api     string // REST root, ending in /
	tr      *Transport
	appCli  *github.Client
	mu      sync.Mutex
	byInst  map[int64]*installation
	readers map[string]*ghinstallation.Transport // contents tokens by installation/repository/permission
	botName string
}

type installation struct {
	client *github.Client
	tr     *ghinstallation.Transport
}

// NewApp makes the App's clients. apiURL is the REST root
// (https://api.github.com/, or https://HOST/api/v3/ for GitHub Enterprise
// Server and the simulator). A key that does not parse is an error that
// says so, at start-up rather than at the first webhook.
func NewApp(appID int64, privateKeyPEM []byte, apiURL string, log *slog.Logger) (*App, error) {
	tr := &Transport{Log: log}
	apps, err := ghinstallation.NewAppsTransport(tr, appID, privateKeyPEM)
	if err != nil {
		return nil, fmt.Errorf("GitHub App %d private key: %w", appID, err)
	}
	if !strings.HasSuffix(apiURL, "/") {
		apiURL += "/"
	}
	apps.BaseURL = strings.TrimSuffix(apiURL, "/")
	a := &App{apps: apps, api: apiURL, tr: tr, byInst: map[int64]*installation{}}
	a.appCli, err = newClient(&http.Client{Transport: apps}, apiURL)
	if err != nil {
		return nil, err
	}
	return a, nil
}

func newClient(hc *http.Client, apiURL string) (*github.Client, error) {
	c := github.NewClient(hc)
	if apiURL == "https://api.github.com/" {
		return c, nil
	}
	c, err := c.WithEnterpriseURLs(apiURL, apiURL)
	if err != nil {
		return nil, fmt.Errorf("GitHub URL %s: %w", apiURL, err)
	}
	// WithEnterpriseURLs appends api/v3/ to a bare host; keep the root
	// exactly as configured.
	c.BaseURL, _ = c.BaseURL.Parse(apiURL)
	return c, nil
}

// AppClient is authenticated as the App itself (installations, the App's
// own metadata).
func (a *App) AppClient() *github.Client { return a.appCli }

// Transport is the shared GitHub transport, for its rate-limit figures.
func (a *App) Transport() *Transport { return a.tr }

func (a *App) inst(id int64) (*installation, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if i := a.byInst[id]; i != nil {
		return i, nil
	}
	itr := ghinstallation.NewFromAppsTransport(a.apps, id)
	cli, err := newClient(&http.Client{Transport: itr}, a.api)
	if err != nil {
		return nil, err
	}
	i := &installation{client: cli, tr: itr}
	a.byInst[id] = i
	return i, nil
}

// Client is authenticated as installation id.
func (a *App) Client(id int64) (*github.Client, error) {
	i, err := a.inst(id)
	if err != nil {
		return nil, err
	}
	return i.client, nil
}

// ReadToken is a current installation token for git over HTTPS that can
// only read the contents of one repository: a checkout needs nothing more,
// and a token that leaks through a checkout's files or a renderer can do
// nothing else. Tokens are cached per installation and repository and
// renewed before they expire.
func (a *App) ReadToken(ctx context.Context, id int64, repo string) (string, error) {
	return a.contentsToken(ctx, id, repo, "read")
}

// WriteToken is ReadToken's counterpart for pushing gantry's own branches
// (revert and drift pull requests): contents write on one repository,
// nothing else.
func (a *App) WriteToken(ctx context.Context, id int64, repo string) (string, error) {
	return a.contentsToken(ctx, id, repo, "write")
}

func (a *App) contentsToken(ctx context.Context, id int64, repo, perm string) (string, error) {
	key := fmt.Sprintf("%d/%s/%s", id, repo, perm)
	a.mu.Lock()
	tr := a.readers[key]
	if tr == nil {
		tr = ghinstallation.NewFromAppsTransport(a.apps, id)
		tr.InstallationTokenOptions = &ghtoken.InstallationTokenOptions{
			Repositories: []string{repo},
			Permissions:  &ghtoken.InstallationPermissions{Contents: ghtoken.Ptr(perm)},
		}
		if a.readers == nil {
			a.readers = map[string]*ghinstallation.Transport{}
		}
		a.readers[key] = tr
	}
	a.mu.Unlock()
	tok, err := tr.Token(ctx)
	if err != nil {
		return "", fmt.Errorf("installation %d: contents:%s token for %s: %w", id, perm, repo, err)
	}
	return tok, nil
}

// BotLogin is the App's bot user, "slug[bot]", whose comments gantry never
// takes as commands.
func (a *App) BotLogin(ctx context.Context) (string, error) {
	a.mu.Lock()
	name := a.botName
	a.mu.Unlock()
	if name != "" {
		return name, nil
	}
	app, _, err := a.appCli.Apps.Get(ctx, "")
	if err != nil {
		return "", fmt.Errorf("get the GitHub App: %w", err)
	}
	name = app.GetSlug() + "[bot]"
	a.mu.Lock()
	a.botName = name
	a.mu.Unlock()
	return name, nil
}
