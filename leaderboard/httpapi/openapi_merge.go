package httpapi

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
)

// API is another OpenAPI 3 document served beside this one; Name prefixes
// its component names that clash with different definitions here.
type API struct {
	Name string
	Doc  []byte
}

// mergeOpenAPI adds the paths and components of more documents to base.
// A path and method defined twice is an error; a component defined twice
// differently is renamed Name+component in its document (references
// included).
func mergeOpenAPI(base []byte, more []API) ([]byte, error) {
	var doc map[string]any
	if err := json.Unmarshal(base, &doc); err != nil {
		return nil, err
	}
	paths, _ := doc["paths"].(map[string]any)
	comps, _ := doc["components"].(map[string]any)
	if comps == nil {
		comps = map[string]any{}
		doc["components"] = comps
	}
	for _, api := range more {
		var other map[string]any
		if err := json.Unmarshal(api.Doc, &other); err != nil {
			return nil, fmt.Errorf("%s: %w", api.Name, err)
		}
		// Rename clashing components, then parse again with the new names.
		raw := string(api.Doc)
		oc, _ := other["components"].(map[string]any)
		for kind, v := range oc {
			entries, _ := v.(map[string]any)
			dst, _ := comps[kind].(map[string]any)
			for name, spec := range entries {
				if have, ok := dst[name]; ok && !reflect.DeepEqual(have, spec) {
					raw = strings.ReplaceAll(raw, `"#/components/`+kind+`/`+name+`"`, `"#/components/`+kind+`/`+api.Name+name+`"`)
					entries[api.Name+name] = spec
					delete(entries, name)
				}
			}
		}
		var renamed map[string]any
		if err := json.Unmarshal([]byte(raw), &renamed); err != nil {
			return nil, fmt.Errorf("%s: %w", api.Name, err)
		}
		renamed["components"] = oc
		op, _ := renamed["paths"].(map[string]any)
		for p, v := range op {
			methods, _ := v.(map[string]any)
			have, ok := paths[p].(map[string]any)
			if !ok {
				paths[p] = methods
				continue
			}
			for meth, spec := range methods {
				if _, dup := have[meth]; dup {
					return nil, fmt.Errorf("%s: %s %s is defined twice", api.Name, meth, p)
				}
				have[meth] = spec
			}
		}
		for kind, v := range oc {
			entries, _ := v.(map[string]any)
			dst, _ := comps[kind].(map[string]any)
			if dst == nil {
				dst = map[string]any{}
				comps[kind] = dst
			}
			for name, spec := range entries {
				dst[name] = spec
			}
		}
	}
	return json.MarshalIndent(doc, "", "  ")
}
