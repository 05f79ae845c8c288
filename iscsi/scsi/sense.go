package scsi

import (
	"encoding/binary"
	"errors"
)

// Sense keys (SPC-4 table 48).
const (
	KeyNoSense        byte = 0x0
	KeyRecoveredError byte = 0x1
	KeyNotReady       byte = 0x2
	KeyMediumError    byte = 0x3
	KeyHardwareError  byte = 0x4
	KeyIllegalRequest byte = 0x5
	KeyUnitAttention  byte = 0x6
	KeyDataProtect    byte = 0x7
	KeyAbortedCommand byte = 0xB
	KeyCopyAborted    byte = 0xA
	KeyMiscompare     byte = 0xE
)

// ASC is an additional sense code and qualifier pair, ASC in the high byte.
type ASC uint16

// Additional sense codes used by the device server.
const (
	ASCNoAdditional               ASC = 0x0000
	ASCLUNotAccessibleTransition  ASC = 0x040A
	ASCLUNotAccessibleStandby     ASC = 0x040B
	ASCLUNotAccessibleUnavailable ASC = 0x040C
	ASCCopyTargetUnreachable      ASC = 0x0D02
	ASCWriteError                 ASC = 0x0C00
	ASCInvalidFieldInIU           ASC = 0x0E03
	ASCUnrecoveredReadError       ASC = 0x1100
	ASCParamListLengthError       ASC = 0x1A00
	ASCMiscompareDuringVerify     ASC = 0x1D00
	ASCInvalidOpcode              ASC = 0x2000
	ASCLBAOutOfRange              ASC = 0x2100
	ASCInvalidFieldInCDB          ASC = 0x2400
	ASCLUNotSupported             ASC = 0x2500
	ASCInvalidFieldInParamList    ASC = 0x2600
	ASCInvalidReleaseOfPR         ASC = 0x2604
	ASCTooManyTargetDescs         ASC = 0x2606
	ASCUnsupportedTargetDesc      ASC = 0x2607
	ASCTooManySegmentDescs        ASC = 0x2608
	ASCUnsupportedSegmentDesc     ASC = 0x2609
	ASCWriteProtected             ASC = 0x2700
	ASCPowerOnResetOccurred       ASC = 0x2900
	ASCPowerOnOccurred            ASC = 0x2901
	ASCBusResetOccurred           ASC = 0x2902
	ASCBusDeviceResetOccurred     ASC = 0x2903
	ASCITNexusLossOccurred        ASC = 0x2907
	ASCModeParametersChanged      ASC = 0x2A01
	ASCReservationsPreempted      ASC = 0x2A03
	ASCReservationsReleased       ASC = 0x2A04
	ASCRegistrationsPreempted     ASC = 0x2A05
	ASCAsymmetricAccessChanged    ASC = 0x2A06
	ASCCapacityDataChanged        ASC = 0x2A09
	ASCCommandsClearedByAnother   ASC = 0x2F00
	ASCSavingParamsUnsupported    ASC = 0x3900
	ASCMediumNotPresent           ASC = 0x3A00
	ASCReportedLUNsDataChanged    ASC = 0x3F0E
	ASCInternalTargetFailure      ASC = 0x4400
	ASCMediumRemovalPrevented     ASC = 0x5302
)

// Sense is a decoded or to-be-encoded sense data record.
type Sense struct {
	Key       byte
	ASC       ASC
	Info      uint64 // INFORMATION field, valid when InfoValid
	InfoValid bool
	SKS       [3]byte // sense-key specific bytes; SKSV is SKS[0] bit 7
}

// FieldPointer builds the sense-key specific field pointer bytes for
// ILLEGAL REQUEST (SPC-4 §4.5.2.4.2): cdb selects C/D (1 = error in the CDB,
// 0 = in the parameter list), byteIdx is the byte offset of the field and bit
// the most significant bit of the field (or -1 for no bit pointer).
func FieldPointer(cdb bool, byteIdx uint16, bit int) [3]byte {
	b0 := byte(0x80) // SKSV
	if cdb {
		b0 |= 0x40
	}
	if bit >= 0 && bit <= 7 {
		b0 |= 0x08 | byte(bit)
	}
	return [3]byte{b0, byte(byteIdx >> 8), byte(byteIdx)}
}

// AppendFixed appends the sense in fixed format (response code 70h, 18 bytes).
// An INFORMATION value that does not fit 32 bits is reported with VALID=0.
func (s *Sense) AppendFixed(dst []byte) []byte {
	var b [18]byte
	b[0] = 0x70
	if s.InfoValid && s.Info <= 0xFFFFFFFF {
		b[0] |= 0x80
		binary.BigEndian.PutUint32(b[3:7], uint32(s.Info))
	}
	b[2] = s.Key & 0x0F
	b[7] = 10
	b[12] = byte(s.ASC >> 8)
	b[13] = byte(s.ASC)
	if s.SKS[0]&0x80 != 0 {
		copy(b[15:18], s.SKS[:])
	}
	return append(dst, b[:]...)
}

// AppendDescriptor appends the sense in descriptor format (response code
// 72h) with an information descriptor and a sense-key specific descriptor
// when they are set.
func (s *Sense) AppendDescriptor(dst []byte) []byte {
	var b [8 + 12 + 8]byte
	b[0] = 0x72
	b[1] = s.Key & 0x0F
	b[2] = byte(s.ASC >> 8)
	b[3] = byte(s.ASC)
	n := 8
	if s.InfoValid {
		b[n] = 0x00
		b[n+1] = 0x0A
		b[n+2] = 0x80
		binary.BigEndian.PutUint64(b[n+4:n+12], s.Info)
		n += 12
	}
	if s.SKS[0]&0x80 != 0 {
		b[n] = 0x02
		b[n+1] = 0x06
		copy(b[n+4:n+7], s.SKS[:])
		n += 8
	}
	b[7] = byte(n - 8)
	return append(dst, b[:n]...)
}

// ErrBadSense reports sense data that cannot be decoded.
var ErrBadSense = errors.New("malformed sense data")

// ParseSense decodes fixed (70h/71h) or descriptor (72h/73h) sense data.
func ParseSense(b []byte) (Sense, error) {
	var s Sense
	if len(b) < 8 {
		return s, ErrBadSense
	}
	switch b[0] & 0x7F {
	case 0x70, 0x71:
		if len(b) < 14 {
			return s, ErrBadSense
		}
		s.Key = b[2] & 0x0F
		if b[0]&0x80 != 0 {
			s.InfoValid = true
			s.Info = uint64(binary.BigEndian.Uint32(b[3:7]))
		}
		s.ASC = ASC(b[12])<<8 | ASC(b[13])
		if len(b) >= 18 && b[15]&0x80 != 0 {
			copy(s.SKS[:], b[15:18])
		}
	case 0x72, 0x73:
		s.Key = b[1] & 0x0F
		s.ASC = ASC(b[2])<<8 | ASC(b[3])
		end := 8 + int(b[7])
		if end > len(b) {
			return s, ErrBadSense
		}
		for p := 8; p+2 <= end; {
			l := int(b[p+1])
			if p+2+l > end {
				return s, ErrBadSense
			}
			d := b[p : p+2+l]
			switch d[0] {
			case 0x00:
				if l >= 0x0A {
					s.InfoValid = d[2]&0x80 != 0
					s.Info = binary.BigEndian.Uint64(d[4:12])
				}
			case 0x02:
				if l >= 6 {
					copy(s.SKS[:], d[4:7])
				}
			}
			p += 2 + l
		}
	default:
		return s, ErrBadSense
	}
	return s, nil
}

// setSense terminates c with CHECK CONDITION and the given sense, in the
// format selected by the logical unit's D_SENSE bit.
func (c *Command) setSense(desc bool, s *Sense) {
	c.Status = CheckCondition
	if desc {
		c.Sense = s.AppendDescriptor(c.SenseBuf[:0])
	} else {
		c.Sense = s.AppendFixed(c.SenseBuf[:0])
	}
}

// check terminates c with CHECK CONDITION key/asc (no information).
func (c *Command) check(desc bool, key byte, asc ASC) {
	s := Sense{Key: key, ASC: asc}
	c.setSense(desc, &s)
}

// invalidCDB terminates c with ILLEGAL REQUEST, INVALID FIELD IN CDB and a
// field pointer at byte/bit of the CDB.
func (c *Command) invalidCDB(desc bool, byteIdx uint16, bit int) {
	s := Sense{Key: KeyIllegalRequest, ASC: ASCInvalidFieldInCDB, SKS: FieldPointer(true, byteIdx, bit)}
	c.setSense(desc, &s)
}

// invalidParam terminates c with ILLEGAL REQUEST, INVALID FIELD IN PARAMETER
// LIST and a field pointer into the parameter data.
func (c *Command) invalidParam(desc bool, byteIdx uint16, bit int) {
	s := Sense{Key: KeyIllegalRequest, ASC: ASCInvalidFieldInParamList, SKS: FieldPointer(false, byteIdx, bit)}
	c.setSense(desc, &s)
}
