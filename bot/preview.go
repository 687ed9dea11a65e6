package bot

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/go-github/v60/github"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gantryops/gantry/bot/marker"
	"github.com/gantryops/gantry/bot/report"
	"github.com/gantryops/gantry/cluster"
	"github.com/gantryops/gantry/config"
	"github.com/gantryops/gantry/excerpt"
	"github.com/gantryops/gantry/policy"
	"github.com/gantryops/gantry/preview"
	"github.com/gantryops/gantry/render"
)

// Preview environments: `/gantry preview [app…]` (or the server's label)
// applies the pull request's head of its apps, each into a namespace of
// its own (package preview rewrites the render, cluster keeps the
// namespace as the preview's record). gantry keeps one comment per pull
// request about them, sealed as its own, edited on every update; pushes
// update the previews, closing the pull request deletes them, and the
// resync deletes those past their TTL or whose pull request closed.

// kindPreview marks gantry's preview comment on a pull request.
const kindPreview = "preview"

// previewPayload is what the preview comment's marker carries.
type previewPayload struct {
	Head string `json:"head"`
}

// The states of one app's preview after a run.
const (
	previewHealthy   = "✅ healthy"
	previewUnhealthy = "⚠️ unhealthy"
	previewFailed    = "❌ failed"
	previewRefused   = "⛔ refused"
	previewDeleted   = "🗑️ deleted"
	previewUnchanged = "unchanged"
)

// previewResult is one app's preview as the comment shows it.
type previewResult struct {
	App, Cluster, Namespace string
	State                   string
	// Head is the commit the preview holds.
	Head string
	URLs []string
	// Problems say why it was refused, failed or is unhealthy.
	Problems []string
	Notes    []string
}

// clusterPreview is a preview found in a cluster.
type clusterPreview struct {
	cluster string
	env     cluster.PreviewEnv
}

// previewCommand runs `/gantry preview [off] [app…]`.
func (s *Server) previewCommand(ctx context.Context, gh *github.Client, j Job, pr *github.PullRequest, c Command, allowed func(config.Command, []string) (bool, string)) (string, error) {
	if ok, why := allowed(config.CommandPreview, c.Apps); !ok {
		return why, nil
	}
	if !s.cfg.Previews.Enabled {
		return "previews are not enabled on this gantry server (previews.enabled).", nil
	}
	if c.Off {
		return s.previewOff(ctx, gh, j, c.Apps, "deleted by @"+report.Defang(j.Sender))
	}
	switch {
	case pr.GetState() != "open":
		return "the pull request is not open: nothing to preview.", nil
	case isFork(pr):
		return "❌ a pull request from a fork is never previewed: its head would run in the cluster.", nil
	}
	if why := excluded(pr, s.route); why != "" {
		return "❌ " + why + ": this gantry server does not process it.", nil
	}
	return s.preview(ctx, gh, j, pr, c.Apps, len(c.Apps) == 0)
}

// previewLabel runs the preview label's addition or removal as the
// command would run, authorized against who labelled.
func (s *Server) previewLabel(ctx context.Context, j Job) error {
	gh, err := s.app.Client(j.InstallationID)
	if err != nil {
		return err
	}
	return s.runCommands(ctx, gh, j, func(c Command) string {
		verb := "adding"
		if c.Off {
			verb = "removing"
		}
		return verb + " the label `" + report.Defang(s.cfg.Previews.Label) + "`"
	})
}

// previewOnPush updates the previews of a pull request whose head moved:
// every app it has a preview of, and, when it carries the preview label,
// every app the change affects. A head every preview already holds (a
// resync's or a command's plan) does nothing.
func (s *Server) previewOnPush(ctx context.Context, j Job) error {
	if !s.cfg.Previews.Enabled || j.PR == 0 {
		return nil
	}
	existing, err := s.previews(ctx, j.Owner+"/"+j.Repo, j.PR)
	if err != nil || len(existing) == 0 {
		return err
	}
	gh, err := s.app.Client(j.InstallationID)
	if err != nil {
		return err
	}
	pr, _, err := gh.PullRequests.Get(ctx, j.Owner, j.Repo, j.PR)
	if err != nil {
		return fmt.Errorf("read pull request #%d: %w", j.PR, err)
	}
	head := pr.GetHead().GetSHA()
	current := true
	for _, p := range existing {
		current = current && p.env.Head == head
	}
	if current || pr.GetState() != "open" || isFork(pr) || excluded(pr, s.route) != "" {
		return nil
	}
	var apps []string
	labelled := slices.ContainsFunc(pr.Labels, func(l *github.Label) bool { return l.GetName() == s.cfg.Previews.Label })
	if !labelled {
		for _, p := range existing {
			apps = append(apps, p.env.App)
		}
	}
	_, err = s.preview(ctx, gh, j, pr, apps, labelled)
	return err
}

// preview applies the head of the named apps (none: the affected ones,
// when affected says so) into their preview namespaces and publishes the
// preview comment. The answer is for a command ("" when the comment is).
func (s *Server) preview(ctx context.Context, gh *github.Client, j Job, pr *github.PullRequest, named []string, affected bool) (string, error) {
	repo := j.Owner + "/" + j.Repo
	head := pr.GetHead().GetSHA()
	h, done, answer, err := s.checkoutHead(ctx, gh, j, pr, "preview-")
	if done != nil {
		defer done()
	}
	if err != nil || answer != "" {
		return answer, err
	}
	existing, err := s.previews(ctx, repo, 0)
	if err != nil {
		return "", err
	}
	want := named
	if affected {
		want = append(want, render.AffectedApps(ctx, h.trees.head, *h.head, h.base, h.changed)...)
	}
	judge := s.previewPolicy(j, policyPR(j, pr, h.changed), h.trees, h.base)
	var unknown []string
	for _, n := range named {
		if len(appsNamed(h.head.Apps, []string{n})) == 0 {
			unknown = append(unknown, "`"+marker.Quote(n)+"`")
		}
	}
	if len(unknown) > 0 {
		return fmt.Sprintf("no app %s in %s: nothing previewed.", strings.Join(unknown, ", "), config.RepoFileName), nil
	}
	apps := appsNamed(h.head.Apps, want)
	if len(apps) == 0 {
		return "this pull request changes no app: name the apps to preview, e.g. `/gantry preview web`.", nil
	}
	count := 0
	mine := map[string]bool{}
	for _, p := range existing {
		count++
		if p.env.PR == j.PR {
			mine[p.env.App] = true
		}
	}
	var results []previewResult
	for _, a := range apps {
		if !mine[a.Name] && count >= s.cfg.Previews.MaxPerRepository {
			results = append(results, previewResult{App: a.Name, Cluster: a.Cluster, State: previewRefused, Problems: []string{fmt.Sprintf(
				"quota: %s already has %s, the most the server allows (previews.maxPerRepository); `/gantry preview off` on a pull request that no longer needs one frees it",
				repo, plural(count, "preview", "previews"))}})
			continue
		}
		start := time.Now()
		r := s.previewApp(ctx, h.trees.head, j, head, a, judge)
		attrs := append(jobAttrs(j), "app", a.Name, "namespace", r.Namespace, "state", r.State, "seconds", time.Since(start).Seconds())
		if len(r.Problems) > 0 {
			attrs = append(attrs, "problem", r.Problems[0])
		}
		s.log.Info("preview", attrs...)
		if !mine[a.Name] && r.Namespace != "" && r.State != previewRefused {
			count++
			mine[a.Name] = true
		}
		results = append(results, r)
	}
	return "", s.publishPreview(ctx, gh, j, head, results)
}

// previewJudge returns why policy refuses an app's preview, nothing when
// it does not.
type previewJudge func(ctx context.Context, app config.App, objs []*unstructured.Unstructured, sources render.SourceMap) []string

// previewPolicy judges a preview's render with the server's policies and
// the base branch's, as the plan judges the pull request: a deny refuses
// the preview, and so does a policy that cannot run. A preview runs the
// head in the cluster before anyone reviews it, so an override (which
// lets a merge through) does not admit it.
func (s *Server) previewPolicy(j Job, pr *policy.PR, t trees, base *config.Repo) previewJudge {
	return func(ctx context.Context, app config.App, objs []*unstructured.Unstructured, sources render.SourceMap) []string {
		engine, err := s.pipe.engine(ctx, j, t.base, t.baseSHA, base)
		if err != nil {
			var out []string
			for _, p := range policyProblems(err) {
				out = append(out, "the policies do not load, so nothing is previewed: "+located(p.Message, p.File, p.Line))
			}
			return out
		}
		if engine == nil {
			return nil
		}
		in := policy.Input{PR: pr}
		for _, o := range objs {
			src, _ := sources.Of(o)
			in.Objects = append(in.Objects, policy.Object{Obj: o, App: app.Name, Cluster: app.Cluster, Action: policy.ActionCreate, File: src.File, Line: src.Line, Decrypted: src.Decrypted})
		}
		res, err := engine.Evaluate(ctx, in)
		if err != nil {
			return []string{"the policies did not run, so nothing is previewed: " + err.Error()}
		}
		var out []string
		for _, e := range res.Errors {
			out = append(out, "a policy failed, so nothing is previewed: "+located(e.Error(), e.File, e.Line))
		}
		for _, f := range res.Findings {
			if f.Severity != policy.SeverityDeny {
				continue
			}
			obj := cluster.ObjectRef{Kind: f.Kind, Namespace: f.Namespace, Name: f.Name}
			out = append(out, located(fmt.Sprintf("denied by %s (%s): %s: %s", f.Policy, f.Rule, obj, f.Message), f.File, f.Line))
		}
		return out
	}
}

// located is msg with its place in the repository, when known and not
// already in it.
func located(msg, file string, line int) string {
	if loc := report.Location(file, line); loc != "" && !strings.Contains(msg, loc) {
		return msg + " (" + loc + ")"
	}
	return msg
}

// previewApp renders app at dir, has judge approve the render, rewrites
// it into its preview namespace and applies it there, waiting for health.
func (s *Server) previewApp(ctx context.Context, dir string, j Job, head string, app config.App, judge previewJudge) previewResult {
	repo, pr := j.Owner+"/"+j.Repo, j.PR
	ns := preview.Namespace(repo, pr, app.Name)
	res := previewResult{App: app.Name, Cluster: app.Cluster, Namespace: ns, Head: head}
	refuse := func(why ...string) previewResult {
		// Nothing of this head was applied: the row names no commit.
		res.State, res.Problems, res.Head = previewRefused, append(res.Problems, why...), ""
		return res
	}
	fail := func(err error) previewResult {
		res.State, res.Problems = previewFailed, append(res.Problems, err.Error())
		return res
	}
	pv := s.cfg.Previews
	if !pv.PreviewCluster(app.Cluster) {
		return refuse(fmt.Sprintf("the cluster `%s` holds no previews (previews.clusters)", report.Defang(app.Cluster)))
	}
	if err := s.cfg.ScopeOf(repo).CheckApp(config.App{Name: app.Name, Cluster: app.Cluster}); err != nil {
		return refuse(err.Error())
	}
	c, err := s.pipe.Clusters.Get(app.Cluster)
	if err != nil {
		return fail(err)
	}
	objs, srcMap, err := s.pipe.renderer(repo, repo).Render(ctx, dir, app)
	if err != nil {
		return fail(err)
	}
	if denied := judge(ctx, app, objs, srcMap); len(denied) > 0 {
		return refuse(denied...)
	}
	sources := []string{app.Namespace}
	if app.Namespace == "" {
		sources = []string{config.DefaultNamespace}
	}
	rw := preview.Rewrite(objs, preview.Options{Namespace: ns, SourceNamespaces: sources, ClusterRoles: pv.ClusterRoles,
		IngressDomain: pv.IngressDomain, SkipClusterScoped: pv.SkipClusterScoped, MaxObjects: pv.MaxObjects}, c.Namespaced)
	res.Notes = rw.Notes
	if len(rw.Refused) > 0 {
		for _, r := range rw.Refused {
			res.Problems = append(res.Problems, r.String())
		}
		return refuse()
	}
	env := cluster.PreviewEnv{Namespace: ns, Repository: repo, PR: pr, App: app.Name, Head: head, Updated: time.Now(), Installation: j.InstallationID}
	spec := cluster.PreviewSpec{PreviewEnv: env, Quota: pv.Quota, DefaultRequest: pv.Limits.DefaultRequest, Default: pv.Limits.Default, PodSecurity: pv.PodSecurity}
	if err := c.EnsurePreview(ctx, spec); err != nil {
		if errors.Is(err, cluster.ErrForeignPreview) {
			return refuse(fmt.Sprintf("the namespace `%s` exists and is not this preview's: it is never taken over", ns))
		}
		return fail(err)
	}
	papp := app
	papp.Name, papp.Namespace = env.ApplyName(), ns
	cs, err := c.Apply(ctx, papp, rw.Objects, cluster.DefaultApplyOptions(repo))
	if cs != nil {
		for _, o := range cs.Objects {
			if o.Action == cluster.ChangeFailed {
				res.Problems = append(res.Problems, o.Error)
			}
		}
	}
	for _, h := range rw.Hosts {
		res.URLs = append(res.URLs, "https://"+h)
	}
	if addrs, err := c.ServiceAddresses(ctx, ns); err == nil {
		for svc, as := range addrs {
			for _, a := range as {
				res.URLs = append(res.URLs, svc+" → "+a)
			}
		}
	}
	res.URLs = append(res.URLs, preview.ServiceNames(rw.Objects)...)
	switch {
	case err != nil && !errors.Is(err, cluster.ErrApplyFailed):
		return fail(err)
	case err != nil || len(res.Problems) > 0:
		res.State = previewFailed
	case cs.Health != nil && !cs.Health.Healthy:
		res.State = previewUnhealthy
		for _, u := range cs.Health.Unhealthy {
			line := u.Object.String() + ": " + u.Status
			if u.Message != "" {
				line += " (" + u.Message + ")"
			}
			res.Problems = append(res.Problems, line)
		}
	default:
		res.State = previewHealthy
	}
	return res
}

// previews lists the previews of repo (of its pull request pr, unless 0)
// in every cluster that may hold previews.
func (s *Server) previews(ctx context.Context, repo string, pr int) ([]clusterPreview, error) {
	var out []clusterPreview
	for _, cl := range s.cfg.Clusters {
		if !s.cfg.Previews.PreviewCluster(cl.Name) {
			continue
		}
		c, err := s.pipe.Clusters.Get(cl.Name)
		if err != nil {
			return nil, err
		}
		envs, err := c.Previews(ctx, repo)
		if err != nil {
			return nil, fmt.Errorf("cluster %s: %w", cl.Name, err)
		}
		for _, e := range envs {
			if pr == 0 || e.PR == pr {
				out = append(out, clusterPreview{cluster: cl.Name, env: e})
			}
		}
	}
	return out, nil
}

// previewOff deletes the pull request's previews of apps (all when none
// are named) and says so in the preview comment.
func (s *Server) previewOff(ctx context.Context, gh *github.Client, j Job, apps []string, why string) (string, error) {
	existing, err := s.previews(ctx, j.Owner+"/"+j.Repo, j.PR)
	if err != nil {
		return "", err
	}
	var results []previewResult
	var errs []error
	for _, p := range existing {
		if len(apps) > 0 && !slices.Contains(apps, p.env.App) {
			continue
		}
		c, err := s.pipe.Clusters.Get(p.cluster)
		if err == nil {
			err = c.DeletePreview(ctx, p.env)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("delete the preview of %s: %w", p.env.App, err))
			continue
		}
		results = append(results, previewResult{App: p.env.App, Cluster: p.cluster, Namespace: p.env.Namespace, State: previewDeleted, Head: p.env.Head, Notes: []string{why}})
	}
	if len(results) == 0 && len(errs) == 0 {
		return "this pull request has no preview" + appsSuffix(apps) + ".", nil
	}
	if gh != nil && len(results) > 0 {
		errs = append(errs, s.publishPreview(ctx, gh, j, "", results))
	}
	return "", errors.Join(errs...)
}

// closePreviews deletes the previews of a pull request that closed or
// merged.
func (s *Server) closePreviews(ctx context.Context, j Job) error {
	if !s.cfg.Previews.Enabled {
		return nil
	}
	gh, err := s.app.Client(j.InstallationID)
	if err != nil {
		return err
	}
	why := "the pull request closed"
	if j.Merged {
		why = "the pull request merged"
	}
	_, err = s.previewOff(ctx, gh, j, nil, why)
	return err
}

// tendPreviews deletes, in every cluster that may hold previews, those
// past the TTL since their last update and, when open is complete (every
// open pull request listed), those of pull requests no longer open.
func (s *Server) tendPreviews(ctx context.Context, open map[string]bool, complete bool, owns func(repository string) bool) error {
	if !s.cfg.Previews.Enabled {
		return nil
	}
	all, err := s.previews(ctx, "", 0)
	if err != nil {
		return err
	}
	var errs []error
	for _, p := range all {
		// With sharding, open holds only the pull requests of this
		// replica's shards: another shard's previews are its holder's.
		if !owns(p.env.Repository) {
			continue
		}
		owner, name, _ := strings.Cut(p.env.Repository, "/")
		expired := !p.env.Updated.IsZero() && time.Since(p.env.Updated) > s.cfg.Previews.TTL.D()
		closed := complete && !open[strings.ToLower(lockHolder(owner, name, p.env.PR))]
		if !expired && !closed {
			continue
		}
		c, err := s.pipe.Clusters.Get(p.cluster)
		if err == nil {
			err = c.DeletePreview(ctx, p.env)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("delete the preview %s: %w", p.env.Namespace, err))
			continue
		}
		s.log.Info("preview deleted", "namespace", p.env.Namespace, "repository", p.env.Repository, "pr", p.env.PR, "expired", expired, "closed", closed)
		if p.env.Installation == 0 {
			continue
		}
		why := "the pull request is no longer open"
		if expired {
			why = "no update for " + ttlText(s.cfg.Previews.TTL.D())
		}
		gh, err := s.app.Client(p.env.Installation)
		if err == nil {
			j := Job{InstallationID: p.env.Installation, Owner: owner, Repo: name, PR: p.env.PR}
			err = s.publishPreview(ctx, gh, j, "", []previewResult{{App: p.env.App, Cluster: p.cluster, Namespace: p.env.Namespace,
				State: previewDeleted, Head: p.env.Head, Notes: []string{why}}})
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("say on #%d that its preview %s was deleted: %w", p.env.PR, p.env.Namespace, err))
		}
	}
	return errors.Join(errs...)
}

// publishPreview makes gantry's preview comment on the pull request show
// results, beside the previews this run did not touch, found in the
// clusters; it is found among the bot's own comments by its sealed marker
// and edited in place.
func (s *Server) publishPreview(ctx context.Context, gh *github.Client, j Job, head string, results []previewResult) error {
	bot, err := s.app.BotLogin(ctx)
	if err != nil {
		return err
	}
	existing, err := s.previews(ctx, j.Owner+"/"+j.Repo, j.PR)
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, r := range results {
		seen[r.App] = true
	}
	for _, p := range existing {
		if !seen[p.env.App] {
			results = append(results, previewResult{App: p.env.App, Cluster: p.cluster, Namespace: p.env.Namespace, State: previewUnchanged, Head: p.env.Head})
		}
	}
	slices.SortFunc(results, func(a, b previewResult) int { return strings.Compare(a.App, b.App) })
	scope := marker.Scope(j.Owner, j.Repo, j.PR)
	seal, err := s.pipe.Seal.Seal(kindPreview, scope, previewPayload{Head: head})
	if err != nil {
		return err
	}
	body := seal + "\n" + previewMarkdown(j.PR, results, s.cfg.Previews.TTL.D())
	var mine *github.IssueComment
	err = listComments(ctx, gh.Issues, j.Owner, j.Repo, j.PR, func(c *github.IssueComment) {
		var p previewPayload
		if mine == nil && c.GetUser().GetLogin() == bot && s.pipe.Seal.Open(kindPreview, scope, c.GetBody(), &p) {
			mine = c
		}
	})
	if err != nil {
		return err
	}
	if mine != nil {
		if _, _, err := gh.Issues.EditComment(ctx, j.Owner, j.Repo, mine.GetID(), &github.IssueComment{Body: github.String(body)}); err != nil {
			return fmt.Errorf("edit the preview comment on #%d: %w", j.PR, err)
		}
		return nil
	}
	if _, _, err := gh.Issues.CreateComment(ctx, j.Owner, j.Repo, j.PR, &github.IssueComment{Body: github.String(body)}); err != nil {
		return fmt.Errorf("comment the previews on #%d: %w", j.PR, err)
	}
	return nil
}

// previewMarkdown is the preview comment: a table of the pull request's
// previews, then what was refused, failed or is unhealthy, by app. Every
// text from the repository is defanged.
func previewMarkdown(pr int, results []previewResult, ttl time.Duration) string {
	var b strings.Builder
	live := 0
	for _, r := range results {
		if r.State != previewDeleted && r.State != previewRefused {
			live++
		}
	}
	fmt.Fprintf(&b, "### gantry · previews of #%d · %s\n\n", pr, plural(live, "preview", "previews"))
	b.WriteString("| app | namespace | cluster | health | at | URLs |\n|---|---|---|---|---|---|\n")
	code := func(s string) string { return "`" + report.Defang(s) + "`" }
	for _, r := range results {
		ns := "—"
		if r.Namespace != "" {
			ns = code(r.Namespace)
		}
		at := "—"
		if r.Head != "" {
			at = code(shortSHA(r.Head))
		}
		var urls []string
		for _, u := range r.URLs {
			urls = append(urls, code(u))
		}
		if len(urls) == 0 {
			urls = []string{"—"}
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", code(r.App), ns, code(r.Cluster), r.State, at, strings.Join(urls, "<br>"))
	}
	for _, r := range results {
		if len(r.Problems) == 0 && len(r.Notes) == 0 {
			continue
		}
		fmt.Fprintf(&b, "\n**%s** — %s\n", code(r.App), r.State)
		for _, p := range r.Problems {
			b.WriteString("- " + report.Defang(excerpt.OneLine(p)) + "\n")
		}
		for _, n := range r.Notes {
			b.WriteString("- " + report.Defang(excerpt.OneLine(n)) + "\n")
		}
	}
	fmt.Fprintf(&b, "\n<sub>updated on every push · `/gantry preview off` deletes them, as closing the pull request does · deleted %s after the last update</sub>\n", ttlText(ttl))
	return b.String()
}

// ttlText says a TTL in hours, or as Go writes it when shorter.
func ttlText(d time.Duration) string {
	if d >= time.Hour && d%time.Hour == 0 {
		return plural(int(d/time.Hour), "hour", "hours")
	}
	return d.String()
}
