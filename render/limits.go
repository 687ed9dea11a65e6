package render

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
	// MaxNodes is the most YAML nodes one document may expand to, aliases
	// included; it stops alias bombs ("billion laughs") early.
	MaxNodes int
	// MaxObjects is the most objects one app may render.
	MaxObjects int
}

// DefaultLimits returns limits generous for real repositories: the largest
// CRDs in common use are about 1 MiB and 100,000 nodes.
func DefaultLimits() Limits {
	return Limits{
		MaxFileBytes: 8 << 20,
		MaxAppBytes:  64 << 20,
		MaxDepth:     64,
		MaxNodes:     1_000_000,
		MaxObjects:   20_000,
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
	if l.MaxObjects <= 0 {
		l.MaxObjects = d.MaxObjects
	}
	return l
}
