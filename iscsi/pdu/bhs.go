package pdu

import "encoding/binary"

// BHSLen is the length of the Basic Header Segment.
const BHSLen = 48

// BHS is a view over a 48-byte Basic Header Segment. Accessors panic only if the slice is shorter than 48 bytes,
// which Reader never hands out.
type BHS []byte

func (b BHS) u16(off int) uint16        { return binary.BigEndian.Uint16(b[off:]) }
func (b BHS) u32(off int) uint32        { return binary.BigEndian.Uint32(b[off:]) }
func (b BHS) put16(off int, v uint16)   { binary.BigEndian.PutUint16(b[off:], v) }
func (b BHS) put32(off int, v uint32)   { binary.BigEndian.PutUint32(b[off:], v) }
func (b BHS) flag(off int, m byte) bool { return b[off]&m != 0 }
func (b BHS) setFlag(off int, m byte, on bool) {
	if on {
		b[off] |= m
	} else {
		b[off] &^= m
	}
}

// Clear zeroes the header.
func (b BHS) Clear() { clear(b[:BHSLen]) }

// Opcode is byte 0 bits 0-5.
func (b BHS) Opcode() Opcode { return Opcode(b[0] & 0x3f) }

// SetOpcode sets the opcode, keeping the I bit.
func (b BHS) SetOpcode(o Opcode) { b[0] = b[0]&0x40 | byte(o)&0x3f }

// Immediate is the I bit (initiator PDUs: delivery for immediate processing).
func (b BHS) Immediate() bool     { return b.flag(0, 0x40) }
func (b BHS) SetImmediate(v bool) { b.setFlag(0, 0x40, v) }

// Final is the F bit (byte 1, bit 7); in Login PDUs the same bit is T (Transit).
func (b BHS) Final() bool     { return b.flag(1, 0x80) }
func (b BHS) SetFinal(v bool) { b.setFlag(1, 0x80, v) }

// Flags is byte 1 in full, for opcode-specific bits.
func (b BHS) Flags() byte     { return b[1] }
func (b BHS) SetFlags(v byte) { b[1] = v }

// TotalAHSLength is the AHS length in bytes (the wire field counts 4-byte words).
func (b BHS) TotalAHSLength() int     { return int(b[4]) * 4 }
func (b BHS) SetTotalAHSLength(n int) { b[4] = byte(n / 4) }

// DataSegmentLength is the 24-bit data segment length, without padding.
func (b BHS) DataSegmentLength() int { return int(b[5])<<16 | int(b[6])<<8 | int(b[7]) }
func (b BHS) SetDataSegmentLength(n int) {
	b[5], b[6], b[7] = byte(n>>16), byte(n>>8), byte(n)
}

// LUN is bytes 8-15 in SAM form (SCSI Command, Data-In/Out, R2T, TMF, NOP, Text, Async).
func (b BHS) LUN() [8]byte     { return [8]byte(b[8:16]) }
func (b BHS) SetLUN(l [8]byte) { copy(b[8:16], l[:]) }

// ITT is the Initiator Task Tag (bytes 16-19).
func (b BHS) ITT() uint32     { return b.u32(16) }
func (b BHS) SetITT(v uint32) { b.put32(16, v) }

// TTT is the Target Transfer Tag (bytes 20-23: Data-Out, Data-In, R2T, NOP, Text, SNACK). In TMF requests the
// same word is the Referenced Task Tag, in SCSI Responses the SNACK Tag, in SCSI Commands the Expected Data
// Transfer Length (see EDTL).
func (b BHS) TTT() uint32     { return b.u32(20) }
func (b BHS) SetTTT(v uint32) { b.put32(20, v) }

// EDTL is the Expected Data Transfer Length of a SCSI Command.
func (b BHS) EDTL() uint32     { return b.u32(20) }
func (b BHS) SetEDTL(v uint32) { b.put32(20, v) }

// RefTaskTag is the Referenced Task Tag of a TMF request.
func (b BHS) RefTaskTag() uint32     { return b.u32(20) }
func (b BHS) SetRefTaskTag(v uint32) { b.put32(20, v) }

// CmdSN is bytes 24-27 of initiator PDUs.
func (b BHS) CmdSN() uint32     { return b.u32(24) }
func (b BHS) SetCmdSN(v uint32) { b.put32(24, v) }

// StatSN is bytes 24-27 of target PDUs.
func (b BHS) StatSN() uint32     { return b.u32(24) }
func (b BHS) SetStatSN(v uint32) { b.put32(24, v) }

// ExpStatSN is bytes 28-31 of initiator PDUs.
func (b BHS) ExpStatSN() uint32     { return b.u32(28) }
func (b BHS) SetExpStatSN(v uint32) { b.put32(28, v) }

// ExpCmdSN is bytes 28-31 of target PDUs.
func (b BHS) ExpCmdSN() uint32     { return b.u32(28) }
func (b BHS) SetExpCmdSN(v uint32) { b.put32(28, v) }

// MaxCmdSN is bytes 32-35 of target PDUs.
func (b BHS) MaxCmdSN() uint32     { return b.u32(32) }
func (b BHS) SetMaxCmdSN(v uint32) { b.put32(32, v) }

// RefCmdSN is bytes 32-35 of a TMF request.
func (b BHS) RefCmdSN() uint32     { return b.u32(32) }
func (b BHS) SetRefCmdSN(v uint32) { b.put32(32, v) }

// DataSN is bytes 36-39 (Data-In, Data-Out); in R2T it is R2TSN, in SCSI Response and TMF request ExpDataSN.
func (b BHS) DataSN() uint32     { return b.u32(36) }
func (b BHS) SetDataSN(v uint32) { b.put32(36, v) }

// BufferOffset is bytes 40-43 (Data-In, Data-Out, R2T).
func (b BHS) BufferOffset() uint32     { return b.u32(40) }
func (b BHS) SetBufferOffset(v uint32) { b.put32(40, v) }

// DesiredLength is the R2T Desired Data Transfer Length (bytes 44-47).
func (b BHS) DesiredLength() uint32     { return b.u32(44) }
func (b BHS) SetDesiredLength(v uint32) { b.put32(44, v) }

// ResidualCount is bytes 44-47 of SCSI Response and Data-In.
func (b BHS) ResidualCount() uint32     { return b.u32(44) }
func (b BHS) SetResidualCount(v uint32) { b.put32(44, v) }

// BidiResidualCount is bytes 40-43 of a SCSI Response.
func (b BHS) BidiResidualCount() uint32     { return b.u32(40) }
func (b BHS) SetBidiResidualCount(v uint32) { b.put32(40, v) }

// CDB is the 16-byte CDB field of a SCSI Command (bytes 32-47).
func (b BHS) CDB() []byte { return b[32:48] }

// SCSI Command flags (byte 1).
const (
	CmdFinal = 0x80
	CmdRead  = 0x40
	CmdWrite = 0x20
	CmdAttr  = 0x07
)

// Read, Write and Attr are SCSI Command flags.
func (b BHS) Read() bool      { return b.flag(1, CmdRead) }
func (b BHS) Write() bool     { return b.flag(1, CmdWrite) }
func (b BHS) Attr() uint8     { return b[1] & CmdAttr }
func (b BHS) SetRead(v bool)  { b.setFlag(1, CmdRead, v) }
func (b BHS) SetWrite(v bool) { b.setFlag(1, CmdWrite, v) }
func (b BHS) SetAttr(a uint8) { b[1] = b[1]&^CmdAttr | a&CmdAttr }

// SCSI Response and Data-In residual flags (byte 1).
const (
	RespBidiOverflow  = 0x10
	RespBidiUnderflow = 0x08
	RespOverflow      = 0x04
	RespUnderflow     = 0x02
	DataInAck         = 0x40
	DataInStatus      = 0x01
)

// Response is byte 2 of SCSI Response, TMF Response, Logout Response; in Reject it is the reason.
func (b BHS) Response() byte     { return b[2] }
func (b BHS) SetResponse(v byte) { b[2] = v }

// Status is the SCSI status, byte 3 of SCSI Response and Data-In (when S is set).
func (b BHS) Status() byte     { return b[3] }
func (b BHS) SetStatus(v byte) { b[3] = v }

// TMFunction is the TMF request function (byte 1 bits 0-6).
func (b BHS) TMFunction() uint8 { return b[1] & 0x7f }

// LogoutReason is the Logout request reason code (byte 1 bits 0-6).
func (b BHS) LogoutReason() uint8 { return b[1] & 0x7f }

// Continue is the C bit of Login and Text PDUs.
func (b BHS) Continue() bool     { return b.flag(1, 0x40) }
func (b BHS) SetContinue(v bool) { b.setFlag(1, 0x40, v) }

// CSG and NSG are the Login stages (byte 1 bits 2-3 and 0-1).
func (b BHS) CSG() uint8 { return b[1] >> 2 & 3 }
func (b BHS) NSG() uint8 { return b[1] & 3 }
func (b BHS) SetStages(csg, nsg uint8) {
	b[1] = b[1]&0xf0 | (csg&3)<<2 | nsg&3
}

// VersionMax and VersionMin (Login request; VersionActive in the response).
func (b BHS) VersionMax() uint8         { return b[2] }
func (b BHS) VersionMin() uint8         { return b[3] }
func (b BHS) SetVersion(max, min uint8) { b[2], b[3] = max, min }

// ISID is the 48-bit initiator session ID (Login, bytes 8-13).
func (b BHS) ISID() uint64 {
	return uint64(b[8])<<40 | uint64(b[9])<<32 | uint64(b.u32(10))
}
func (b BHS) SetISID(v uint64) {
	b[8], b[9] = byte(v>>40), byte(v>>32)
	b.put32(10, uint32(v))
}

// TSIH is the target session identifying handle (Login, bytes 14-15).
func (b BHS) TSIH() uint16     { return b.u16(14) }
func (b BHS) SetTSIH(v uint16) { b.put16(14, v) }

// CID is the connection ID (Login and Logout requests, bytes 20-21).
func (b BHS) CID() uint16     { return b.u16(20) }
func (b BHS) SetCID(v uint16) { b.put16(20, v) }

// StatusClass and StatusDetail (Login response, bytes 36-37).
func (b BHS) StatusClass() uint8                 { return b[36] }
func (b BHS) StatusDetail() uint8                { return b[37] }
func (b BHS) SetLoginStatus(class, detail uint8) { b[36], b[37] = class, detail }

// Time2Wait and Time2Retain (Logout response, bytes 40-43).
func (b BHS) Time2Wait() uint16   { return b.u16(40) }
func (b BHS) Time2Retain() uint16 { return b.u16(42) }
func (b BHS) SetLogoutTimes(wait, retain uint16) {
	b.put16(40, wait)
	b.put16(42, retain)
}

// AsyncEvent, AsyncVCode and the three parameters of an Async Message (bytes 36-43).
func (b BHS) AsyncEvent() uint8 { return b[36] }
func (b BHS) SetAsync(event, vcode uint8, p1, p2, p3 uint16) {
	b[36], b[37] = event, vcode
	b.put16(38, p1)
	b.put16(40, p2)
	b.put16(42, p3)
}
func (b BHS) AsyncParams() (p1, p2, p3 uint16) { return b.u16(38), b.u16(40), b.u16(42) }

// SNACKType is the SNACK request type (byte 1 bits 0-3); BegRun and RunLength are bytes 40-47.
func (b BHS) SNACKType() uint8  { return b[1] & 0x0f }
func (b BHS) BegRun() uint32    { return b.u32(40) }
func (b BHS) RunLength() uint32 { return b.u32(44) }
