package render

import "time"

// Limits bound what one render may read and build, so a hostile pull
// request cannot exhaust the bot's memory or time.
type Limits struct {
	// MaxFileBytes is the largest single file read; checked before the
	// file is read, so a huge file fails at once.
	MaxFileBytes int64
	// MaxAppBytes bounds the bytes read for one app, all files together,
	// and the size of the rendered output.
	MaxAppBytes int64
	// MaxDepth is the deepest nesting of mappings and sequences accepted
	// in a YAML document; real manifests stay far below it.
	MaxDepth int
	// MaxNodes is the most YAML nodes one file may expand to, all its
	// documents together, aliases included; it stops alias bombs ("billion
	// laughs") early, however they are split into documents.
	MaxNodes int
	// MaxAppNodes is the most YAML nodes all the files and rendered
	// templates of one app may expand to together.
	MaxAppNodes int
	// MaxObjects is the most objects one app may render.
	MaxObjects int
	// Timeout bounds one render in time (the caller's deadline applies
	// when earlier). Helm's and Kustomize's work cannot be interrupted, so
	// a render past it is abandoned, its result discarded and counted by
	// Abandoned, and Render returns at once.
	Timeout time.Duration
}

// DefaultLimits returns limits generous for real repositories: the largest
// CRDs in common use are about 1 MiB and 100,000 nodes.
func DefaultLimits() Limits {
	return Limits{
		MaxFileBytes: 8 << 20,
		MaxAppBytes:  64 << 20,
		MaxDepth:     64,
		MaxNodes:     1_000_000,
		MaxAppNodes:  4_000_000,
		MaxObjects:   20_000,
		Timeout:      60 * time.Second,
	}
}

// orDefault fills zero fields from DefaultLimits.
func (l Limits) orDefault() Limits {
	d := DefaultLimits()
	if l.MaxFileBytes <= 0 {
		l.MaxFileBytes = d.MaxFileBytes
	}
	if l.MaxAppBytes <= 0 {
		l.MaxAppBytes = d.MaxAppBytes
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = d.MaxDepth
	}
	if l.MaxNodes <= 0 {
		l.MaxNodes = d.MaxNodes
	}
	if l.MaxAppNodes <= 0 {
		l.MaxAppNodes = d.MaxAppNodes
	}
	if l.MaxObjects <= 0 {
		l.MaxObjects = d.MaxObjects
	}
	if l.Timeout <= 0 {
		l.Timeout = d.Timeout
	}
	return l
}
