package segment

import (
	"hash/crc32"
	"sync"
)

// A reader that walks a run's metadata alone (RunMeta) and has the bodies read elsewhere, in
// pieces and in parallel, checks them with a BodyCheck: each piece's checksum is computed where it
// is read (Checksum), and the check combines them in file order, so that the run's body region is
// checked as a whole, as reading the run from start to end checks it, without reading any byte
// twice.

// Checksum is the checksum of bytes of a body region, as BodyCheck.Add takes it: the checksum of
// a piece read in parts is Checksum's of the first part continued with ChecksumUpdate.
func Checksum(b []byte) uint32 { return crc32.Update(0, castagnoli, b) }

// ChecksumUpdate continues the checksum crc of the bytes before b with b.
func ChecksumUpdate(crc uint32, b []byte) uint32 { return crc32.Update(crc, castagnoli, b) }

// RunBodies is where the body region of a run starts and ends in the file.
func (s *Segment) RunBodies(run int) (start, end uint64) {
	r := &s.runs[run]
	return r.bodyOff, r.bodyOff + r.bodyLen
}

// BodyCheck checks the body region of one run read in consecutive pieces.
type BodyCheck struct {
	run  *runInfo
	sum  bool // the segment has checksums
	next uint64
	crc  uint32
}

// CheckBodies starts the check of a run's body region.
func (s *Segment) CheckBodies(run int) *BodyCheck {
	r := &s.runs[run]
	return &BodyCheck{run: r, sum: s.checked, next: r.bodyOff}
}

// Next is where the next piece must start: the end of what was added.
func (c *BodyCheck) Next() uint64 { return c.next }

// Add adds the next piece, of n bytes with checksum crc. The piece that reaches the end of the
// region checks it: a region that does not match its checksum is ErrCorrupt.
func (c *BodyCheck) Add(n uint64, crc uint32) error {
	end := c.run.bodyOff + c.run.bodyLen
	if n > end-c.next {
		return corrupt("a piece of %d bytes at %d goes past its run's bodies", n, c.next)
	}
	c.crc = combineChecksums(c.crc, crc, n)
	c.next += n
	if c.next == end && c.sum && c.crc != c.run.bodyCRC {
		return corrupt("a run does not match its checksum")
	}
	return nil
}

// Done reports whether the check reached the end of the region.
func (c *BodyCheck) Done() bool { return c.next == c.run.bodyOff+c.run.bodyLen }

// CheckRunBodies reads the body region of a run whole and checks it: for a run none of whose
// records an export reads.
func (s *Segment) CheckRunBodies(run int) error {
	start, end := s.RunBodies(run)
	c := s.CheckBodies(run)
	buf := make([]byte, min(end-start, iteratorBuffer))
	for off := start; off < end; {
		n := min(uint64(len(buf)), end-off)
		if err := s.readFull(buf[:n], off); err != nil {
			return wrapRead(err)
		}
		if err := c.Add(n, Checksum(buf[:n])); err != nil {
			return err
		}
		off += n
	}
	if !c.Done() {
		return c.Add(0, 0)
	}
	return nil
}

// combineChecksums is the checksum of a||b from those of a and of b, and b's length: the CRC of
// a shifted past len(b) zero bytes (a multiplication by x^(8·len(b)) modulo the polynomial), plus
// b's. The algorithm is zlib's crc32_combine, with each multiplication by a power x^(2^k) done
// by table (shiftTables).
func combineChecksums(a, b uint32, n uint64) uint32 {
	if n == 0 {
		return a
	}
	t := shiftTables()
	for k := 3; n != 0; n, k = n>>1, k+1 {
		if n&1 != 0 {
			a = t[k].times(a)
		}
	}
	return a ^ b
}

// castagnoliReversed is the Castagnoli polynomial, bit-reversed as crc32 computes with it.
const castagnoliReversed = 0x82f63b78

// multModP multiplies a and b modulo the polynomial, bit-reversed: bit 31 is x^0.
func multModP(a, b uint32) uint32 {
	var p uint32
	for m := uint32(1) << 31; m != 0; m >>= 1 {
		if a&m != 0 {
			p ^= b
			if a&(m-1) == 0 {
				break
			}
		}
		if b&1 != 0 {
			b = b>>1 ^ castagnoliReversed
		} else {
			b >>= 1
		}
	}
	return p
}

// x2n holds x^(2^k) modulo the polynomial, for k from 0 to 63: enough for any length below 2^60.
var x2n = func() (t [64]uint32) {
	p := uint32(1) << 30 // x^1
	for k := range t {
		t[k] = p
		p = multModP(p, p)
	}
	return t
}()

// product is a multiplication by a constant modulo the polynomial, by table: the product is
// linear in the other factor, so it is the sum (xor) of the products of its eight nibbles, each
// looked up. An export combines a checksum a piece of bodies it reads, and a multiplication bit
// by bit, several a combination, was a twentieth of the CPU of an export that reads little of
// each body.
type product [8][16]uint32

func (t *product) times(a uint32) uint32 {
	return t[0][a&15] ^ t[1][a>>4&15] ^ t[2][a>>8&15] ^ t[3][a>>12&15] ^
		t[4][a>>16&15] ^ t[5][a>>20&15] ^ t[6][a>>24&15] ^ t[7][a>>28]
}

// by makes t the product by c.
func (t *product) by(c uint32) {
	for j := range t {
		for bit := range 4 {
			t[j][1<<bit] = multModP(c, 1<<(4*j+bit))
		}
		for v := 3; v < 16; v++ {
			if low := v & -v; low != v {
				t[j][v] = t[j][low] ^ t[j][v^low]
			}
		}
	}
}

// shiftTables are the products by each x^(2^k) (32 KB), made the first time a checksum is
// combined, so that a process that never combines one does not pay for them.
var shiftTables = sync.OnceValue(func() *[64]product {
	t := new([64]product)
	for k := range t {
		t[k].by(x2n[k])
	}
	return t
})
