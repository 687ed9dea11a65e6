package cluster

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// podTemplateDump stands for the Go dump of a whole pod template that the
// API server puts in an immutable-field error.
var podTemplateDump = "core.PodTemplateSpec{ObjectMeta:v1.ObjectMeta{Name:\"\", Labels:map[string]string{\"app\":\"migrate\"}}, Spec:core.PodSpec{" + strings.Repeat("Volumes:[]core.Volume(nil), ", 100) + "}}"

// TestRefusalsAreOneLineWithTheFix proves that an API server's refusal is
// shown as one short line naming the field and reason (the whole text
// kept as detail), that a field-manager conflict names the app's force
// and ignore.managers options, and that a missing namespace is said
// without the API's plural resource name.
func TestRefusalsAreOneLineWithTheFix(t *testing.T) {
	job := ObjectRef{Group: "batch", Version: "v1", Kind: "Job", Namespace: "web", Name: "migrate"}
	tests := []struct {
		name       string
		err        error
		want       []string // substrings of the message
		notWant    []string
		wantDetail bool
	}{
		{
			name:       "immutable field",
			err:        apierrors.NewInvalid(schema.GroupKind{Group: "batch", Kind: "Job"}, "migrate", field.ErrorList{field.Invalid(field.NewPath("spec", "template"), podTemplateDump, "field is immutable")}),
			want:       []string{"Job/web/migrate dry-run failed: invalid: spec.template: field is immutable"},
			notWant:    []string{"PodTemplateSpec", "Volumes"},
			wantDetail: true,
		},
		{
			name: "short invalid value kept",
			err:  apierrors.NewInvalid(schema.GroupKind{Group: "apps", Kind: "Deployment"}, "api", field.ErrorList{field.Invalid(field.NewPath("spec", "replicas"), -3, "must be greater than or equal to 0")}),
			want: []string{"invalid: spec.replicas: Invalid value: -3: must be greater than or equal to 0"},
		},
		{
			name: "field-manager conflict",
			err: apierrors.NewApplyConflict([]metav1.StatusCause{{Type: metav1.CauseTypeFieldManagerConflict, Message: `conflict with "someone-else" using v1`, Field: ".data.owner"}},
				`Apply failed with 1 conflict: conflict with "someone-else" using v1: .data.owner`),
			want: []string{`conflict with "someone-else" using v1: .data.owner`, "force: true", "ignore rule with managers: [someone-else]"},
		},
		{
			name: "conflicts with two managers",
			err: apierrors.NewApplyConflict(nil,
				"Apply failed with 2 conflicts: conflicts with \"kubectl\" using v1:\n- .data.a\nconflicts with \"helm\" using v1:\n- .data.b"),
			want:       []string{"managers: [kubectl, helm]", ".data.b"},
			wantDetail: true,
		},
		{
			name:    "missing namespace",
			err:     apierrors.NewNotFound(schema.GroupResource{Resource: "namespaces"}, "hello"),
			want:    []string{`dry-run failed: namespace "hello" does not exist`},
			notWant: []string{"namespaces"},
		},
		{
			name:       "other multi-line error",
			err:        errors.New("admission webhook denied\nstack line 1\nstack line 2"),
			want:       []string{"dry-run failed: admission webhook denied …"},
			notWant:    []string{"stack line"},
			wantDetail: true,
		},
		{
			name: "short error unchanged",
			err:  errors.New("connection refused"),
			want: []string{"Job/web/migrate dry-run failed: connection refused"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg, detail := failure(&ObjectError{Ref: job, Op: "dry-run", Err: tt.err}, nil)
			if strings.Contains(msg, "\n") || len(msg) > 2*maxMessage {
				t.Errorf("message is not one short line (%d bytes): %q", len(msg), msg)
			}
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("message %q lacks %q", msg, w)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(msg, w) {
					t.Errorf("message %q holds %q", msg, w)
				}
			}
			if full := (&ObjectError{Ref: job, Op: "dry-run", Err: tt.err}).Error(); tt.wantDetail != (detail == full) || (!tt.wantDetail && detail != "") {
				t.Errorf("detail %q, want the whole text: %v", detail, tt.wantDetail)
			}
		})
	}
}

// TestMissingNamespacesSaidOnce proves the app-level message names each
// missing namespace once, with its object count and the fix.
func TestMissingNamespacesSaidOnce(t *testing.T) {
	if got := missingNamespaces(nil); got != "" {
		t.Errorf("no missing namespace gave %q", got)
	}
	got := missingNamespaces(map[string]int{"b": 1, "a": 3})
	for _, want := range []string{`namespace "a" does not exist and the app does not create it (3 objects are in it): add a Namespace object`, `namespace "b"`} {
		if !strings.Contains(got, want) {
			t.Errorf("%q lacks %q", got, want)
		}
	}
	if strings.Index(got, `"a"`) > strings.Index(got, `"b"`) || strings.Count(got, "add a Namespace object") != 2 {
		t.Errorf("namespaces not each said once, in order: %q", got)
	}
}

// FuzzReason checks that whatever the API server says, in whatever
// field, the message gantry shows is one line of bounded length and valid
// UTF-8 when the input was.
func FuzzReason(f *testing.F) {
	f.Add("spec.template", "Invalid value: core.PodTemplateSpec{Name:\"a: b\"}: field is immutable")
	f.Add("", "line one\nline two")
	f.Add(".data.x", `Apply failed with 1 conflict: conflict with "m" using v1: .data.x`)
	f.Add("spec", strings.Repeat("é", 400))
	f.Fuzz(func(t *testing.T, fieldPath, message string) {
		errs := []error{
			errors.New(message),
			apierrors.NewApplyConflict(nil, message),
			&apierrors.StatusError{ErrStatus: metav1.Status{Status: metav1.StatusFailure, Reason: metav1.StatusReasonInvalid, Message: message,
				Details: &metav1.StatusDetails{Causes: []metav1.StatusCause{{Field: fieldPath, Message: message}}}}},
		}
		for _, err := range errs {
			got := reason(err)
			if strings.Contains(got, "\n") {
				t.Fatalf("reason of %T is more than one line: %q", err, got)
			}
			if utf8.ValidString(message) && utf8.ValidString(fieldPath) && !utf8.ValidString(got) {
				t.Fatalf("reason cut a character: %q", got)
			}
			if limit := 2*maxMessage + len(fieldPath) + 400; len(got) > limit {
				t.Fatalf("reason is %d bytes, more than %d", len(got), limit)
			}
		}
	})
}
