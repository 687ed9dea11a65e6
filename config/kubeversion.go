package config

import (
	"runtime/debug"
	"strings"
)

// fallbackKubeVersion is used only when the binary carries no module
// information (go run of a single file); go.mod's k8s.io/client-go is the
// one place the Kubernetes minor is chosen.
const fallbackKubeVersion = "v1.34.0"

// KubeLibraryVersion returns the Kubernetes version that gantry's
// Kubernetes libraries implement: k8s.io/client-go v0.X.Y is Kubernetes
// v1.X.Y. It is the default Capabilities.KubeVersion for Helm and the
// version of the local test cluster.
func KubeLibraryVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return fallbackKubeVersion
	}
	for _, d := range bi.Deps {
		if d.Path == "k8s.io/client-go" {
			v := d.Version
			if d.Replace != nil {
				v = d.Replace.Version
			}
			if strings.HasPrefix(v, "v0.") {
				return "v1." + strings.TrimPrefix(v, "v0.")
			}
		}
	}
	return fallbackKubeVersion
}
