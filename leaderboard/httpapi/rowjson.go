package httpapi

import (
	"encoding/json"
	"math"
	"strconv"

	"github.com/cortexbench/cortexbench/leaderboard/wire"
)

// appendRow appends r encoded exactly as json.Marshal(r) encodes it
// (TestAppendRowIsMarshal checks), without reflection and without the
// validation json.Marshal makes of every Num's MarshalJSON output: most
// of a ranking's cost at 1000 models × 20 benchmarks (issue 15). A string
// that is not plain printable ASCII is left to json.Marshal, for its
// escaping rules.
func appendRow(b []byte, r *wire.Row) ([]byte, error) {
	var err error
	b = append(b, `{"rank":`...)
	b = strconv.AppendInt(b, int64(r.Rank), 10)
	b = append(b, `,"model":{"hash":`...)
	m := &r.Model
	if b, err = appendString(b, m.Hash); err != nil {
		return nil, err
	}
	b = append(b, `,"name":`...)
	if b, err = appendString(b, m.Name); err != nil {
		return nil, err
	}
	b = append(b, `,"family":`...)
	if b, err = appendString(b, m.Family); err != nil {
		return nil, err
	}
	for _, f := range []struct{ name, v string }{{"version", m.Version}, {"training_data", m.TrainingData}} {
		if f.v != "" {
			b = append(append(append(b, `,"`...), f.name...), `":`...)
			if b, err = appendString(b, f.v); err != nil {
				return nil, err
			}
		}
	}
	if m.Params != 0 {
		b = append(b, `,"params":`...)
		b = strconv.AppendInt(b, m.Params, 10)
	}
	for _, f := range []struct{ name, v string }{{"file", m.File}, {"preprocessing", m.Preprocessing}} {
		if f.v != "" {
			b = append(append(append(b, `,"`...), f.name...), `":`...)
			if b, err = appendString(b, f.v); err != nil {
				return nil, err
			}
		}
	}
	b = append(b, `},"average":`...)
	b = appendNum(b, float64(r.Average), 6)
	b = append(b, `,"average_se":`...)
	b = appendNum(b, float64(r.AverageSE), 4)
	b = append(b, `,"average_ci":[`...)
	b = appendNum(b, float64(r.AverageCI[0]), 4)
	b = append(b, ',')
	b = appendNum(b, float64(r.AverageCI[1]), 4)
	b = append(b, `],"coverage":{"scored":`...)
	b = strconv.AppendInt(b, int64(r.Coverage.Scored), 10)
	b = append(b, `,"total":`...)
	b = strconv.AppendInt(b, int64(r.Coverage.Total), 10)
	b = append(b, `},"partial":`...)
	b = strconv.AppendBool(b, r.Partial)
	b = append(b, `,"differs_from_next":`...)
	if r.DiffersFromNext == nil {
		b = append(b, "null"...)
	} else {
		b = strconv.AppendBool(b, *r.DiffersFromNext)
	}
	b = append(b, `,"complete":`...)
	b = strconv.AppendBool(b, r.Complete)
	b = append(b, `,"missing":`...)
	if r.Missing == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, s := range r.Missing {
			if i > 0 {
				b = append(b, ',')
			}
			if b, err = appendString(b, s); err != nil {
				return nil, err
			}
		}
		b = append(b, ']')
	}
	b = append(b, `,"parent_means":`...)
	if r.ParentMeans == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, p := range r.ParentMeans {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"parent":`...)
			if b, err = appendString(b, p.Parent); err != nil {
				return nil, err
			}
			b = append(b, `,"mean":`...)
			b = appendNum(b, float64(p.Mean), 6)
			b = append(b, `,"se":`...)
			b = appendNum(b, float64(p.SE), 4)
			b = append(b, `,"ci":[`...)
			b = appendNum(b, float64(p.CI[0]), 4)
			b = append(b, ',')
			b = appendNum(b, float64(p.CI[1]), 4)
			b = append(b, ']')
			b = append(b, `,"scored":`...)
			b = strconv.AppendInt(b, int64(p.Scored), 10)
			b = append(b, `,"total":`...)
			b = strconv.AppendInt(b, int64(p.Total), 10)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	b = append(b, `,"scores":`...)
	if r.Scores == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, c := range r.Scores {
			if i > 0 {
				b = append(b, ',')
			}
			if c == nil {
				b = append(b, "null"...)
				continue
			}
			b = append(b, `{"ceiled":`...)
			b = appendNum(b, float64(c.Ceiled), 4)
			b = append(b, `,"ceiled_se":`...)
			b = appendNum(b, float64(c.CeiledSE), 4)
			b = append(b, `,"ceiled_ci":[`...)
			b = appendNum(b, float64(c.CeiledCI[0]), 4)
			b = append(b, ',')
			b = appendNum(b, float64(c.CeiledCI[1]), 4)
			b = append(b, `],"layer":`...)
			if b, err = appendString(b, c.Layer); err != nil {
				return nil, err
			}
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	return append(b, '}'), nil
}

// appendNum is wire.Num's (prec 6) and wire.Num4's (prec 4) MarshalJSON.
func appendNum(b []byte, x float64, prec int) []byte {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return append(b, "null"...)
	}
	return strconv.AppendFloat(b, x, 'g', prec, 64)
}

// appendString appends s quoted as json.Marshal quotes it.
func appendString(b []byte, s string) ([]byte, error) {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, err := json.Marshal(s)
			if err != nil {
				return nil, err
			}
			return append(b, q...), nil
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"'), nil
}
