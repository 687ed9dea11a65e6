// Package render turns an app's source directory (plain YAML, a Kustomize
// overlay or a Helm chart in the repository) into Kubernetes objects, with
// the file and line that produced each object.
//
// It renders untrusted pull-request content on the bot's own machine, so
// every renderer reads through a view of the repository that refuses paths
// and symlinks leading outside it, remote bases, plugins and oversized or
// hostile YAML, and turns library panics into errors.
package render
