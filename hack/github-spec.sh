#!/usr/bin/env bash
# github-spec.sh installs GitHub's published REST description (@octokit/openapi) and
# example webhook deliveries (@octokit/webhooks-examples), at pinned versions, into a
# cache directory, and prints that directory. The GitHub simulator's tests read it through
# GANTRY_GITHUB_SPEC. Idempotent: an already complete directory is left as it is.
set -euo pipefail

OPENAPI_VERSION=23.0.2
WEBHOOKS_EXAMPLES_VERSION=7.6.1

cache="${GANTRY_CACHE:-$HOME/.cache/gantry}"
dir="$cache/github-spec/openapi-${OPENAPI_VERSION}_webhooks-examples-${WEBHOOKS_EXAMPLES_VERSION}"
marker="$dir/.complete"

if [[ ! -f "$marker" ]]; then
	tmp="$(mktemp -d "$cache/github-spec.tmp.XXXXXX" 2>/dev/null || { mkdir -p "$cache" && mktemp -d "$cache/github-spec.tmp.XXXXXX"; })"
	trap 'rm -rf "$tmp"' EXIT
	(
		cd "$tmp"
		echo '{"name":"gantry-github-spec","private":true}' >package.json
		npm install --no-audit --no-fund --ignore-scripts --loglevel=error \
			"@octokit/openapi@${OPENAPI_VERSION}" \
			"@octokit/webhooks-examples@${WEBHOOKS_EXAMPLES_VERSION}" >&2
		touch .complete
	)
	mkdir -p "$(dirname "$dir")"
	rm -rf "$dir"
	mv "$tmp" "$dir"
	trap - EXIT
fi

echo "$dir"
