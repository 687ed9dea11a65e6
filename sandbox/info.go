package sandbox

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
)

// Info is what a person or a script needs to use a running sandbox; it
// is the --state-file's JSON.
type Info struct {
	// APIURL is the simulator's REST root, as go-github's BaseURL.
	APIURL string `json:"apiURL"`
	// Repo is the demo repository, owner/name.
	Repo string `json:"repo"`
	// CloneURL is the demo repository's git smart-HTTP URL.
	CloneURL string `json:"cloneURL"`
	// Users are the demo repository's people, with their tokens.
	Users []User `json:"users"`
	// WebURL and WebToken reach the bot's pages; empty with GitHubOnly.
	WebURL   string `json:"webURL"`
	WebToken string `json:"webToken"`
	// Kubeconfig reaches the local cluster; empty with GitHubOnly.
	Kubeconfig string `json:"kubeconfig"`
	// AppID, PrivateKeyFile and WebhookSecretFile are the GitHub App's
	// identity, for an App server of one's own.
	AppID             int64  `json:"appID"`
	PrivateKeyFile    string `json:"privateKeyFile"`
	WebhookSecretFile string `json:"webhookSecretFile"`
	// WebhookURL is where the simulator delivers webhooks.
	WebhookURL string `json:"webhookURL"`
	// ServerConfig is the bot's configuration file and BotLog its log;
	// empty with GitHubOnly.
	ServerConfig string `json:"serverConfig"`
	BotLog       string `json:"botLog"`
	// SpecDir is the GitHub OpenAPI description the simulator validates
	// against; empty when none was found.
	SpecDir string `json:"specDir"`
	// Dir holds everything the sandbox wrote.
	Dir string `json:"dir"`
}

// WriteState writes Info as indented JSON to file, readable by its owner
// only: it holds tokens.
func (sb *Sandbox) WriteState(file string) error {
	b, err := json.MarshalIndent(sb.Info, "", "  ")
	if err != nil {
		return fmt.Errorf("encode state: %w", err)
	}
	if err := os.WriteFile(file, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("write state file: %w", err)
	}
	return nil
}

// WriteInfo prints what a person needs to play with the running sandbox:
// where each part is, who the users are, and commands to try.
func (sb *Sandbox) WriteInfo(w io.Writer) {
	i := sb.Info
	host := strings.TrimPrefix(strings.TrimSuffix(i.APIURL, "/api/v3/"), "http://")
	fmt.Fprintf(w, "\nThe sandbox is up. Everything below is on this machine only.\n\n")
	fmt.Fprintf(w, "  GitHub simulator REST API  %s\n", i.APIURL)
	fmt.Fprintf(w, "  demo repository            %s  (clone: %s)\n", i.Repo, i.CloneURL)
	if i.WebURL != "" {
		fmt.Fprintf(w, "  gantry's pages             %s  (token %s)\n", i.WebURL, i.WebToken)
		fmt.Fprintf(w, "  kubeconfig                 %s\n", i.Kubeconfig)
		fmt.Fprintf(w, "  gantry's configuration     %s  (log: %s)\n", i.ServerConfig, i.BotLog)
	} else {
		fmt.Fprintf(w, "  GitHub App                 id %d, private key %s, webhook secret %s\n", i.AppID, i.PrivateKeyFile, i.WebhookSecretFile)
		if i.WebhookURL != "" {
			fmt.Fprintf(w, "  webhooks delivered to      %s\n", i.WebhookURL)
		} else {
			fmt.Fprintf(w, "  webhooks                   recorded, not delivered (give --webhook-url)\n")
		}
	}
	fmt.Fprintf(w, "\n  users (role: token)\n")
	for _, u := range i.Users {
		fmt.Fprintf(w, "    %-4s %-6s %s\n", u.Login, u.Role, u.Token)
	}
	wes := sb.User("wes")
	fmt.Fprintf(w, "\n  try:\n")
	fmt.Fprintf(w, "    git clone http://wes:%s@%s/%s.git && cd %s\n", wes.Token, host, i.Repo, Name)
	fmt.Fprintf(w, "    # edit apps/web/base/deployment.yaml, then:\n")
	fmt.Fprintf(w, "    git checkout -b my-change && git commit -am 'my change' && git push origin my-change\n")
	fmt.Fprintf(w, "    curl -H \"Authorization: token %s\" -H \"Content-Type: application/json\" -d '{\"title\":\"my change\",\"head\":\"my-change\",\"base\":\"main\"}' %srepos/%s/pulls\n", wes.Token, i.APIURL, i.Repo)
	fmt.Fprintf(w, "    curl -H \"Authorization: token %s\" %srepos/%s/pulls\n", wes.Token, i.APIURL, i.Repo)
	fmt.Fprintf(w, "    curl -H \"Authorization: token %s\" %srepos/%s/issues/1/comments\n", wes.Token, i.APIURL, i.Repo)
	fmt.Fprintf(w, "    curl -H \"Authorization: token %s\" -H \"Content-Type: application/json\" -d '{\"body\":\"/gantry plan\"}' %srepos/%s/issues/1/comments\n", wes.Token, i.APIURL, i.Repo)
	if i.WebURL != "" {
		fmt.Fprintf(w, "    curl -H \"Authorization: Bearer %s\" %s\n", i.WebToken, i.WebURL)
		fmt.Fprintf(w, "    kubectl --kubeconfig %s get pods -A\n", i.Kubeconfig)
	}
	fmt.Fprintf(w, "\n  Ctrl-C stops everything")
	if sb.ownDir {
		fmt.Fprintf(w, " and removes %s", i.Dir)
	}
	fmt.Fprintln(w, ".")
}
