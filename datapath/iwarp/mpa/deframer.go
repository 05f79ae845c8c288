package mpa

import "encoding/binary"

// Sink receives the ULPDUs a Deframer finds.
type Sink interface {
	// BeginFPDU announces an FPDU carrying ulpduLen octets.
	BeginFPDU(ulpduLen int) error
	// ULPDU delivers the next octets of the current ULPDU (a view into the caller's buffer, valid only
	// during the call); the pieces add up to ulpduLen.
	ULPDU(p []byte) error
	// EndFPDU reports that the FPDU's CRC (if negotiated) checked good.
	EndFPDU() error
}

const (
	stLen = iota
	stULPDU
	stPad
	stCRC
)

// Deframer parses the inbound FPDU stream of one direction from views of arbitrary size, stripping markers
// and checking the CRC. Errors (ErrCRC, ErrMarker, ErrULPDULength or the Sink's) are final.
type Deframer struct {
	markers bool
	crc     bool
	maxULP  int
	pos     uint32 // octets received since the marker origin
	state   int
	mkN     int
	mk      [MarkerLen]byte
	lenN    int
	lenBuf  [LengthFieldLen]byte
	lenPos  uint32
	left    int // ULPDU or pad octets left
	pad     int
	crcN    int
	crcBuf  [CRCLen]byte
	sum     uint32
	started bool // an FPDU (or its leading marker) has begun
}

// NewDeframer returns a Deframer; maxULPDU bounds accepted ULPDU_Length values (0: MaxULPDU).
func NewDeframer(markers, crc bool, maxULPDU int) *Deframer {
	if maxULPDU <= 0 || maxULPDU > MaxULPDU {
		maxULPDU = MaxULPDU
	}
	return &Deframer{markers: markers, crc: crc, maxULP: maxULPDU}
}

// Feed parses all of p, calling s. It returns the first error; after an error the Deframer must not be used.
func (d *Deframer) Feed(p []byte, s Sink) error {
	for len(p) > 0 {
		if d.markers && (d.pos%MarkerInterval == 0 || d.mkN > 0) {
			n := min(len(p), MarkerLen-d.mkN)
			copy(d.mk[d.mkN:], p[:n])
			d.mkN += n
			p = p[n:]
			if d.mkN < MarkerLen {
				return nil
			}
			if err := d.marker(); err != nil {
				return err
			}
			continue
		}
		q := p
		if d.markers {
			if r := MarkerInterval - int(d.pos%MarkerInterval); len(q) > r {
				q = q[:r]
			}
		}
		n, err := d.step(q, s)
		if err != nil {
			return err
		}
		p = p[n:]
	}
	return nil
}

func (d *Deframer) marker() error {
	start := d.state == stLen && d.lenN == 0
	if start && !d.started {
		d.sum = 0
		d.started = true
	}
	if d.crc {
		d.sum = UpdateCRC32C(d.sum, d.mk[:])
	}
	ptr := binary.BigEndian.Uint32(d.mk[:]) & 0xfffc
	var want uint32
	if !start {
		want = (d.pos - d.lenPos) & 0xfffc
	}
	d.pos += MarkerLen
	d.mkN = 0
	if ptr != want {
		return ErrMarker
	}
	return nil
}

// step consumes a prefix of q that contains no marker.
func (d *Deframer) step(q []byte, s Sink) (int, error) {
	switch d.state {
	case stLen:
		if d.lenN == 0 {
			if !d.started {
				d.sum = 0
			}
			d.started = true
			d.lenPos = d.pos
		}
		n := min(len(q), LengthFieldLen-d.lenN)
		copy(d.lenBuf[d.lenN:], q[:n])
		d.lenN += n
		d.account(q[:n])
		if d.lenN < LengthFieldLen {
			return n, nil
		}
		ulp := int(binary.BigEndian.Uint16(d.lenBuf[:]))
		if ulp == 0 || ulp > d.maxULP {
			return n, ErrULPDULength
		}
		d.left = ulp
		d.pad = (4 - (LengthFieldLen+ulp)%4) % 4
		d.state = stULPDU
		return n, s.BeginFPDU(ulp)
	case stULPDU:
		n := min(len(q), d.left)
		d.account(q[:n])
		d.left -= n
		if d.left == 0 {
			d.state = stPad
			d.left = d.pad
		}
		return n, s.ULPDU(q[:n])
	case stPad:
		n := min(len(q), d.left)
		d.account(q[:n])
		d.left -= n
		if d.left == 0 {
			d.state = stCRC
		}
		return n, nil
	default: // stCRC
		n := min(len(q), CRCLen-d.crcN)
		copy(d.crcBuf[d.crcN:], q[:n])
		d.crcN += n
		d.pos += uint32(n)
		if d.crcN < CRCLen {
			return n, nil
		}
		got := binary.LittleEndian.Uint32(d.crcBuf[:])
		ok := !d.crc || got == d.sum
		d.state, d.lenN, d.crcN, d.started, d.sum = stLen, 0, 0, false, 0
		if !ok {
			return n, ErrCRC
		}
		return n, s.EndFPDU()
	}
}

func (d *Deframer) account(p []byte) {
	d.pos += uint32(len(p))
	if d.crc {
		d.sum = UpdateCRC32C(d.sum, p)
	}
}
