package models

import "testing"

func TestSelectLayers(t *testing.T) {
	layers := []Layer{{ID: "L000.Conv", PerStimulus: true}, {ID: "L001.ConstantOfShape"}, {ID: "L002.Relu", PerStimulus: true}}
	all, err := SelectLayers(layers, nil)
	if err != nil || len(all) != 2 || all[1].ID != "L002.Relu" {
		t.Fatalf("all: %v %v", all, err)
	}
	some, err := SelectLayers(layers, []string{"L002.Relu", "L000.Conv"})
	if err != nil || some[0].ID != "L002.Relu" {
		t.Fatalf("some: %v %v", some, err)
	}
	for _, bad := range []string{"L009.Nope", "L001.ConstantOfShape"} {
		if _, err := SelectLayers(layers, []string{bad}); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}
