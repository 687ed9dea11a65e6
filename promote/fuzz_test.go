package promote

import "testing"

// FuzzMergeYAML: the three files of a promotion come from a pull request
// and the target's source, so any bytes may reach the merge. It must never
// panic, and a merge it accepts must be YAML again.
func FuzzMergeYAML(f *testing.F) {
	f.Add([]byte(stagingKust), []byte(stagingKust+"namespace: x\n"), []byte(prodKust))
	f.Add([]byte("a: 1\nb: [x, y]\n"), []byte("a: 2\nb: [x, z]\n"), []byte("a: 1 # one\nb: [x, y]\n"))
	f.Add([]byte("kind: Secret\nmetadata: {name: s}\ndata: {k: YQ==}\n"), []byte("kind: Secret\nmetadata: {name: s}\ndata: {k: Yg==}\n"), []byte("kind: Secret\nmetadata: {name: s}\ndata: {k: YQ==}\n"))
	f.Add([]byte("---\n- name: a\n  v: 1\n"), []byte("- name: a\n  v: 2\n- name: b\n"), []byte("- &x {name: a, v: 1}\n- *x\n"))
	f.Fuzz(func(t *testing.T, before, after, cur []byte) {
		m, err := mergeYAML(before, after, cur)
		if err != nil || m == nil || m.out == nil {
			return
		}
		if _, err := parseDocs(m.out); err != nil {
			t.Fatalf("the merge wrote a file that is not YAML: %v\n%s", err, m.out)
		}
	})
}
