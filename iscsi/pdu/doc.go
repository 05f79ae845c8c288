// Package pdu is the iSCSI wire format of RFC 7143 §11: zero-allocation views over the 48-byte Basic Header
// Segment (BHS) of every opcode, Additional Header Segments (§11.2.1.2), data segments with padding (§11.2.3),
// and CRC32C header/data digests (§11.2.4, RFC 3720 Appendix B.4 vectors in the tests).
//
// A BHS is a []byte of at least 48 bytes; accessors read and write fields in place. Fields that share an offset
// across opcodes share an accessor (CmdSN in requests and StatSN in responses are both at byte 24, for example),
// and each accessor names the opcodes it belongs to. Reader and Writer move whole PDUs over a byte stream with
// digests, never allocating per PDU.
package pdu
