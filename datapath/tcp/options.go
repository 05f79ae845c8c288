package tcp

import (
	"encoding/binary"
	"errors"
)

// Option kinds.
const (
	optEnd       = 0
	optNOP       = 1
	optMSS       = 2
	optWScale    = 3
	optSACKPerm  = 4
	optSACK      = 5
	optTimestamp = 8

	maxWScale     = 14
	maxSACKBlocks = 4
)

// Errors for malformed options.
var (
	ErrOptionOverrun = errors.New("tcp: option overruns header")
	ErrOptionLength  = errors.New("tcp: bad option length")
)

// SACKBlock is one SACK block [Start, End).
type SACKBlock struct{ Start, End Seq }

// Options holds the parsed options of one segment (a fixed-size value; no allocation).
type Options struct {
	MSS       uint16
	WScale    uint8
	HasMSS    bool
	HasWScale bool
	SACKPerm  bool
	HasTS     bool
	TSVal     uint32
	TSEcr     uint32
	NSACK     int
	SACK      [maxSACKBlocks]SACKBlock
}

// parseOptions parses the option area into o. Unknown options are skipped by their length.
func parseOptions(b []byte, o *Options) error {
	for len(b) > 0 {
		kind := b[0]
		if kind == optEnd {
			return nil
		}
		if kind == optNOP {
			b = b[1:]
			continue
		}
		if len(b) < 2 {
			return ErrOptionOverrun
		}
		l := int(b[1])
		if l < 2 {
			return ErrOptionLength
		}
		if l > len(b) {
			return ErrOptionOverrun
		}
		v := b[2:l]
		switch kind {
		case optMSS:
			if l != 4 {
				return ErrOptionLength
			}
			o.MSS = binary.BigEndian.Uint16(v)
			o.HasMSS = true
		case optWScale:
			if l != 3 {
				return ErrOptionLength
			}
			o.WScale = min(v[0], maxWScale)
			o.HasWScale = true
		case optSACKPerm:
			if l != 2 {
				return ErrOptionLength
			}
			o.SACKPerm = true
		case optTimestamp:
			if l != 10 {
				return ErrOptionLength
			}
			o.TSVal = binary.BigEndian.Uint32(v[0:4])
			o.TSEcr = binary.BigEndian.Uint32(v[4:8])
			o.HasTS = true
		case optSACK:
			if (l-2)%8 != 0 || l == 2 {
				return ErrOptionLength
			}
			for i := 0; i+8 <= len(v) && o.NSACK < maxSACKBlocks; i += 8 {
				o.SACK[o.NSACK] = SACKBlock{
					Start: Seq(binary.BigEndian.Uint32(v[i:])),
					End:   Seq(binary.BigEndian.Uint32(v[i+4:])),
				}
				o.NSACK++
			}
		}
		b = b[l:]
	}
	return nil
}

// putSynOptions writes SYN/SYN-ACK options into b and returns the length written (multiple of 4).
func putSynOptions(b []byte, mss uint16, wscale int, sackPerm, ts bool, tsVal, tsEcr uint32) int {
	n := 0
	b[0], b[1] = optMSS, 4
	binary.BigEndian.PutUint16(b[2:4], mss)
	n = 4
	if wscale >= 0 {
		b[n], b[n+1], b[n+2], b[n+3] = optNOP, optWScale, 3, uint8(wscale)
		n += 4
	}
	if sackPerm && ts {
		b[n], b[n+1] = optSACKPerm, 2
		b[n+2], b[n+3] = optTimestamp, 10
		binary.BigEndian.PutUint32(b[n+4:], tsVal)
		binary.BigEndian.PutUint32(b[n+8:], tsEcr)
		n += 12
	} else if ts {
		b[n], b[n+1], b[n+2], b[n+3] = optNOP, optNOP, optTimestamp, 10
		binary.BigEndian.PutUint32(b[n+4:], tsVal)
		binary.BigEndian.PutUint32(b[n+8:], tsEcr)
		n += 12
	} else if sackPerm {
		b[n], b[n+1], b[n+2], b[n+3] = optNOP, optNOP, optSACKPerm, 2
		n += 4
	}
	return n
}

// putTimestamp writes NOP NOP TS (12 bytes).
func putTimestamp(b []byte, tsVal, tsEcr uint32) int {
	b[0], b[1], b[2], b[3] = optNOP, optNOP, optTimestamp, 10
	binary.BigEndian.PutUint32(b[4:], tsVal)
	binary.BigEndian.PutUint32(b[8:], tsEcr)
	return 12
}

// putSACK writes NOP NOP SACK with the given blocks; returns the length written.
func putSACK(b []byte, blocks []SACKBlock) int {
	b[0], b[1], b[2], b[3] = optNOP, optNOP, optSACK, uint8(2+8*len(blocks))
	n := 4
	for _, blk := range blocks {
		binary.BigEndian.PutUint32(b[n:], uint32(blk.Start))
		binary.BigEndian.PutUint32(b[n+4:], uint32(blk.End))
		n += 8
	}
	return n
}
