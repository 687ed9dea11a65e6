package bot

import (
	"embed"
	"html/template"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gantryops/gantry/bot/report"
)

// runLog keeps the latest runs for the read-only pages: a diff too large
// for a comment is read there in full.
type runLog struct {
	mu   sync.Mutex
	max  int
	next int
	runs []run
}

type run struct {
	ID     int
	Job    Job
	At     time.Time
	Report report.Report
	Parts  []string
}

func newRunLog(max int) *runLog { return &runLog{max: max} }

func (l *runLog) add(j Job, rep report.Report, parts []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.next++
	l.runs = append(l.runs, run{ID: l.next, Job: j, At: time.Now(), Report: rep, Parts: parts})
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

func (l *runLog) get(id int) (run, bool) {
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
}).ParseFS(pagesFS, "pages/*.html"))

func (s *Server) index(w http.ResponseWriter, r *http.Request) {
	data := struct {
		Clusters []string
		Locks    []lockRow
		Runs     []run
	}{Runs: s.runs.list()}
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
			data.Locks = append(data.Locks, lockRow{Cluster: cc.Name, App: l.App, Holder: l.Holder, Expires: l.Expires})
		}
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := pages.ExecuteTemplate(w, "index.html", data); err != nil {
		s.log.Error("render index page", "err", err)
	}
}

type lockRow struct {
	Cluster, App, Holder, Error string
	Expires                     time.Time
}

func (s *Server) runPage(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.Atoi(r.PathValue("id"))
	run, ok := s.runs.get(id)
	if err != nil || !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := pages.ExecuteTemplate(w, "run.html", run); err != nil {
		s.log.Error("render run page", "err", err)
	}
}
