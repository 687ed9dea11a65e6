// Package change names what applying does to one object. cluster computes
// it, policy judges it, and report shows it: one type, so no layer
// translates another's.
package change

// Action is what applying does to one object.
type Action string

// The actions.
const (
	Create    Action = "create"
	Update    Action = "update"
	Delete    Action = "delete"
	Unchanged Action = "unchanged"
	// Conflict is a rendered object whose live object another app or
	// repository owns: apply refuses it, and nothing of it is shown.
	Conflict Action = "conflict"
)
