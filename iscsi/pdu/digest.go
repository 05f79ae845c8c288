package pdu

import (
	"encoding/binary"
	"hash/crc32"
)

// castagnoli is the CRC32C table (RFC 7143 §13.1); hash/crc32 uses the SSE4.2/ARMv8 instructions for it.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// DigestLen is the length of a CRC32C digest on the wire.
const DigestLen = 4

// CRC32C returns the CRC32C of b.
func CRC32C(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }

// UpdateCRC32C continues a CRC32C over b.
func UpdateCRC32C(crc uint32, b []byte) uint32 { return crc32.Update(crc, castagnoli, b) }

// PutDigest stores a digest in wire order: the CRC32C value little-endian (RFC 3720 B.4 lists 32 zero bytes →
// aa 36 91 8a).
func PutDigest(dst []byte, crc uint32) { binary.LittleEndian.PutUint32(dst, crc) }

// Digest reads a digest in wire order.
func Digest(src []byte) uint32 { return binary.LittleEndian.Uint32(src) }

// Pad returns the number of padding bytes that bring n to a multiple of 4 (§11.2.3).
func Pad(n int) int { return -n & 3 }

var zeroPad [4]byte
