package httpapi

import (
	"slices"

	"github.com/gin-gonic/gin"

	"github.com/cortexbench/cortexbench/leaderboard"
	"github.com/cortexbench/cortexbench/leaderboard/wire"
	"github.com/cortexbench/cortexbench/models"
)

// profileOf checks a profile request and returns the model, the
// benchmark and the score; a private benchmark's profile is withheld
// (as its RDMs are), checked before anything is read.
func (s *Server) profileOf(c *gin.Context) (*state, wire.Profile, error) {
	hash, id := c.Param("hash"), c.Param("id")
	if err := checkHash(hash); err != nil {
		return nil, wire.Profile{}, err
	}
	if err := checkID(id); err != nil {
		return nil, wire.Profile{}, err
	}
	if err := noQuery(c); err != nil {
		return nil, wire.Profile{}, err
	}
	st, err := s.current(c.Request.Context())
	if err != nil {
		return nil, wire.Profile{}, err
	}
	m, ok := st.ix.Model(hash)
	if !ok {
		return nil, wire.Profile{}, leaderboard.Errorf(leaderboard.ENOTFOUND, "no model with hash %s; list them at /api/v1/models", hash)
	}
	b, ok := st.ix.Benchmark(id)
	if !ok {
		return nil, wire.Profile{}, leaderboard.Errorf(leaderboard.ENOTFOUND, "no benchmark %q; list them at /api/v1/benchmarks", id)
	}
	if b.Private {
		return nil, wire.Profile{}, leaderboard.Errorf(leaderboard.EFORBIDDEN, "benchmark %s is private: its per-layer profiles are never published", id)
	}
	sc, ok := st.ix.Score(hash, id)
	if !ok {
		return nil, wire.Profile{}, leaderboard.Errorf(leaderboard.ENOTFOUND, "model %s (%s) has no score on %s; its scores are listed at /api/v1/models/%s", m.Name, hash, id, hash)
	}
	return st, wire.FromProfile(m, b, sc), nil
}

// getProfileJSON serves a model's per-layer profile on one benchmark
// (issue 17): every layer's raw and ceiled score and SE as stored.
func (s *Server) getProfileJSON(c *gin.Context) error {
	st, p, err := s.profileOf(c)
	if err != nil {
		return err
	}
	e, err := st.get(s, "profile.json/"+p.ModelHash+"/"+p.BenchmarkID, "application/json", func() ([]byte, error) { return marshal(p) })
	if err != nil {
		return err
	}
	serveEntry(c, e, s.apiCache())
	return nil
}

// getProfileCSV is getProfileJSON as a CSV download.
func (s *Server) getProfileCSV(c *gin.Context) error {
	st, p, err := s.profileOf(c)
	if err != nil {
		return err
	}
	e, err := st.get(s, "profile.csv/"+p.ModelHash+"/"+p.BenchmarkID, csvType, func() ([]byte, error) { return wire.ProfileCSV(p) })
	if err != nil {
		return err
	}
	// The benchmark id is checked by idRE: safe in a quoted filename.
	c.Header("Content-Disposition", `attachment; filename="profile-`+p.ModelHash[:12]+`-`+p.BenchmarkID+`.csv"`)
	serveEntry(c, e, s.apiCache())
	return nil
}

// Preset is a named preprocessing spec and its canonical text.
type Preset struct {
	Name string `json:"name"`
	Spec string `json:"spec"`
}

// Presets is GET /api/v1/preprocessing/presets: the named specs a
// submission's preprocessing may start from (the upload form's choices).
type Presets struct {
	Presets []Preset `json:"presets"`
	Grammar string   `json:"grammar"`
}

// presetsGrammar says the spec grammar in one line (models.ParseSpec).
const presetsGrammar = "a preset name, optionally followed by overrides (imagenet_nchw,crop=1), or comma-separated key=value pairs: " +
	"size, resize, crop, aspect (keep|stretch), mean, std, offset, scale (colon-separated, one value or one per channel), " +
	"channels, order (RGB|BGR), layout (NCHW|NHWC), pixel (float|uint8), fov (degrees); mean/std apply to pixels in [0,1], offset/scale to 0–255"

func (s *Server) getPresets(c *gin.Context) error {
	if err := noQuery(c); err != nil {
		return err
	}
	out := Presets{Grammar: presetsGrammar, Presets: make([]Preset, 0, len(models.Builtins))}
	for name, spec := range models.Builtins {
		out.Presets = append(out.Presets, Preset{Name: name, Spec: spec.String()})
	}
	slices.SortFunc(out.Presets, func(a, b Preset) int {
		if a.Name < b.Name {
			return -1
		}
		if a.Name > b.Name {
			return 1
		}
		return 0
	})
	body, err := marshal(out)
	if err != nil {
		return err
	}
	serveEntry(c, newEntry("application/json", body), s.apiCache())
	return nil
}
