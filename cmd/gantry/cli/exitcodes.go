package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

// exitCode is one exit code a command returns and when.
type exitCode struct {
	code int
	when string
}

// configError is the shared meaning of ExitError for commands that render
// a repository's apps.
const configError = "a configuration or input error: an invalid .gantry.yaml, no apps found, an unknown --app, a bad flag"

// exitCodes is what each command's exit codes mean, by its path under
// gantry; it is the one place they are documented, appended to each
// command's --help, and TestExitCodesMatchHelp runs each against the code.
var exitCodes = map[string][]exitCode{
	"render": {
		{ExitOK, "every app rendered"},
		{ExitFinding, "an app failed to render (each error on stderr with app, file and line; the other apps are still printed)"},
		{ExitError, configError},
	},
	"policy": {
		{ExitOK, "no denies (warnings do not count)"},
		{ExitFinding, "a policy denies an object"},
		{ExitError, "an app failed to render, a policy failed to compile or evaluate, or " + configError},
	},
	"policy starter-pack": {
		{ExitOK, "the rules were listed"},
		{ExitError, "a bad flag"},
	},
	"policy test": {
		{ExitOK, "every test passed"},
		{ExitFinding, "a test failed or errored"},
		{ExitError, "a policy failed to compile, no policies were given, an invalid .gantry.yaml, or a bad flag"},
	},
	"diff": {
		{ExitOK, "the cluster matches the repository (--offline: every object passes the schema)"},
		{ExitFinding, "applying would change the cluster (--offline: an object fails the schema)"},
		{ExitError, "an app failed to render, the cluster refused a dry-run or could not be reached, or " + configError},
	},
	"apply": {
		{ExitOK, "every app applied (and healthy, with --wait)"},
		{ExitFinding, "an object failed to apply, or an app is unhealthy"},
		{ExitError, "an app failed to render (nothing is applied), the cluster could not be reached, or " + configError},
	},
	"drift": {
		{ExitOK, "no drift"},
		{ExitFinding, "an app drifted"},
		{ExitError, "an app failed to render, the cluster refused a read or could not be reached, or " + configError},
	},
	"sandbox": {
		{ExitOK, "every step of the story behaved (or Ctrl-C stopped a sandbox whose story passed)"},
		{ExitFinding, "a step of the story did not behave"},
		{ExitError, "the sandbox could not start, or a bad flag"},
	},
	"serve": {
		{ExitOK, "stopped by a signal after a clean shutdown"},
		{ExitError, "a bad configuration, key, secret or policy, or the server failed"},
	},
	"render-worker": {
		{ExitOK, "the answer was written, render errors included"},
		{ExitError, "the request did not decode or the answer could not be written"},
	},
	"app-manifest": {
		{ExitOK, "the manifest was printed"},
		{ExitError, "a missing or bad flag"},
	},
	"version": {
		{ExitOK, "always"},
	},
}

// documentExitCodes appends each command's exit codes to its --help.
func documentExitCodes(root *cobra.Command) {
	for _, c := range root.Commands() {
		documentExitCodes(c)
	}
	codes, ok := exitCodes[strings.TrimPrefix(root.CommandPath(), root.Root().Name()+" ")]
	if !ok {
		return
	}
	var b strings.Builder
	b.WriteString("\n\nExit codes:\n")
	for _, c := range codes {
		fmt.Fprintf(&b, "  %d  %s\n", c.code, c.when)
	}
	long := root.Long
	if long == "" {
		long = root.Short + "."
	}
	root.Long = long + strings.TrimRight(b.String(), "\n")
}
