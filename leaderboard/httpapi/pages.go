package httpapi

import (
	"bytes"
	"compress/flate"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/cortexbench/cortexbench/leaderboard"
	"github.com/cortexbench/cortexbench/leaderboard/wire"
)

// Leaderboard pages are sliced from one ranking per filter (issue 15,
// finding 7): a filter is ranked and every row encoded as JSON once per
// generation (and as a deflate chunk, alone or in a block of rows, the
// first time a page needs it); a page of any offset and limit is
// then the concatenation of the document's head, its rows and its tail,
// byte for byte what json.Marshal(wire.FromLeaderboard(...)) gives, and
// its gzip form the concatenation of the pre-compressed rows. A page
// costs copying and hashing its bytes, not ranking and compressing them.

// rankedBoard is one filter's leaderboard, encoded row by row. The
// deflate chunks of rows and blocks are compressed on the first page
// that needs them: a ranking is ready once its rows are JSON (a page
// touches at most 2×(blockRows-1) single rows and limit/blockRows blocks,
// so compressing all 1000 rows one by one up front was most of a
// ranking's cost, issue 15). Deflate is deterministic, so a chunk is the
// same bytes whoever compresses it first.
type rankedBoard struct {
	filter     leaderboard.Filter
	head, tail []byte                   // the document around `,"offset":N,"rows":[...]`
	rows       [][]byte                 // each row's JSON
	zhead      []byte                   // deflate chunk (sync-flushed) of head
	ztail      []byte                   // deflate chunk of "]" + tail
	zrows      []atomic.Pointer[[]byte] // deflate chunks of each row, once compressed
	zblocks    []atomic.Pointer[[]byte] // deflate chunks of rows [i*blockRows, (i+1)*blockRows), comma-joined
}

// zrow returns row k's deflate chunk, compressing it on first use.
func (rb *rankedBoard) zrow(k int) []byte {
	if z := rb.zrows[k].Load(); z != nil {
		return *z
	}
	// The fastest level: half the CPU of the default for 17% more bytes.
	z := deflateChunk(rb.rows[k], flate.BestSpeed)
	rb.zrows[k].Store(&z)
	return z
}

// zblock returns block i's deflate chunk, compressing it on first use.
func (rb *rankedBoard) zblock(i int) []byte {
	if z := rb.zblocks[i].Load(); z != nil {
		return *z
	}
	lo := i * blockRows
	n := blockRows - 1
	for k := lo; k < lo+blockRows; k++ {
		n += len(rb.rows[k])
	}
	block := make([]byte, 0, n)
	block = append(block, rb.rows[lo]...)
	for k := lo + 1; k < lo+blockRows; k++ {
		block = append(block, ',')
		block = append(block, rb.rows[k]...)
	}
	z := deflateChunk(block, flate.BestSpeed)
	rb.zblocks[i].Store(&z)
	return z
}

// blockRows is the rows compressed together for the inner part of a
// gzip page: rows compressed one by one lose the repetition between rows
// (a page twice as large as compressed whole); in blocks they keep most of it.
const blockRows = 16

// rowsMark is where the template document (offset 0, no rows) is cut.
const rowsMark = `,"offset":0,"rows":[]`

// newRankedBoard ranks f and encodes the result.
func newRankedBoard(ix *leaderboard.Index, f leaderboard.Filter) (*rankedBoard, error) {
	lb := ix.Rank(f)
	doc := wire.FromLeaderboard(lb, 0, -1)
	rows := doc.Rows
	doc.Rows = []wire.Row{}
	tmpl, err := marshal(doc)
	if err != nil {
		return nil, err
	}
	if bytes.Count(tmpl, []byte(rowsMark)) != 1 {
		return nil, fmt.Errorf("leaderboard document has %d %q marks, want 1", bytes.Count(tmpl, []byte(rowsMark)), rowsMark)
	}
	i := bytes.Index(tmpl, []byte(rowsMark))
	rb := &rankedBoard{filter: f, head: tmpl[:i], tail: tmpl[i+len(rowsMark):], rows: make([][]byte, len(rows)),
		zrows: make([]atomic.Pointer[[]byte], len(rows)), zblocks: make([]atomic.Pointer[[]byte], len(rows)/blockRows)}
	rb.zhead = deflateChunk(rb.head, flate.DefaultCompression)
	rb.ztail = deflateChunk(append([]byte{']'}, rb.tail...), flate.DefaultCompression)
	// The rows are encoded into one buffer (grown a few times, not a
	// thousand) and sliced from it, each capped at its end.
	var all []byte
	ends := make([]int, len(rows))
	for k := range rows {
		if all, err = appendRow(all, &rows[k]); err != nil {
			return nil, fmt.Errorf("encode json: %w", err)
		}
		ends[k] = len(all)
	}
	for k, start := 0, 0; k < len(rows); k++ {
		rb.rows[k] = all[start:ends[k]:ends[k]]
		start = ends[k]
	}
	return rb, nil
}

// page returns rows [offset, offset+limit) as a response entry.
func (rb *rankedBoard) page(offset, limit int) *entry {
	lo := min(offset, len(rb.rows))
	hi := lo + min(limit, len(rb.rows)-lo)
	open := make([]byte, 0, len(rb.head)+40)
	open = append(open, rb.head...)
	open = append(open, `,"offset":`...)
	open = strconv.AppendInt(open, int64(offset), 10)
	open = append(open, `,"rows":[`...)
	mid := open[len(rb.head):] // what follows the head up to the first row

	n := len(open) + 1 + len(rb.tail)
	for k := lo; k < hi; k++ {
		n += len(rb.rows[k]) + 1
	}
	body := make([]byte, 0, n)
	body = append(body, open...)
	for k := lo; k < hi; k++ {
		if k > lo {
			body = append(body, ',')
		}
		body = append(body, rb.rows[k]...)
	}
	body = append(body, ']')
	body = append(body, rb.tail...)

	sum := sha256.Sum256(body)
	tag := hex.EncodeToString(sum[:16])
	e := &entry{ctype: "application/json", body: body, etag: `"` + tag + `"`}
	if len(body) < 1024 {
		return e
	}
	// The gzip member: the chunks compressed once (whole blocks of rows
	// inside the page, single rows at its edges), joined by the few bytes
	// that vary (the offset, the commas) as stored blocks.
	var chunks [][]byte
	for k := lo; k < hi; {
		if k%blockRows == 0 && k+blockRows <= hi && k/blockRows < len(rb.zblocks) {
			chunks = append(chunks, rb.zblock(k/blockRows))
			k += blockRows
		} else {
			chunks = append(chunks, rb.zrow(k))
			k++
		}
	}
	zn := 10 + len(rb.zhead) + storedLen(len(mid)) + len(rb.ztail) + 2 + 8
	for i, c := range chunks {
		zn += len(c)
		if i > 0 {
			zn += storedLen(1)
		}
	}
	if zn >= len(body) {
		return e
	}
	gz := make([]byte, 0, zn)
	gz = append(gz, 0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff) // gzip header: deflate, no name, no mtime, OS unknown
	gz = append(gz, rb.zhead...)
	gz = appendStored(gz, mid)
	for i, c := range chunks {
		if i > 0 {
			gz = appendStored(gz, []byte{','})
		}
		gz = append(gz, c...)
	}
	gz = append(gz, rb.ztail...)
	gz = append(gz, 0x03, 0x00) // the final block: empty, fixed Huffman
	gz = binary.LittleEndian.AppendUint32(gz, crc32.ChecksumIEEE(body))
	gz = binary.LittleEndian.AppendUint32(gz, uint32(len(body)))
	e.gz, e.gzEtag = gz, `"`+tag+`-gz"`
	return e
}

// storedLen is the length of b stored uncompressed (len(b) < 64 KiB).
func storedLen(n int) int { return 5 + n }

// appendStored appends b (shorter than 64 KiB) as a non-final stored
// deflate block; the stream before it must end on a byte boundary, as a
// sync-flushed chunk does, and so does the block.
func appendStored(dst, b []byte) []byte {
	n := uint16(len(b))
	dst = append(dst, 0x00, byte(n), byte(n>>8), byte(^n), byte(^n>>8))
	return append(dst, b...)
}

var flateWriters = map[int]*sync.Pool{}

func init() {
	for _, level := range []int{flate.BestSpeed, flate.DefaultCompression} {
		flateWriters[level] = &sync.Pool{New: func() any {
			w, _ := flate.NewWriter(nil, level)
			return w
		}}
	}
}

// deflateChunk compresses b into deflate blocks ending with a sync flush
// and no final block, so chunks can be concatenated into one stream.
func deflateChunk(b []byte, level int) []byte {
	pool := flateWriters[level]
	w := pool.Get().(*flate.Writer)
	var buf bytes.Buffer
	w.Reset(&buf)
	w.Write(b) // a bytes.Buffer does not fail
	w.Flush()
	pool.Put(w)
	return buf.Bytes()
}
