package tcp

import "sync/atomic"

// sendQueue is a connection's send stream, indexed by absolute stream offsets (data bytes only).
//
// Bytes below taken have been copied once, into transmit frames that the engine keeps until
// they are acknowledged (segs): retransmissions are copied out of those frames. Bytes in
// [taken, head) are still queued as views in pend: either the application's own buffers
// (borrowed: Writev stays blocked until the engine has taken them, so the payload is copied
// exactly once, straight into the frame) or views into the staging ring, where writes of at
// most Config.StageMax bytes are copied so that small writes (PDU headers, short responses)
// return at once.
type sendQueue struct {
	// Application side: pend and stage are produced by the writer (under writeMu).
	pend  *spsc[pendBuf]
	stage *byteRing
	head  atomic.Uint64 // stream index after the last byte queued
	// Engine side.
	taken  atomic.Uint64 // stream index up to which pend has been copied into frames
	cur    pendBuf       // front view being taken
	curOff int
	segs   segRing // retained frames, in stream order
}

// pendBuf is a queued, not yet transmitted, piece of the stream.
type pendBuf struct {
	b      []byte
	staged bool // b lies in the staging ring (its space is freed once taken)
}

// retSeg is a transmitted data segment kept for retransmission.
type retSeg struct {
	idx   uint64 // stream index of data[0]
	data  []byte // the payload inside frame
	frame []byte // the transmit buffer, returned to the link when acknowledged
}

func (r *retSeg) end() uint64 { return r.idx + uint64(len(r.data)) }

// Per-connection sizes: the staging ring and the queue of pending views.
const (
	stageBytes = 128 << 10
	pendSlots  = 256
)

func newSendQueue(stage, slots int) *sendQueue {
	return &sendQueue{pend: newSPSC[pendBuf](slots), stage: newByteRing(stage)}
}

// sumCopier copies pieces of one segment's payload and accumulates their checksum as if they
// were contiguous (RFC 1071 §2(B) for pieces that start at an odd offset).
type sumCopier struct {
	runSum
	on bool // compute the sum (false when the link offloads the checksum)
}

func (s *sumCopier) copy(dst, src []byte) {
	if !s.on {
		copy(dst, src)
		return
	}
	s.addPartial(copySum(dst, src), len(src))
}

// takeNew copies len(dst) bytes from the front of the queued data into dst (a transmit frame)
// and advances taken. The caller guarantees that many bytes are queued.
func (q *sendQueue) takeNew(dst []byte, sc *sumCopier) {
	n := len(dst)
	for len(dst) > 0 {
		if q.cur.b == nil {
			p, ok := q.pend.pop()
			if !ok {
				panic("tcp: send queue shorter than its head")
			}
			q.cur, q.curOff = p, 0
		}
		src := q.cur.b[q.curOff:]
		k := min(len(src), len(dst))
		sc.copy(dst[:k], src[:k])
		dst = dst[k:]
		q.curOff += k
		if q.curOff == len(q.cur.b) {
			if q.cur.staged {
				q.stage.tail.Add(uint64(len(q.cur.b)))
			}
			q.cur, q.curOff = pendBuf{}, 0
		}
	}
	q.taken.Add(uint64(n))
}

// copySent copies len(dst) stream bytes starting at idx (below taken) out of the retained
// frames into dst.
func (q *sendQueue) copySent(dst []byte, idx uint64, sc *sumCopier) {
	i := q.segs.find(idx)
	for len(dst) > 0 && i < q.segs.n {
		s := q.segs.at(i)
		off := int(idx - s.idx)
		k := min(len(dst), len(s.data)-off)
		sc.copy(dst[:k], s.data[off:off+k])
		dst = dst[k:]
		idx += uint64(k)
		i++
	}
	if len(dst) > 0 {
		panic("tcp: retransmission beyond the retained data")
	}
}

// drop forgets queued, untaken data (the connection is gone; writers are told by the error).
func (q *sendQueue) drop() {
	q.cur, q.curOff = pendBuf{}, 0
	for {
		if _, ok := q.pend.pop(); !ok {
			return
		}
	}
}

// segRing is a growable ring of retained segments (it grows to the most segments ever in
// flight, then allocates no more).
type segRing struct {
	buf      []retSeg
	first, n int
}

func (r *segRing) at(i int) *retSeg { return &r.buf[(r.first+i)&(len(r.buf)-1)] }

func (r *segRing) push(s retSeg) {
	if r.n == len(r.buf) {
		nb := make([]retSeg, max(16, 2*len(r.buf)))
		for i := 0; i < r.n; i++ {
			nb[i] = *r.at(i)
		}
		r.buf, r.first = nb, 0
	}
	*r.at(r.n) = s
	r.n++
}

func (r *segRing) popFront() retSeg {
	p := r.at(0)
	s := *p
	*p = retSeg{}
	r.first = (r.first + 1) & (len(r.buf) - 1)
	r.n--
	return s
}

// find returns the index of the segment holding stream index idx (r.n if none).
func (r *segRing) find(idx uint64) int {
	lo, hi := 0, r.n
	for lo < hi {
		m := (lo + hi) / 2
		if r.at(m).end() <= idx {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// retainSeg keeps a transmitted data segment for retransmission.
func (c *Conn) retainSeg(idx uint64, data, frame []byte) {
	c.sq.segs.push(retSeg{idx: idx, data: data, frame: frame})
	c.eng.Stats.KeptFrames.Add(1)
}

// freeAcked returns the frames of fully acknowledged segments to the link.
func (c *Conn) freeAcked() {
	q := &c.sq.segs
	for q.n > 0 && q.at(0).end() <= c.unaIdx {
		s := q.popFront()
		c.eng.returnFrame(s.frame)
	}
}

// freeSend returns every retained frame and drops queued data (the connection is removed).
func (c *Conn) freeSend() {
	q := &c.sq.segs
	for q.n > 0 {
		s := q.popFront()
		c.eng.returnFrame(s.frame)
	}
	c.sq.drop()
}
