package mpa

import "encoding/binary"

// Framer builds outbound FPDUs for one direction of a stream in full operation. Payload slices are
// referenced, not copied; length field, markers, pad and CRC live in an internal arena that stays valid
// until Reset. A Framer is not safe for concurrent use.
type Framer struct {
	markers bool
	crc     bool
	pos     uint32 // octets sent since the marker origin (first FPDU octet); wraps harmlessly (2^32 % 512 == 0)
	arena   []byte
	// current FPDU
	lenPos uint32
	sum    uint32
}

// NewFramer returns a Framer; markers and crc are the negotiated settings for this direction.
func NewFramer(markers, crc bool) *Framer {
	return &Framer{markers: markers, crc: crc, arena: make([]byte, 0, 16<<10)}
}

// Markers reports whether markers are inserted.
func (f *Framer) Markers() bool { return f.markers }

// Reset forgets the arena contents: call it after the gather list built since the last Reset was written.
func (f *Framer) Reset() { f.arena = f.arena[:0] }

// scratch returns n arena bytes. Growing allocates a new arena; slices already handed out stay valid.
func (f *Framer) scratch(n int) []byte {
	if len(f.arena)+n > cap(f.arena) {
		f.arena = make([]byte, 0, max(2*cap(f.arena), 4*n))
	}
	s := f.arena[len(f.arena) : len(f.arena)+n]
	f.arena = f.arena[:len(f.arena)+n]
	return s
}

// AppendFPDU appends to iov the gather list of one FPDU whose ULPDU is hdr followed by the payload slices.
// hdr is copied into the arena; payload is referenced. The ULPDU must not exceed MaxULPDU.
func (f *Framer) AppendFPDU(iov [][]byte, hdr []byte, payload [][]byte) [][]byte {
	ulpdu := len(hdr)
	for _, p := range payload {
		ulpdu += len(p)
	}
	f.sum = 0
	f.lenPos = f.pos
	if f.markers && f.pos%MarkerInterval == 0 {
		f.lenPos = f.pos + MarkerLen
	}
	h := f.scratch(LengthFieldLen + len(hdr))
	binary.BigEndian.PutUint16(h, uint16(ulpdu))
	copy(h[LengthFieldLen:], hdr)
	iov = f.emit(iov, h)
	for _, p := range payload {
		if len(p) > 0 {
			iov = f.emit(iov, p)
		}
	}
	if pad := (4 - (LengthFieldLen+ulpdu)%4) % 4; pad > 0 {
		z := f.scratch(pad)
		clear(z)
		iov = f.emit(iov, z)
	}
	// A marker due exactly at the CRC field precedes it and is covered by the CRC.
	iov = f.markerIfDue(iov)
	c := f.scratch(CRCLen)
	var sum uint32
	if f.crc {
		sum = f.sum
	}
	binary.LittleEndian.PutUint32(c, sum)
	iov = append(iov, c) // 4-aligned: no marker can fall inside the CRC field
	f.pos += CRCLen
	return iov
}

// emit appends p, splitting it where markers fall, and folds it into the CRC.
func (f *Framer) emit(iov [][]byte, p []byte) [][]byte {
	for len(p) > 0 {
		iov = f.markerIfDue(iov)
		n := len(p)
		if f.markers {
			n = min(n, MarkerInterval-int(f.pos%MarkerInterval))
		}
		iov = append(iov, p[:n])
		if f.crc {
			f.sum = UpdateCRC32C(f.sum, p[:n])
		}
		f.pos += uint32(n)
		p = p[n:]
	}
	return iov
}

func (f *Framer) markerIfDue(iov [][]byte) [][]byte {
	if !f.markers || f.pos%MarkerInterval != 0 {
		return iov
	}
	m := f.scratch(MarkerLen)
	// FPDUPTR is 0 for the marker just before the length field, else the distance back to it. Modular
	// arithmetic: an ordered compare of lenPos and pos breaks when pos wraps at 4 GiB.
	ptr := uint32(0)
	if f.lenPos != f.pos+MarkerLen {
		ptr = f.pos - f.lenPos
	}
	binary.BigEndian.PutUint32(m, ptr&0xfffc)
	if f.crc {
		f.sum = UpdateCRC32C(f.sum, m)
	}
	f.pos += MarkerLen
	return append(iov, m)
}
