package cluster

import (
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// maxMessage bounds the one-line message of a refused object; the whole
// API server text goes to the error's detail.
const maxMessage = 300

// failure is the message and detail of an object's error, with the
// Secret values in secrets scrubbed from both.
func failure(err error, secrets []string) (msg, detail string) {
	var oe *ObjectError
	if errors.As(err, &oe) {
		msg, detail = explain(oe.Ref, oe.Op, oe.Err)
	} else {
		msg, detail = cut(err.Error()), folded(err.Error())
	}
	return scrub(msg, secrets), scrub(detail, secrets)
}

// explain turns the failure of op on one object into a one-line message
// that starts with the object and says what to fix, and the API server's
// whole text as detail when it is too long or too many lines for one (an
// immutable field's error holds a Go dump of the whole old value).
func explain(ref ObjectRef, op string, err error) (msg, detail string) {
	full := (&ObjectError{Ref: ref, Op: op, Err: err}).Error()
	msg = fmt.Sprintf("%s %s failed: %s", ref, op, reason(err))
	return msg, folded(full)
}

// folded returns the whole text of an error when the one-line message
// cannot hold it (several lines, or long), else "".
func folded(full string) string {
	if strings.Contains(full, "\n") || len(full) > maxMessage {
		return full
	}
	return ""
}

// reason is the one-line why of an API error: for an invalid object each
// field with its reason and no dumped value, for a missing namespace the
// fix, for a field-manager conflict the options that resolve it, else the
// first line of the text, cut short.
func reason(err error) string {
	var st apierrors.APIStatus
	if errors.As(err, &st) {
		s := st.Status()
		switch {
		case s.Reason == metav1.StatusReasonInvalid && s.Details != nil && len(s.Details.Causes) > 0:
			return invalidReason(s.Details.Causes)
		case isMissingNamespace(err) != "":
			// The fix is said once per app (see missingNamespaces).
			return fmt.Sprintf("namespace %q does not exist", isMissingNamespace(err))
		case s.Reason == metav1.StatusReasonConflict:
			return conflictReason(s.Message)
		}
	}
	return cut(err.Error())
}

// invalidReason lists the fields an invalid object fails on, each with
// its reason; a long invalid value (a whole pod template) is left out.
func invalidReason(causes []metav1.StatusCause) string {
	parts := make([]string, 0, len(causes))
	for _, c := range causes {
		m := c.Message
		if strings.HasPrefix(m, "Invalid value: ") && len(m) > 120 {
			// "Invalid value: <value>: <detail>": the detail follows the
			// value's last ": ".
			if i := strings.LastIndex(m, ": "); i > len("Invalid value:") {
				m = m[i+2:] + " (the invalid value is in the detail)"
			}
		}
		if c.Field != "" {
			m = c.Field + ": " + m
		}
		parts = append(parts, m)
	}
	return cut("invalid: " + strings.Join(parts, "; "))
}

var conflictManager = regexp.MustCompile(`conflicts? with "([^"]+)"`)

// conflictReason keeps the API server's list of conflicting fields and
// says how the app resolves a conflict with another field manager.
func conflictReason(msg string) string {
	if !strings.Contains(msg, "conflict") {
		return cut(msg)
	}
	var managers []string
	seen := map[string]bool{}
	for _, m := range conflictManager.FindAllStringSubmatch(msg, -1) {
		// A manager's name is the other client's to choose: kept on
		// one line, as the whole reason is.
		name := strings.Join(strings.Fields(m[1]), " ")
		if name != "" && !seen[name] {
			seen[name] = true
			managers = append(managers, name)
		}
	}
	hint := "set force: true on the app to take these fields over, or add an ignore rule with managers to leave them to the other manager"
	if len(managers) > 0 {
		hint = fmt.Sprintf("set force: true on the app to take these fields over, or add an ignore rule with managers: [%s] to leave them to %s",
			strings.Join(managers, ", "), strings.Join(managers, " and "))
	}
	return cut(strings.Join(strings.Fields(msg), " ")) + " (" + hint + ")"
}

// isMissingNamespace returns the namespace an API error says does not
// exist, or "".
func isMissingNamespace(err error) string {
	var st apierrors.APIStatus
	if !errors.As(err, &st) {
		return ""
	}
	s := st.Status()
	if s.Reason != metav1.StatusReasonNotFound || s.Details == nil || s.Details.Kind != "namespaces" {
		return ""
	}
	return s.Details.Name
}

// missingNamespaces says once, for an app, which namespaces its objects
// need but neither the cluster has nor the app creates, how many objects
// each holds, and the fix; "" when counts is empty.
func missingNamespaces(counts map[string]int) string {
	if len(counts) == 0 {
		return ""
	}
	names := slices.Sorted(maps.Keys(counts))
	parts := make([]string, 0, len(names))
	for _, ns := range names {
		parts = append(parts, fmt.Sprintf("namespace %q does not exist and the app does not create it (%d objects are in it): add a Namespace object to the app (apiVersion: v1, kind: Namespace, metadata: {name: %s}); gantry creates no namespace on its own", ns, counts[ns], ns))
	}
	return strings.Join(parts, "; ")
}

// cut keeps the first line of s, at most maxMessage bytes of it.
func cut(s string) string {
	line, rest, _ := strings.Cut(s, "\n")
	if len(line) > maxMessage {
		i := maxMessage
		for i > 0 && (line[i]&0xC0) == 0x80 {
			i--
		}
		return line[:i] + "…"
	}
	if strings.TrimSpace(rest) != "" {
		return line + " …"
	}
	return line
}
