package cli

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gantryops/gantry/config"
	"github.com/gantryops/gantry/policy"
	"github.com/gantryops/gantry/policy/starter"
)

// policyFlags select the policy sets: the repository's own (from
// .gantry.yaml) and directories given with --policy, taken as trusted,
// like a server's.
type policyFlags struct {
	dirs    []string
	noRepo  bool
	starter bool
	// pack tunes the starter pack when starter is set.
	pack starter.Settings
}

func (f *policyFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringSliceVar(&f.dirs, "policy", nil, "policy directory, trusted like a server's (repeatable)")
	cmd.Flags().BoolVar(&f.noRepo, "no-repo-policies", false, "leave out the policies .gantry.yaml lists")
	cmd.Flags().BoolVar(&f.starter, "starter-pack", false, "add gantry's starter policy pack (`gantry policy starter-pack` lists its rules)")
	cmd.Flags().StringSliceVar(&f.pack.Exclude, "starter-exclude", nil, "starter-pack rule IDs to leave out (repeatable)")
	cmd.Flags().BoolVar(&f.pack.AllowNodePort, "starter-allow-nodeport", false, "turn the starter pack's no-nodeport rule off")
}

// sources returns the policy sets: each --policy directory, then the
// repository's policies.paths. A directory given twice, by any spelling
// (./p, p/, a symbolic link to it), is one set, or its tests would run and
// its findings count twice; the first spelling wins, so a directory given
// with --policy stays trusted. Each dropped duplicate is noted on w.
func (f *policyFlags) sources(repoDir string, w io.Writer) ([]policy.Source, error) {
	var out []policy.Source
	seen := map[string]string{} // directory key -> how it was given first
	dup := func(dir, given string) bool {
		k := dirKey(dir)
		if first, ok := seen[k]; ok {
			fmt.Fprintf(w, "gantry: note: %s is the same directory as %s: its policies are loaded once, as %s\n", given, first, first)
			return true
		}
		seen[k] = given
		return false
	}
	for _, d := range f.dirs {
		if dup(d, "--policy "+d) {
			continue
		}
		out = append(out, policy.Source{Name: fmt.Sprintf("policy-%d", len(out)+1), Dir: d, Prefix: filepath.Clean(d), Trust: policy.Trusted, Namespaces: []string{"*"}})
	}
	if f.starter {
		src, err := starter.Source(f.pack)
		if err != nil {
			return nil, fmt.Errorf("--starter-exclude: %w", err)
		}
		out = append(out, src)
	} else if len(f.pack.Exclude) > 0 || f.pack.AllowNodePort {
		return nil, fmt.Errorf("--starter-exclude and --starter-allow-nodeport need --starter-pack")
	}
	if f.noRepo {
		return out, nil
	}
	repo, err := config.LoadRepo(repoDir, nil)
	if err != nil {
		return nil, err
	}
	for i, p := range repo.Policies.Paths {
		if dup(filepath.Join(repoDir, filepath.FromSlash(p)), fmt.Sprintf("policies.paths[%d] %s in %s", i, p, config.RepoFileName)) {
			continue
		}
		src, err := policy.RepoSource(repoDir, p, repo.Policies.Namespaces)
		if err != nil {
			return nil, err
		}
		out = append(out, src)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no policies: give --policy DIR or --starter-pack, or list policies.paths in %s", filepath.Join(repoDir, config.RepoFileName))
	}
	return out, nil
}

// dirKey is the same for every spelling of one directory: absolute,
// cleaned, and with symbolic links resolved when it exists.
func dirKey(dir string) string {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return filepath.Clean(dir)
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		return real
	}
	return abs
}

// warnUnevaluated prints each policy file whose rules never fire, because
// its package is not among the namespaces its set evaluates.
func warnUnevaluated(w io.Writer, us []policy.Unevaluated) {
	for _, u := range us {
		fmt.Fprintf(w, "gantry: warning: %s\n", u)
	}
}

func newPolicyCmd() *cobra.Command {
	var rf repoFlags
	var pf policyFlags
	var output string
	cmd := &cobra.Command{
		Use:   "policy [--repo D] [--app A] [--policy D...] [--starter-pack] [-o text|json]",
		Short: "Evaluate Rego policies on the rendered objects (exit 0 none, 1 on a deny, 2 on an error)",
		Long: `Policy renders each app and judges its objects with Rego: conftest-style
policies (deny, violation, warn), Gatekeeper ConstraintTemplates with their
constraints, and gantry's own policies (packages gantry.*); with
--starter-pack, also gantry's starter pack. Without a cluster every object
is judged as a create, and the starter pack's pdb rule sees only the
rendered PodDisruptionBudgets. Findings name the object and the file and
line that produced it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output != "text" && output != "json" {
				return exitWith(ExitError, fmt.Errorf("-o %q: want text or json", output))
			}
			sources, err := pf.sources(rf.repo, cmd.ErrOrStderr())
			if err != nil {
				return exitWith(ExitError, err)
			}
			engine, err := policy.Load(cmd.Context(), sources)
			if err != nil {
				return exitWith(ExitError, err)
			}
			warnUnevaluated(cmd.ErrOrStderr(), engine.Unevaluated())
			rs, renderFailed, err := renderRepo(cmd, rf)
			if err != nil {
				return exitWith(ExitError, err)
			}
			var in policy.Input
			for _, r := range rs {
				for _, o := range r.objects {
					src, _ := r.sources.Of(o)
					in.Objects = append(in.Objects, policy.Object{Obj: o, App: r.app.Name, Cluster: r.app.Cluster, Action: policy.ActionCreate, File: src.File, Line: src.Line, Decrypted: src.Decrypted})
				}
			}
			res, err := engine.Evaluate(cmd.Context(), in)
			if err != nil {
				return exitWith(ExitError, err)
			}
			write := policy.WriteText
			if output == "json" {
				write = policy.WriteJSON
			}
			if err := write(cmd.OutOrStdout(), res); err != nil {
				return exitWith(ExitError, err)
			}
			switch {
			case res.Err() != nil || renderFailed:
				return exitWith(ExitError, nil)
			case res.Denies() > 0:
				return exitWith(ExitFinding, nil)
			}
			return nil
		},
	}
	rf.register(cmd)
	pf.register(cmd)
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	cmd.AddCommand(newPolicyTestCmd(), newStarterPackCmd())
	return cmd
}

func newStarterPackCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "starter-pack",
		Short: "List the starter policy pack's rules, their IDs and the exception annotation",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var b strings.Builder
			for _, r := range starter.Rules {
				fmt.Fprintf(&b, "%-24s %s\n", r.ID, r.Summary)
			}
			fmt.Fprintf(&b, "\nWaive a rule on one object with a reason, one per line:\n  metadata.annotations.%s: \"<rule-id>: <reason>\"\n", starter.AllowAnnotation)
			if _, err := io.WriteString(cmd.OutOrStdout(), b.String()); err != nil {
				return exitWith(ExitError, err)
			}
			return nil
		},
	}
}

func newPolicyTestCmd() *cobra.Command {
	var pf policyFlags
	var repoDir, output, run string
	cmd := &cobra.Command{
		Use:   "test [--policy D...] [--starter-pack] [--repo D]",
		Short: "Run the policies' own _test.rego tests, like opa test (exit 1 when one fails)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			sources, err := pf.sources(repoDir, cmd.ErrOrStderr())
			if err != nil {
				return exitWith(ExitError, err)
			}
			results, err := policy.RunTests(cmd.Context(), sources, policy.TestOptions{Run: run, Unevaluated: func(u policy.Unevaluated) {
				warnUnevaluated(cmd.ErrOrStderr(), []policy.Unevaluated{u})
			}})
			if err != nil {
				return exitWith(ExitError, err)
			}
			write := policy.WriteTestText
			if output == "json" {
				write = policy.WriteTestJSON
			}
			if err := write(cmd.OutOrStdout(), results); err != nil {
				return exitWith(ExitError, err)
			}
			if !policy.TestsPassed(results) {
				return exitWith(ExitFinding, nil)
			}
			return nil
		},
	}
	pf.register(cmd)
	cmd.Flags().StringVar(&repoDir, "repo", ".", "the GitOps repository's root directory")
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	cmd.Flags().StringVar(&run, "run", "", "only tests whose name matches this regular expression")
	return cmd
}
