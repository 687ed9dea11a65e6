package render

import (
	"path"
	"strings"

	"github.com/gantryops/gantry/config"
)

// manifestExts are the file extensions a plain-YAML app is made of.
var manifestExts = []string{".yaml", ".yml", ".json"}

// renderPlain decodes every manifest file under the app's path, in sorted
// order, skipping hidden names and the app's exclude globs.
func renderPlain(f *repoFS, app config.App) ([]rendered, []error) {
	files, err := f.listFiles(app.Path, true)
	if err != nil {
		return nil, []error{locate(err, app.Path, "list manifests: %v", err)}
	}
	var out []rendered
	var errs []error
	for _, file := range files {
		if !isManifest(file) || excluded(app, file) {
			continue
		}
		data, err := f.ReadFile(file)
		if err != nil {
			errs = append(errs, locate(err, file, "%v", err))
			continue
		}
		docs, err := f.decode(file, data)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if _, docs, err = f.decryptManifest(file, data, docs); err != nil {
			errs = append(errs, err)
			continue
		}
		objs, oerrs := objectsFromDocs(file, docs)
		out = append(out, objs...)
		errs = append(errs, oerrs...)
	}
	return out, errs
}

// isManifest reports whether a file name has a manifest extension.
func isManifest(name string) bool {
	ext := strings.ToLower(path.Ext(name))
	for _, e := range manifestExts {
		if ext == e {
			return true
		}
	}
	return false
}

// excluded reports whether a repository path matches one of the app's
// exclude globs, which are relative to the app's path.
func excluded(app config.App, file string) bool {
	rel := strings.TrimPrefix(file, strings.TrimSuffix(pathJoin(app.Path), "/")+"/")
	if pathJoin(app.Path) == "." {
		rel = file
	}
	for _, g := range app.Exclude {
		if matchGlob(g, rel) {
			return true
		}
	}
	return false
}
