package tcp

// Seq is a TCP sequence number; comparisons are modulo 2^32 (RFC 9293 §3.4).
type Seq uint32

// LT reports s < t in sequence space.
func (s Seq) LT(t Seq) bool { return int32(s-t) < 0 }

// LEQ reports s <= t in sequence space.
func (s Seq) LEQ(t Seq) bool { return int32(s-t) <= 0 }

// GT reports s > t in sequence space.
func (s Seq) GT(t Seq) bool { return int32(s-t) > 0 }

// GEQ reports s >= t in sequence space.
func (s Seq) GEQ(t Seq) bool { return int32(s-t) >= 0 }

// Add returns s+n.
func (s Seq) Add(n int) Seq { return s + Seq(uint32(n)) }

// Sub returns the signed distance s-t.
func (s Seq) Sub(t Seq) int { return int(int32(s - t)) }

// InWindow reports whether s lies in [start, start+size).
func (s Seq) InWindow(start Seq, size int) bool {
	return uint32(s-start) < uint32(size)
}

func seqMax(a, b Seq) Seq {
	if a.GT(b) {
		return a
	}
	return b
}

func seqMin(a, b Seq) Seq {
	if a.LT(b) {
		return a
	}
	return b
}
