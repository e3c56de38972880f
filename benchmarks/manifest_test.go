package benchmarks

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func TestParseManifestErrors(t *testing.T) {
	for _, c := range []struct{ name, edit, want string }{
		{"unknown nested key", "  licence: CC0-1.0\n", "  licence: CC0-1.0\n  licenses: MIT\n"},
		{"two kinds", "rdms: {file: rdms.npy}\n", "rdms: {file: rdms.npy}\nresponses: {file: r.npy}\n"},
		{"no kind", "rdms: {file: rdms.npy}\n", ""},
		{"bad comparison", "comparison: spearman", "comparison: kendall"},
		{"bad distance", "distance: correlation", "distance: mahalanobis"},
		{"npz without key", "file: rdms.npy", "file: rdms.npz"},
		{"csv as data", "file: rdms.npy", "file: rdms.csv"},
		{"ceiling none without reason", "{method: rsa-nili}", "{method: none}"},
		{"unknown ceiling", "{method: rsa-nili}", "{method: bootstrap}"},
		{"bad id", "id: test.valid", "id: ../etc"},
		{"citation not bibtex", `citation: "@misc`, `citation: "Tiny`},
		{"fraction", "selection_fraction: 0.5", "selection_fraction: 1.5"},
		{"second document", "", "---\nid: other\n"},
		{"backslash path", "dir: stimuli", `dir: 'sub\stimuli'`},
	} {
		t.Run(c.name, func(t *testing.T) {
			var src string
			if c.edit == "" {
				src = validManifest + c.want
			} else {
				src = strings.Replace(validManifest, c.edit, c.want, 1)
			}
			if src == validManifest {
				t.Fatal("edit did not apply")
			}
			_, err := ParseManifest("m.yaml", []byte(src))
			var ve *ValidationError
			if !errors.As(err, &ve) || ve.File != "m.yaml" {
				t.Fatalf("error %v: want a ValidationError naming m.yaml", err)
			}
			t.Log(err)
		})
	}
}

func TestParseManifestDefaults(t *testing.T) {
	m, err := ParseManifest("m.yaml", []byte(strings.Replace(validManifest, "rsa: {distance: correlation, comparison: spearman}", "rsa: {}", 1)))
	if err != nil {
		t.Fatal(err)
	}
	met, c, sp := m.settings()
	if met.Distance != "correlation" || met.Comparison != "spearman" || c.Method != CeilingRSANili || sp.Count != 4 || sp.SelectionFraction != 0.5 || !sp.StratifyByLabel || sp.Seed != 7 {
		t.Errorf("settings %+v %+v %+v", met, c, sp)
	}
}

func TestBuiltinManifestsParse(t *testing.T) {
	ms, err := Builtin()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for i, m := range ms {
		seen[m.ID] = true
		if m.Partner != "" && !seen[m.Partner] {
			t.Errorf("%s (position %d) comes before its partner %s", m.ID, i, m.Partner)
		}
	}
	if len(ms) != 9 {
		t.Errorf("%d built-in manifests, want 9", len(ms))
	}
}

// FuzzParseManifest checks that the parser never panics and that what it
// accepts survives a round trip through yaml.Marshal unchanged.
func FuzzParseManifest(f *testing.F) {
	f.Add([]byte(validManifest))
	ents, _ := os.ReadDir("catalogue")
	for _, e := range ents {
		if data, err := os.ReadFile(filepath.Join("catalogue", e.Name())); err == nil {
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseManifest("fuzz.yaml", data)
		if err != nil {
			var ve *ValidationError
			if !errors.As(err, &ve) || ve.File != "fuzz.yaml" {
				t.Fatalf("error %v does not name the file", err)
			}
			return
		}
		out, err := yaml.Marshal(m)
		if err != nil {
			t.Fatalf("marshal accepted manifest: %v", err)
		}
		m2, err := ParseManifest("fuzz.yaml", out)
		if err != nil {
			t.Fatalf("re-parse of\n%s\nfailed: %v", out, err)
		}
		if !reflect.DeepEqual(m, m2) {
			t.Fatalf("round trip changed the manifest:\n%#v\n%#v", m, m2)
		}
	})
}
