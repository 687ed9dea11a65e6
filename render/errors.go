package render

import (
	"errors"
	"fmt"
)

// Sentinel errors wrapped by *Error, so callers can branch on the cause of a
// refused render with errors.Is.
var (
	// ErrOutsideRepo is a path or symlink that leads outside the repository.
	ErrOutsideRepo = errors.New("path leads outside the repository")
	// ErrRemote is a remote Kustomize base or resource (git or HTTP URL).
	ErrRemote = errors.New("remote resources are not allowed")
	// ErrPlugin is a Kustomize exec, Go or container plugin, or Helm
	// inflation inside Kustomize.
	ErrPlugin = errors.New("plugins are not allowed")
	// ErrLimit is input past a size, nesting or alias-expansion limit.
	ErrLimit = errors.New("input exceeds a render limit")
	// ErrInvalid is malformed input: bad YAML, duplicate keys, a document
	// that is not a Kubernetes object, a template that fails.
	ErrInvalid = errors.New("invalid input")
)

// Error is one render failure, located on a repository file so the bot can
// annotate the pull request. A render may fail with several at once; use
// AsErrors to get them all from the returned error.
type Error struct {
	// App is the name of the app being rendered.
	App string
	// File is the repository-relative, slash-separated path of the file at
	// fault; empty when no file can be named.
	File string
	// Line is the 1-based line in File; 0 when unknown.
	Line int
	// Msg says what is wrong, in lower case.
	Msg string
	// Err is the cause, usually one of the sentinel errors; may be nil.
	Err error
}

// Error formats as "app A: file:line: msg".
func (e *Error) Error() string {
	loc := e.File
	if loc != "" && e.Line > 0 {
		loc = fmt.Sprintf("%s:%d", e.File, e.Line)
	}
	switch {
	case loc != "":
		return fmt.Sprintf("app %s: %s: %s", e.App, loc, e.Msg)
	default:
		return fmt.Sprintf("app %s: %s", e.App, e.Msg)
	}
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// AsErrors returns every *Error in err, which may be a single *Error or an
// errors.Join of several; nil when err holds none.
func AsErrors(err error) []*Error {
	if err == nil {
		return nil
	}
	var re *Error
	if errors.As(err, &re) && re == err {
		return []*Error{re}
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []*Error
		for _, e := range j.Unwrap() {
			out = append(out, AsErrors(e)...)
		}
		return out
	}
	if errors.As(err, &re) {
		return []*Error{re}
	}
	return nil
}

// fileError is an *Error without the app name, filled in by Render; the
// renderers create these so they need not carry the app around.
func fileError(file string, line int, cause error, format string, args ...any) *Error {
	return &Error{File: file, Line: line, Msg: fmt.Sprintf(format, args...), Err: cause}
}

// withApp sets the app name on every *Error in err and wraps any other
// error into one, so everything Render returns names the app.
func withApp(app string, err error) error {
	if err == nil {
		return nil
	}
	errs := AsErrors(err)
	if len(errs) == 0 {
		return &Error{App: app, Msg: err.Error(), Err: err}
	}
	joined := make([]error, 0, len(errs))
	for _, e := range errs {
		e.App = app
		joined = append(joined, e)
	}
	if len(joined) == 1 {
		return joined[0]
	}
	return errors.Join(joined...)
}

// locate returns the *Error inside err when there is one, which already
// names the file at fault, else a new *Error on file.
func locate(err error, file string, format string, args ...any) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return fileError(file, 0, err, format, args...)
}
