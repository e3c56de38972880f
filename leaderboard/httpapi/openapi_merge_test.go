package httpapi

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestMergeOpenAPI(t *testing.T) {
	other := `{"openapi": "3.0.3", "paths": {"/submissions": {"post": {"responses": {"400": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}}}},
		"/models/{hash}": {"delete": {"responses": {}}}},
		"components": {"schemas": {"Error": {"type": "object", "properties": {"problems": {"type": "array"}}}, "Accepted": {"type": "object"}}}}`
	out, err := mergeOpenAPI(openapiJSON, []API{{Name: "Submissions", Doc: []byte(other)}})
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths      map[string]map[string]json.RawMessage
		Components struct{ Schemas map[string]json.RawMessage }
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatal(err)
	}
	if _, ok := doc.Paths["/submissions"]["post"]; !ok {
		t.Error("the other document's path is missing")
	}
	if _, ok := doc.Paths["/models/{hash}"]["get"]; !ok {
		t.Error("the base document's GET /models/{hash} was lost")
	}
	if _, ok := doc.Paths["/models/{hash}"]["delete"]; !ok {
		t.Error("the other document's DELETE /models/{hash} is missing")
	}
	if _, ok := doc.Components.Schemas["SubmissionsError"]; !ok || !strings.Contains(string(doc.Paths["/submissions"]["post"]), "SubmissionsError") {
		t.Error("a clashing schema should be renamed with its references")
	}
	if !strings.Contains(string(doc.Components.Schemas["Error"]), "not_found") {
		t.Error("the base document's Error schema was replaced")
	}
	if _, err := mergeOpenAPI(openapiJSON, []API{{Name: "X", Doc: []byte(`{"paths": {"/leaderboard": {"get": {}}}}`)}}); err == nil {
		t.Error("a path and method defined twice should be refused")
	}
}
