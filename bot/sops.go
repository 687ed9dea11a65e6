package bot

import (
	"fmt"

	"github.com/gantryops/gantry/config"
	"github.com/gantryops/gantry/sopsdecrypt"
)

// LoadSOPSKeys reads the age key file of every sops entry of the server
// configuration, once, when the server starts: a key file that cannot be
// read or parsed stops it, naming the entry.
func LoadSOPSKeys(cfg *config.Server) (map[string]*sopsdecrypt.Keys, error) {
	out := map[string]*sopsdecrypt.Keys{}
	for i, e := range cfg.SOPS {
		if _, done := out[e.AgeKeyFile]; done {
			continue
		}
		k, err := sopsdecrypt.LoadKeyFile(e.AgeKeyFile)
		if err != nil {
			return nil, fmt.Errorf("%s: sops[%d].ageKeyFile: %w", cfg.File, i, err)
		}
		out[e.AgeKeyFile] = k
	}
	return out, nil
}

// sopsFor returns the age keys that open repo's ("owner/name") SOPS
// files: those of every sops entry matching it; nil when none does.
func (p *Pipeline) sopsFor(repo string) *sopsdecrypt.Keys {
	if p.Config == nil || repo == "" {
		return nil
	}
	var ks []*sopsdecrypt.Keys
	for _, f := range p.Config.SOPSKeyFiles(repo) {
		ks = append(ks, p.SOPS[f])
	}
	return sopsdecrypt.Join(ks...)
}
