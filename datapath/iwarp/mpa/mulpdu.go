package mpa

// MaxULPDU is the largest ULPDU_Length value.
const MaxULPDU = 0xffff

// MULPDU returns the largest 4-aligned ULPDU that fits, with its length field, pad, CRC and (if markers) every marker
// it can contain, in an FPDU of at most emss octets (RFC 5044 §4.6 and §4.3).
func MULPDU(emss int, markers bool) int {
	fpdu := emss &^ 3
	over := LengthFieldLen + 2 + CRCLen // a 4-aligned ULPDU needs 2 pad octets
	if markers {
		over += MarkerLen * ((fpdu + MarkerInterval - 1) / MarkerInterval)
	}
	n := (fpdu - over) &^ 3
	if n > MaxULPDU&^3 {
		n = MaxULPDU &^ 3
	}
	if n < 64 {
		n = 64
	}
	return n
}

// FPDULen returns the octets on the wire, markers excluded, of an FPDU carrying ulpduLen.
func FPDULen(ulpduLen int) int {
	return ((LengthFieldLen + ulpduLen + 3) &^ 3) + CRCLen
}
