package bot

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"
)

// TestRunPageInChromium opens a pull request that updates one ConfigMap
// and adds another that policy denies, then loads the run's page in
// headless Chromium: the screenshot is a real picture, and the rendered
// DOM shows the apps table with the counts, a folded diff per changed
// object with its added and removed lines marked, the policy finding, and
// none of the comment's markdown (markers, table pipes).
func TestRunPageInChromium(t *testing.T) {
	browser := chromium(t)
	l := startServer(t, baseFiles, "")
	// The first merge applies web-config; the pull request shown updates it.
	_, merge := l.mergePR(t, "blue", map[string]string{"apps/web/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web-config\ndata:\n  color: blue\n  shade: navy\n"})
	if c := l.applied(t, merge); c.Conclusion != "success" {
		t.Fatalf("gantry/apply of the base: %s %q\n%s", c.Conclusion, c.Title, c.Summary)
	}
	pr, _ := l.openAndPlan(t, "green", map[string]string{
		"apps/web/cm.yaml":    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web-config\ndata:\n  color: green-7f3a\n  shade: navy\n",
		"apps/api/extra.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: api-extra\ndata:\n  color: red\n",
	})
	// The run is kept just after its checks complete: wait for its page.
	var url string
	waitFor(t, fmt.Sprintf("the run page of #%d", pr), func() bool {
		for _, p := range l.pages(t) {
			m := regexp.MustCompile(`^page (/runs/\S+):`).FindStringSubmatch(p)
			if m != nil && strings.Contains(p, fmt.Sprintf("acme/ops#%d", pr)) {
				url = l.webURL + m[1]
			}
		}
		return url != ""
	})

	shot := filepath.Join(t.TempDir(), "run.png")
	browser.run(t, "--window-size=1280,1600", "--screenshot="+shot, url)
	assertPicture(t, shot)
	dom := browser.run(t, "--dump-dom", url)
	doc, err := html.Parse(strings.NewReader(dom))
	if err != nil {
		t.Fatalf("parse the dumped DOM: %v", err)
	}

	text := visibleText(doc)
	for _, raw := range []string{"<!-- gantry", "|---|", "<details>", "```"} {
		if strings.Contains(text, raw) {
			t.Errorf("the page shows the comment's raw markdown %q:\n%s", raw, text)
		}
	}

	// The apps table: each app's row with its counts.
	rows := map[string][]string{}
	for _, table := range findAll(doc, "table") {
		for _, tr := range findAll(table, "tr") {
			var cells []string
			for _, td := range findAll(tr, "td") {
				cells = append(cells, strings.TrimSpace(visibleText(td)))
			}
			if len(cells) > 0 {
				rows[cells[0]] = cells
			}
		}
	}
	// app, cluster, create, update, delete, unchanged, policy
	for app, want := range map[string][]string{"web": {"0", "1", "0", "0"}, "api": {"2", "0", "0", "0"}} {
		r := rows[app]
		if len(r) < 7 || strings.Join(r[2:6], " ") != strings.Join(want, " ") {
			t.Errorf("table row of %s: %q, want counts %v", app, r, want)
		}
	}
	if r := rows["api"]; len(r) < 7 || !strings.Contains(r[6], "1 deny") {
		t.Errorf("api's policy cell: %q, want its deny", r)
	}

	// A <details> per changed object, named in its summary, its diff's
	// lines marked by kind.
	objects := map[string]*html.Node{}
	for _, d := range findAll(doc, "details") {
		for _, s := range findAll(d, "summary") {
			objects[strings.TrimSpace(visibleText(s))] = d
		}
	}
	for _, name := range []string{"web · ConfigMap NS/web-config · update", "api · ConfigMap NS/api-extra · create", "api · ConfigMap NS/api-config · create"} {
		name = strings.ReplaceAll(name, "NS", l.ns)
		found := false
		for summary := range objects {
			found = found || strings.HasPrefix(summary, name)
		}
		if !found {
			t.Errorf("no <details> whose summary starts %q; summaries: %q", name, keys(objects))
		}
	}
	var web *html.Node
	for summary, d := range objects {
		if strings.Contains(summary, "web-config") {
			web = d
		}
	}
	if web == nil {
		t.Fatal("no <details> for web-config")
	}
	added, removed := classed(web, "add"), classed(web, "del")
	if !slices.Contains(added, "+  color: green-7f3a") || !slices.Contains(removed, "-  color: blue") {
		t.Errorf("web-config's diff: added lines %q, removed lines %q; want the new and the old colour", added, removed)
	}
	// The lines are coloured as a person sees them, not only classed.
	if !strings.Contains(dom, ".add{background:") || !strings.Contains(dom, ".del{background:") {
		t.Error("the page's style does not colour added and removed lines")
	}

	if !strings.Contains(text, "ConfigMap api-extra: red is not allowed") {
		t.Errorf("the policy finding is not on the page:\n%s", text)
	}
}

// browser runs headless Chromium, each run with a profile of its own.
type browser string

// chromium finds Debian's chromium; without it the test fails, naming the
// make target that installs it (CI runs that target).
func chromium(t *testing.T) browser {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return browser(p)
		}
	}
	t.Fatal("chromium is not installed: run `make browser-deps` (apt-get install chromium)")
	return ""
}

// run starts the browser headless on args and returns what it printed.
// The timeout only stops a hung browser; nothing is asserted on time.
func (b browser) run(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
		"--hide-scrollbars", "--user-data-dir=" + t.TempDir()}
	cmd := exec.CommandContext(ctx, string(b), append(base, args...)...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %s: %v\n%s", strings.Join(args, " "), err, errOut.String())
	}
	return out.String()
}

// assertPicture checks that file is a PNG of a page with something drawn
// on it: big enough, and far from one colour.
func assertPicture(t *testing.T, file string) {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatalf("no screenshot: %v", err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("screenshot %s: %v", file, err)
	}
	bounds := img.Bounds()
	if bounds.Dx() < 800 || bounds.Dy() < 600 {
		t.Errorf("screenshot is %dx%d, want at least 800x600", bounds.Dx(), bounds.Dy())
	}
	colours := map[[3]uint32]bool{}
	for y := bounds.Min.Y; y < bounds.Max.Y; y += 3 {
		for x := bounds.Min.X; x < bounds.Max.X; x += 3 {
			r, g, b, _ := img.At(x, y).RGBA()
			colours[[3]uint32{r >> 8, g >> 8, b >> 8}] = true
		}
	}
	// Text, the green and red diff lines and the table borders make
	// dozens of colours; a blank or failed page has a handful.
	if len(colours) < 20 {
		t.Errorf("screenshot has %d colours: nothing was drawn", len(colours))
	}
}

// visibleText is the text of n and its descendants outside <head>,
// <style> and <script>, as a reader of the page sees it.
func visibleText(n *html.Node) string {
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && (n.Data == "head" || n.Data == "style" || n.Data == "script") {
			return
		}
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return b.String()
}

// findAll returns the elements named tag under n, in document order.
func findAll(n *html.Node, tag string) []*html.Node {
	var out []*html.Node
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if c.Type == html.ElementNode && c.Data == tag {
			out = append(out, c)
		}
		out = append(out, findAll(c, tag)...)
	}
	return out
}

// classed returns the text of each element under n whose class list
// holds class.
func classed(n *html.Node, class string) []string {
	var out []string
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if c.Type == html.ElementNode {
			for _, a := range c.Attr {
				if a.Key == "class" && slices.Contains(strings.Fields(a.Val), class) {
					out = append(out, visibleText(c))
				}
			}
		}
		out = append(out, classed(c, class)...)
	}
	return out
}

func keys(m map[string]*html.Node) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
