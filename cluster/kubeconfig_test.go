package cluster

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRESTConfigSaysWhichKubeconfigItTried: a missing kubeconfig is named
// with where it came from and how to give one, never client-go's "try
// setting KUBERNETES_MASTER".
func TestRESTConfigSaysWhichKubeconfigItTried(t *testing.T) {
	home := filepath.Join(t.TempDir(), ".kube", "config") // the default file, missing
	gone := filepath.Join(t.TempDir(), "gone.kubeconfig")
	tests := []struct {
		name, flag, env, want string
	}{
		{"no kubeconfig anywhere", "", "", "no kubeconfig: --kubeconfig is not given, KUBECONFIG is not set and " + home + " does not exist"},
		{"the flag names a missing file", gone, "", "kubeconfig " + gone + ": no such file"},
		{"KUBECONFIG names a missing file", "", gone, "KUBECONFIG names " + gone + ", which does not exist"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("KUBECONFIG", tt.env)
			if tt.env == "" {
				os.Unsetenv("KUBECONFIG")
			}
			err := kubeconfigError(tt.flag, "", home, errors.New("invalid configuration: no configuration has been provided, try setting KUBERNETES_MASTER environment variable"))
			if tt.flag != "" {
				// Through client-go, as the CLI meets it.
				_, err = RESTConfig(tt.flag, "")
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "give --kubeconfig FILE") || strings.Contains(err.Error(), "KUBERNETES_MASTER") {
				t.Errorf("err = %v, want it to say %q and how to give one", err, tt.want)
			}
		})
	}
}
