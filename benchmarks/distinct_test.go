package benchmarks

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"hash/crc32"
	"slices"
	"testing"

	"github.com/cortexbench/cortexbench/storage/objstore"
)

// forgeCRC returns b with its last 4 bytes changed so that its CRC-32
// (IEEE) is want. The CRC of equal-length inputs is affine over GF(2), so
// the 32 suffix bits that reach want solve a 32×32 linear system.
func forgeCRC(t *testing.T, b []byte, want uint32) []byte {
	t.Helper()
	out := slices.Clone(b)
	n := len(out)
	clear(out[n-4:])
	zero := crc32.ChecksumIEEE(make([]byte, n))
	var cols [32]uint32 // the CRC change each suffix bit makes
	for k := range 32 {
		e := make([]byte, n)
		e[n-4+k/8] = 1 << (k % 8)
		cols[k] = crc32.ChecksumIEEE(e) ^ zero
	}
	rhs := want ^ crc32.ChecksumIEEE(out)
	// Gauss–Jordan on the rows of [cols | rhs], one row per CRC bit.
	var rows [32]uint64 // bits 0..31: the suffix bits' coefficients; bit 32: rhs
	for r := range 32 {
		for k := range 32 {
			rows[r] |= uint64(cols[k]>>r&1) << k
		}
		rows[r] |= uint64(rhs>>r&1) << 32
	}
	for k := range 32 {
		p := -1
		for r := k; r < 32; r++ {
			if rows[r]>>k&1 == 1 {
				p = r
				break
			}
		}
		if p < 0 {
			t.Fatal("the suffix cannot reach every CRC")
		}
		rows[k], rows[p] = rows[p], rows[k]
		for r := range 32 {
			if r != k && rows[r]>>k&1 == 1 {
				rows[r] ^= rows[k]
			}
		}
	}
	for k := range 32 {
		if rows[k]>>32&1 == 1 {
			out[n-4+k/8] |= 1 << (k % 8)
		}
	}
	if got := crc32.ChecksumIEEE(out); got != want {
		t.Fatalf("forged CRC %08x, want %08x", got, want)
	}
	return out
}

// Distinct finds the stimuli that repeat an earlier one's bytes: in a
// folder set by their files' hashes, in a zip set by CRC-32 and size
// confirmed by sha256, so two different members whose CRC and size agree
// (forged here) stay apart, and the same member named twice is merged.
func TestDistinct(t *testing.T) {
	ctx := t.Context()
	store := objstore.NewMemory()
	a := bytes.Repeat([]byte("image A "), 40)
	b := bytes.Repeat([]byte("image B "), 40)
	c := forgeCRC(t, bytes.Repeat([]byte("image C "), 40), crc32.ChecksumIEEE(a)) // a's CRC and size, other bytes
	if bytes.Equal(a, c) || len(a) != len(c) {
		t.Fatal("the forged member must differ from a in bytes only")
	}

	var zb bytes.Buffer
	z := newZip(&zb)
	for _, m := range []struct {
		name string
		data []byte
	}{{"a.png", a}, {"b.png", b}, {"a-again.png", a}, {"c.png", c}, {"dir/b-again.png", b}} {
		z.add(t, m.name, m.data)
	}
	z.close(t)
	zf, err := PutStimulusFile(ctx, store, "set.zip", zb.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	set := StimulusSet{Zip: &zf}
	for _, m := range []string{"a.png", "b.png", "a-again.png", "c.png", "dir/b-again.png", "c.png", "a.png"} {
		set.Stimuli = append(set.Stimuli, Stimulus{Name: m, Member: m})
	}
	first, err := NewStimuli(store, set).Distinct(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := []int{0, 1, 0, 3, 1, 3, 0}; !slices.Equal(first, want) {
		t.Fatalf("zip set: first of each = %v, want %v", first, want)
	}

	var folder StimulusSet
	for i, data := range [][]byte{b, a, c, b, b, a} {
		f, err := PutStimulusFile(ctx, store, string(rune('p'+i))+".png", data)
		if err != nil {
			t.Fatal(err)
		}
		folder.Stimuli = append(folder.Stimuli, Stimulus{Name: f.Path, File: &f})
	}
	first, err = NewStimuli(store, folder).Distinct(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := []int{0, 1, 2, 0, 0, 1}; !slices.Equal(first, want) {
		t.Fatalf("folder set: first of each = %v, want %v", first, want)
	}

	// A damaged archive is an error that says which stimulus, not an
	// answer.
	var missing StimulusSet
	missing.Zip = &zf
	missing.Stimuli = []Stimulus{{Name: "a.png", Member: "a.png"}, {Name: "gone.png", Member: "gone.png"}}
	if _, err := NewStimuli(store, missing).Distinct(ctx); err == nil {
		t.Fatal("a member missing from the archive must be an error")
	}
}

// SharedImages names, by sha256, the images that more than one set shows,
// whatever their file names and however stored (a zip member and a folder
// file with the same bytes are one image); a member whose CRC-32 and size
// agree with another set's (forged) but whose bytes differ is not shared,
// nor is an image only one set shows, however often it shows it.
func TestSharedImages(t *testing.T) {
	ctx := t.Context()
	store := objstore.NewMemory()
	// a and c: zip members only, of one size and CRC (c forged), so told
	// apart by their hashes; b and d: another size, b also a folder file.
	a := bytes.Repeat([]byte("image A "), 50)
	b := bytes.Repeat([]byte("image B "), 40)
	c := forgeCRC(t, bytes.Repeat([]byte("image C "), 50), crc32.ChecksumIEEE(a))
	d := bytes.Repeat([]byte("image D "), 40)
	zipSet := func(members map[string][]byte, order ...string) *Stimuli {
		var zb bytes.Buffer
		z := newZip(&zb)
		for name, data := range members {
			z.add(t, name, data)
		}
		z.close(t)
		zf, err := PutStimulusFile(ctx, store, "set.zip", zb.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		set := StimulusSet{Zip: &zf}
		for _, m := range order {
			set.Stimuli = append(set.Stimuli, Stimulus{Name: m, Member: m})
		}
		return NewStimuli(store, set)
	}
	s0 := zipSet(map[string][]byte{"a.png": a, "b.png": b, "c.png": c}, "a.png", "b.png", "c.png", "c.png")
	var folder StimulusSet
	for i, data := range [][]byte{d, b, d} {
		f, err := PutStimulusFile(ctx, store, string(rune('p'+i))+".png", data)
		if err != nil {
			t.Fatal(err)
		}
		folder.Stimuli = append(folder.Stimuli, Stimulus{Name: f.Path, File: &f})
	}
	s1 := NewStimuli(store, folder)
	s2 := zipSet(map[string][]byte{"x/other-name.png": a}, "x/other-name.png")
	ids, err := SharedImages(ctx, []*Stimuli{s0, s1, s2, s1})
	if err != nil {
		t.Fatal(err)
	}
	sum := func(x []byte) string { h := sha256.Sum256(x); return hex.EncodeToString(h[:]) }
	want := [][]string{{sum(a), sum(b), "", ""}, {"", sum(b), ""}, {sum(a)}, {"", sum(b), ""}}
	for k := range want {
		if !slices.Equal(ids[k], want[k]) {
			t.Fatalf("set %d: shared ids %q, want %q", k, ids[k], want[k])
		}
	}
}
