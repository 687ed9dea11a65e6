package bot

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"fmt"
	"html/template"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/gantryops/gantry/bot/report"
	"github.com/gantryops/gantry/cluster"
	"github.com/gantryops/gantry/delivery"
)

// runLog keeps the latest runs for the read-only pages: a diff too large
// for a comment is read there in full. A run's id is random, so knowing one
// run's address tells nothing about another's.
type runLog struct {
	mu   sync.Mutex
	max  int
	runs []run
}

type run struct {
	ID     string
	Job    Job
	At     time.Time
	Report report.Report
	Parts  []string
}

func newRunLog(max int) *runLog { return &runLog{max: max} }

func (l *runLog) add(j Job, rep report.Report, parts []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.runs = append(l.runs, run{ID: rand.Text(), Job: j, At: time.Now(), Report: rep, Parts: parts})
	if len(l.runs) > l.max {
		l.runs = l.runs[len(l.runs)-l.max:]
	}
}

func (l *runLog) list() []run {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]run, len(l.runs))
	for i, r := range l.runs {
		out[len(l.runs)-1-i] = r
	}
	return out
}

func (l *runLog) get(id string) (run, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, r := range l.runs {
		if r.ID == id {
			return r, true
		}
	}
	return run{}, false
}

//go:embed pages/*.html
var pagesFS embed.FS

var pages = template.Must(template.New("").Funcs(template.FuncMap{
	"short": shortSHA,
	"pct":   func(f float64) string { return fmt.Sprintf("%.0f%%", f*100) },
	"dur":   func(d time.Duration) string { return d.Round(time.Second).String() },
	// seconds shows a stage's time to a tenth, as the comment does.
	"seconds": func(d time.Duration) string { return fmt.Sprintf("%.1f s", d.Seconds()) },
}).ParseFS(pagesFS, "pages/*.html"))

func (s *Server) index(w http.ResponseWriter, r *http.Request) {
	data := struct {
		Clusters []string
		Locks    []lockRow
		Runs     []run
		// Applies are the records kept in the clusters, newest first.
		Applies []cluster.ApplyRecord
		// Delivery are the delivery metrics per app.
		Delivery []delivery.Stats
	}{Runs: s.runs.list()}
	if s.delivery != nil {
		data.Delivery = s.delivery.get(r.Context())
	}
	for _, cc := range s.cfg.Clusters {
		data.Clusters = append(data.Clusters, cc.Name)
		c, err := s.pipe.Clusters.Get(cc.Name)
		if err != nil {
			data.Locks = append(data.Locks, lockRow{Cluster: cc.Name, Error: err.Error()})
			continue
		}
		locks, err := c.Locks(r.Context())
		if err != nil {
			data.Locks = append(data.Locks, lockRow{Cluster: cc.Name, Error: err.Error()})
			continue
		}
		for _, l := range locks {
			data.Locks = append(data.Locks, lockRow{Cluster: cc.Name, Repository: l.Repository, App: l.App, Holder: l.Holder, Renewed: l.Renewed})
		}
		records, err := c.AllRecords(r.Context())
		if err != nil {
			s.log.Warn("apply records not read", "cluster", cc.Name, "err", err)
		}
		for _, rs := range records {
			data.Applies = append(data.Applies, rs.History...)
		}
	}
	sort.Slice(data.Applies, func(i, j int) bool { return data.Applies[i].Started.After(data.Applies[j].Started) })
	if len(data.Applies) > 100 {
		data.Applies = data.Applies[:100]
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := pages.ExecuteTemplate(w, "index.html", data); err != nil {
		s.log.Error("render index page", "err", err)
	}
}

type lockRow struct {
	Cluster, Repository, App, Holder, Error string
	Renewed                                 time.Time
}

// runPage shows one run's report as a person reads it: the apps table,
// the policy findings and every changed object's full diff, folded per
// object, laid out from the report itself (see viewRun).
func (s *Server) runPage(w http.ResponseWriter, r *http.Request) {
	run, ok := s.runs.get(r.PathValue("id"))
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := pages.ExecuteTemplate(w, "run.html", viewRun(run)); err != nil {
		s.log.Error("render run page", "err", err)
	}
}

// requireToken serves h only to requests that present token as
// "Authorization: Bearer TOKEN" (the scheme in any case); an empty token lets every request through
// (a loopback-only listener). The comparison is of SHA-256 sums in
// constant time, so neither the token's bytes nor its length leak through
// timing.
func requireToken(token []byte, h http.Handler) http.Handler {
	if len(token) == 0 {
		return h
	}
	want := sha256.Sum256(token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		scheme, got, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		sum := sha256.Sum256([]byte(strings.TrimSpace(got)))
		if subtle.ConstantTimeCompare(sum[:], want[:]) != 1 || !strings.EqualFold(scheme, "Bearer") {
			w.Header().Set("WWW-Authenticate", `Bearer realm="gantry"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// pageHeaders keeps the pages to themselves: no scripts, no framing, no
// referrer carrying a run's address elsewhere, no caching by proxies.
func pageHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Referrer-Policy", "no-referrer")
		w.Header().Set("Cache-Control", "no-store")
		h.ServeHTTP(w, r)
	})
}
