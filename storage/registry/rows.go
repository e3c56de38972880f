package registry

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/cortexbench/cortexbench/scoring"
)

// The row types are the only place gorm tags appear. Floats that may be NaN
// are pointers: NULL stands for NaN.

type modelRow struct {
	Hash          string `gorm:"primaryKey;size:64"` // the entry ID
	File          string `gorm:"not null;default:'';size:64;index"`
	Name          string `gorm:"not null;index"`
	Version       string `gorm:"not null;default:''"`
	Family        string `gorm:"not null;default:'';index"`
	TrainingData  string `gorm:"not null;default:''"`
	Params        int64  `gorm:"not null;default:0"`
	Preprocessing string `gorm:"type:text"` // JSON
	Owner         string `gorm:"not null;default:'';index"`
	CreatedAt     time.Time
	// Migration 8 (issue 17): what the submitter says about the model.
	Paper       string `gorm:"type:text;not null;default:''"`
	Description string `gorm:"type:text;not null;default:''"`
	License     string `gorm:"type:text;not null;default:''"`
	BibTeX      string `gorm:"column:bib_tex;type:text;not null;default:''"`
}

func (modelRow) TableName() string { return "models" }

type benchmarkRow struct {
	ID        string `gorm:"primaryKey"`
	Version   string `gorm:"primaryKey"`
	Parent    string `gorm:"not null;default:''"`
	Private   bool   `gorm:"not null;default:false"`
	Metadata  string `gorm:"type:text"` // JSON
	CreatedAt time.Time
}

func (benchmarkRow) TableName() string { return "benchmarks" }

type scoreRow struct {
	ID               int64  `gorm:"primaryKey;autoIncrement"`
	ModelHash        string `gorm:"not null;size:64;uniqueIndex:scores_key,priority:1"`
	ModelName        string `gorm:"not null;default:''"`
	BenchmarkID      string `gorm:"not null;index"`
	BenchmarkVersion string `gorm:"not null;uniqueIndex:scores_key,priority:2"`
	ScorerVersion    string `gorm:"not null;uniqueIndex:scores_key,priority:3"`

	Raw     *float64
	Ceiling *float64
	Ceiled  *float64
	SE      *float64 `gorm:"column:se"`
	CILow   *float64 `gorm:"column:ci_low"`
	CIHigh  *float64 `gorm:"column:ci_high"`

	Layer      string `gorm:"not null;default:''"`
	Selection  string `gorm:"not null;default:''"`
	Candidates string `gorm:"not null;default:''"`
	Layers     string `gorm:"type:text"` // JSON array of layerJSON
	Seed       int64  // the uint64 seed's bits
	// SelectionData is scoring.Selection as JSON; empty for rows stored
	// before migration 3 (the selection text alone).
	SelectionData string `gorm:"type:text;not null;default:''"`
	// Conventions is scoring.Conventions as JSON (issue 16); empty for
	// its zero value and for rows stored before migration 7, which read
	// back as the zero value.
	Conventions string `gorm:"type:text;not null;default:''"`

	ElapsedNanos int64
	PeakRSSBytes int64 `gorm:"column:peak_rss_bytes"`
	CreatedAt    time.Time
}

func (scoreRow) TableName() string { return "scores" }

// layerJSON is the stored form of scoring.LayerScore.
type layerJSON struct {
	Layer  string   `json:"layer"`
	Name   string   `json:"name,omitempty"` // absent in scores stored before issue 17
	Depth  float64  `json:"depth"`
	Raw    *float64 `json:"raw"`
	Ceiled *float64 `json:"ceiled"`
	SE     *float64 `json:"se"`
}

func modelToRow(m Model) modelRow {
	return modelRow{
		Hash: m.Hash, File: m.File, Name: m.Name, Version: m.Version, Family: m.Family, TrainingData: m.TrainingData,
		Params: m.Params, Preprocessing: string(m.Preprocessing), Owner: m.Owner, CreatedAt: m.CreatedAt.UTC(),
		Paper: m.Paper, Description: m.Description, License: m.License, BibTeX: m.BibTeX,
	}
}

func (r modelRow) toModel() Model {
	m := Model{
		Hash: r.Hash, File: r.File, Name: r.Name, Version: r.Version, Family: r.Family, TrainingData: r.TrainingData,
		Params: r.Params, Owner: r.Owner, CreatedAt: r.CreatedAt.UTC(),
		Paper: r.Paper, Description: r.Description, License: r.License, BibTeX: r.BibTeX,
	}
	if r.Preprocessing != "" {
		m.Preprocessing = json.RawMessage(r.Preprocessing)
	}
	return m
}

func benchmarkToRow(b Benchmark) benchmarkRow {
	return benchmarkRow{ID: b.ID, Version: b.Version, Parent: b.Parent, Private: b.Private, Metadata: string(b.Metadata), CreatedAt: b.CreatedAt.UTC()}
}

func (r benchmarkRow) toBenchmark() Benchmark {
	b := Benchmark{ID: r.ID, Version: r.Version, Parent: r.Parent, Private: r.Private, CreatedAt: r.CreatedAt.UTC()}
	if r.Metadata != "" {
		b.Metadata = json.RawMessage(r.Metadata)
	}
	return b
}

func scoreToRow(s scoring.Score) (scoreRow, error) {
	row := scoreRow{
		ModelHash: s.ModelHash, ModelName: s.ModelName, BenchmarkID: s.BenchmarkID,
		BenchmarkVersion: s.BenchmarkVersion, ScorerVersion: s.ScorerVersion,
		Raw: nullable(s.Raw), Ceiling: nullable(s.Ceiling), Ceiled: nullable(s.Ceiled),
		SE: nullable(s.SE), CILow: nullable(s.CILow), CIHigh: nullable(s.CIHigh),
		Layer: s.Layer, Selection: s.Selection, Candidates: s.Candidates,
		Seed: int64(s.Seed), ElapsedNanos: int64(s.Elapsed), PeakRSSBytes: s.PeakRSSBytes,
		CreatedAt: s.CreatedAt.UTC(),
	}
	if s.Layers != nil {
		layers := make([]layerJSON, len(s.Layers))
		for i, l := range s.Layers {
			layers[i] = layerJSON{Layer: l.Layer, Name: l.Name, Depth: l.Depth, Raw: nullable(l.Raw), Ceiled: nullable(l.Ceiled), SE: nullable(l.SE)}
		}
		data, err := json.Marshal(layers)
		if err != nil {
			return row, fmt.Errorf("encode layer profile: %w", err)
		}
		row.Layers = string(data)
	}
	if !isZeroSelection(s.SelectionData) {
		data, err := json.Marshal(s.SelectionData)
		if err != nil {
			return row, fmt.Errorf("encode selection: %w", err)
		}
		row.SelectionData = string(data)
	}
	if !s.Conventions.IsZero() {
		data, err := json.Marshal(s.Conventions)
		if err != nil {
			return row, fmt.Errorf("encode conventions: %w", err)
		}
		row.Conventions = string(data)
	}
	return row, nil
}

func isZeroSelection(s scoring.Selection) bool {
	return s.Method == "" && s.Splits == 0 && s.Seed == 0 && s.Partner == "" && s.PerSplit == nil && s.Chosen == nil &&
		s.Values == nil && s.LayerValues == nil && s.Sets == nil
}

func (r scoreRow) toScore() (scoring.Score, error) {
	s := scoring.Score{
		ModelHash: r.ModelHash, ModelName: r.ModelName, BenchmarkID: r.BenchmarkID,
		BenchmarkVersion: r.BenchmarkVersion, ScorerVersion: r.ScorerVersion,
		Raw: fromNullable(r.Raw), Ceiling: fromNullable(r.Ceiling), Ceiled: fromNullable(r.Ceiled),
		SE: fromNullable(r.SE), CILow: fromNullable(r.CILow), CIHigh: fromNullable(r.CIHigh),
		Layer: r.Layer, Selection: r.Selection, Candidates: r.Candidates,
		Seed: uint64(r.Seed), Elapsed: time.Duration(r.ElapsedNanos), PeakRSSBytes: r.PeakRSSBytes,
		CreatedAt: r.CreatedAt.UTC(),
	}
	if r.Layers != "" {
		var layers []layerJSON
		if err := json.Unmarshal([]byte(r.Layers), &layers); err != nil {
			return s, fmt.Errorf("registry: decode layer profile of score %d: %w", r.ID, err)
		}
		s.Layers = make([]scoring.LayerScore, len(layers))
		for i, l := range layers {
			s.Layers[i] = scoring.LayerScore{Layer: l.Layer, Name: l.Name, Depth: l.Depth, Raw: fromNullable(l.Raw), Ceiled: fromNullable(l.Ceiled), SE: fromNullable(l.SE)}
		}
	}
	if r.SelectionData != "" {
		if err := json.Unmarshal([]byte(r.SelectionData), &s.SelectionData); err != nil {
			return s, fmt.Errorf("registry: decode selection of score %d: %w", r.ID, err)
		}
	}
	if r.Conventions != "" {
		if err := json.Unmarshal([]byte(r.Conventions), &s.Conventions); err != nil {
			return s, fmt.Errorf("registry: decode conventions of score %d: %w", r.ID, err)
		}
	}
	return s, nil
}
