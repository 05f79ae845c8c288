package scsi

// InvalidLUN is what DecodeLUN returns for an addressing form it does not
// support; no logical unit ever has this number.
const InvalidLUN = ^uint64(0)

// MaxLUN is the largest LUN the flat addressing method can express.
const MaxLUN = 16383

// DecodeLUN decodes an 8-byte SAM LUN using the peripheral device (00b) or
// flat space (01b) addressing methods at the first level (SAM-5 §4.7).
// Anything else decodes to InvalidLUN.
func DecodeLUN(b [8]byte) uint64 {
	for _, x := range b[2:] {
		if x != 0 {
			return InvalidLUN
		}
	}
	switch b[0] >> 6 {
	case 0:
		if b[0] != 0 { // bus identifier other than 0
			return InvalidLUN
		}
		return uint64(b[1])
	case 1:
		return uint64(b[0]&0x3F)<<8 | uint64(b[1])
	}
	return InvalidLUN
}

// EncodeLUN encodes lun with peripheral addressing below 256 and flat space
// addressing up to MaxLUN. Larger values are truncated to 14 bits.
func EncodeLUN(lun uint64) [8]byte {
	var b [8]byte
	if lun < 256 {
		b[1] = byte(lun)
		return b
	}
	b[0] = 0x40 | byte(lun>>8)&0x3F
	b[1] = byte(lun)
	return b
}
